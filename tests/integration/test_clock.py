"""Deadlines on real tickets: acceptance clock, pause and resume, extensions, overdue notices."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from service.domain import lifecycle
from service.domain.handling import (
    ActionError,
    apply_action,
    check_deadlines,
    extend_deadline,
    route_ticket,
)
from service.models import Delivery, Ticket, TicketEvent, User
from tests.helpers import TICKET

VN = dt.timezone(dt.timedelta(hours=7))


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=VN).astimezone(dt.UTC)


def file_ticket(client, db, when: dt.datetime, **patch) -> Ticket:
    client.post("/api/v1/tickets", json={**TICKET, **patch})
    ticket = db.session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    ticket.received_at = when
    db.session.commit()
    route_ticket(db.session, ticket.id, now=when)
    return db.session.get(Ticket, ticket.id)


def officer(db, username: str) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def test_denunciation_clock_pause_and_extensions(client, db):
    # Filed Friday 13 Feb 2026, just before the Tết break (16–20 Feb): 7 working days to accept.
    citizen = {"name": "Người Tố Cáo", "phone": "0905111222"}
    ticket = file_ticket(client, db, at("2026-02-13"), kind="denunciation", citizen=citizen)
    assert ticket.status == lifecycle.ROUTED and ticket.confidential
    assert ticket.acceptance_due == dt.date(2026, 3, 3)  # 23, 24, 25, 26, 27 Feb, 2, 3 Mar
    inspector = officer(db, "canbo.thanhtra")
    apply_action(db.session, ticket, "accept", actor=inspector, now=at("2026-03-02"))
    # 30 calendar days from 2 Mar → 1 Apr 2026 (a Wednesday).
    assert ticket.resolution_due == dt.date(2026, 4, 1)
    # Waiting for the citizen from Mon 9 Mar to Mon 16 Mar pauses the clock by 5 working days.
    apply_action(db.session, ticket, "request_info", actor=inspector, body="Xin bổ sung chứng cứ",
                 now=at("2026-03-09"))  # fmt: skip
    assert ticket.status == lifecycle.NEED_INFO and ticket.due_state == "none"
    apply_action(db.session, ticket, "provide_info", actor_label="citizen", body="Đã gửi ảnh",
                 now=at("2026-03-16"))  # fmt: skip
    assert ticket.status == lifecycle.ACCEPTED and ticket.paused_days == 5
    assert ticket.resolution_due == dt.date(2026, 4, 8)  # 1 Apr + 7 calendar days paused
    # Two 30-day extensions are allowed, a third is refused (Law on Denunciation, 90 days total).
    extend_deadline(db.session, ticket, inspector, "Cần xác minh nhiều nơi", now=at("2026-04-01"))
    extend_deadline(db.session, ticket, inspector, "Chờ kết quả giám định", now=at("2026-05-01"))
    assert ticket.extensions == 2
    with pytest.raises(ActionError):
        extend_deadline(db.session, ticket, inspector, "Thêm lần nữa", now=at("2026-06-01"))
    db.session.rollback()
    with pytest.raises(ActionError):
        extend_deadline(db.session, db.session.get(Ticket, ticket.id), inspector, "  ")
    kinds = db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
    ).all()
    assert kinds.count("extended") == 2


def test_overdue_check_marks_once_and_mails_the_agency(client, db, mailbox):
    ticket = file_ticket(client, db, at("2026-12-01"))
    assert ticket.acceptance_due == dt.date(2026, 12, 8)  # 5 working days
    assert check_deadlines(db.session, now=at("2026-12-02")) == {"due_soon": 0, "overdue": 0}
    # Fri 4 Dec: two working days left (7 and 8 Dec) — inside the warning window.
    assert check_deadlines(db.session, now=at("2026-12-04")) == {"due_soon": 1, "overdue": 0}
    assert check_deadlines(db.session, now=at("2026-12-07")) == {"due_soon": 0, "overdue": 0}
    assert check_deadlines(db.session, now=at("2026-12-09")) == {"due_soon": 0, "overdue": 1}
    assert check_deadlines(db.session, now=at("2026-12-10")) == {"due_soon": 0, "overdue": 0}
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.due_state == "overdue"
    templates = db.session.scalars(select(Delivery.template).where(Delivery.channel == "email",
                                   Delivery.recipient == "dn-haichau@agency.pakn.localhost")).all()  # fmt: skip
    assert sorted(templates) == ["agency_due_soon", "agency_overdue"]


def test_transfer_restarts_acceptance_clock_and_notifies(client, db):
    ticket = file_ticket(client, db, at("2026-11-02"))
    ward = officer(db, "canbo.haichau")
    target = db.session.scalar(select(User.agency_id).where(User.username == "canbo.xaydung"))
    with pytest.raises(ActionError):
        apply_action(
            db.session,
            ticket,
            "transfer",
            actor=ward,
            body="Sai thẩm quyền",
            target_agency_id=ticket.agency_id,
        )
    db.session.rollback()
    apply_action(db.session, ticket, "transfer", actor=ward, body="Thuộc thẩm quyền Sở Xây dựng",
                 target_agency_id=target, now=at("2026-11-04"))  # fmt: skip
    assert ticket.agency_id == target and ticket.status == lifecycle.TRANSFERRED
    assert ticket.acceptance_due == dt.date(2026, 11, 11)
    assert ticket.initial_agency_id != target
    recipients = set(db.session.scalars(select(Delivery.recipient)))
    assert "dn-sxd@agency.pakn.localhost" in recipients and "a@example.com" in recipients


def test_illegal_action_on_a_real_ticket_changes_nothing(client, db):
    ticket = file_ticket(client, db, at("2026-11-02"))
    events = db.session.scalar(select(func.count()).select_from(TicketEvent))
    with pytest.raises(lifecycle.TransitionError, match="cannot resolve a ticket that is routed"):
        apply_action(db.session, ticket, "resolve", actor=officer(db, "canbo.haichau"), body="xong")
    db.session.rollback()
    assert db.session.get(Ticket, ticket.id).status == lifecycle.ROUTED
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)) == events


def test_events_are_append_only(client, db):
    ticket = file_ticket(client, db, at("2026-11-02"))
    event = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    ).first()
    event.body = "rewritten history"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
