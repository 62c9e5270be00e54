"""Vietnam's public-holiday schedule for public servants, 2025-2027, as seed rows.

Only weekdays off ("holiday") and worked weekend days ("workday") are listed: a holiday that
falls on a weekend changes nothing by itself, its compensatory weekday is what gets listed.
Lunar dates were checked with Hồ Ngọc Đức's Vietnamese (UTC+7) lunar algorithm.
Admins edit the holiday table when the government announces a schedule; this is only the seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

from .calendar import WorkCalendar

HOLIDAY = "holiday"
WORKDAY = "workday"

_NEW_YEAR = ("Tết Dương lịch", "New Year's Day")
_TET = ("Tết Nguyên đán", "Lunar New Year (Tết)")
_HUNG = (
    "Giỗ Tổ Hùng Vương (10/3 âm lịch)",
    "Hung Kings' Commemoration (10th day, 3rd lunar month)",
)
_REUNIFICATION = ("Ngày Chiến thắng 30/4", "Reunification Day (30 April)")
_LABOUR = ("Ngày Quốc tế Lao động 1/5", "International Labour Day (1 May)")
_NATIONAL = ("Quốc khánh 2/9", "National Day (2 September)")
_NATIONAL_EXTRA = ("Nghỉ Quốc khánh (ngày liền kề)", "National Day holiday (adjacent day)")


def _h(d: date, names: tuple[str, str]) -> tuple[date, str, str, str]:
    return (d, names[0], names[1], HOLIDAY)


def _swap_off(d: date, vi: str, en: str) -> tuple[date, str, str, str]:
    return (d, f"Nghỉ hoán đổi ({vi})", f"Swapped day off ({en})", HOLIDAY)


def _comp(d: date, vi: str, en: str) -> tuple[date, str, str, str]:
    return (d, f"Nghỉ bù {vi}", f"Compensatory day off for {en}", HOLIDAY)


def _makeup(d: date, vi: str, en: str) -> tuple[date, str, str, str]:
    return (d, f"Làm bù ({vi})", f"Make-up working day ({en})", WORKDAY)


VN_HOLIDAYS: list[tuple[date, str, str, str]] = [
    # ---- 2025 (Ministry of Labour notice of Nov 2024, incl. the 30/4 swap for civil servants) ----
    _h(date(2025, 1, 1), _NEW_YEAR),
    # Tết Ất Tỵ (1/1 lunar = Wed 29 Jan): break Sat 25 Jan - Sun 2 Feb, weekdays listed.
    _h(date(2025, 1, 27), _TET),
    _h(date(2025, 1, 28), _TET),
    _h(date(2025, 1, 29), _TET),
    _h(date(2025, 1, 30), _TET),
    _h(date(2025, 1, 31), _TET),
    _h(date(2025, 4, 7), _HUNG),  # 10/3 Ất Tỵ = Mon 7 Apr
    # Worked Sat 26 Apr so that Fri 2 May is off: break Wed 30 Apr - Sun 4 May.
    _makeup(date(2025, 4, 26), "đổi cho thứ Sáu 2/5/2025", "swapped with Fri 2 May 2025"),
    _h(date(2025, 4, 30), _REUNIFICATION),
    _h(date(2025, 5, 1), _LABOUR),
    _swap_off(date(2025, 5, 2), "làm bù thứ Bảy 26/4/2025", "worked on Sat 26 Apr 2025"),
    # National Day break Sat 30 Aug - Tue 2 Sep; Mon 1 Sep is the adjacent day.
    _h(date(2025, 9, 1), _NATIONAL_EXTRA),
    _h(date(2025, 9, 2), _NATIONAL),
    # ---- 2026 (PM's approval of Oct 2025 on Tết and National Day; 12729/VPCP-KGVX on 1/1) ----
    # New Year: Fri 2 Jan swapped with Sat 10 Jan, break Thu 1 - Sun 4 Jan.
    _h(date(2026, 1, 1), _NEW_YEAR),
    _swap_off(date(2026, 1, 2), "làm bù thứ Bảy 10/1/2026", "worked on Sat 10 Jan 2026"),
    _makeup(date(2026, 1, 10), "đổi cho thứ Sáu 2/1/2026", "swapped with Fri 2 Jan 2026"),
    # Tết Bính Ngọ (1/1 lunar = Tue 17 Feb): break Sat 14 - Sun 22 Feb, offices closed Mon-Fri.
    _h(date(2026, 2, 16), _TET),
    _h(date(2026, 2, 17), _TET),
    _h(date(2026, 2, 18), _TET),
    _h(date(2026, 2, 19), _TET),
    _h(date(2026, 2, 20), _TET),
    # 10/3 Bính Ngọ = Sun 26 Apr, so the following Monday is off.
    _comp(date(2026, 4, 27), "Giỗ Tổ Hùng Vương", "Hung Kings' Commemoration"),
    _h(date(2026, 4, 30), _REUNIFICATION),
    _h(date(2026, 5, 1), _LABOUR),
    # National Day: 2/9 Wed plus Tue 1 Sep (adjacent day); Mon 31 Aug swapped with Sat 22 Aug,
    # giving a break Sat 29 Aug - Wed 2 Sep.
    _makeup(date(2026, 8, 22), "đổi cho thứ Hai 31/8/2026", "swapped with Mon 31 Aug 2026"),
    _swap_off(date(2026, 8, 31), "làm bù thứ Bảy 22/8/2026", "worked on Sat 22 Aug 2026"),
    _h(date(2026, 9, 1), _NATIONAL_EXTRA),
    _h(date(2026, 9, 2), _NATIONAL),
    # ---- 2027 (PROVISIONAL: no official notice yet; Labour Code 2019 art. 112 applied) ----
    _h(date(2027, 1, 1), _NEW_YEAR),
    # Tết Đinh Mùi (1/1 lunar = Sat 6 Feb; 29 Chạp = Fri 5 Feb): guessed break Thu 4 - Wed 10
    # Feb, the pattern used in 2024 when Tết also fell on a Saturday. Replace when announced.
    _h(date(2027, 2, 4), _TET),
    _h(date(2027, 2, 5), _TET),
    _h(date(2027, 2, 8), _TET),
    _h(date(2027, 2, 9), _TET),
    _h(date(2027, 2, 10), _TET),
    _h(date(2027, 4, 16), _HUNG),  # 10/3 Đinh Mùi = Fri 16 Apr
    _h(date(2027, 4, 30), _REUNIFICATION),
    # 1 May 2027 is a Saturday: compensatory day on the next working day.
    _comp(date(2027, 5, 3), "Ngày Quốc tế Lao động 1/5", "International Labour Day"),
    _h(date(2027, 9, 2), _NATIONAL),
    # Adjacent day chosen after 2/9 so the break runs Thu 2 - Sun 5 Sep.
    _h(date(2027, 9, 3), _NATIONAL_EXTRA),
]


def calendar_from_rows(rows: Iterable[tuple[date, str]]) -> WorkCalendar:
    """Build a WorkCalendar from (day, kind) pairs, kind 'holiday' or 'workday'."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    for day, kind in rows:
        if kind == HOLIDAY:
            holidays.add(day)
        elif kind == WORKDAY:
            workdays.add(day)
        else:
            raise ValueError(f"unknown holiday kind {kind!r}; expected 'holiday' or 'workday'")
    return WorkCalendar(holidays=frozenset(holidays), workdays=frozenset(workdays))


@cache
def vn_calendar() -> WorkCalendar:
    """The seed calendar; immutable, so one shared instance is safe."""
    return calendar_from_rows((day, kind) for day, _vi, _en, kind in VN_HOLIDAYS)
