"""The batch lane's vocabulary: the provider's batch statuses, what a look at a batch saw,
how its rows ended, and the one-line summary a requester reads (on the card, in the
thread, on the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from models.status import JobStatus

TIER = "batch"  # the price tier of every batch lane job (`tiers.batch` in the kinds file)
LANE = "batch"
PENDING = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
RUNNING = frozenset({"in_progress", "finalizing"})  # rows are being run: the job is running
ENDED = {
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELED,
    "expired": JobStatus.EXPIRED,
}
EXPIRED = (
    "The provider's 24-hour window for this batch closed before every row ran; the rows "
    "that did are in the results file."
)
ALL_FAILED = "No row got an answer; the results file says why for each row."


@dataclass(frozen=True)
class Tally:
    """How a batch's rows ended: answered, failed at the provider, or never run."""

    rows: int = 0
    done: int = 0
    failed: int = 0
    unrun: int = 0

    def add(self, outcome: str) -> Tally:
        """One more row that ended as `outcome` (done, failed or unrun)."""
        return replace(self, **{outcome: getattr(self, outcome) + 1})


@dataclass(frozen=True)
class BatchSeen:
    """One look at a batch: its status and counts; at its end, the results too."""

    batch_id: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)  # total, completed, failed
    results: bytes | None = None  # the results file (CSV), when rows came back
    tally: Tally | None = None
    usage: dict[str, Any] | None = None  # summed over rows, for the cost
    error: str | None = None  # Errand's sentence for a batch the provider refused
    provider_error: str | None = None  # the provider's own words, for the record

    @property
    def pending(self) -> bool:
        return self.status in PENDING


def progress_line(output: dict[str, Any] | None) -> str | None:
    """`120 of 200 rows done` (and how many failed) from the batch's latest counts; the
    number of rows before the provider has counted them; None for no batch."""
    output = output or {}
    rows = int(output.get("rows") or 0)
    counts = output.get("counts") or {}
    if not rows:
        return None
    if not counts.get("total"):
        return f"{rows:,} rows"
    done, failed = int(counts.get("completed") or 0), int(counts.get("failed") or 0)
    line = f"{done:,} of {rows:,} rows done"
    return f"{line}, {failed:,} failed" if failed else line


def summary(tally: Tally, cost: float | None, status: str) -> str:
    """`200 rows: 198 done, 2 failed · $0.0123 at batch prices`, saying first when the
    batch was cancelled or ran out of time."""
    lead = {"cancelled": "Cancelled. ", "expired": "Out of time. "}.get(status, "")
    line = f"{lead}{tally.rows:,} rows: {tally.done:,} done, {tally.failed:,} failed"
    if tally.unrun:
        line += f", {tally.unrun:,} not run"
    price = "cost unknown" if cost is None else f"${cost:,.4f} at batch prices"
    return f"{line} · {price}"


def results_filename(job_id: str) -> str:
    return f"errand-{job_id}-results.csv"


def batch_refused(codes: list[str]) -> str:
    """A batch the provider refused as a whole (its input file): Errand's sentence."""
    said = ", ".join(sorted(set(codes))) or "no reason given"
    return (
        f"The AI provider refused this batch's input ({said}), so no row ran. On-call can "
        "read the provider's answer with `errand jobs show`."
    )
