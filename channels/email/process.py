"""Worker side of email intake: one stored mail becomes a ticket, a reply on its ticket, a bounce
on the delivery it reports, or is ignored with a reason — exactly once (inbound_email row)."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import handling, lifecycle
from service.domain.attachments import IncomingFile, check_file, store
from service.domain.intake import InboundTicket, IntakeError, Settings, receive
from service.models import (
    Attachment,
    CitizenContact,
    Delivery,
    InboundEmail,
    InboundMessage,
    Ticket,
    TicketEvent,
    utcnow,
)
from service.sanitize import clean_html

from ..base import PermanentError
from .mime import MailParseError, ParsedMail, clean_subject, decode_raw, parse
from .poll import mailbox_settings
from .quotes import strip_quotes
from .sign import verify_message_id

TITLE_MAX, DESCRIPTION_MAX = 200, 10000


def own_addresses(config: Mapping[str, Any]) -> frozenset[str]:
    """Our sender address and every polled account: mail from them is never a citizen's."""
    found = {parseaddr(str(config.get("MAIL_FROM") or ""))[1].lower()}
    try:
        found.update(b.user.lower() for b in mailbox_settings(config) if "@" in b.user)
    except ValueError:
        pass
    return frozenset(a for a in found if a)


def intake_settings(config: Mapping[str, Any]) -> Settings:
    return Settings(
        code_prefix=config.get("TICKET_CODE_PREFIX", "PA"),
        upload_folder=config.get("UPLOAD_FOLDER", "uploads"),
        max_attachment_bytes=config.get("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        max_attachments=config.get("MAX_ATTACHMENTS", 5),
    )


def process_mail(session: Session, inbound: InboundMessage, config: Mapping[str, Any]) -> str:
    """Handle one raw inbound mail; returns the outcome. Unreadable mail raises PermanentError,
    which leaves the raw row "failed" with the error, for `flask mail-replay`."""
    done = session.scalar(select(InboundEmail.outcome).where(InboundEmail.inbound_id == inbound.id))
    if done is not None:
        return done
    try:
        mail = parse(decode_raw(inbound.payload or ""), own_addresses(config))
    except (MailParseError, binascii.Error, ValueError) as exc:
        raise PermanentError(f"unparseable mail: {exc}") from exc
    record = InboundEmail(
        inbound_id=inbound.id, message_key=inbound.external_id, sender=(mail.sender or "")[:255],
        subject=mail.subject[:255], html=clean_html(mail.html) if mail.html else None,
    )  # fmt: skip
    if mail.bounce is not None:
        return _bounce(session, mail, record)
    if mail.loop_reason is not None:
        record.outcome, record.reason = "ignored", mail.loop_reason
        session.add(record)
        session.commit()
        return "ignored"
    settings = intake_settings(config)
    ticket = find_ticket(session, mail, config)
    if ticket is not None and ticket.status in lifecycle.OPEN_STATUSES:
        outcome = _reply(session, inbound, ticket, mail, record, settings)
        if outcome is not None:
            return outcome
    follow_up = ticket.code if ticket is not None else None
    return _new_ticket(session, inbound, mail, record, settings, follow_up)


def _ticket_by_code(session: Session, code: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.code == code)).first()


def find_ticket(session: Session, mail: ParsedMail, config: Mapping[str, Any]) -> Ticket | None:
    """Threading in order of trust: our signed Message-ID, any Message-ID we know, then a ticket
    code in the subject but only from an email address of that ticket's citizen."""
    ids = mail.thread_ids()
    for mid in ids:
        code = verify_message_id(config["SECRET_KEY"], mid)
        ticket = _ticket_by_code(session, code) if code else None
        if ticket is not None:
            return ticket
    if ids:
        known = dict(session.execute(
            select(Delivery.provider_message_id, Delivery.ticket_id)
            .where(Delivery.provider_message_id.in_(ids), Delivery.ticket_id.is_not(None))
        ).all())  # fmt: skip
        known.update(session.execute(
            select(InboundEmail.message_key, InboundEmail.ticket_id)
            .where(InboundEmail.message_key.in_(ids), InboundEmail.ticket_id.is_not(None))
        ).all())  # fmt: skip
        for mid in ids:
            if known.get(mid):
                return session.get(Ticket, known[mid])
    prefix = re.escape(config.get("TICKET_CODE_PREFIX", "PA"))
    match = re.search(rf"\b{prefix}-\d{{4}}-\d{{6,}}\b", mail.subject, re.IGNORECASE)
    ticket = _ticket_by_code(session, match.group(0).upper()) if match else None
    return ticket if ticket is not None and mail.sender in citizen_emails(session, ticket) else None


def citizen_emails(session: Session, ticket: Ticket) -> set[str]:
    """The ticket citizen's email addresses, including one not yet resolved by routing."""
    emails = set()
    if ticket.citizen_id is not None:
        emails.update(session.scalars(
            select(CitizenContact.external_id).where(
                CitizenContact.citizen_id == ticket.citizen_id, CitizenContact.channel == "email"
            )
        ))  # fmt: skip
    pending = ticket.pending_contact or {}
    if pending.get("email"):
        emails.add(str(pending["email"]))
    return {e.lower() for e in emails}


