"""Periods, filters and the conditions selecting the tickets behind each dashboard figure.

The same condition counts a figure (service.domain.reports) and lists its tickets (the drill-down
and the exports), so the two always agree. No Flask import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..models import Ticket
from . import lifecycle
from .calendar import WorkCalendar

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DIMENSIONS = ("agency", "category", "channel", "kind")
DIM_COLUMNS: dict[str, Any] = {
    "agency": Ticket.agency_id,
    "category": Ticket.category_id,
    "channel": Ticket.channel,
    "kind": Ticket.kind,
}
# Filter value meaning "not set" (ticket without agency or category); ids start at 1.
NULL_KEY = -1
HANDLING = frozenset({lifecycle.ACCEPTED, lifecycle.IN_PROGRESS, lifecycle.REOPENED})
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((0, 5), (6, 10), (11, 20), (21, 30), (31, None))
METRICS = ("received", "resolved", "on_time", "late", "open", "overdue", "responded", "backlog")
PRESETS = ("this_month", "last_month", "this_quarter", "this_year", "reporting_year")
# The province's reporting year runs from 26 November to 25 November (report due 25 November).
REPORTING_YEAR_END = (11, 25)
MAX_PERIOD_DAYS = 3 * 366 + 1


class FilterError(ValueError):
    """A period or filter the dashboard cannot use; the message is shown to the person asking."""


# --- periods ------------------------------------------------------------------------------


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TZ).date()


def local_day_sql(session: Session, column: Any) -> Any:
    """The local calendar day of a timestamp column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(str(LOCAL_TZ), column))
    # SQLite keeps UTC text; Vietnam has had no daylight saving since 1975: a fixed offset.
    offset = int(dt.datetime.now(LOCAL_TZ).utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]
    return func.date(column, f"{offset:+d} hours")


def local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), LOCAL_TZ).astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Period:
    """Local calendar days from start to end, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise FilterError("the period ends before it starts")
        if self.days > MAX_PERIOD_DAYS:
            raise FilterError("the period is longer than three years")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length immediately before."""
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """UTC instants [from, to) covering the local days."""
        return local_midnight_utc(self.start), local_midnight_utc(self.end + dt.timedelta(days=1))


def reporting_year(today: dt.date) -> Period:
    """26 November – 25 November: the reporting year that contains today."""
    month, day = REPORTING_YEAR_END
    end_year = today.year if today <= dt.date(today.year, month, day) else today.year + 1
    return Period(dt.date(end_year - 1, month, day + 1), dt.date(end_year, month, day))


def preset_period(name: str, today: dt.date) -> Period:
    """Named periods; the current month, quarter and year run to today so the previous period
    of the same length compares like with like."""
    if name == "this_month":
        return Period(today.replace(day=1), today)
    if name == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return Period(end.replace(day=1), end)
    if name == "this_quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return Period(dt.date(today.year, first_month, 1), today)
    if name == "this_year":
        return Period(dt.date(today.year, 1, 1), today)
    if name == "reporting_year":
        return reporting_year(today)
    raise FilterError(f"unknown period {name!r}")


# --- filters and conditions -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Filters:
    period: Period
    # None: every ticket (administrators); NULL_KEY inside stands for "no agency yet".
    agency_ids: frozenset[int] | None = None
    kind: str | None = None
    category_id: int | None = None  # NULL_KEY: tickets without a category
    channel: str | None = None

    def replace(self, **changes: Any) -> Filters:
        return dataclasses.replace(self, **changes)


def _key_is(column: Any, value: int) -> ColumnElement[bool]:
    return column.is_(None) if value == NULL_KEY else column == value


def base_conditions(f: Filters) -> list[ColumnElement[bool]]:
    """Scope and dimension filters shared by every figure and list."""
    conds: list[ColumnElement[bool]] = []
    if f.agency_ids is not None:
        ids = sorted(i for i in f.agency_ids if i != NULL_KEY)
        cond = Ticket.agency_id.in_(ids)
        if NULL_KEY in f.agency_ids:
            cond = or_(cond, Ticket.agency_id.is_(None))
        conds.append(cond)
    if f.kind:
        conds.append(Ticket.kind == f.kind)
    if f.category_id is not None:
        conds.append(_key_is(Ticket.category_id, f.category_id))
    if f.channel:
        conds.append(Ticket.channel == f.channel)
    return conds


def within(column: Any, period: Period) -> ColumnElement[bool]:
    start, end = period.bounds()
    return and_(column >= start, column < end)


def received_in(period: Period) -> ColumnElement[bool]:
    return within(Ticket.received_at, period)


def resolved_in(period: Period) -> ColumnElement[bool]:
    return within(Ticket.resolved_at, period)


def responded_in(period: Period) -> ColumnElement[bool]:
    return within(Ticket.first_response_at, period)


def is_open() -> ColumnElement[bool]:
    return Ticket.status.in_(sorted(lifecycle.OPEN_STATUSES))


def overdue_on(today: dt.date) -> ColumnElement[bool]:
    """The running clock has passed: acceptance while awaiting it, resolution while handled."""
    return or_(
        and_(
            Ticket.status.in_(sorted(lifecycle.AWAITING_ACCEPTANCE)), Ticket.acceptance_due < today
        ),
        and_(Ticket.status.in_(sorted(HANDLING)), Ticket.resolution_due < today),
    )


def age_cutoff(today: dt.date, cal: WorkCalendar, max_age: int) -> dt.date:
    """Earliest receipt day whose age today (working days) is at most max_age."""
    day, age = today, 0
    for _ in range(max_age * 7 + 3660):
        older = age + (1 if cal.is_working_day(day) else 0)
        if older > max_age:
            return day
        day, age = day - dt.timedelta(days=1), older
    raise FilterError("the holiday calendar has no working days")


def age_condition(
    bucket: tuple[int, int | None], today: dt.date, cal: WorkCalendar
) -> ColumnElement[bool]:
    """Tickets whose age today, in working days since receipt, falls within the bucket."""
    low, high = bucket
    conds: list[ColumnElement[bool]] = []
    if high is not None:
        conds.append(Ticket.received_at >= local_midnight_utc(age_cutoff(today, cal, high)))
    if low > 0:
        conds.append(Ticket.received_at < local_midnight_utc(age_cutoff(today, cal, low - 1)))
    return and_(*conds) if conds else Ticket.id.isnot(None)


def metric_condition(
    metric: str,
    period: Period,
    today: dt.date,
    cal: WorkCalendar,
    age: tuple[int, int | None] | None = None,
) -> ColumnElement[bool]:
    """The tickets behind one figure: the same condition counts them and lists them."""
    if metric == "received":
        return received_in(period)
    if metric == "resolved":
        return resolved_in(period)
    if metric == "on_time":
        return and_(resolved_in(period), Ticket.resolved_on_time.is_(True))
    if metric == "late":
        return and_(resolved_in(period), Ticket.resolved_on_time.is_(False))
    if metric == "open":
        return and_(received_in(period), is_open())
    if metric == "overdue":
        return and_(received_in(period), overdue_on(today))
    if metric == "responded":
        return responded_in(period)
    if metric == "backlog":
        return and_(is_open(), age_condition(age or (0, None), today, cal))
    raise FilterError(f"unknown figure {metric!r}")


def ticket_conditions(
    f: Filters,
    metric: str,
    today: dt.date,
    cal: WorkCalendar,
    age: tuple[int, int | None] | None = None,
) -> list[ColumnElement[bool]]:
    return [*base_conditions(f), metric_condition(metric, f.period, today, cal, age)]
