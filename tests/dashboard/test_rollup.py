"""The pre-summed dashboard figures (service.domain.rollup) against the ticket table.

The rollup must give exactly the figures the ticket queries give, for every scope it answers,
before and after a fold, and must step aside when the agency tree changed under it.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import select

from service.domain import lifecycle, refdata, report_durations, reports, rollup
from service.domain.reports import NULL_KEY, Filters, Period
from service.gendata import generate
from service.models import Agency, RollupRow, Ticket, utcnow
from tests.dashboard.conftest import APRIL_WEEKS, PP, TODAY, P, at, scope_of

ODD = Period(dt.date(2026, 3, 17), dt.date(2026, 4, 9))


def same_figures(session: Any, f: Filters, periods: list[Period], today: dt.date) -> list[Any]:
    """Rollup and ticket queries agree (and the rollup did answer); returns the figures."""
    assert rollup.plan(session, f, reports.DIMENSIONS) is not None
    fast = reports.overviews(session, f, periods, today)
    slow = reports.overviews(session, f, periods, today, use_rollup=False)
    for a, b in zip(fast, slow, strict=True):
        assert a.total == b.total
        for dim in reports.DIMENSIONS:
            assert a.by[dim] == b.by[dim], dim
    weekly = reports.weekly(session, f)
    assert weekly == reports.weekly(session, f, use_rollup=False)
    cal = refdata.work_calendar(session)
    assert reports.backlog(session, f, today, cal) == reports.backlog(
        session, f, today, cal, use_rollup=False
    )
    return fast


def scopes(session: Any, org: dict[str, int]) -> list[frozenset[int] | None]:
    parents = dict(session.execute(select(Agency.id, Agency.parent_id)).all())
    from service.domain.routing import descendants

    province = session.scalar(select(Agency.id).where(Agency.code == "DN"))
    return [
        None,  # an administrator: every ticket, routed or not
        frozenset(descendants(province, parents)),
        scope_of(org, "DSH-A", "DSH-A1", "DSH-A2"),
        scope_of(org, "DSH-A"),  # the agency alone ("exact")
        scope_of(org, "DSH-A1"),
        frozenset({NULL_KEY}),
    ]


def test_decompose_covers_each_day_once() -> None:
    rng = random.Random(5)
    for _ in range(300):
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(700))
        period = Period(start, start + dt.timedelta(days=rng.randrange(400)))
        days: list[dt.date] = []
        for grain, first in rollup.decompose(period):
            last = {"d": first, "w": first + dt.timedelta(days=6)}.get(grain)
            if grain in ("m", "q"):
                last = (rollup._month_end if grain == "m" else rollup._quarter_end)(first)
            assert rollup.bucket_start(grain, first) == first
            days += [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        assert days == [period.start + dt.timedelta(days=i) for i in range(period.days)]
    year = rollup.decompose(Period(dt.date(2025, 11, 24), dt.date(2026, 11, 24)))
    assert [g for g, _ in year].count("q") == 3 and len(year) < 15


def test_rollup_gives_the_hand_worked_figures(app, seeded) -> None:
    from service.extensions import db

    with app.app_context():
        session = db.session
        done = rollup.rebuild(session)
        assert done["rows"] > 0
        scope = scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2")
        current, _previous = same_figures(session, Filters(P, scope), [P, PP], TODAY)
        t = current.total
        assert (t.received, t.resolved, t.on_time, t.rated, t.open, t.overdue) == (8, 5, 2, 5, 3, 1)
        assert (t.first_response_median, t.resolution_median) == (1.0, 6.0)
        weeks = reports.weekly(session, Filters(P, scope))
        assert [(w.start.isoformat(), w.received, w.resolved) for w in weeks] == APRIL_WEEKS
        for ids in scopes(session, seeded):
            for periods in ([P, PP], [P], [ODD, ODD.previous()]):
                same_figures(session, Filters(periods[0], ids), periods, TODAY)


def test_changes_count_before_and_after_the_fold(app, seeded) -> None:
    from service.extensions import db

    with app.app_context():
        session = db.session
        rollup.rebuild(session)
        everything = same_figures(session, Filters(P, None), [P, PP], TODAY)[0].total
        tickets = {t.code: t for t in session.scalars(select(Ticket))}
        cal = refdata.work_calendar(session)
        # Resolve an open ticket, move another to a sister agency, file a new one today.
        open_one = next(t for t in tickets.values() if t.status in lifecycle.OPEN_STATUSES)
        open_one.status, open_one.resolved_at = "resolved", at("2026-04-29")
        open_one.first_response_at = open_one.first_response_at or at("2026-04-28")
        report_durations.stamp_durations(open_one, cal)
        moved = next(t for t in tickets.values() if t.agency_id == seeded["DSH-A1"])
        moved.agency_id = seeded["DSH-B"]
        session.add(Ticket(code="DSH-NEW", tracking_token="tok-dsh-new", kind="feedback",
                           channel="web", status="received", title="Mới", description="x",
                           received_at=at("2026-04-15")))  # fmt: skip
        session.commit()
        before_fold = {}
        for ids in scopes(session, seeded):
            before_fold[ids] = same_figures(session, Filters(P, ids), [P, PP], TODAY)
        now = before_fold[None][0].total  # the new ticket and the resolution count at once
        assert (now.received, now.resolved) == (everything.received + 1, everything.resolved + 1)
        assert rollup.fold(session)["tickets"] == 3
        for ids in scopes(session, seeded):
            assert same_figures(session, Filters(P, ids), [P, PP], TODAY) == before_fold[ids]
        assert rollup.fold(session)["tickets"] == 0  # re-read within the margin, nothing new
        unrouted = reports.overview(session, Filters(P, frozenset({NULL_KEY})), TODAY).total
        assert (unrouted.received, unrouted.open) == (1, 1)


def test_a_changed_tree_falls_back_until_rebuilt(app, seeded) -> None:
    from service.extensions import db

    with app.app_context():
        session = db.session
        rollup.rebuild(session)
        scope = scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2")
        before = same_figures(session, Filters(P, scope), [P, PP], TODAY)
        session.get(Agency, seeded["DSH-B"]).parent_id = seeded["DSH-A"]
        session.commit()
        wider = scope | {seeded["DSH-B"]}
        assert rollup.plan(session, Filters(P, wider), reports.DIMENSIONS) is None
        slow = reports.overviews(session, Filters(P, wider), [P, PP], TODAY)
        assert slow[0].total.received >= before[0].total.received
        rollup.fold(session)  # notices the new tree and rebuilds
        assert same_figures(session, Filters(P, wider), [P, PP], TODAY) == slow
        session.get(Agency, seeded["DSH-B"]).parent_id = seeded["DN"]
        session.commit()
        rollup.fold(session)


def test_filters_and_pairs_read_the_tickets(app, seeded) -> None:
    from service.extensions import db

    with app.app_context():
        session = db.session
        rollup.rebuild(session)
        scope = scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2")
        assert rollup.plan(session, Filters(P, scope, kind="complaint"), ("agency",)) is None
        assert rollup.plan(session, Filters(P, scope), ("agency+kind",)) is None
        assert rollup.plan(session, Filters(P, scope_of(seeded, "DSH-A1", "DSH-B")), ()) is None


@pytest.mark.parametrize("seed", [3, 11])
def test_generated_tickets_agree(app, db, org, seed) -> None:
    with app.app_context():
        session = db.session
        generate(session, 700, seed=seed, batch=350, extra_areas=4)
        rollup.rebuild(session)
        assert session.scalar(select(RollupRow.id).limit(1)) is not None
        today = dt.date(2026, 11, 25)
        rng = random.Random(seed)
        for ids in scopes(session, org):
            for _ in range(3):
                start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(650))
                period = Period(
                    start, min(today, start + dt.timedelta(days=rng.randrange(20, 380)))
                )
                same_figures(session, Filters(period, ids), [period, period.previous()], today)
        # Change a tenth of them through the lifecycle's columns, then compare before/after fold.
        rows = session.scalars(select(Ticket).where(Ticket.status == "in_progress")).all()
        cal = refdata.work_calendar(session)
        for ticket in rows[: max(1, len(rows) // 10)]:
            ticket.status, ticket.resolved_at = "resolved", utcnow()
            report_durations.stamp_durations(ticket, cal)
        session.commit()
        year = Period(today - dt.timedelta(days=364), today)
        for ids in scopes(session, org)[:2]:
            same_figures(session, Filters(year, ids), [year, year.previous()], today)
        rollup.fold(session)
        for ids in scopes(session, org)[:2]:
            same_figures(session, Filters(year, ids), [year, year.previous()], today)
