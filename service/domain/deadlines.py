"""Deadline rules per kind of intake: acceptance and resolution clocks, extensions, pauses.

Every day count is a Policy row (seeded from DEFAULT_POLICIES) so a change in the law is a data
edit, not a release. Periods follow Civil Code 2015 art. 147-148 via WorkCalendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from .calendar import CALENDAR, UNITS, WORKING, WorkCalendar

__all__ = [
    "CALENDAR",
    "DEFAULT_POLICIES",
    "DUE_NONE",
    "DUE_OK",
    "DUE_OVERDUE",
    "DUE_SOON",
    "DeadlineError",
    "Policy",
    "WORKING",
    "acceptance_due",
    "due_state",
    "extend",
    "policy_from_row",
    "resolution_days_for",
    "resolution_due",
    "shift_for_pause",
    "working_days_left",
]

DUE_NONE = "none"
DUE_OK = "ok"
DUE_SOON = "due_soon"
DUE_OVERDUE = "overdue"


class DeadlineError(ValueError):
    """A deadline rule forbids the request (bad policy, extension not allowed, over the maximum)."""


@dataclass(frozen=True)
class Policy:
    acceptance_days: int
    acceptance_unit: str
    resolution_days: int
    resolution_unit: str
    # Replaces resolution_days when the ticket is flagged complex.
    complex_resolution_days: int | None = None
    # Replaces resolution_days when the ticket is flagged remote area.
    remote_resolution_days: int | None = None
    remote_complex_resolution_days: int | None = None
    # Length of one extension, in the resolution unit.
    extension_days: int = 0
    max_extensions: int = 0
    # Legal maximum including extensions (denunciation: 90 days).
    max_total_resolution_days: int | None = None
    # Warning window, in working days.
    due_soon_days: int = 2

    def __post_init__(self) -> None:
        # Fail when the row is loaded, not when the first ticket hits a bad value.
        for name in ("acceptance_unit", "resolution_unit"):
            if getattr(self, name) not in UNITS:
                raise DeadlineError(f"{name} must be 'working' or 'calendar'")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_unit") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DeadlineError(f"{f.name} must be a whole number of days, not negative")


_POLICY_FIELDS = tuple(f.name for f in fields(Policy))
_REQUIRED_FIELDS = ("acceptance_days", "acceptance_unit", "resolution_days", "resolution_unit")


def acceptance_due(policy: Policy, received_on: date, cal: WorkCalendar) -> date:
    """Last day to accept (thụ lý) or refuse; the acceptance clock runs from receipt."""
    return cal.add(received_on, policy.acceptance_days, policy.acceptance_unit)


def resolution_days_for(policy: Policy, *, complex: bool = False, remote: bool = False) -> int:
    """Base resolution period for the flags, before extensions."""
    if complex and remote:
        if policy.remote_complex_resolution_days is not None:
            return policy.remote_complex_resolution_days
        # No combined figure: take the longer of the single-flag periods that exist.
        candidates = [
            d
            for d in (policy.complex_resolution_days, policy.remote_resolution_days)
            if d is not None
        ]
        return max(candidates, default=policy.resolution_days)
    if complex and policy.complex_resolution_days is not None:
        return policy.complex_resolution_days
    if remote and policy.remote_resolution_days is not None:
        return policy.remote_resolution_days
    return policy.resolution_days


def _check_extension_total(policy: Policy, base_days: int, extensions: int) -> None:
    total = base_days + extensions * policy.extension_days
    if policy.max_total_resolution_days is not None and total > policy.max_total_resolution_days:
        raise DeadlineError(
            f"{total} days would exceed the legal maximum of "
            f"{policy.max_total_resolution_days} days"
        )


def resolution_due(
    policy: Policy,
    accepted_on: date,
    cal: WorkCalendar,
    *,
    complex: bool = False,
    remote: bool = False,
    extensions: int = 0,
) -> date:
    """Resolution deadline counted from acceptance, with `extensions` extensions applied."""
    if extensions < 0:
        raise DeadlineError("number of extensions must not be negative")
    if extensions > 0 and (policy.extension_days <= 0 or policy.max_extensions <= 0):
        raise DeadlineError("this kind of case cannot be extended")
    if extensions > policy.max_extensions:
        raise DeadlineError(f"at most {policy.max_extensions} extension(s) allowed")
    base = resolution_days_for(policy, complex=complex, remote=remote)
    _check_extension_total(policy, base, extensions)
    due = cal.add(accepted_on, base, policy.resolution_unit)
    # Chain each extension from the previous due date so this equals repeated extend() calls.
    for _ in range(extensions):
        due = cal.add(due, policy.extension_days, policy.resolution_unit)
    return due


def extend(
    policy: Policy,
    current_due: date,
    extensions_so_far: int,
    cal: WorkCalendar,
    *,
    complex: bool = False,
    remote: bool = False,
) -> date:
    """One more extension counted from the current due date, so earlier pause shifts stay."""
    if policy.extension_days <= 0 or policy.max_extensions <= 0:
        raise DeadlineError("this kind of case cannot be extended")
    if extensions_so_far < 0:
        raise DeadlineError("number of extensions must not be negative")
    if extensions_so_far >= policy.max_extensions:
        raise DeadlineError(f"maximum of {policy.max_extensions} extension(s) already reached")
    base = resolution_days_for(policy, complex=complex, remote=remote)
    _check_extension_total(policy, base, extensions_so_far + 1)
    return cal.add(current_due, policy.extension_days, policy.resolution_unit)


def shift_for_pause(
    due: date, paused_on: date, resumed_on: date, unit: str, cal: WorkCalendar
) -> date:
    """Push the due date by the time spent waiting for the citizen, in (paused_on, resumed_on]."""
    if unit not in UNITS:
        raise DeadlineError(f"unknown day unit {unit!r}; expected 'working' or 'calendar'")
    if resumed_on < paused_on:
        raise DeadlineError("the clock cannot resume before it was paused")
    if unit == WORKING:
        elapsed = cal.working_days_between(paused_on, resumed_on)
        return cal.add_working_days(due, elapsed) if elapsed else due
    elapsed = (resumed_on - paused_on).days
    return cal.add_calendar_days(due, elapsed) if elapsed else due


def due_state(due: date | None, today: date, cal: WorkCalendar, due_soon_days: int) -> str:
    """'none', 'overdue', 'due_soon' (within due_soon_days working days) or 'ok'."""
    if due is None:
        return DUE_NONE
    if today > due:
        return DUE_OVERDUE
    if cal.working_days_between(today, due) <= due_soon_days:
        return DUE_SOON
    return DUE_OK


def working_days_left(due: date, today: date, cal: WorkCalendar) -> int:
    """Working days from today to due; negative (working days past due) when overdue."""
    if today <= due:
        return cal.working_days_between(today, due)
    # Roll today forward so a weekend right after the due date already reads as -1, not 0.
    return -cal.working_days_between(due, cal.roll_forward(today))


def _get(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    # SQLAlchemy Row exposes a mapping view; an ORM object only has attributes.
    mapping = getattr(row, "_mapping", None)
    if isinstance(mapping, Mapping):
        return mapping.get(name)
    return getattr(row, name, None)


def policy_from_row(row: Mapping[str, Any]) -> Policy:
    """Build a Policy from a seed dict, a DB row mapping or an ORM object; extra keys ignored."""
    values: dict[str, Any] = {}
    for name in _POLICY_FIELDS:
        value = _get(row, name)
        if value is None:
            if name in _REQUIRED_FIELDS:
                raise DeadlineError(f"deadline policy is missing {name}")
            # Unset optional columns fall back to the dataclass default.
            continue
        values[name] = value
    return Policy(**values)


# Legal defaults as seed rows; category_code None means the default for the whole kind.
DEFAULT_POLICIES: list[dict[str, Any]] = [
    {
        "kind": "feedback",
        "category_code": None,
        "name_vi": "Phản ánh",
        "name_en": "Feedback",
        # Decree 20/2008: forward within 5 working days if another body is competent.
        "acceptance_days": 5,
        "acceptance_unit": WORKING,
        # No statutory resolution period for feedback: 15 working days is a local SLA choice.
        "resolution_days": 15,
        "resolution_unit": WORKING,
        "complex_resolution_days": None,
        "remote_resolution_days": None,
        "remote_complex_resolution_days": None,
        "extension_days": 0,
        "max_extensions": 0,
        "max_total_resolution_days": None,
        "due_soon_days": 2,
    },
    {
        "kind": "recommendation",
        "category_code": None,
        "name_vi": "Kiến nghị",
        "name_en": "Recommendation",
        # Decree 20/2008: forward within 5 working days if another body is competent.
        "acceptance_days": 5,
        "acceptance_unit": WORKING,
        # No statutory resolution period for recommendations: 15 working days is a local SLA.
        "resolution_days": 15,
        "resolution_unit": WORKING,
        "complex_resolution_days": None,
        "remote_resolution_days": None,
        "remote_complex_resolution_days": None,
        "extension_days": 0,
        "max_extensions": 0,
        "max_total_resolution_days": None,
        "due_soon_days": 2,
    },
    {
        "kind": "complaint",
        "category_code": None,
        "name_vi": "Khiếu nại (giải quyết lần đầu)",
        "name_en": "Complaint (first instance)",
        # Law on Complaints 02/2011 art. 27: accept or refuse within 10 (working) days.
        "acceptance_days": 10,
        "acceptance_unit": WORKING,
        # Art. 28: 30 days from acceptance, 45 if complex; 45 / 60 in remote areas.
        "resolution_days": 30,
        "resolution_unit": CALENDAR,
        "complex_resolution_days": 45,
        "remote_resolution_days": 45,
        "remote_complex_resolution_days": 60,
        # The complaint law has no extension mechanism; the flags above already give the maximum.
        "extension_days": 0,
        "max_extensions": 0,
        "max_total_resolution_days": None,
        "due_soon_days": 2,
    },
    {
        "kind": "denunciation",
        "category_code": None,
        "name_vi": "Tố cáo",
        "name_en": "Denunciation",
        # Law on Denunciation 25/2018 art. 24: initial handling within 7 working days.
        "acceptance_days": 7,
        "acceptance_unit": WORKING,
        # Art. 30: 30 days from acceptance, at most two 30-day extensions, 90 days in total.
        "resolution_days": 30,
        "resolution_unit": CALENDAR,
        "complex_resolution_days": None,
        "remote_resolution_days": None,
        "remote_complex_resolution_days": None,
        "extension_days": 30,
        "max_extensions": 2,
        "max_total_resolution_days": 90,
        "due_soon_days": 2,
    },
]
