"""What the provider is doing for a job, as steps a person can follow.

A streamed response says what the model is doing as it goes: a reasoning item while it
thinks, `response.web_search_call.*` events while it searches (the item names the
query), `response.output_text.delta` while it writes. `Plan.see` turns each event into
a step's start, move or end, so a streaming job's progress notice can carry the plan
(`Plan.detail`) and the bot can show it. Steps are numbered by the item's place in the
response's output (`output_index`), which a stream read again after a restart repeats,
so the same step keeps its number. Nothing here knows Slack: the query is carried as the
provider wrote it, and whoever shows it makes it safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class StepKind(StrEnum):
    """What the model is doing in one step."""

    THINKING = "thinking"  # a reasoning item
    SEARCHING = "searching"  # a web search call
    WRITING = "writing"  # the answer's message


class StepStatus(StrEnum):
    """How far a step has got; it only moves forward."""

    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"


ITEM_KINDS = {
    "reasoning": StepKind.THINKING,
    "web_search_call": StepKind.SEARCHING,
    "message": StepKind.WRITING,
}
SEARCH_EVENT = "response.web_search_call."
QUERY_MAX = 500  # characters of a query carried (the bot shows far fewer)
KEEP = 20  # the latest steps a progress notice carries; older ones ended long ago


@dataclass
class Step:
    """One step: its place in the response's output, what it does, how far it got."""

    number: int
    kind: StepKind
    status: StepStatus
    query: str | None = None

    def as_detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.number, "kind": self.kind.value, "status": self.status}
        if self.query:
            out["query"] = self.query
        return out


def step_of(event: Any) -> Step | None:
    """The step an event starts, moves or ends; None for an event that tells nothing of
    what the model is doing (lifecycle, content parts, and the like)."""
    kind = str(getattr(event, "type", ""))
    number = getattr(event, "output_index", None)
    if not isinstance(number, int):
        return None
    if kind in ("response.output_item.added", "response.output_item.done"):
        return _item_step(number, getattr(event, "item", None), done=kind.endswith(".done"))
    if kind.startswith(SEARCH_EVENT):
        done = kind == SEARCH_EVENT + "completed"
        return Step(number, StepKind.SEARCHING, _status(done))
    if kind == "response.output_text.delta":
        return Step(number, StepKind.WRITING, StepStatus.IN_PROGRESS)
    return None


def _item_step(number: int, item: Any, *, done: bool) -> Step | None:
    step_kind = ITEM_KINDS.get(str(getattr(item, "type", "")))
    if step_kind is None:
        return None
    return Step(number, step_kind, _status(done), _query(item))


def _query(item: Any) -> str | None:
    """A search's query, when the item names one (often only once it is done)."""
    query = getattr(getattr(item, "action", None), "query", None)
    return query[:QUERY_MAX] if isinstance(query, str) and query.strip() else None


def _status(done: bool) -> StepStatus:
    return StepStatus.COMPLETE if done else StepStatus.IN_PROGRESS


class Plan:
    """The steps of one response so far, by number. Until the next `detail`, `changed`
    says any step moved, and `grew` that a new one began (worth telling at once)."""

    def __init__(self) -> None:
        self.steps: dict[int, Step] = {}
        self.changed = False
        self.grew = False

    def see(self, event: Any) -> bool:
        """Take one event; True when it changed the plan."""
        step = step_of(event)
        if step is None:
            return False
        known = self.steps.get(step.number)
        if known is None:
            self.steps[step.number] = step
            self.grew = True
        elif not _moves(known, step):
            return False
        else:
            known.status = max(known.status, step.status, key=_rank)
            known.query = step.query or known.query
        self.changed = True
        return True

    def detail(self) -> list[dict[str, Any]]:
        """The latest steps, in order, as a progress notice carries them."""
        self.changed = self.grew = False
        latest = sorted(self.steps)[-KEEP:]
        return [self.steps[n].as_detail() for n in latest]


def _moves(known: Step, seen: Step) -> bool:
    """A step seen again changes the plan only when it gets further or names its query."""
    further = _rank(seen.status) > _rank(known.status)
    return further or bool(seen.query and seen.query != known.query)


def _rank(status: StepStatus) -> int:
    return 1 if status == StepStatus.COMPLETE else 0
