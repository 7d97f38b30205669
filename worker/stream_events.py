"""A response's event stream read raw, and only the events Errand looks into typed.

The SDK types every streamed event by validating it against the union of all 59 kinds
(`ResponseStreamEvent`): about 50 µs for a text delta and 1 ms for an event that carries
the whole response. With a worker reading hundreds of streams that was the largest share
of its CPU, ahead of Slack and the database. So the reader asks for the events as plain
JSON. The few whose nested objects Errand reads (`NESTED`: a lifecycle or terminal
event's response, applied as a retrieve would be; an output item, a step of the plan)
are built with the SDK's own lenient constructor (`model_construct`, nested models
included), the type named by their `type`: the same objects, at a fifth of the cost.
Every other event (text deltas, most of them) keeps its top-level fields as attributes,
which is all `worker.stream.take` reads of it; so does one of a kind this SDK does not
know, whose `sequence_number` still moves the cursor.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, get_args

from openai import AsyncOpenAI, AsyncStream
from openai.types.responses import ResponseStreamEvent

from worker.stream import LIFECYCLE, TERMINAL

NESTED = LIFECYCLE | TERMINAL | {"response.output_item.added", "response.output_item.done"}
_UNION = get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], discriminator]
CLASSES: dict[str, Any] = {  # the SDK's class of each event in NESTED
    name: cls
    for cls in get_args(_UNION)
    for name in get_args(cls.model_fields["type"].annotation)
    if name in NESTED
}


async def open_events(
    client: AsyncOpenAI, response_id: str, starting_after: int | None
) -> AsyncStream[object]:
    """`GET /responses/{id}?stream=true[&starting_after=N]`, as `responses.retrieve(id,
    stream=True, starting_after=N)` asks it, with each event left as JSON."""
    params: dict[str, Any] = {"stream": True}
    if starting_after is not None:
        params["starting_after"] = starting_after
    return await client.get(
        f"/responses/{response_id}",
        cast_to=object,
        options={"params": params, "security": {"bearer_auth": True}},
        stream=True,
        stream_cls=AsyncStream[object],
    )


def typed(raw: object) -> Any:
    """One event's JSON as the reader takes it (see the module's docstring)."""
    if not isinstance(raw, dict):
        return raw
    cls = CLASSES.get(str(raw.get("type")))
    return SimpleNamespace(**raw) if cls is None else cls.model_construct(**raw)
