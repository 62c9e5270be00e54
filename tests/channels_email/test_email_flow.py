"""End to end on real servers: Dovecot IMAP in, aiosmtpd SMTP out, PostgreSQL, Redis and a real RQ
worker process that polls the mailbox (the poll_mailboxes job) and does all the processing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from channels.email import verify_message_id
from service.models import (
    Agency,
    Attachment,
    CitizenContact,
    InboundEmail,
    Ticket,
    TicketEvent,
    User,
)
from tests.channels_email.mails import mail, png
from tests.conftest import wait_for

FIRST_TEXT = "Đèn đường trước nhà số 45 kiệt Lê Duẩn bị hỏng ba ngày nay, buổi tối rất tối."
NEW_INFO = "Tôi gửi ảnh cột đèn số 12 kèm theo. Đèn vẫn chưa sáng."


def _poll(app: Any) -> None:
    from workers.queues import enqueue

    with app.app_context():
        enqueue("poll_mailboxes")


def _ticket(app: Any, db: Any) -> dict[str, Any]:
    with app.app_context():
        ticket = db.session.scalars(select(Ticket)).one()
        agency = db.session.get(Agency, ticket.agency_id) if ticket.agency_id else None
        contacts = db.session.execute(
            select(CitizenContact.channel, CitizenContact.external_id).where(
                CitizenContact.citizen_id == ticket.citizen_id
            )
        ).all()
        events = db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).all()
        result = {
            "code": ticket.code, "status": ticket.status, "channel": ticket.channel,
            "kind": ticket.kind, "title": ticket.title, "description": ticket.description,
            "category_id": ticket.category_id, "triage": bool(agency and agency.is_triage),
            "name": ticket.citizen.full_name if ticket.citizen else None,
            "contacts": set(contacts), "events": [(e.kind, e.body) for e in events],
            "attachments": db.session.execute(
                select(Attachment.filename, Attachment.content_type, Attachment.event_id)
                .where(Attachment.ticket_id == ticket.id)
            ).all(),
        }  # fmt: skip
        db.session.remove()
        return result


def _mail_with(mailbox: Any, text: str) -> Any:
    return wait_for(
        lambda: [
            m for m in mailbox.to("dan@example.com") if text in m.get_body(("plain",)).get_content()
        ]  # fmt: skip
    )[0]


def _act(app: Any, db: Any, code: str, action: str, body: str | None = None) -> None:
    """An officer's action, through the same domain call the console makes."""
    from service.domain.handling import apply_action

    with app.app_context():
        officer = db.session.scalars(select(User).where(User.username == "canbo.vanphong")).one()
        ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        apply_action(db.session, ticket, action, actor=officer, body=body)
        db.session.remove()


def test_mail_to_ticket_to_reply_and_back(app, db, mailbox, imap, mail_worker):
    mail_worker.start(1)

    # A citizen writes to the intake mailbox; the scheduler's job polls it in the worker.
    imap.append(mail(subject="Đèn đường hỏng ở kiệt 45 Lê Duẩn", text=FIRST_TEXT))
    _poll(app)
    receipt = wait_for(lambda: mailbox.to("dan@example.com"))[0]

    ticket = _ticket(app, db)
    code = ticket["code"]
    assert ticket["channel"] == "email" and ticket["kind"] == "feedback"
    assert ticket["title"] == "Đèn đường hỏng ở kiệt 45 Lê Duẩn"
    assert ticket["description"] == FIRST_TEXT
    assert ticket["category_id"] is None and ticket["triage"]  # no category: triage desk
    assert ticket["status"] == "routed"
    assert ticket["name"] == "Nguyễn Văn Dân" and ("email", "dan@example.com") in ticket["contacts"]
    # Flagged \Seen only after the commit, and not fetched again.
    assert [flags for _, flags in imap.messages()] == ["\\Seen"]

    # The receipt: Vietnamese, multipart text + HTML in UTF-8, automatic, signed and threadable.
    assert code in receipt["Subject"]
    plain, html = receipt.get_body(("plain",)), receipt.get_body(("html",))
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert "Đèn đường hỏng ở kiệt 45 Lê Duẩn" in plain.get_content()
    assert "Văn phòng UBND thành phố" in plain.get_content()
    assert "Đèn đường hỏng ở kiệt 45 Lê Duẩn" in html.get_content()
    assert receipt["Auto-Submitted"] == "auto-replied"
    assert verify_message_id("test-secret", receipt["Message-ID"]) == code

    # The triage officer accepts and answers; the answer reaches the citizen in the same thread.
    _act(app, db, code, "accept")
    _act(app, db, code, "reply", "Đã báo Công ty Điện chiếu sáng thay bóng đèn trong tuần này.")
    answer = _mail_with(mailbox, "Công ty Điện chiếu sáng")
    assert answer["Auto-Submitted"] == "no"
    assert receipt["Message-ID"] in answer["References"].split()

    # The officer asks for more information: the deadline clock pauses.
    _act(app, db, code, "request_info", "Xin gửi ảnh cột đèn để đội kỹ thuật xác định vị trí.")
    question = _mail_with(mailbox, "Xin gửi ảnh cột đèn")
    assert _ticket(app, db)["status"] == "need_info"

    # The citizen answers that mail from Gmail in Vietnamese, quoting it, with a photo.
    quoted = "\n".join(
        "> " + line for line in question.get_body(("plain",)).get_content().split("\n")
    )
    reply_text = (f"{NEW_INFO}\n\nVào Th 5, 20 thg 11, 2025 vào lúc 10:15 PAKN <\n"
                  f"pakn@test.localhost> đã viết:\n\n{quoted}\n")  # fmt: skip
    imap.append(mail(
        subject="Re: " + question["Subject"], text=reply_text,
        in_reply_to=question["Message-ID"],
        references=[receipt["Message-ID"], answer["Message-ID"], question["Message-ID"]],
        attachments=[("cot-den-12.png", "image/png", png(4))],
    ))  # fmt: skip
    _poll(app)

    # Added to the same ticket, quote stripped, photo kept; the clock resumes.
    after = wait_for(lambda: (t := _ticket(app, db))["status"] == "in_progress" and t)
    provided = [body for kind, body in after["events"] if kind == "info_provided"]
    assert provided == [NEW_INFO]
    assert [(name, ctype) for name, ctype, _ in after["attachments"]] == [
        ("cot-den-12.png", "image/png")
    ]
    assert after["attachments"][0][2] is not None  # linked to the citizen's event
    with app.app_context():
        assert db.session.scalar(select(Ticket.id).where(Ticket.code != code)) is None
        outcomes = db.session.scalars(select(InboundEmail.outcome).order_by(InboundEmail.id)).all()
        db.session.remove()
    assert outcomes == ["ticket", "reply"]
    assert [flags for _, flags in imap.messages()] == ["\\Seen", "\\Seen"]
