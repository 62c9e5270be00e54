"""A deterministic dataset for the supervisor dashboard, seeded through the models.

Agencies (under the demo province DN): DSH-A with DSH-A1 and DSH-A2 under it, and DSH-B beside.
Current period P = April 2026 (working days skip 27/4 and 30/4), previous PP = 2–31 March 2026.
Every expected figure in the tests is worked out by hand in the comments of `TICKETS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import refdata, report_durations, reports
from service.models import Agency, Category, Citizen, CitizenContact, Ticket, TicketEvent, User

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "pakn-demo-2026"
P = reports.Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
PP = reports.Period(dt.date(2026, 3, 2), dt.date(2026, 3, 31))
TODAY = dt.date(2026, 5, 15)
FAR = dt.date(2099, 1, 1)
# (week start within April, received, resolved) for the DSH-A subtree
APRIL_WEEKS = [
    ("2026-04-01", 2, 1), ("2026-04-06", 4, 2), ("2026-04-13", 1, 0),
    ("2026-04-20", 1, 1), ("2026-04-27", 0, 1),
]  # fmt: skip
DENOUNCER = "Người Tố Cáo Bí Mật"
DENOUNCER_EMAIL = "totocao.bimat@example.com"
CITIZEN_WORDS = "Tôi là Nguyễn Văn Dân, số 0905999888"
NOTE = "Ghi chú nội bộ không được xuất"
PUBLIC_REPLY = "Đã thu gom rác tại số 5 Trần Phú"
REJECT_REASON = "Không thụ lý: nội dung tố cáo đã được giải quyết"

AGENCIES = [  # code, name, parent code
    ("DSH-A", "Ban Thử nghiệm A", "DN"),
    ("DSH-A1", "Phòng A1", "DSH-A"),
    ("DSH-A2", "Phòng A2", "DSH-A"),
    ("DSH-B", "Ban Thử nghiệm B", "DN"),
]
USERS = [  # username, role, agency code
    ("dash.sup", "supervisor", "DSH-A"),
    ("dash.lead", "lead", "DSH-A1"),
    ("dash.officer", "officer", "DSH-A1"),
    ("dash.operator", "operator", "DSH-A1"),
]


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A local (Vietnam) wall-clock time as an aware UTC datetime."""
    local = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), VN)
    return local.astimezone(dt.UTC)


# code, agency, kind, category, channel, status, received, first response, resolved,
# acceptance due, resolution due. Working days (wd) count days after receipt up to the event.
TICKETS: list[tuple[Any, ...]] = [
    # received 00:30 local on 1 Apr = 31 Mar UTC: belongs to April. fr 1 wd, res 3 wd, on time
    ("T1", "DSH-A1", "feedback", "env", "web", "resolved", at("2026-04-01", 0, 30),
     at("2026-04-02"), at("2026-04-06"), "2026-04-08", "2026-04-15"),
    # fr 3 wd (3, 6, 7 Apr); resolved 29 Apr: 18 wd (27 Apr is a holiday); due 20 Apr: late
    ("T2", "DSH-A1", "complaint", "traffic", "hotline", "closed", at("2026-04-02"),
     at("2026-04-07"), at("2026-04-29"), "2026-04-16", "2026-04-20"),
    # answered the same day: 0 wd; resolved on its due day: 4 wd, on time
    ("T3", "DSH-A2", "feedback", "env", "email", "resolved", at("2026-04-06"),
     at("2026-04-06"), at("2026-04-10"), "2026-04-13", "2026-04-10"),
    # confidential denunciation refused before acceptance: acceptance due 16 Apr, late; 13 wd
    ("T4", "DSH-A2", "denunciation", "traffic", "web", "rejected", at("2026-04-07"),
     None, at("2026-04-24"), "2026-04-16", None),
    # accepted, resolution due 20 Apr passed: open and overdue
    ("T5", "DSH-A1", "feedback", "traffic", "web", "accepted", at("2026-04-08"),
     None, None, "2026-04-10", "2026-04-20"),
    # awaiting acceptance, due far ahead: open, not overdue
    ("T6", "DSH-A1", "feedback", "env", "hotline", "routed", at("2026-04-09"),
     None, None, FAR, None),
    # waiting for the citizen: open, never overdue (clock paused) although due has passed
    ("T7", "DSH-A2", "complaint", "env", "web", "need_info", at("2026-04-14"),
     None, None, "2026-04-16", "2026-04-20"),
    # outside the DSH-A subtree: fr 1 wd, res 2 wd, on time
    ("T8", "DSH-B", "feedback", "env", "web", "resolved", at("2026-04-15"),
     at("2026-04-16"), at("2026-04-17"), "2026-04-20", "2026-04-20"),
    # outside the subtree, awaiting acceptance past its due day: overdue
    ("T9", "DSH-B", "feedback", "traffic", "hotline", "routed", at("2026-04-20"),
     None, None, "2026-04-22", None),
    # received in March (previous period), fr 26 Mar (1 wd), resolved 2 Apr: 6 wd, due 1 Apr: late
    ("T10", "DSH-A1", "feedback", "env", "web", "resolved", at("2026-03-25"),
     at("2026-03-26"), at("2026-04-02"), "2026-03-27", "2026-04-01"),
    # no category, withdrawn: received, neither open nor resolved
    ("T12", "DSH-A2", "recommendation", None, "api", "withdrawn", at("2026-04-21"),
     None, None, "2026-04-28", None),
    # previous period: fr 1 wd, res 3 wd, on time
    ("P1", "DSH-A1", "feedback", "env", "web", "resolved", at("2026-03-02"),
     at("2026-03-03"), at("2026-03-05"), "2026-03-09", "2026-03-10"),
    # previous period: fr 1 wd, res 13 wd, late
    ("P2", "DSH-A2", "complaint", "traffic", "hotline", "resolved", at("2026-03-03"),
     at("2026-03-04"), at("2026-03-20"), "2026-03-17", "2026-03-13"),
    # 23:30 local on 31 Mar: still March; open, not overdue
    ("P3", "DSH-A1", "feedback", "env", "web", "routed", at("2026-03-31", 23, 30),
     None, None, FAR, None),
]  # fmt: skip


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def ensure_org(session: Session) -> dict[str, int]:
    """The test agencies (idempotent); returns code → id."""
    ids = {a.code: a.id for a in session.scalars(select(Agency))}
    for code, name, parent in AGENCIES:
        if code not in ids:
            if parent not in ids:  # a bare database (SQLite test): a root of our own
                root = Agency(code=parent, name="Tỉnh", kind="province")
                session.add(root)
                session.flush()
                ids[parent] = root.id
            agency = Agency(code=code, name=name, kind="department", parent_id=ids[parent])
            session.add(agency)
            session.flush()
            ids[code] = agency.id
    for code, vi, en in (
        ("env", "Môi trường", "Environment"),
        ("traffic", "Giao thông", "Traffic"),
    ):
        if session.scalar(select(Category.id).where(Category.code == code)) is None:
            session.add(Category(code=code, name_vi=vi, name_en=en))
    session.commit()
    return ids


