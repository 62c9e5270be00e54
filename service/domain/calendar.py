"""Working-day arithmetic for legal deadlines (Civil Code 2015, art. 147-148).

The calendar is data: which weekdays are off and which weekend days are worked comes from
holiday rows an administrator can edit, never from a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WORKING = "working"
CALENDAR = "calendar"
UNITS = (WORKING, CALENDAR)

_ONE_DAY = timedelta(days=1)
# A guard against a corrupt calendar (e.g. every day marked off) looping forever.
_MAX_SCAN_DAYS = 3660


@dataclass(frozen=True)
class WorkCalendar:
    # Weekdays that are days off (public holidays, compensatory days, Tết break).
    holidays: frozenset[date] = frozenset()
    # Weekend days that are declared make-up working days.
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, d: date) -> bool:
        # A listed day off wins over a make-up listing: both at once is a data error, be lenient.
        if d in self.holidays:
            return False
        if d in self.workdays:
            return True
        return d.weekday() < 5

    def roll_forward(self, d: date) -> date:
        """d if it is a working day, else the next working day."""
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(d):
                return d
            d += _ONE_DAY
        raise ValueError("no working day found within ten years; check the holiday calendar")

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start; the start day itself is never counted (art. 147)."""
        if n < 0:
            raise ValueError("number of days must not be negative")
        if n == 0:
            return self.roll_forward(start)
        d = start
        left = n
        for _ in range(n + _MAX_SCAN_DAYS):
            d += _ONE_DAY
            if self.is_working_day(d):
                left -= 1
                if left == 0:
                    return d
        raise ValueError("working-day count did not finish; check the holiday calendar")

    def add_calendar_days(self, start: date, n: int) -> date:
        """start + n days; a period ending on a day off ends on the next working day (art. 148)."""
        if n < 0:
            raise ValueError("number of days must not be negative")
        return self.roll_forward(start + timedelta(days=n))

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days d with a < d <= b; 0 when b <= a."""
        if b <= a:
            return 0
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            if self.is_working_day(d):
                count += 1
            d += _ONE_DAY
        return count

    def add(self, start: date, n: int, unit: str) -> date:
        """Dispatch on the unit a deadline rule is written in."""
        if unit == WORKING:
            return self.add_working_days(start, n)
        if unit == CALENDAR:
            return self.add_calendar_days(start, n)
        raise ValueError(f"unknown day unit {unit!r}; expected 'working' or 'calendar'")
