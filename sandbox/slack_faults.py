"""Injected failures: the next N calls of a method fail, or everything is down for a while.

Retry, back-off and outage handling are the parts of a Slack app that real Slack almost
never exercises on demand; this plan lets a test switch them on precisely.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.slack_common import SlackError

JSON = dict[str, Any]

DEFAULT_ERRORS = {
    429: "ratelimited",
    500: "internal_error",
    502: "service_unavailable",
    503: "service_unavailable",
    504: "request_timeout",
}


@dataclass
class FaultRule:
    """After letting `skip` calls of `method` (`*` for any) through, fail the next `remaining`."""

    method: str
    status: int
    remaining: int
    retry_after: int
    error: str
    skip: int = 0
    # The call is carried out, then its answer held this long: the client times out on
    # a post that was made (Slack gives no idempotency either).
    answer_delay: float = 0.0

    def matches(self, method: str) -> bool:
        return self.remaining > 0 and self.method in {"*", method}


class FaultPlan:
    """Pending fault rules plus an optional outage window; callers hold the state lock."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.outage_until = 0.0

    def clear(self) -> None:
        self.rules.clear()
        self.outage_until = 0.0

    def add(self, body: JSON) -> JSON:
        """Accept `{"outage_seconds": S}`, a failing rule (method, status, count,
        retry_after, after), or a held answer (method, answer_delay, count, after)."""
        if "outage_seconds" in body:
            self.outage_until = time.time() + float(body["outage_seconds"])
            return self.describe()
        if "answer_delay" in body:
            return self._add(self._held(body))
        status = int(body.get("status", 429))
        if status != 200 and not 400 <= status <= 599:
            raise ValueError("status must be 200 or 4xx/5xx")
        error = str(body.get("error") or DEFAULT_ERRORS.get(status, "fatal_error"))
        if status == 200 and not body.get("error"):
            raise ValueError("a status-200 fault needs an explicit error code")
        rule = FaultRule(
            method=str(body.get("method", "*")),
            status=status,
            remaining=int(body.get("count", 1)),
            retry_after=int(body.get("retry_after", 1)),
            error=error,
            skip=int(body.get("after", 0)),
        )
        return self._add(rule)

    @staticmethod
    def _held(body: JSON) -> FaultRule:
        return FaultRule(
            method=str(body.get("method", "*")),
            status=200,
            remaining=int(body.get("count", 1)),
            retry_after=0,
            error="",
            skip=int(body.get("after", 0)),
            answer_delay=float(body["answer_delay"]),
        )

    def _add(self, rule: FaultRule) -> JSON:
        if rule.remaining < 1:
            raise ValueError("count must be at least 1")
        self.rules.append(rule)
        return self.describe()

    def describe(self) -> JSON:
        """Current plan, for `GET /_sandbox/faults` and as the answer to changes."""
        left = max(0.0, self.outage_until - time.time())
        active = [asdict(rule) for rule in self.rules if rule.remaining > 0]
        return {"ok": True, "faults": active, "outage_seconds_left": round(left, 3)}

    def take(self, method: str) -> SlackError | None:
        """The failure this call should get, consuming one use of the matching rule."""
        if time.time() < self.outage_until:
            return SlackError("service_unavailable", status=503)
        for rule in self.rules:
            if rule.matches(method) and rule.skip > 0:
                rule.skip -= 1
                return None
            if rule.matches(method) and rule.answer_delay:
                continue  # a held answer is taken by `delay`
            if rule.matches(method):
                rule.remaining -= 1
                headers = {"Retry-After": str(rule.retry_after)} if rule.status == 429 else {}
                return SlackError(rule.error, status=rule.status, headers=headers)
        self.rules = [rule for rule in self.rules if rule.remaining > 0]
        return None

    def delay(self, method: str) -> float:
        """How long to hold this call's answer after carrying it out (0: not at all)."""
        for rule in self.rules:
            if rule.matches(method) and rule.answer_delay:
                if rule.skip > 0:
                    rule.skip -= 1
                    return 0.0
                rule.remaining -= 1
                return rule.answer_delay
        return 0.0
