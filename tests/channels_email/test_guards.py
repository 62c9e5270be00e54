"""Loop and auto-reply guards (RFC 3834) and bounces: automatic mail never becomes a ticket, and a
delivery report marks the delivery it reports on as failed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.delivery import deliver
from service.domain.handling import route_ticket
from service.models import Delivery, InboundEmail, Ticket, TicketEvent
from tests.channels_email.mails import dsn, mail


def _outcomes(app: Any, db: Any) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(InboundEmail.outcome, InboundEmail.reason).order_by(InboundEmail.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def _ticket_count(app: Any, db: Any) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Ticket))
        db.session.remove()
        return int(count or 0)


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "auto_submitted"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@example.com"}, None, "auto_submitted"),
        ({"Precedence": "bulk"}, None, "precedence"),
        ({"Precedence": "junk"}, None, "precedence"),
        ({"Precedence": "list"}, None, "precedence"),
        ({"X-Autoreply": "yes"}, None, "autoreply"),
        ({"X-Autorespond": "Vacation"}, None, "autoreply"),
        ({}, "PAKN <Pakn@Test.Localhost>", "own_address"),
    ],
)
def test_automatic_mail_makes_no_ticket(app, db, imap, intake, headers, sender, reason):
    imap.append(mail(subject="Tôi đang nghỉ phép (trả lời tự động)", headers=headers,
                     **({"sender": sender} if sender else {})))  # fmt: skip
    intake()
    assert _ticket_count(app, db) == 0
    assert _outcomes(app, db) == [("ignored", reason)]
    assert [f for _, f in imap.messages()] == ["\\Seen"]  # handled, not fetched forever


def test_auto_submitted_no_is_a_person(app, db, imap, intake):
    imap.append(mail(headers={"Auto-Submitted": "no"}))
    intake()
    assert _ticket_count(app, db) == 1


def _sent_receipt(app: Any, db: Any, imap: Any, intake: Any) -> tuple[int, str]:
    """A ticket by mail, routed, and its receipt really sent to the SMTP server."""
    imap.append(mail())
    intake()
    with app.app_context():
        ticket_id = db.session.scalar(select(Ticket.id))
        assert route_ticket(db.session, ticket_id)
        delivery_id = db.session.scalar(select(Delivery.id).where(Delivery.ticket_id == ticket_id))
        assert deliver(db.session, delivery_id) == "sent"
        message_id = db.session.get(Delivery, delivery_id).provider_message_id
        db.session.remove()
    return delivery_id, message_id


def test_bounce_marks_the_delivery_failed(app, db, imap, intake, mailbox):
    delivery_id, message_id = _sent_receipt(app, db, imap, intake)
    assert mailbox.to("dan@example.com")  # it did go out

    imap.append(dsn(message_id))
    intake()

    with app.app_context():
        delivery = db.session.get(Delivery, delivery_id)
        assert delivery.state == "failed"
        assert "5.1.1" in delivery.last_error and "user unknown" in delivery.last_error
        events = db.session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "delivery_failed")
        ).all()
        assert len(events) == 1 and not events[0].public
        assert events[0].data["delivery_id"] == delivery_id and events[0].data["bounce"] is True
        record = db.session.scalars(
            select(InboundEmail).where(InboundEmail.outcome == "bounce")
        ).one()
        assert record.delivery_id == delivery_id and record.ticket_id == delivery.ticket_id
        db.session.remove()
    assert _ticket_count(app, db) == 1  # the bounce is not a citizen's ticket


def test_delay_reports_and_unknown_bounces_change_nothing(app, db, imap, intake, mailbox):
    delivery_id, message_id = _sent_receipt(app, db, imap, intake)
    imap.append(dsn(message_id, action="delayed", status="4.4.1", diagnostic="smtp; timeout"))
    # A plain-text bounce from a mailer daemon about a mail we never sent.
    imap.append(mail(sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>",
                     subject="Delivery Status Notification (Failure)",
                     text="Message-ID: <never-sent@pakn.test>\nAddress not found."))  # fmt: skip
    intake()

    with app.app_context():
        assert db.session.get(Delivery, delivery_id).state == "sent"
        db.session.remove()
    assert [o for o, _ in _outcomes(app, db)] == ["ticket", "bounce", "bounce"]
    assert _ticket_count(app, db) == 1
