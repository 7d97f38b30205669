"""Every Slack string Errand branches on, in one place; `manifest.yml` is checked against it."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    """Slash commands declared in manifest.yml."""

    RESEARCH = "/research"
    DRAFT = "/draft"
    DEEP = "/deep"
    ASK = "/ask"
    BATCH = "/batch"
    JOBS = "/jobs"
    ERRAND = "/errand"  # `/errand settings`: the channel's default options per kind


class ActionId(StrEnum):
    """Buttons on cards, lists and review requests; each carries the job ID as its value."""

    JOB_CANCEL = "job_cancel"
    JOB_RETRY = "job_retry"
    JOB_APPROVE = "job_approve"
    JOB_REJECT = "job_reject"
    JOB_REDRAFT = "job_redraft"  # on a rejection: a new attempt carrying the reviewer's reason
    JOB_ARCHIVE = "job_archive"  # a finished job leaves /jobs and App Home; nothing is deleted
    JOB_ESCALATE = "job_escalate"  # the requester asks on-call to look, once
    # Slack's 👍/👎 on a result (a feedback_buttons element); its value is `<value>:<job ID>`.
    JOB_FEEDBACK = "job_feedback"


# The job buttons: each carries the job ID as its value (feedback carries more).
JOB_BUTTONS = tuple(a for a in ActionId if a is not ActionId.JOB_FEEDBACK)


class PreferenceId(StrEnum):
    """Controls on App Home for a person's own choices (their value is not a job ID)."""

    NOTIFY_BY_DM = "notify_by_dm"  # news of my jobs by DM instead of a mention in the thread


class CallbackId(StrEnum):
    """Modals Errand opens."""

    REJECT_REASON = "job_reject_reason"
    BATCH = "batch_rows"
    RESEARCH_THIS = "research_this"  # the message shortcut "Research this"
    CHANNEL_SETTINGS = "channel_settings"  # `/errand settings`
    FEEDBACK_COMMENT = "job_feedback_comment"  # what was wrong, after a 👎 (optional)


class BlockId(StrEnum):
    """Blocks whose state or identity we read back."""

    CARD_ACTIONS = "job_actions"
    ONCALL_ACTIONS = "oncall_actions"
    REASON = "reason"
    REASON_INPUT = "reason_input"  # the input element's action_id inside REASON
    BATCH_FILE = "batch_file"
    BATCH_FILE_INPUT = "batch_file_input"
    BATCH_INSTRUCTIONS = "batch_instructions"
    BATCH_INSTRUCTIONS_INPUT = "batch_instructions_input"
    # `/errand settings`: one input per kind and option, `setting:<kind>:<option>`, each
    # holding a select whose action_id is SETTING_INPUT.
    SETTING = "setting"
    SETTING_INPUT = "setting_input"
    FEEDBACK = "job_feedback"  # the result's feedback buttons, as `job_feedback:<job>:<turn>`
    FEEDBACK_COMMENT = "feedback_comment"
    FEEDBACK_COMMENT_INPUT = "feedback_comment_input"


class EventType(StrEnum):
    """Events API events subscribed in manifest.yml, and our message-metadata type."""

    APP_HOME_OPENED = "app_home_opened"
    APP_MENTION = "app_mention"  # @Errand in a channel or a thread: a job, or a follow-up
    AGENT_SESSION_STOPPED = "agent_session_stopped"  # Slack's Stop in a job's thread
    JOB_METADATA = "errand_job"
    NOTICE_METADATA = "errand_notice"  # on each thread post: which notice and part it is


class SlackErrorCode(StrEnum):
    """Web API error codes we branch on."""

    NOT_IN_CHANNEL = "not_in_channel"
    CHANNEL_NOT_FOUND = "channel_not_found"
    IS_ARCHIVED = "is_archived"
    MESSAGE_NOT_FOUND = "message_not_found"
    INVALID_BLOCKS = "invalid_blocks"
    MSG_TOO_LONG = "msg_too_long"
    ALREADY_REACTED = "already_reacted"
    NO_REACTION = "no_reaction"
    NOT_AUTHORIZED = "not_authorized"  # agents.sessions.*: the app is not an agent here
    UNKNOWN_METHOD = "unknown_method"
    THREAD_NOT_FOUND = "thread_not_found"


# Errors that mean "Errand cannot post there"; the person is reached another way.
CANNOT_POST = frozenset(
    {SlackErrorCode.NOT_IN_CHANNEL, SlackErrorCode.CHANNEL_NOT_FOUND, SlackErrorCode.IS_ARCHIVED}
)

# The Events API subscriptions (manifest.yml's bot_events).
SUBSCRIBED = (EventType.APP_HOME_OPENED, EventType.APP_MENTION, EventType.AGENT_SESSION_STOPPED)

# Bot scopes, each for a call the code makes; manifest.yml must list exactly these.
SCOPES: tuple[str, ...] = (
    "commands",  # the slash commands and the message shortcut
    "app_mentions:read",  # app_mention events: @Errand in a channel or a thread
    "reactions:write",  # eyes on a mention when its job is picked up, then how it ended
    # status cards, thread replies, ephemeral answers, chat.update, and the thread's
    # agent-session status (agents.sessions.setStatus)
    "chat:write",
    "im:write",  # conversations.open, to DM someone Errand cannot reach in a channel
    "usergroups:read",  # usergroups.users.list, for approver and on-call groups
    "users:read",  # users.info: workspace admins may set a channel's defaults
    "files:write",  # files_upload_v2, for results too long for messages
    "files:read",  # url_private downloads of the file a person gives /batch
    # conversations.replies, to look for a post an earlier try may have made after all,
    # and to read the earlier messages of a thread Errand is mentioned in
    "channels:history",
    "groups:history",
    "im:history",
    # conversations.members, so `/jobs ID` shows a question only to those who could see it;
    # conversations.info, whose `creator` may set the channel's defaults
    "channels:read",
    "groups:read",
    "im:read",
)