def _bounce(session: Session, mail: ParsedMail, record: InboundEmail) -> str:
    """A delivery report never becomes a ticket: a failure marks the bounced delivery failed."""
    bounce = mail.bounce
    assert bounce is not None
    record.outcome, record.reason = "bounce", bounce.reason()[:255]
    delivery = None
    if bounce.original_message_id:
        delivery = session.scalars(
            select(Delivery).where(Delivery.provider_message_id == bounce.original_message_id)
        ).first()
    if delivery is not None:
        record.delivery_id, record.ticket_id = delivery.id, delivery.ticket_id
        if bounce.action == "failed" and delivery.state != "failed":
            delivery.state, delivery.last_error = "failed", bounce.reason()[:2000]
            if delivery.ticket_id is not None:
                session.add(TicketEvent(
                    ticket_id=delivery.ticket_id, created_at=utcnow(), kind="delivery_failed",
                    public=False, actor_label="system",
                    data={"delivery_id": delivery.id, "channel": delivery.channel,
                          "error": bounce.reason()[:500], "bounce": True},
                ))  # fmt: skip
    session.add(record)
    session.commit()
    return "bounce"


def _split_files(
    files: list[IncomingFile], settings: Settings
) -> tuple[list[IncomingFile], list[tuple[str, str]]]:
    """Files within the limits (checked by content) and (name, reason) for the others."""
    accepted, rejected = [], []
    for item in files:
        checked, code = check_file(item, settings.max_attachment_bytes)
        if checked is None:
            rejected.append((item.filename, code or "bad_type"))
        elif len(accepted) >= settings.max_attachments:
            rejected.append((item.filename, "too_many"))
        else:
            accepted.append(item)
    return accepted, rejected


def _rejection_note(rejected: list[tuple[str, str]], settings: Settings) -> str:
    """Officers read Vietnamese; the note is written once, in the default language."""
    with force_locale("vi"):
        size = settings.max_attachment_bytes // (1024 * 1024)
        reasons = {
            "too_large": _("larger than %(mb)s MB", mb=size),
            "bad_type": _("file type not accepted"),
            "empty": _("empty file"),
            "too_many": _("too many files"),
        }
        lines = [f"- {name}: {reasons.get(code, code)}" for name, code in rejected]
        return _("Email attachments not accepted:") + "\n" + "\n".join(lines)


def _note(session: Session, ticket_id: int, body: str) -> None:
    session.add(TicketEvent(ticket_id=ticket_id, created_at=utcnow(), kind="note", public=False,
                            actor_label="system", body=body))  # fmt: skip


def _reply(
    session: Session, inbound: InboundMessage, ticket: Ticket, mail: ParsedMail,
    record: InboundEmail, settings: Settings,
) -> str | None:  # fmt: skip
    """Add the new part of a reply to its open ticket; None if the ticket cannot take it."""
    accepted, rejected = _split_files(mail.attachments, settings)
    body = strip_quotes(mail.text) or "\n".join(f"[{f.filename}]" for f in accepted)
    record.ticket_id = ticket.id
    if not body:
        record.outcome, record.reason = "ignored", "empty_reply"
        session.add(record)
        session.commit()
        return "ignored"
    record.outcome = "reply"
    session.add(record)
    inbound.ticket_id = ticket.id
    files = []
    for item in accepted:
        checked, _code = check_file(item, settings.max_attachment_bytes)
        assert checked is not None
        store(settings.upload_folder, checked)
        files.append(Attachment(ticket_id=ticket.id, filename=checked.filename,
                                content_type=checked.content_type, size=len(checked.data),
                                sha256=checked.sha256, created_at=utcnow()))  # fmt: skip
    session.add_all(files)
    if rejected:
        _note(session, ticket.id, _rejection_note(rejected, settings))
    try:
        # Commits the record and files with the event, and resumes a paused deadline clock.
        event = handling.add_citizen_info(session, ticket, body[:DESCRIPTION_MAX])
    except (lifecycle.TransitionError, handling.ActionError):
        session.rollback()
        return None
    record.event_id = event.id
    for item in files:
        item.event_id = event.id
    session.commit()
    return "reply"


def _title(mail: ParsedMail, text: str) -> str:
    for candidate in (clean_subject(mail.subject), text.strip().split("\n", 1)[0].strip()):
        if len(candidate) >= 5:
            return candidate if len(candidate) <= TITLE_MAX else candidate[: TITLE_MAX - 1] + "…"
    with force_locale("vi"):
        return _("Email from %(sender)s", sender=mail.sender)[:TITLE_MAX]


def _description(mail: ParsedMail, text: str, files: list[IncomingFile]) -> str:
    text = text.strip()
    if len(text) < 10:  # a photo with a subject line is still a report
        names = "\n".join(f"[{f.filename}]" for f in files)
        text = "\n\n".join(p for p in (clean_subject(mail.subject), text, names) if p)
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def _new_ticket(
    session: Session, inbound: InboundMessage, mail: ParsedMail, record: InboundEmail,
    settings: Settings, follow_up: str | None,
) -> str:  # fmt: skip
    # A reply to something we cannot thread still loses its quoted history.
    text = strip_quotes(mail.text) if (mail.in_reply_to or mail.references) else mail.text
    accepted, rejected = _split_files(mail.attachments, settings)
    name = (mail.sender_name or "").strip()
    intake = InboundTicket(
        channel="email", kind="feedback", title=_title(mail, text),
        description=_description(mail, text, accepted),
        citizen_name=name[:255] if len(name) >= 2 else None, email=mail.sender,
        external_id=f"{inbound.external_id}|ticket", attachments=accepted,
        extra={"follow_up_of": follow_up} if follow_up else None,
    )  # fmt: skip
    inbound_id = inbound.id
    try:
        received = receive(session, intake, settings)
    except IntakeError as exc:
        session.rollback()
        raise PermanentError(f"mail not accepted as a ticket: {exc}") from exc
    ticket_id = received.ticket_id
    raw = session.get(InboundMessage, inbound_id)
    if raw is not None:
        raw.ticket_id = ticket_id
    record.outcome, record.ticket_id = "ticket", ticket_id
    session.add(record)
    if rejected:
        _note(session, ticket_id, _rejection_note(rejected, settings))
    session.commit()
    return "ticket"
