"""Working-day durations stamped on each ticket for the supervisor dashboard (no Flask).

`stamp_durations` runs inside every lifecycle action (service.domain.handling.apply_action);
`backfill_durations` fills tickets imported or created before the columns existed
(`flask dashboard backfill`). Definitions: see service.domain.reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from ..models import Ticket
from .calendar import WorkCalendar
from .report_filters import local_date


def working_day_span(cal: WorkCalendar, start: dt.date, end: dt.date, paused: int = 0) -> int:
    """Working days after start up to end, less the working days paused; never negative."""
    return max(0, cal.working_days_between(start, end) - paused)


def deadline_kept(resolved_on: dt.date, resolution_due: dt.date | None,
                  acceptance_due: dt.date | None) -> bool | None:  # fmt: skip
    """Resolved by the resolution deadline, or by the acceptance deadline if never accepted."""
    due = resolution_due if resolution_due is not None else acceptance_due
    return None if due is None else resolved_on <= due


def stamp_durations(ticket: Ticket, cal: WorkCalendar) -> None:
    """Keep the dashboard columns in step with the ticket's timestamps (idempotent)."""
    received_on = local_date(ticket.received_at)
    paused = ticket.paused_days or 0
    if ticket.first_response_at is not None and ticket.first_response_wd is None:  # type: ignore[attr-defined]
        ticket.first_response_wd = working_day_span(  # type: ignore[attr-defined]
            cal, received_on, local_date(ticket.first_response_at), paused
        )
    if ticket.resolved_at is None:
        ticket.resolution_wd = None  # type: ignore[attr-defined]
        ticket.resolved_on_time = None  # type: ignore[attr-defined]
        return
    resolved_on = local_date(ticket.resolved_at)
    ticket.resolution_wd = working_day_span(cal, received_on, resolved_on, paused)  # type: ignore[attr-defined]
    ticket.resolved_on_time = deadline_kept(  # type: ignore[attr-defined]
        resolved_on, ticket.resolution_due, ticket.acceptance_due
    )


class _WorkdayIndex:
    """Working days counted from a fixed origin, so a span is one subtraction (bulk backfill)."""

    def __init__(self, cal: WorkCalendar) -> None:
        self.cal = cal
        self.index: dict[dt.date, int] = {}

    def _fill(self, first: dt.date, last: dt.date) -> None:
        start = min([first, *self.index]) if self.index else first
        end = max([last, *self.index]) if self.index else last
        count, day = 0, start
        while day <= end:
            count += 1 if day > start and self.cal.is_working_day(day) else 0
            self.index[day] = count
            day += dt.timedelta(days=1)

    def between(self, a: dt.date, b: dt.date) -> int:
        if b <= a:
            return 0
        if a not in self.index or b not in self.index:
            self._fill(a, b)
        return self.index[b] - self.index[a]


def backfill_durations(
    session: Session,
    cal: WorkCalendar,
    *,
    recompute: bool = False,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stamp durations on tickets that lack them (or all with recompute); returns rows updated."""
    index = _WorkdayIndex(cal)
    table = Ticket.__table__
    missing = or_(
        and_(Ticket.first_response_at.isnot(None), Ticket.first_response_wd.is_(None)),  # type: ignore[attr-defined]
        and_(Ticket.resolved_at.isnot(None), Ticket.resolution_wd.is_(None)),  # type: ignore[attr-defined]
    )
    statement = (
        update(table)
        .where(table.c.id == bindparam("tid"))
        .values(
            first_response_wd=bindparam("frw"),
            resolution_wd=bindparam("rw"),
            resolved_on_time=bindparam("ot"),
        )
    )
    done, last_id = 0, 0
    while True:
        query = select(
            Ticket.id, Ticket.received_at, Ticket.first_response_at, Ticket.resolved_at,
            Ticket.paused_days, Ticket.resolution_due, Ticket.acceptance_due,
        ).where(Ticket.id > last_id)  # fmt: skip
        if not recompute:
            query = query.where(missing)
        rows = session.execute(query.order_by(Ticket.id).limit(batch)).all()
        if not rows:
            return done
        params = [_durations_of(row, index) for row in rows]
        session.execute(statement, params)
        session.commit()
        done += len(rows)
        last_id = rows[-1].id
        if progress:
            progress(done)


def _durations_of(row: Any, index: _WorkdayIndex) -> dict[str, Any]:
    received_on = local_date(row.received_at)
    paused = row.paused_days or 0
    first = resolution = on_time = None
    if row.first_response_at is not None:
        first = max(0, index.between(received_on, local_date(row.first_response_at)) - paused)
    if row.resolved_at is not None:
        resolved_on = local_date(row.resolved_at)
        resolution = max(0, index.between(received_on, resolved_on) - paused)
        on_time = deadline_kept(resolved_on, row.resolution_due, row.acceptance_due)
    return {"tid": row.id, "frw": first, "rw": resolution, "ot": on_time}
