"""Block Kit limits the sandbox enforces, so oversize cards fail here and not in production.

Slack rejects a message whose blocks break a documented limit with `invalid_blocks` and a
list of `[ERROR] ... [json-pointer:/blocks/N/...]` lines; `validate_blocks` returns those
lines (empty when the blocks are fine). The limits an app is likely to hit are checked
here; block types this module does not know in detail (task cards, plans, alerts, cards,
tables...) are checked with slack_sdk's own Block Kit models, and a type neither knows
is refused.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from sandbox.slack_block_elements import (
    CONTEXT_ACTION_ELEMENTS,
    INPUT_ELEMENTS,
    INTERACTIVE_ELEMENTS,
    ElementChecks,
)

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
MARKDOWN_TOTAL_MAX = 12000
BLOCK_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
CONTEXT_ACTIONS_ELEMENTS_MAX = 5
LABEL_MAX = 2000


def _sdk_block_types() -> dict[str, type[Block]]:
    """Every block type slack_sdk models, by its `type` (task_card, plan, alert, ...)."""
    found: dict[str, type[Block]] = {}
    pending = [Block]
    while pending:
        for sub in pending.pop().__subclasses__():
            kind = getattr(sub, "type", None)
            if isinstance(kind, str):
                found[kind] = sub
            pending.append(sub)
    return found


SDK_BLOCK_TYPES = _sdk_block_types()
BLOCK_TYPES = frozenset({"context_actions", "markdown", "rich_text", "table", *SDK_BLOCK_TYPES})


class _Checker(ElementChecks):
    """Walks one blocks array, collecting problems with their JSON pointers."""

    def __init__(self) -> None:
        super().__init__()
        self.markdown_total = 0
        self.block_ids: set[str] = set()

    def blocks(self, blocks: object, limit: int, pointer: str) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", pointer)
            return
        if len(blocks) > limit:
            self.fail(f"no more than {limit} items allowed", pointer)
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}")

    def block(self, block: object, ptr: str) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", ptr)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"unsupported block type: {kind}", f"{ptr}/type")
            return
        self.block_id(block.get("block_id"), ptr)
        check = getattr(self, f"block_{kind}", None)
        if check is not None:
            check(block, ptr)
        elif kind in SDK_BLOCK_TYPES:
            self.sdk_block(block, ptr)

    def sdk_block(self, block: dict[str, Any], ptr: str) -> None:
        """Blocks checked here in no detail get slack_sdk's model validation."""
        try:
            parsed = Block.parse(block)
            if parsed is not None:
                parsed.validate_json()
        except (SlackObjectFormationError, TypeError, ValueError, KeyError) as exc:
            self.fail(f"invalid {block.get('type')} block: {exc}", ptr)

    def block_id(self, block_id: object, ptr: str) -> None:
        if block_id is None:
            return
        if not isinstance(block_id, str) or self.too_long(
            block_id, BLOCK_ID_MAX, ptr + "/block_id"
        ):
            return
        if block_id in self.block_ids:
            self.fail(f"duplicate block_id: {block_id}", f"{ptr}/block_id")
        self.block_ids.add(block_id)

    def block_section(self, block: dict[str, Any], ptr: str) -> None:
        has_text, fields = "text" in block, block.get("fields")
        if not has_text and not fields:
            self.fail("must provide text or fields", ptr)
        if has_text:
            self.text(block["text"], f"{ptr}/text", SECTION_TEXT_MAX)
        if fields is not None:
            self.section_fields(fields, f"{ptr}/fields")
        if "accessory" in block:
            self.element(block["accessory"], f"{ptr}/accessory", INTERACTIVE_ELEMENTS | {"image"})

    def section_fields(self, fields: object, ptr: str) -> None:
        if not isinstance(fields, list):
            self.fail("must be an array", ptr)
            return
        if len(fields) > SECTION_FIELDS_MAX:
            self.fail(f"no more than {SECTION_FIELDS_MAX} items allowed", ptr)
        for index, field in enumerate(fields):
            self.text(field, f"{ptr}/{index}", SECTION_FIELD_TEXT_MAX)

    def block_header(self, block: dict[str, Any], ptr: str) -> None:
        self.text(block.get("text"), f"{ptr}/text", HEADER_TEXT_MAX, plain_only=True)

    def block_markdown(self, block: dict[str, Any], ptr: str) -> None:
        """Markdown blocks share one 12,000-character budget per message."""
        text = block.get("text")
        if not isinstance(text, str):
            self.fail("missing required field: text", ptr)
            return
        self.markdown_total += len(text)
        if self.markdown_total > MARKDOWN_TOTAL_MAX:
            self.fail(
                f"markdown blocks must total less than {MARKDOWN_TOTAL_MAX + 1} characters",
                f"{ptr}/text",
            )

    def block_actions(self, block: dict[str, Any], ptr: str) -> None:
        self.element_list(block, ptr, ACTIONS_ELEMENTS_MAX, INTERACTIVE_ELEMENTS)

    def block_context_actions(self, block: dict[str, Any], ptr: str) -> None:
        """Feedback buttons and icon buttons only, at most five."""
        self.element_list(block, ptr, CONTEXT_ACTIONS_ELEMENTS_MAX, CONTEXT_ACTION_ELEMENTS)

    def block_context(self, block: dict[str, Any], ptr: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail("must provide a non-empty elements array", f"{ptr}/elements")
            return
        if len(elements) > CONTEXT_ELEMENTS_MAX:
            self.fail(f"no more than {CONTEXT_ELEMENTS_MAX} items allowed", f"{ptr}/elements")
        for index, element in enumerate(elements):
            here = f"{ptr}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, here)
            else:
                self.text(element, here, SECTION_TEXT_MAX)

    def block_image(self, block: dict[str, Any], ptr: str) -> None:
        self.image(block, ptr)
        if "title" in block:
            self.text(block["title"], f"{ptr}/title", LABEL_MAX, plain_only=True)

    def block_input(self, block: dict[str, Any], ptr: str) -> None:
        self.text(block.get("label"), f"{ptr}/label", LABEL_MAX, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{ptr}/hint", LABEL_MAX, plain_only=True)
        self.element(block.get("element"), f"{ptr}/element", INPUT_ELEMENTS)

    def block_rich_text(self, block: dict[str, Any], ptr: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.fail("missing required field: elements", ptr)

    def element_list(
        self, block: dict[str, Any], ptr: str, limit: int, allowed: frozenset[str]
    ) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.fail("must provide a non-empty elements array", f"{ptr}/elements")
            return
        if len(elements) > limit:
            self.fail(f"no more than {limit} items allowed", f"{ptr}/elements")
        seen: set[str] = set()
        for index, element in enumerate(elements):
            here = f"{ptr}/elements/{index}"
            self.element(element, here, allowed)
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str) and action_id in seen:
                self.fail(f"duplicate action_id: {action_id}", f"{here}/action_id")
            if isinstance(action_id, str):
                seen.add(action_id)


def validate_blocks(
    blocks: object, *, limit: int = MESSAGE_MAX_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """Every Block Kit problem in `blocks`, each ending in its JSON pointer; empty if valid."""
    checker = _Checker()
    checker.blocks(blocks, limit, pointer)
    return checker.errors
