"""Deadline arithmetic: Civil Code period counting, the VN holiday calendar and policy rules."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.calendar import WorkCalendar
from service.domain.deadlines import (
    CALENDAR,
    DEFAULT_POLICIES,
    WORKING,
    DeadlineError,
    Policy,
    acceptance_due,
    due_state,
    extend,
    policy_from_row,
    resolution_days_for,
    resolution_due,
    shift_for_pause,
    working_days_left,
)
from service.domain.holidays_vn import (
    HOLIDAY,
    VN_HOLIDAYS,
    WORKDAY,
    calendar_from_rows,
    vn_calendar,
)

PLAIN = WorkCalendar()  # weekends only, so expectations are easy to check by hand
VN = vn_calendar()


def _policy(kind: str) -> Policy:
    (row,) = [r for r in DEFAULT_POLICIES if r["kind"] == kind and r["category_code"] is None]
    return policy_from_row(row)


COMPLAINT = _policy("complaint")
DENUNCIATION = _policy("denunciation")


# ---- WorkCalendar -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2025, 3, 7), 1, date(2025, 3, 10)),  # Fri + 1 -> Mon, weekend skipped
        (date(2025, 3, 6), 3, date(2025, 3, 11)),  # Thu + 3 -> Fri, Mon, Tue
        (date(2025, 3, 3), 1, date(2025, 3, 4)),  # start day not counted: Mon + 1 -> Tue
        (date(2025, 3, 3), 5, date(2025, 3, 10)),  # Mon + 5 -> next Mon
        (date(2025, 3, 8), 1, date(2025, 3, 10)),  # from a Saturday: first working day after
        (date(2025, 3, 3), 0, date(2025, 3, 3)),  # zero days on a working day: same day
        (date(2025, 3, 8), 0, date(2025, 3, 10)),  # zero days on a Saturday: rolls to Monday
    ],
)
def test_add_working_days_plain(start: date, n: int, expected: date) -> None:
    assert PLAIN.add_working_days(start, n) == expected


def test_thirty_calendar_days_ending_on_sunday_moves_to_monday() -> None:
    # 28 Feb 2025 + 30 days = Sun 30 Mar 2025 -> period ends Mon 31 Mar (art. 148).
    assert PLAIN.add_calendar_days(date(2025, 2, 28), 30) == date(2025, 3, 31)
    assert VN.add(date(2025, 2, 28), 30, CALENDAR) == date(2025, 3, 31)


def test_calendar_period_ending_inside_tet_2026_moves_to_monday_23_feb() -> None:
    # 19 Jan 2026 + 30 days = Wed 18 Feb 2026, in the Tết break Sat 14 - Sun 22 Feb.
    assert VN.add_calendar_days(date(2026, 1, 19), 30) == date(2026, 2, 23)


def test_calendar_period_ending_on_a_working_day_is_not_moved() -> None:
    assert VN.add_calendar_days(date(2026, 3, 2), 30) == date(2026, 4, 1)


def test_ten_working_day_acceptance_from_friday_before_tet_2026() -> None:
    # Mon 16 - Fri 20 Feb are off; day 1 is Mon 23 Feb, day 10 is Fri 6 Mar 2026.
    assert VN.add_working_days(date(2026, 2, 13), 10) == date(2026, 3, 6)
    assert acceptance_due(COMPLAINT, date(2026, 2, 13), VN) == date(2026, 3, 6)


def test_working_days_across_year_end_2026_2027() -> None:
    # Thu 31 Dec is day 1; Fri 1 Jan 2027 is a holiday, then the weekend: day 2 is Mon 4 Jan.
    assert VN.add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 4)
    assert VN.working_days_between(date(2026, 12, 30), date(2027, 1, 4)) == 2


def test_new_year_2026_swap_and_make_up_saturday() -> None:
    # Thu 1 Jan holiday, Fri 2 Jan swapped off: the first working day of 2026 is Mon 5 Jan.
    assert VN.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 5)
    # Sat 10 Jan 2026 is worked in exchange, so it counts.
    assert VN.is_working_day(date(2026, 1, 10))
    assert VN.add_working_days(date(2026, 1, 9), 1) == date(2026, 1, 10)


@pytest.mark.parametrize(
    ("start", "n", "unit", "expected"),
    [
        # Sat 26 Apr 2025 is a make-up working day.
        (date(2025, 4, 25), 1, WORKING, date(2025, 4, 26)),
        # 27 Mar 2025 + 30 = Sat 26 Apr, a make-up workday: the period is not moved.
        (date(2025, 3, 27), 30, CALENDAR, date(2025, 4, 26)),
        # Wed 30 Apr, Thu 1 May, Fri 2 May off, then the weekend: Mon 5 May 2025.
        (date(2025, 4, 29), 1, WORKING, date(2025, 5, 5)),
        # Sat 22 Aug 2026 is worked; Mon 31 Aug - Wed 2 Sep 2026 are off.
        (date(2026, 8, 21), 1, WORKING, date(2026, 8, 22)),
        (date(2026, 8, 28), 1, WORKING, date(2026, 9, 3)),
    ],
)
def test_make_up_days_and_swaps(start: date, n: int, unit: str, expected: date) -> None:
    assert VN.add(start, n, unit) == expected


def test_make_up_workday_counted_between() -> None:
    # (Fri 24 Apr 2025, Mon 28 Apr 2025]: Sat 26 (make-up) and Mon 28.
    assert VN.working_days_between(date(2025, 4, 25), date(2025, 4, 28)) == 2
    assert PLAIN.working_days_between(date(2025, 4, 25), date(2025, 4, 28)) == 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (date(2025, 6, 2), date(2025, 6, 6), 4),  # Mon -> Fri: Tue..Fri
        (date(2025, 6, 6), date(2025, 6, 9), 1),  # Fri -> Mon: only Mon
        (date(2025, 6, 6), date(2025, 6, 6), 0),
        (date(2025, 6, 9), date(2025, 6, 6), 0),  # b before a
    ],
)
def test_working_days_between(a: date, b: date, expected: int) -> None:
    assert PLAIN.working_days_between(a, b) == expected


def test_roll_forward() -> None:
    assert PLAIN.roll_forward(date(2025, 6, 7)) == date(2025, 6, 9)  # Sat -> Mon
    assert PLAIN.roll_forward(date(2025, 6, 9)) == date(2025, 6, 9)
    assert VN.roll_forward(date(2026, 2, 14)) == date(2026, 2, 23)  # whole Tết break


def test_unknown_unit_raises() -> None:
    with pytest.raises(ValueError, match="unit"):
        VN.add(date(2025, 6, 2), 5, "month")
    with pytest.raises(DeadlineError):
        Policy(
            acceptance_days=5, acceptance_unit="days", resolution_days=15, resolution_unit=WORKING
        )
    with pytest.raises(DeadlineError):
        shift_for_pause(date(2025, 6, 20), date(2025, 6, 2), date(2025, 6, 6), "weeks", PLAIN)


def test_negative_day_count_raises() -> None:
    with pytest.raises(ValueError):
        PLAIN.add_working_days(date(2025, 6, 2), -1)
    with pytest.raises(ValueError):
        PLAIN.add_calendar_days(date(2025, 6, 2), -1)


# ---- pauses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "paused", "resumed", "unit", "cal", "expected"),
    [
        # 4 working days paused (Tue..Fri): Fri 20 Jun -> Thu 26 Jun 2025.
        (date(2025, 6, 20), date(2025, 6, 2), date(2025, 6, 6), WORKING, PLAIN, date(2025, 6, 26)),
        # 5 calendar days: Mon 30 Jun + 5 = Sat 5 Jul -> rolled to Mon 7 Jul 2025.
        (date(2025, 6, 30), date(2025, 6, 1), date(2025, 6, 6), CALENDAR, PLAIN, date(2025, 7, 7)),
        # Paused over Tết 2026: only Mon 23 and Tue 24 Feb are working days elapsed.
        (date(2026, 3, 2), date(2026, 2, 13), date(2026, 2, 24), WORKING, VN, date(2026, 3, 4)),
        # Paused and resumed the same day: no shift.
        (date(2025, 6, 20), date(2025, 6, 5), date(2025, 6, 5), WORKING, PLAIN, date(2025, 6, 20)),
        # Paused over a weekend only: no working day elapsed.
        (date(2025, 6, 20), date(2025, 6, 6), date(2025, 6, 8), WORKING, PLAIN, date(2025, 6, 20)),
    ],
)
def test_shift_for_pause(
    due: date, paused: date, resumed: date, unit: str, cal: WorkCalendar, expected: date
) -> None:
    assert shift_for_pause(due, paused, resumed, unit, cal) == expected


def test_resume_before_pause_raises() -> None:
    with pytest.raises(DeadlineError):
        shift_for_pause(date(2025, 6, 20), date(2025, 6, 6), date(2025, 6, 5), WORKING, PLAIN)


# ---- complaint variants -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("complex_", "remote", "days", "expected"),
    [
        (False, False, 30, date(2026, 4, 1)),  # Mon 2 Mar + 30 = Wed 1 Apr 2026
        (True, False, 45, date(2026, 4, 16)),  # + 45 = Thu 16 Apr 2026
        (False, True, 45, date(2026, 4, 16)),
        (True, True, 60, date(2026, 5, 4)),  # + 60 = Fri 1 May (holiday) -> Mon 4 May 2026
    ],
)
def test_complaint_resolution_variants(
    complex_: bool, remote: bool, days: int, expected: date
) -> None:
    assert resolution_days_for(COMPLAINT, complex=complex_, remote=remote) == days
    got = resolution_due(COMPLAINT, date(2026, 3, 2), VN, complex=complex_, remote=remote)
    assert got == expected


def test_complaint_cannot_be_extended() -> None:
    with pytest.raises(DeadlineError):
        extend(COMPLAINT, date(2026, 4, 1), 0, VN)
    with pytest.raises(DeadlineError):
        resolution_due(COMPLAINT, date(2026, 3, 2), VN, extensions=1)


def test_resolution_days_fallback_when_combined_figure_missing() -> None:
    p = Policy(5, WORKING, 30, CALENDAR, complex_resolution_days=45, remote_resolution_days=50)
    assert resolution_days_for(p, complex=True, remote=True) == 50
    assert resolution_days_for(Policy(5, WORKING, 30, CALENDAR), complex=True, remote=True) == 30


# ---- denunciation extensions --------------------------------------------------------------


def test_denunciation_initial_handling_seven_working_days() -> None:
    # Received Fri 24 Apr 2026: Mon 27 Apr (Hùng Kings compensatory), 30 Apr, 1 May are off.
    # Working days: Tue 28, Wed 29 Apr, Mon 4, Tue 5, Wed 6, Thu 7, Fri 8 May.
    assert acceptance_due(DENUNCIATION, date(2026, 4, 24), VN) == date(2026, 5, 8)


def test_denunciation_extensions() -> None:
    accepted = date(2026, 3, 2)
    first_due = resolution_due(DENUNCIATION, accepted, VN)
    assert first_due == date(2026, 4, 1)
    # 1 Apr + 30 = Fri 1 May 2026 (holiday) -> Mon 4 May.
    second_due = extend(DENUNCIATION, first_due, 0, VN)
    assert second_due == date(2026, 5, 4)
    # 4 May + 30 = Wed 3 Jun 2026.
    third_due = extend(DENUNCIATION, second_due, 1, VN)
    assert third_due == date(2026, 6, 3)
    assert resolution_due(DENUNCIATION, accepted, VN, extensions=1) == second_due
    assert resolution_due(DENUNCIATION, accepted, VN, extensions=2) == third_due
    with pytest.raises(DeadlineError, match="maximum"):
        extend(DENUNCIATION, third_due, 2, VN)
    with pytest.raises(DeadlineError):
        resolution_due(DENUNCIATION, accepted, VN, extensions=3)


def test_extension_keeps_pause_shift() -> None:
    shifted = shift_for_pause(
        date(2025, 7, 1), date(2025, 6, 1), date(2025, 6, 11), CALENDAR, PLAIN
    )
    assert shifted == date(2025, 7, 11)  # Tue 1 Jul + 10 days = Fri 11 Jul 2025
    # Fri 11 Jul + 30 = Sun 10 Aug -> Mon 11 Aug 2025.
    assert extend(DENUNCIATION, shifted, 0, PLAIN) == date(2025, 8, 11)


def test_extension_over_legal_maximum_raises() -> None:
    p = Policy(
        7, WORKING, 30, CALENDAR, extension_days=40, max_extensions=2, max_total_resolution_days=90
    )
    due = resolution_due(p, date(2025, 6, 2), PLAIN, extensions=1)  # 70 days: allowed
    assert due == date(2025, 8, 11)  # Mon 2 Jun + 30 = Wed 2 Jul; + 40 = Mon 11 Aug 2025
    with pytest.raises(DeadlineError, match="legal maximum"):
        extend(p, due, 1, PLAIN)  # 110 > 90
    with pytest.raises(DeadlineError, match="legal maximum"):
        resolution_due(p, date(2025, 6, 2), PLAIN, extensions=2)


# ---- due state ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "state", "left"),
    [
        (date(2025, 6, 16), "ok", 4),  # Mon, due Fri 20 Jun 2025
        (date(2025, 6, 17), "ok", 3),
        (date(2025, 6, 18), "due_soon", 2),
        (date(2025, 6, 20), "due_soon", 0),  # the due day itself
        (date(2025, 6, 21), "overdue", -1),  # Saturday right after: already one day late
        (date(2025, 6, 23), "overdue", -1),  # Mon
        (date(2025, 6, 24), "overdue", -2),  # Tue
    ],
)
def test_due_state_and_days_left(today: date, state: str, left: int) -> None:
    due = date(2025, 6, 20)
    assert due_state(due, today, PLAIN, 2) == state
    assert working_days_left(due, today, PLAIN) == left


def test_due_state_none_and_holidays_counted() -> None:
    assert due_state(None, date(2025, 6, 16), PLAIN, 2) == "none"
    # Due Mon 23 Feb 2026, today Fri 13 Feb: only one working day left across Tết.
    assert due_state(date(2026, 2, 23), date(2026, 2, 13), VN, 2) == "due_soon"
    assert working_days_left(date(2026, 2, 23), date(2026, 2, 13), VN) == 1
    assert due_state(date(2026, 2, 23), date(2026, 2, 13), PLAIN, 2) == "ok"


# ---- policies and seed data ---------------------------------------------------------------


def test_default_policies_cover_every_kind_with_all_fields() -> None:
    kinds = {r["kind"] for r in DEFAULT_POLICIES}
    assert kinds == {"feedback", "recommendation", "complaint", "denunciation"}
    field_names = set(Policy.__dataclass_fields__)
    for row in DEFAULT_POLICIES:
        assert field_names | {"kind", "category_code", "name_vi", "name_en"} == set(row)
    assert DENUNCIATION == Policy(
        7, WORKING, 30, CALENDAR, extension_days=30, max_extensions=2, max_total_resolution_days=90
    )
    assert (COMPLAINT.acceptance_days, COMPLAINT.acceptance_unit) == (10, WORKING)


def test_policy_from_row_ignores_extras_and_fills_defaults() -> None:
    row = {"id": 3, "kind": "feedback", "acceptance_days": 1, "acceptance_unit": WORKING}
    row |= {"resolution_days": 3, "resolution_unit": WORKING, "extension_days": None}
    assert policy_from_row(row) == Policy(1, WORKING, 3, WORKING)
    with pytest.raises(DeadlineError, match="resolution_days"):
        policy_from_row({"acceptance_days": 1, "acceptance_unit": WORKING})


def test_vn_holiday_rows_are_consistent() -> None:
    days = [d for d, _vi, _en, _kind in VN_HOLIDAYS]
    assert len(days) == len(set(days))
    for d, name_vi, name_en, kind in VN_HOLIDAYS:
        assert name_vi and name_en
        # A holiday row is a weekday off; a workday row is a worked weekend day.
        assert kind == (HOLIDAY if d.weekday() < 5 else WORKDAY), d
    assert {d.year for d in days} == {2025, 2026, 2027}


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 1),
        date(2025, 1, 29),  # Tết Ất Tỵ
        date(2025, 4, 7),  # 10/3 lunar 2025
        date(2026, 2, 17),  # Tết Bính Ngọ
        date(2026, 4, 27),  # compensatory for Sun 26 Apr 2026 (10/3 lunar)
        date(2026, 9, 1),
        date(2027, 1, 1),
        date(2027, 4, 16),  # 10/3 lunar 2027
        date(2027, 5, 3),  # compensatory for Sat 1 May 2027
        date(2027, 9, 3),
    ],
)
def test_known_days_off(day: date) -> None:
    assert not VN.is_working_day(day)


def test_calendar_from_rows() -> None:
    cal = calendar_from_rows([(date(2025, 6, 4), "holiday"), (date(2025, 6, 7), "workday")])
    assert cal.add_working_days(date(2025, 6, 3), 3) == date(2025, 6, 7)  # Thu, Fri, Sat (made up)
    with pytest.raises(ValueError):
        calendar_from_rows([(date(2025, 6, 4), "vacation")])
