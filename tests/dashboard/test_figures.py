"""Dashboard figures on PostgreSQL against the hand-computed dataset of conftest.TICKETS."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from service.domain import refdata, report_durations, reports
from service.domain.reports import Filters, Period
from service.models import Ticket
from tests.dashboard.conftest import APRIL_WEEKS, PP, TODAY, P, at, scope_of, seed_tickets


def _overview(db, org, *codes, period=P, **kw):
    scope = scope_of(org, *codes) if codes else None
    return reports.overview(db.session, Filters(period, scope, **kw), TODAY)


def test_subtree_figures_current_period(seeded, db):
    t = _overview(db, seeded, "DSH-A", "DSH-A1", "DSH-A2").total
    assert (t.received, t.resolved, t.on_time, t.rated, t.late) == (8, 5, 2, 5, 3)
    assert t.on_time_rate == pytest.approx(0.4)
    assert (t.open, t.overdue, t.responded) == (3, 1, 3)
    # first responses [0, 1, 3]; resolutions [3, 4, 6, 13, 18] working days
    assert (t.first_response_median, t.first_response_p90) == (1.0, pytest.approx(2.6))
    assert (t.resolution_median, t.resolution_p90) == (6.0, pytest.approx(16.0))


def test_previous_period_is_same_length_before(seeded, db):
    assert P.previous() == PP
    t = _overview(db, seeded, "DSH-A", "DSH-A1", "DSH-A2", period=PP).total
    assert (t.received, t.resolved, t.on_time, t.rated) == (4, 2, 1, 2)
    assert (t.open, t.overdue, t.responded) == (1, 0, 3)
    assert (t.first_response_median, t.first_response_p90) == (1.0, 1.0)
    assert (t.resolution_median, t.resolution_p90) == (8.0, pytest.approx(12.0))


def test_province_and_all_agencies(seeded, db):
    for codes in (tuple(seeded), ()):
        t = _overview(db, seeded, *codes).total
        assert (t.received, t.resolved, t.on_time, t.open, t.overdue) == (10, 6, 3, 4, 2)


def test_breakdowns(seeded, db):
    o = _overview(db, seeded, "DSH-A", "DSH-A1", "DSH-A2")
    a1, a2 = o.by["agency"][seeded["DSH-A1"]], o.by["agency"][seeded["DSH-A2"]]
    assert (a1.received, a1.resolved, a1.on_time, a1.open, a1.overdue) == (4, 3, 1, 2, 1)
    assert (a1.first_response_median, a1.first_response_p90) == (2.0, pytest.approx(2.8))
    assert (a1.resolution_median, a1.resolution_p90) == (6.0, pytest.approx(15.6))
    assert (a2.received, a2.resolved, a2.on_time, a2.open, a2.overdue) == (4, 2, 1, 1, 0)
    assert (a2.resolution_median, a2.resolution_p90) == (8.5, pytest.approx(12.1))
    assert set(o.by["agency"]) == {seeded["DSH-A1"], seeded["DSH-A2"]}
    cats = o.by["category"]
    env_id = db.session.scalar(select(Ticket.category_id).where(Ticket.code == "DSH-T1"))
    assert (cats[env_id].received, cats[env_id].resolved, cats[env_id].on_time) == (4, 3, 2)
    assert cats[None].received == 1
    assert {k: v.received for k, v in o.by["channel"].items()} == {
        "web": 4, "hotline": 2, "email": 1, "api": 1,
    }  # fmt: skip
    assert {k: v.received for k, v in o.by["kind"].items()} == {
        "feedback": 4, "complaint": 2, "denunciation": 1, "recommendation": 1,
    }  # fmt: skip
    assert o.by["kind"]["feedback"].resolved == 3  # T1, T3 and T10 (received in March)


def test_two_level_breakdown(seeded, db):
    f = Filters(P, scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2"))
    o = reports.overview(db.session, f, TODAY, ("agency", "agency+kind"))
    pairs = o.by["agency+kind"]
    a1, a2 = seeded["DSH-A1"], seeded["DSH-A2"]
    assert (pairs[(a1, "feedback")].received, pairs[(a1, "feedback")].resolved) == (3, 2)
    assert pairs[(a2, "feedback")].received == 1 and pairs[(a2, "denunciation")].rated == 1
    assert pairs[(a1, "feedback")].resolution_median == 4.5  # T1 3, T10 6
    assert o.by["agency"][a1].received == 4 and o.total.received == 8


def test_ranking_by_on_time_rate(seeded, db):
    o = _overview(db, seeded, "DSH-A", "DSH-A1", "DSH-A2")
    assert [k for k, _ in reports.ranking(o.by["agency"])] == [seeded["DSH-A2"], seeded["DSH-A1"]]
    everyone = _overview(db, seeded, *seeded)
    assert [k for k, _ in reports.ranking(everyone.by["agency"])] == [
        seeded["DSH-B"], seeded["DSH-A2"], seeded["DSH-A1"],
    ]  # fmt: skip


def test_filters_by_dimension(seeded, db):
    t = _overview(db, seeded, "DSH-A1", "DSH-A2", kind="complaint").total
    assert (t.received, t.resolved, t.open) == (2, 1, 1)
    t = _overview(db, seeded, "DSH-A1", "DSH-A2", channel="web").total
    assert (t.received, t.resolved) == (4, 3)  # T1, T4, T5, T7; resolved T1, T4, T10
    t = _overview(db, seeded, "DSH-A1", "DSH-A2", category_id=reports.NULL_KEY).total
    assert t.received == 1


def test_both_periods_in_one_pass_equal_separate_ones(seeded, db):
    f = Filters(P, scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2"))
    both = reports.overviews(db.session, f, [P, PP], TODAY)
    alone = [reports.overview(db.session, f.replace(period=p), TODAY) for p in (P, PP)]
    assert (both[0].total, both[0].by, both[1].total) == (
        alone[0].total,
        alone[0].by,
        alone[1].total,
    )
    # The earlier period's breakdowns carry counts only (the page shows no medians for them).
    counts = lambda fig: (fig.received, fig.resolved, fig.on_time, fig.rated, fig.open, fig.overdue)  # noqa: E731
    for dim, rows in alone[1].by.items():
        assert {k: counts(v) for k, v in both[1].by[dim].items()} == {
            k: counts(v) for k, v in rows.items()
        }
        assert all(v.resolution_median is None for v in both[1].by[dim].values())
    assert both[0].total.received == 8 and both[1].total.received == 4


def test_weekly_series(seeded, db):
    weeks = reports.weekly(db.session, Filters(P, scope_of(seeded, "DSH-A1", "DSH-A2")))
    assert [(w.start.isoformat(), w.received, w.resolved) for w in weeks] == APRIL_WEEKS
    assert weeks[-1].end == dt.date(2026, 4, 30)


def test_backlog_by_age_boundaries(app, db, org):
    extra = [  # open tickets at the bucket edges for today = Fri 15 May 2026 (1 May is a holiday)
        ("X1", "DSH-A1", "feedback", "env", "web", "routed", at("2026-05-14"), None, None, None, None),
        ("X2", "DSH-A1", "feedback", "env", "web", "routed", at("2026-05-08"), None, None, None, None),
        ("X3", "DSH-A1", "feedback", "env", "web", "routed", at("2026-05-07"), None, None, None, None),
        ("X4", "DSH-A1", "feedback", "env", "web", "routed", at("2026-03-30"), None, None, None, None),
    ]  # fmt: skip
    seed_tickets(db.session, org, extra)
    cal = refdata.work_calendar(db.session)
    f = Filters(P, scope_of(org, "DSH-A", "DSH-A1", "DSH-A2"))
    # 0-5: X1 (1), X2 (5); 6-10: X3 (6); 11-20: T7 (20); 21-30: T5, T6, P3 (27, 26, 30); >30: X4
    assert reports.backlog(db.session, f, TODAY, cal) == [2, 1, 1, 3, 1]
    for bucket, expected in zip(reports.AGE_BUCKETS, [2, 1, 1, 3, 1], strict=True):
        cond = reports.ticket_conditions(f, "backlog", TODAY, cal, bucket)
        assert db.session.scalar(select(func.count(Ticket.id)).where(*cond)) == expected


def test_drill_down_conditions_match_counts(seeded, db):
    cal = refdata.work_calendar(db.session)
    f = Filters(P, scope_of(seeded, "DSH-A", "DSH-A1", "DSH-A2"))
    total = reports.overview(db.session, f, TODAY).total
    for metric in ("received", "resolved", "on_time", "late", "open", "overdue", "responded"):
        cond = reports.ticket_conditions(f, metric, TODAY, cal)
        count = db.session.scalar(select(func.count(Ticket.id)).where(*cond))
        assert count == getattr(total, metric), metric


def test_stamped_by_the_lifecycle_and_backfill(seeded, db):
    """apply_action stamps durations; the backfill command computes the same numbers."""
    from service.domain.handling import apply_action

    ticket = Ticket(code="DSH-L1", tracking_token="tok-dsh-l1", kind="feedback", channel="web",
                    status="routed", title="t", description="d", agency_id=seeded["DSH-A1"],
                    received_at=at("2026-04-24"), acceptance_due=dt.date(2026, 4, 29))  # fmt: skip
    db.session.add(ticket)
    db.session.commit()
    apply_action(db.session, ticket, "accept", now=at("2026-04-28"))
    apply_action(db.session, ticket, "request_info", body="cần ảnh", now=at("2026-04-28"))
    apply_action(db.session, ticket, "provide_info", actor_label="citizen", body="ảnh",
                 now=at("2026-05-05"))  # fmt: skip
    apply_action(db.session, ticket, "reply", body="đang xử lý", now=at("2026-05-06"))
    ticket = db.session.get(Ticket, ticket.id)
    # receipt Fri 24 Apr; paused 28 Apr -> 5 May: 29 Apr, 4, 5 May = 3 wd (30/4, 1/5 holidays)
    # reply Wed 6 May: 28, 29 Apr, 4, 5, 6 May = 5 wd after receipt (27/4 holiday), less 3 = 2
    assert ticket.paused_days == 3 and ticket.first_response_wd == 2
    apply_action(db.session, ticket, "resolve", body="xong", now=at("2026-05-08"))
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.resolution_wd == 4 and ticket.resolved_on_time is True  # 7 wd less 3 paused
    apply_action(db.session, ticket, "reopen", body="chưa xong", now=at("2026-05-11"))
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.resolution_wd is None and ticket.resolved_on_time is None

    stamped = dict(db.session.execute(select(Ticket.code, Ticket.resolution_wd)).all())
    db.session.execute(update(Ticket).values(first_response_wd=None, resolution_wd=None,
                                             resolved_on_time=None))  # fmt: skip
    db.session.commit()
    cal = refdata.work_calendar(db.session)
    assert report_durations.backfill_durations(db.session, cal, batch=4) > 0
    assert dict(db.session.execute(select(Ticket.code, Ticket.resolution_wd)).all()) == stamped
    on_time = dict(db.session.execute(select(Ticket.code, Ticket.resolved_on_time)).all())
    assert (on_time["DSH-T1"], on_time["DSH-T2"], on_time["DSH-T4"]) == (True, False, False)


def test_presets_and_bad_periods():
    today = dt.date(2026, 11, 26)
    assert reports.preset_period("reporting_year", today) == Period(
        dt.date(2026, 11, 26), dt.date(2027, 11, 25)
    )
    assert reports.preset_period("reporting_year", dt.date(2026, 11, 25)) == Period(
        dt.date(2025, 11, 26), dt.date(2026, 11, 25)
    )
    assert reports.preset_period("last_month", dt.date(2026, 3, 10)) == Period(
        dt.date(2026, 2, 1), dt.date(2026, 2, 28)
    )
    assert reports.preset_period("this_quarter", dt.date(2026, 5, 15)) == Period(
        dt.date(2026, 4, 1), dt.date(2026, 5, 15)
    )
    assert reports.percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    with pytest.raises(reports.FilterError):
        Period(dt.date(2026, 5, 2), dt.date(2026, 5, 1))
    with pytest.raises(reports.FilterError):
        Period(dt.date(2020, 1, 1), dt.date(2026, 1, 1))
