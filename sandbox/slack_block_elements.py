"""Block Kit element limits: buttons, menus, inputs, feedback buttons, text objects.

`ElementChecks` collects problems as Slack words them (`must be less than N characters
[json-pointer:/blocks/0/...]`); `slack_blocks` builds on it for whole blocks.
"""

from __future__ import annotations

from typing import Any

BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ACTION_ID_MAX = 255
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
OVERFLOW_OPTIONS_MAX = 5
PLACEHOLDER_MAX = 150
IMAGE_ALT_MAX = 2000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
ACCESSIBILITY_LABEL_MAX = 75
FILE_INPUT_MAX_FILES = 10

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
# A context_actions block holds only these (docs: "feedback buttons and icon buttons").
CONTEXT_ACTION_ELEMENTS = frozenset({"feedback_buttons", "icon_button"})


class ElementChecks:
    """Problems found so far, with the element- and text-level checks."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def too_long(self, value: object, limit: int, pointer: str) -> bool:
        """Slack words length limits as 'must be less than N+1 characters'."""
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)
            return True
        return False

    def text(self, obj: object, ptr: str, limit: int, plain_only: bool = False) -> None:
        """A composition text object: type plain_text/mrkdwn and a bounded `text`."""
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            self.fail("must be a text object with a string text", ptr)
            return
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.fail(f"must be one of {sorted(allowed)}", f"{ptr}/type")
        self.too_long(obj["text"], limit, f"{ptr}/text")

    def image(self, obj: dict[str, Any], ptr: str) -> None:
        if "image_url" not in obj and "slack_file" not in obj:
            self.fail("must provide image_url or slack_file", ptr)
        if not isinstance(obj.get("alt_text"), str):
            self.fail("missing required field: alt_text", ptr)
        self.too_long(obj.get("alt_text"), IMAGE_ALT_MAX, f"{ptr}/alt_text")
        self.too_long(obj.get("image_url"), URL_MAX, f"{ptr}/image_url")

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
        if kind in ("button", "icon_button"):
            self.button(element, ptr)
        elif kind == "feedback_buttons":
            self.feedback_buttons(element, ptr)
        elif kind == "file_input":
            self.file_input(element, ptr)
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

    def feedback_buttons(self, element: dict[str, Any], ptr: str) -> None:
        """Both 👍 and 👎 are required: plain text, a value, an optional short label."""
        for side in ("positive_button", "negative_button"):
            here = f"{ptr}/{side}"
            button = element.get(side)
            if not isinstance(button, dict):
                self.fail(f"missing required field: {side}", ptr)
                continue
            self.text(button.get("text"), f"{here}/text", BUTTON_TEXT_MAX, plain_only=True)
            if not isinstance(button.get("value"), str):
                self.fail("missing required field: value", here)
            self.too_long(button.get("value"), BUTTON_VALUE_MAX, f"{here}/value")
            label = button.get("accessibility_label")
            self.too_long(label, ACCESSIBILITY_LABEL_MAX, f"{here}/accessibility_label")

    def file_input(self, element: dict[str, Any], ptr: str) -> None:
        """`max_files` from 1 to 10; `filetypes` a list of extensions."""
        max_files = element.get("max_files", FILE_INPUT_MAX_FILES)
        if not isinstance(max_files, int) or not 1 <= max_files <= FILE_INPUT_MAX_FILES:
            self.fail("must be between 1 and 10", f"{ptr}/max_files")
        filetypes = element.get("filetypes", [])
        if not isinstance(filetypes, list) or not all(isinstance(t, str) for t in filetypes):
            self.fail("must be an array of strings", f"{ptr}/filetypes")
