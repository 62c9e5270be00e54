"""Threading replies onto tickets: signed Message-ID, stored Message-IDs, subject code from the
original sender only. Mail goes through Dovecot and is processed in the test process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from channels.email import signed_message_id
from service.models import Delivery, InboundEmail, Ticket, TicketEvent, utcnow
from tests.channels_email.mails import mail


def _tickets(app: Any, db: Any) -> list[tuple[str, str, Any]]:
    with app.app_context():
        rows = db.session.execute(
            select(Ticket.code, Ticket.title, Ticket.extra).order_by(Ticket.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def _citizen_events(app: Any, db: Any, code: str) -> list[str | None]:
    with app.app_context():
        bodies = db.session.scalars(
            select(TicketEvent.body)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.code == code, TicketEvent.kind.in_(("info_added", "info_provided")))
            .order_by(TicketEvent.id)
        ).all()
        db.session.remove()
        return list(bodies)


def test_subject_code_threads_only_from_the_original_sender(app, db, imap, intake):
    imap.append(mail())
    intake()
    [(code, _, _)] = _tickets(app, db)

    # Someone else quoting the code in the subject opens their own ticket.
    imap.append(mail(subject=f"Re: [{code}] Đèn đường hỏng", sender="Kẻ Khác <other@example.com>",
                     text="Tôi cũng muốn bổ sung vào hồ sơ của người khác."))  # fmt: skip
    # The citizen (address in another case, no threading headers) adds to the ticket.
    imap.append(mail(subject=f"Bổ sung hồ sơ {code}", sender="Dân <DAN@example.com>",
                     text="Cột đèn số 12 và số 14 đều không sáng."))  # fmt: skip
    assert intake() == ["processed", "processed"]

    tickets = _tickets(app, db)
    assert [c for c, _, _ in tickets][0] == code and len(tickets) == 2
    assert tickets[1][1] == f"[{code}] Đèn đường hỏng"  # the stranger's mail, a ticket of its own
    assert _citizen_events(app, db, code) == ["Cột đèn số 12 và số 14 đều không sáng."]


def test_stored_message_ids_thread_replies(app, db, imap, intake):
    imap.append(mail(message_id="<first-report@example.com>"))
    intake()
    [(code, _, _)] = _tickets(app, db)
    # An unsigned id we sent (delivery rows keep every provider message id).
    with app.app_context():
        ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.code == code))
        db.session.add(Delivery(ticket_id=ticket_id, channel="email", recipient="dan@example.com",
                                template="receipt", state="sent", sent_at=utcnow(),
                                provider_message_id="<unsigned-42@pakn.localhost>"))  # fmt: skip
        db.session.commit()
        db.session.remove()

    # The citizen answers their own first mail (e.g. with a CC'd neighbour's reply in between).
    imap.append(mail(subject="Re: Đèn đường", text="Thêm: cột số 16 cũng hỏng.",
                     in_reply_to="<neighbour@example.org>",
                     references=["<first-report@example.com>", "<neighbour@example.org>"]))  # fmt: skip
    # A reply to our unsigned mail threads too, whoever sends it.
    imap.append(mail(subject="Re: thông báo", sender="Người nhà <family@example.com>",
                     text="Tôi là người nhà, xác nhận đèn vẫn hỏng.",
                     in_reply_to="<unsigned-42@pakn.localhost>"))  # fmt: skip
    intake()

    assert len(_tickets(app, db)) == 1
    assert _citizen_events(app, db, code) == [
        "Thêm: cột số 16 cũng hỏng.",
        "Tôi là người nhà, xác nhận đèn vẫn hỏng.",
    ]


def test_signed_message_id_threads_and_a_forged_one_does_not(app, db, imap, intake):
    imap.append(mail())
    intake()
    [(code, _, _)] = _tickets(app, db)
    good = signed_message_id("test-secret", "pakn.test", code, 7)
    forged = signed_message_id("not-our-secret", "pakn.test", code, 7)

    imap.append(mail(subject="Re: xin chào", sender="Ai Đó <someone@example.com>",
                     text="Trả lời thư của PAKN từ một địa chỉ khác.", in_reply_to=good))  # fmt: skip
    imap.append(mail(subject="Re: xin chào", sender="Giả Mạo <forger@example.com>",
                     text="Thư giả mạo chữ ký mã hồ sơ.", in_reply_to=forged))  # fmt: skip
    intake()

    tickets = _tickets(app, db)
    assert len(tickets) == 2 and tickets[1][1] == "xin chào"  # the forged one is a new ticket
    assert _citizen_events(app, db, code) == ["Trả lời thư của PAKN từ một địa chỉ khác."]


def test_reply_to_a_closed_ticket_opens_a_follow_up(app, db, imap, intake):
    imap.append(mail())
    intake()
    [(code, _, _)] = _tickets(app, db)
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.code == code).values(status="closed"))
        db.session.commit()
        db.session.remove()

    text = "Đèn lại hỏng sau khi sửa.\n\nOn Thu, Nov 20, 2025 at 10:15 AM PAKN <pakn@test.localhost> wrote:\n> Hồ sơ đã đóng."
    imap.append(mail(subject=f"Re: [{code}] đã đóng", text=text,
                     in_reply_to=signed_message_id("test-secret", "pakn.test", code, 3)))  # fmt: skip
    intake()

    tickets = _tickets(app, db)
    assert len(tickets) == 2
    assert tickets[1][2] == {"follow_up_of": code}
    with app.app_context():
        follow_up = db.session.scalars(select(Ticket).where(Ticket.code == tickets[1][0])).one()
        assert follow_up.description == "Đèn lại hỏng sau khi sửa."  # quote stripped
        outcomes = db.session.scalars(select(InboundEmail.outcome).order_by(InboundEmail.id)).all()
        db.session.remove()
    assert outcomes == ["ticket", "ticket"]
    assert _citizen_events(app, db, code) == []
