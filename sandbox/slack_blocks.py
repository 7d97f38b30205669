"""Block Kit limits the sandbox enforces, so oversize cards fail here and not in production.

Slack rejects a message whose blocks break a documented limit with `invalid_blocks` and a
list of `[ERROR] ... [json-pointer:/blocks/N/...]` lines; `validate_blocks` returns those
lines (empty when the blocks are fine). Only the limits an app is likely to hit are
checked; the full schema is not.
"""

from __future__ import annotations

from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
MARKDOWN_TOTAL_MAX = 12000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
OVERFLOW_OPTIONS_MAX = 5
PLACEHOLDER_MAX = 150
IMAGE_ALT_MAX = 2000
LABEL_MAX = 2000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
INTERACTIVE_ELEMENTS = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "overflow",
        "radio_buttons",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "timepicker",
        "workflow_button",
        "feedback_buttons",
        "icon_button",
    }
)
INPUT_ELEMENTS = INTERACTIVE_ELEMENTS | {
    "plain_text_input",
    "email_text_input",
    "number_input",
    "url_text_input",
    "file_input",
    "rich_text_input",
}
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


class _Checker:
    """Walks one blocks array, collecting problems with their JSON pointers."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.markdown_total = 0
        self.block_ids: set[str] = set()

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def too_long(self, value: object, limit: int, pointer: str) -> bool:
        """Slack words length limits as 'must be less than N+1 characters'."""
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)
            return True
        return False

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

    def text(self, obj: object, ptr: str, limit: int, plain_only: bool = False) -> None:
        """A composition text object: type plain_text/mrkdwn and a bounded `text`."""
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            self.fail("must be a text object with a string text", ptr)
            return
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.fail(f"must be one of {sorted(allowed)}", f"{ptr}/type")
        self.too_long(obj["text"], limit, f"{ptr}/text")

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
        self.element_list(block, ptr, ACTIONS_ELEMENTS_MAX, INTERACTIVE_ELEMENTS)

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

    def image(self, obj: dict[str, Any], ptr: str) -> None:
        if "image_url" not in obj and "slack_file" not in obj:
            self.fail("must provide image_url or slack_file", ptr)
        if not isinstance(obj.get("alt_text"), str):
            self.fail("missing required field: alt_text", ptr)
        self.too_long(obj.get("alt_text"), IMAGE_ALT_MAX, f"{ptr}/alt_text")
        self.too_long(obj.get("image_url"), URL_MAX, f"{ptr}/image_url")

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

    def element(self, element: object, ptr: str, allowed: frozenset[str]) -> None:
        """One block element: known type, bounded action_id, then per-type limits."""
        if not isinstance(element, dict):
            self.fail("must be an object", ptr)
            return
        kind = element.get("type")
        if kind not in allowed:
            self.fail(f"unsupported element type: {kind}", f"{ptr}/type")
            return
        self.too_long(element.get("action_id"), ACTION_ID_MAX, f"{ptr}/action_id")
        if "placeholder" in element:
            self.text(element["placeholder"], f"{ptr}/placeholder", PLACEHOLDER_MAX, True)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{ptr}/confirm")
        if kind == "button":
            self.button(element, ptr)
        elif kind == "image":
            self.image(element, ptr)
        elif "options" in element:
            limit = OVERFLOW_OPTIONS_MAX if kind == "overflow" else OPTIONS_MAX
            self.options(element["options"], f"{ptr}/options", limit)

    def button(self, element: dict[str, Any], ptr: str) -> None:
        self.text(element.get("text"), f"{ptr}/text", BUTTON_TEXT_MAX, plain_only=True)
        self.too_long(element.get("value"), BUTTON_VALUE_MAX, f"{ptr}/value")
        self.too_long(element.get("url"), URL_MAX, f"{ptr}/url")
        style = element.get("style")
        if style is not None and style not in {"primary", "danger"}:
            self.fail("must be one of ['danger', 'primary']", f"{ptr}/style")

    def options(self, options: object, ptr: str, limit: int) -> None:
        if not isinstance(options, list):
            self.fail("must be an array", ptr)
            return
        if len(options) > limit:
            self.fail(f"no more than {limit} items allowed", ptr)
        for index, option in enumerate(options):
            here = f"{ptr}/{index}"
            if not isinstance(option, dict):
                self.fail("must be an object", here)
                continue
            self.text(option.get("text"), f"{here}/text", OPTION_TEXT_MAX)
            self.too_long(option.get("value"), OPTION_VALUE_MAX, f"{here}/value")

    def confirm(self, confirm: object, ptr: str) -> None:
        if not isinstance(confirm, dict):
            self.fail("must be an object", ptr)
            return
        self.text(confirm.get("title"), f"{ptr}/title", CONFIRM_TITLE_MAX, plain_only=True)
        self.text(confirm.get("text"), f"{ptr}/text", CONFIRM_TEXT_MAX)
        self.text(confirm.get("confirm"), f"{ptr}/confirm", CONFIRM_BUTTON_MAX, plain_only=True)
        self.text(confirm.get("deny"), f"{ptr}/deny", CONFIRM_BUTTON_MAX, plain_only=True)


def validate_blocks(
    blocks: object, *, limit: int = MESSAGE_MAX_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """Every Block Kit problem in `blocks`, each ending in its JSON pointer; empty if valid."""
    checker = _Checker()
    checker.blocks(blocks, limit, pointer)
    return checker.errors
