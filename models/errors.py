"""Refusals people can act on; each has a stable `code` and a sentence for the person."""

from __future__ import annotations

from models.status import JobStatus


class ErrandError(Exception):
    """Base of refusals that are not bugs: the message is safe to show a user."""

    code = "errand_error"


class InputRejected(ErrandError):
    """The request itself is unusable (empty, too long, unknown kind)."""

    code = "input_rejected"


class JobNotFound(ErrandError):
    """No job has the ID that was asked for."""

    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


class TransitionRefused(ErrandError):
    """The job is not in a status the change is allowed from; says what it actually is."""

    code = "transition_refused"

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(f"job {job_id} is {current}; it cannot become {target}")
        self.job_id = job_id
        self.current = JobStatus(current)
        self.target = JobStatus(target)


class JobPurged(ErrandError):
    """The job's input and output were removed by the retention policy: nothing to redo."""

    code = "job_purged"

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id} is past its retention period: its question and answer were "
            "purged, so it cannot run again. Ask again with a new command."
        )


class FollowUpRefused(ErrandError):
    """A follow-up in a job's thread that cannot become its next turn (now, or by whom)."""

    code = "follow_up_refused"