def seed_tickets(session: Session, ids: dict[str, int], extra: list[tuple[Any, ...]] = ()) -> dict[str, Ticket]:  # fmt: skip
    categories = {c.code: c.id for c in session.scalars(select(Category))}
    cal = refdata.work_calendar(session)
    out: dict[str, Ticket] = {}
    for code, agency, kind, cat, channel, status, rec, fr, res, acc_due, res_due in [
        *TICKETS,
        *extra,
    ]:
        ticket = Ticket(
            code=f"DSH-{code}", tracking_token=f"tok-dsh-{code}", kind=kind, channel=channel,
            category_id=categories[cat] if cat else None, status=status,
            title=f"Phản ánh {code}: rác thải đường Lê Lợi", description="Nội dung",
            agency_id=ids[agency], received_at=rec, first_response_at=fr, resolved_at=res,
            acceptance_due=_day(acc_due), resolution_due=_day(res_due),
            accepted_at=rec + dt.timedelta(days=1) if res_due else None,
            closed_at=res + dt.timedelta(days=1) if status == "closed" else (
                rec + dt.timedelta(days=1) if status == "withdrawn" else None),
            confidential=kind == "denunciation",
        )  # fmt: skip
        report_durations.stamp_durations(ticket, cal)
        session.add(ticket)
        out[code] = ticket
    session.flush()
    denouncer = Citizen(full_name=DENOUNCER, address="12 Hẻm Kín")
    session.add(denouncer)
    session.flush()
    session.add(CitizenContact(citizen_id=denouncer.id, channel="email",
                               external_id=DENOUNCER_EMAIL, display=DENOUNCER_EMAIL))  # fmt: skip
    out["T4"].citizen_id = denouncer.id
    officer = session.scalar(select(User.id).where(User.username == "dash.officer"))
    t1, t3, t4 = out["T1"].id, out["T3"].id, out["T4"].id
    session.add_all([
        TicketEvent(ticket_id=t1, kind="replied", public=True, actor_id=officer,
                    actor_label="officer", body=PUBLIC_REPLY, created_at=at("2026-04-02")),
        TicketEvent(ticket_id=t1, kind="note", public=False, actor_id=officer,
                    actor_label="officer", body=NOTE, created_at=at("2026-04-03")),
        TicketEvent(ticket_id=t3, kind="info_added", public=True, actor_label="citizen",
                    body=CITIZEN_WORDS, created_at=at("2026-04-07")),
        TicketEvent(ticket_id=t4, kind="rejected", public=True, actor_id=officer,
                    actor_label="officer", body=REJECT_REASON, from_status="routed",
                    to_status="rejected", created_at=at("2026-04-24")),
    ])  # fmt: skip
    session.commit()
    return out


@pytest.fixture(scope="session")
def org(app: Any) -> dict[str, int]:
    """Test agencies and one user per role, made once per test session."""
    from service.cli import create_user
    from service.extensions import db as _db

    with app.app_context():
        ids = ensure_org(_db.session)
        for username, role, agency in USERS:
            create_user(username, f"Người dùng {username}", role, agency, PASSWORD)
        _db.session.remove()
    return ids


@pytest.fixture
def seeded(app: Any, db: Any, org: dict[str, int]) -> Iterator[dict[str, int]]:
    """The dataset in a clean ticket table; yields agency code → id."""
    with app.app_context():
        seed_tickets(db.session, org)
        db.session.remove()
    yield org


def scope_of(org: dict[str, int], *codes: str) -> frozenset[int]:
    return frozenset(org[c] for c in codes)
