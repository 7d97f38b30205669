"""Charts as geometry for inline SVG: stacked bars and lines over time buckets.

Drawn on the server (the template turns these shapes into `<rect>`, `<polyline>` and
`<text>`, autoescaped like everything else), so the overview needs no script, no chart
library and no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from models.status import JobStatus

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 10, 24
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
X_TICKS = 8
STATUS_ORDER = [status.value for status in JobStatus]
COLORS = {
    "awaiting_approval": "#b58900",
    "queued": "#93a1a1",
    "running": "#268bd2",
    "needs_review": "#6c71c4",
    "completed": "#2aa15a",
    "failed": "#dc322f",
    "canceled": "#657b83",
    "expired": "#cb4b16",
    "rejected": "#d33682",
    "p50": "#268bd2",
    "p99": "#dc322f",
}
PALETTE = ("#268bd2", "#cb4b16", "#2aa15a", "#6c71c4", "#b58900", "#d33682", "#2aa198")

Counts = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Shape:
    """A bar (x, y, w, h) or a point (x, y) with its tooltip."""

    x: float
    y: float
    color: str
    title: str
    w: float = 0.0
    h: float = 0.0


@dataclass(frozen=True)
class Line:
    points: str  # `x,y x,y …` for a polyline
    color: str


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class Key:
    """A series in the legend, with its total (or peak, for lines) over the window."""

    name: str
    color: str
    value: str


@dataclass(frozen=True)
class Chart:
    bars: list[Shape] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dots: list[Shape] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    empty: bool = True
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= value)


def number(value: float, unit: str = "") -> str:
    """A value as the axis and tooltips show it: `$1.25`, `3.2 s`, `12`."""
    if unit == "$":
        return f"${value:,.0f}" if value >= 100 or value == 0 else f"${value:,.2f}"
    shown = f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    return f"{shown} {unit}".strip()


def _series(counts: Counts, order: list[str] | None) -> list[str]:
    present = {name for values in counts.values() for name in values}
    return [n for n in order if n in present] if order else sorted(present)


def _color(name: str, index: int) -> str:
    return COLORS.get(name) or PALETTE[index % len(PALETTE)]


def _axes(labels: list[str], top: float, unit: str) -> tuple[list[Tick], list[Tick]]:
    steps = _steps(top, whole=not unit)
    y_ticks = [
        Tick(TOP + PLOT_H * (1 - i / steps), number(top * i / steps, unit))
        for i in range(steps + 1)
    ]
    every = max(1, math.ceil(len(labels) / X_TICKS))
    step = PLOT_W / max(len(labels), 1)
    x_ticks = [
        Tick(LEFT + step * (i + 0.5), _short(label))
        for i, label in enumerate(labels)
        if i % every == 0
    ]
    return y_ticks, x_ticks


def _steps(top: float, *, whole: bool) -> int:
    """How many gridlines divide the axis into round numbers (whole ones for counts)."""
    for steps in (4, 5, 2):
        size = top / steps
        if size.is_integer() if whole else round(size * 100, 6).is_integer():
            return steps
    return 1


def _short(label: str) -> str:
    """`14:00` for an hour, `11-28` for a day."""
    return label[11:16] if len(label) > 10 else label[5:]


def stacked(
    labels: list[str], counts: Counts, order: list[str] | None = None, unit: str = ""
) -> Chart:
    """One bar per bucket, its series stacked in `order` (else by name)."""
    names = _series(counts, order)
    top = nice_ceiling(max((sum(v.values()) for v in counts.values()), default=0))
    step = PLOT_W / max(len(labels), 1)
    bars = []
    for i, label in enumerate(labels):
        base = 0.0
        for j, name in enumerate(names):
            value = counts.get(label, {}).get(name, 0.0)
            if value > 0:
                y, h = _scaled(base + value, top), PLOT_H * value / top
                title = f"{label}: {name} {number(value, unit)}"
                bars.append(
                    Shape(LEFT + step * (i + 0.1), y, _color(name, j), title, step * 0.8, h)
                )
                base += value
    totals = {n: sum(v.get(n, 0.0) for v in counts.values()) for n in names}
    keys = [Key(n, _color(n, j), number(totals[n], unit)) for j, n in enumerate(names)]
    y_ticks, x_ticks = _axes(labels, top, unit)
    return Chart(bars=bars, y_ticks=y_ticks, x_ticks=x_ticks, keys=keys, empty=not bars)


def _scaled(value: float, top: float) -> float:
    return TOP + PLOT_H * (1 - value / top)


def lines(labels: list[str], values: Counts, series: list[str], unit: str = "") -> Chart:
    """One line per series through the buckets that have a value (gaps are skipped)."""
    top = nice_ceiling(max((max(v.values()) for v in values.values() if v), default=0))
    step = PLOT_W / max(len(labels), 1)
    drawn, dots, keys = [], [], []
    for j, name in enumerate(series):
        color = _color(name, j)
        points = [
            (LEFT + step * (i + 0.5), _scaled(values[label][name], top), label)
            for i, label in enumerate(labels)
            if name in values.get(label, {})
        ]
        if points:
            drawn.append(Line(" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points), color))
        for x, y, label in points:
            dots.append(Shape(x, y, color, f"{label}: {name} {number(values[label][name], unit)}"))
        peak = max((values[label][name] for _, _, label in points), default=0.0)
        keys.append(Key(f"{name} (peak)", color, number(peak, unit)))
    y_ticks, x_ticks = _axes(labels, top, unit)
    return Chart(
        lines=drawn, dots=dots, y_ticks=y_ticks, x_ticks=x_ticks, keys=keys, empty=not dots
    )
