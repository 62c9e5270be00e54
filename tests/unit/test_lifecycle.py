"""The state machine: every allowed transition works, every other one is refused clearly."""

from __future__ import annotations

import pytest

from service.domain import lifecycle as lc

EXPECTED = {
    "route": {lc.RECEIVED: lc.ROUTED},
    "accept": {lc.ROUTED: lc.ACCEPTED, lc.TRANSFERRED: lc.ACCEPTED, lc.REOPENED: lc.ACCEPTED},
    "start": {lc.ACCEPTED: lc.IN_PROGRESS, lc.REOPENED: lc.IN_PROGRESS},
    "close": {lc.RESOLVED: lc.CLOSED},
    "reopen": {lc.RESOLVED: lc.REOPENED, lc.CLOSED: lc.REOPENED, lc.REJECTED: lc.REOPENED},
    "resolve": {s: lc.RESOLVED for s in (lc.ACCEPTED, lc.IN_PROGRESS, lc.REOPENED)},
    "reply": {s: lc.IN_PROGRESS for s in (lc.ACCEPTED, lc.IN_PROGRESS, lc.REOPENED)},
    "withdraw": {s: lc.WITHDRAWN for s in lc.OPEN_STATUSES},
    "reject": {s: lc.REJECTED for s in lc.OPEN_STATUSES},
    "mark_duplicate": {s: lc.DUPLICATE for s in lc.OPEN_STATUSES},
    "request_info": {s: lc.NEED_INFO for s in lc.OPEN_STATUSES - {lc.RECEIVED, lc.NEED_INFO}},
    "transfer": {s: lc.TRANSFERRED for s in lc.OPEN_STATUSES - {lc.RECEIVED, lc.NEED_INFO}},
}
ALL_PAIRS = [(a, s) for a in lc.ACTIONS for s in lc.STATUSES]


@pytest.mark.parametrize(("action", "status"), ALL_PAIRS)
def test_every_transition_allowed_or_refused(action: str, status: str) -> None:
    allowed = EXPECTED.get(action)
    if action == "provide_info":
        allowed = {lc.NEED_INFO: lc.ACCEPTED}
    assert allowed is not None, f"test table misses {action}"
    if status in allowed:
        result = lc.next_status(action, status, reason="lý do", paused_from=lc.ACCEPTED)
        assert result == allowed[status]
        assert action in lc.allowed_actions(status)
    else:
        with pytest.raises(lc.TransitionError) as info:
            lc.next_status(action, status, reason="lý do")
        assert info.value.action == action and info.value.status == status
        assert str(info.value) == f"cannot {action.replace('_', ' ')} a ticket that is {status}"
        assert action not in lc.allowed_actions(status)


@pytest.mark.parametrize(
    "action", ["reject", "resolve", "reply", "request_info", "transfer", "reopen"]
)
def test_reason_required(action: str) -> None:
    source = next(iter(sorted(lc.ACTIONS[action].sources)))
    for reason in (None, "", "   "):
        with pytest.raises(lc.TransitionError, match="needs a reason"):
            lc.next_status(action, source, reason=reason)


def test_resume_returns_to_status_before_pause() -> None:
    assert (
        lc.next_status("provide_info", lc.NEED_INFO, paused_from=lc.IN_PROGRESS) == lc.IN_PROGRESS
    )
    assert (
        lc.next_status("provide_info", lc.NEED_INFO, paused_from=lc.TRANSFERRED) == lc.TRANSFERRED
    )


def test_unknown_action() -> None:
    with pytest.raises(lc.TransitionError, match="unknown action"):
        lc.next_status("teleport", lc.ROUTED)


def test_final_statuses_only_reopen() -> None:
    for status in lc.FINAL_STATUSES:
        assert set(lc.allowed_actions(status)) <= {"reopen"}
