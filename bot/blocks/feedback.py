"""Slack's feedback buttons under a result, and the modal a 👎 opens for a comment."""

from __future__ import annotations

import json
from typing import Any

from bot.ids import ActionId, BlockId, CallbackId
from models.job import Job

COMMENT_MAX = 2_000
SIDES = {"positive": ("👍", "Good answer"), "negative": ("👎", "Not a good answer")}


def feedback_block(job: Job) -> dict[str, Any]:
    """A context_actions block with 👍 and 👎; each value names the feedback and the job.
    The block ID names the turn too: Slack wants one per message."""
    buttons = {
        f"{side}_button": {
            "text": {"type": "plain_text", "text": emoji},
            "value": f"{side}:{job.id}",
            "accessibility_label": label,
        }
        for side, (emoji, label) in SIDES.items()
    }
    element = {"type": "feedback_buttons", "action_id": ActionId.JOB_FEEDBACK.value, **buttons}
    block_id = f"{BlockId.FEEDBACK.value}:{job.id}:{job.turn_number}"
    return {"type": "context_actions", "block_id": block_id, "elements": [element]}


def pressed_value(value: str) -> tuple[str, str]:
    """(feedback, job ID) from a pressed button's value."""
    side, _, job_id = value.partition(":")
    return side, job_id


def comment_modal(job_id: str, event_id: int) -> dict[str, Any]:
    """What was wrong, optionally; the press it belongs to rides in private_metadata."""
    return {
        "type": "modal",
        "callback_id": CallbackId.FEEDBACK_COMMENT.value,
        "private_metadata": json.dumps({"job_id": job_id, "event": event_id}),
        "title": {"type": "plain_text", "text": "Feedback"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.FEEDBACK_COMMENT.value,
                "optional": True,
                "label": {"type": "plain_text", "text": f"What was wrong with job {job_id}?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": BlockId.FEEDBACK_COMMENT_INPUT.value,
                    "multiline": True,
                    "max_length": COMMENT_MAX,
                },
            }
        ],
    }


def comment_of(view: dict[str, Any]) -> str:
    """The comment typed in the modal ("" when left empty)."""
    values = (view.get("state") or {}).get("values") or {}
    field = values.get(BlockId.FEEDBACK_COMMENT.value) or {}
    return str((field.get(BlockId.FEEDBACK_COMMENT_INPUT.value) or {}).get("value") or "").strip()
