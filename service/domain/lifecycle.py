"""The ticket lifecycle as one explicit state machine; every status change goes through here."""

from __future__ import annotations

from dataclasses import dataclass

RECEIVED = "received"
ROUTED = "routed"
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
NEED_INFO = "need_info"
TRANSFERRED = "transferred"
RESOLVED = "resolved"
CLOSED = "closed"
REJECTED = "rejected"
DUPLICATE = "duplicate"
WITHDRAWN = "withdrawn"
REOPENED = "reopened"

STATUSES = (
    RECEIVED, ROUTED, ACCEPTED, IN_PROGRESS, NEED_INFO, TRANSFERRED,
    RESOLVED, CLOSED, REJECTED, DUPLICATE, WITHDRAWN, REOPENED,
)  # fmt: skip
# Statuses where the ticket is still someone's work.
OPEN_STATUSES = frozenset(
    {RECEIVED, ROUTED, ACCEPTED, IN_PROGRESS, NEED_INFO, TRANSFERRED, REOPENED}
)
FINAL_STATUSES = frozenset({CLOSED, REJECTED, DUPLICATE, WITHDRAWN})
# Waiting to be formally accepted: the acceptance clock runs.
AWAITING_ACCEPTANCE = frozenset({ROUTED, TRANSFERRED})
_HANDLING = frozenset({ACCEPTED, IN_PROGRESS, REOPENED})
_LIVE = frozenset({RECEIVED, ROUTED, TRANSFERRED, ACCEPTED, IN_PROGRESS, NEED_INFO, REOPENED})


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[str]
    target: str | None  # None: back to the status before the pause
    public: bool
    needs_reason: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("route", frozenset({RECEIVED}), ROUTED, True),
        Action("accept", AWAITING_ACCEPTANCE | {REOPENED}, ACCEPTED, True),
        Action("start", frozenset({ACCEPTED, REOPENED}), IN_PROGRESS, False),
        Action("request_info", _LIVE - {RECEIVED, NEED_INFO}, NEED_INFO, True, needs_reason=True),
        Action("provide_info", frozenset({NEED_INFO}), None, True),
        Action("reply", _HANDLING, IN_PROGRESS, True, needs_reason=True),
        Action("transfer", _LIVE - {RECEIVED, NEED_INFO}, TRANSFERRED, True, needs_reason=True),
        Action("resolve", _HANDLING, RESOLVED, True, needs_reason=True),
        Action("close", frozenset({RESOLVED}), CLOSED, True),
        Action("reject", _LIVE, REJECTED, True, needs_reason=True),
        Action("mark_duplicate", _LIVE, DUPLICATE, True),
        Action("withdraw", _LIVE, WITHDRAWN, True),
        Action(
            "reopen", frozenset({RESOLVED, CLOSED, REJECTED}), REOPENED, True, needs_reason=True
        ),
    )
}


class TransitionError(ValueError):
    """An action that the lifecycle does not allow from the current status."""

    def __init__(self, action: str, status: str, message: str | None = None,
                 code: str = "not_allowed") -> None:  # fmt: skip
        self.action = action
        self.status = status
        self.code = code  # not_allowed, needs_reason, unknown_action: the web layer words it
        super().__init__(message or f"cannot {action.replace('_', ' ')} a ticket that is {status}")


def allowed_actions(status: str) -> list[str]:
    return [name for name, a in ACTIONS.items() if status in a.sources]


def next_status(
    action: str, status: str, *, reason: str | None = None, paused_from: str | None = None
) -> str:
    """The status after `action`, or TransitionError with a message a person understands."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise TransitionError(action, status, f"unknown action {action!r}", "unknown_action")
    if status not in spec.sources:
        raise TransitionError(action, status)
    if spec.needs_reason and not (reason and reason.strip()):
        raise TransitionError(
            action, status, f"{action.replace('_', ' ')} needs a reason", "needs_reason"
        )
    if spec.target is None:
        return paused_from or ROUTED
    return spec.target
