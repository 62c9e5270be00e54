"""The one funnel: every channel's ticket or citizen message enters through `receive`."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    Attachment,
    Citizen,
    CitizenContact,
    InboundMessage,
    Ticket,
    TicketEvent,
    utcnow,
)
from . import jobs, refdata
from .attachments import IncomingFile, check_file, store
from .text import clean_text
from .validation import (
    EMAIL_RE,
    IDENTITY_REQUIRED_KINDS,
    KINDS,
    LEGAL_FORMS,
    PHONE_RE,
    Errors,
    IntakeError,
    check_coordinates,
    check_length,
    normalise_phone,
)

CHANNELS = ("web", "hotline", "api", "email", "telegram", "zalo_oa", "zalo_bot")


@dataclass
class InboundTicket:
    """A new ticket as any channel hands it over, before validation."""

    channel: str
    kind: str
    title: str
    description: str
    category_code: str | None = None
    area_code: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    citizen_name: str | None = None
    email: str | None = None
    phone: str | None = None
    citizen_address: str | None = None
    legal_form: str = "electronic"
    language: str = "vi"
    # The provider's message id or a client idempotency key: a repeat returns the same ticket.
    external_id: str | None = None
    payload: str | None = None
    # A chat identity (telegram chat id, zalo user id) to answer on, for chat channels.
    chat_contact: tuple[str, str] | None = None
    attachments: list[IncomingFile] = field(default_factory=list)
    filed_by_id: int | None = None
    extra: dict[str, Any] | None = None


@dataclass
class Settings:
    code_prefix: str = "PA"
    upload_folder: str = "uploads"
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 5


@dataclass
class Received:
    ticket: Ticket
    created: bool


def _clean(inbound: InboundTicket) -> InboundTicket:
    inbound.title = clean_text(inbound.title, multiline=False)
    inbound.description = clean_text(inbound.description)
    inbound.address = clean_text(inbound.address, multiline=False) or None
    inbound.citizen_name = clean_text(inbound.citizen_name, multiline=False) or None
    inbound.citizen_address = clean_text(inbound.citizen_address, multiline=False) or None
    inbound.email = (clean_text(inbound.email, multiline=False) or "").lower() or None
    inbound.phone = normalise_phone(clean_text(inbound.phone, multiline=False)) or None
    return inbound


def validate(session: Session, inbound: InboundTicket, settings: Settings) -> dict[str, Any]:
    """Check every field; return resolved references or raise IntakeError with field codes."""
    errors = Errors()
    if inbound.channel not in CHANNELS:
        errors.add("channel", "invalid")
    if inbound.kind not in KINDS:
        errors.add("kind", "invalid" if inbound.kind else "required")
    if inbound.legal_form not in LEGAL_FORMS:
        errors.add("legal_form", "invalid")
    check_length(errors, "title", inbound.title)
    check_length(errors, "description", inbound.description)
    if inbound.address:
        check_length(errors, "address", inbound.address)
    check_coordinates(errors, inbound.latitude, inbound.longitude)
    category = None
    if inbound.category_code:
        category = refdata.category_by_code(session, inbound.category_code)
        if category is None:
            errors.add("category", "unknown")
    elif inbound.channel in ("web", "hotline", "api"):
        errors.add("category", "required")
    area_id = None
    if inbound.area_code:
        area_id = refdata.agency_id_by_code(session, inbound.area_code)
        if area_id is None:
            errors.add("area", "unknown")
    if inbound.citizen_name:
        check_length(errors, "name", inbound.citizen_name)
    if inbound.email and not EMAIL_RE.match(inbound.email):
        errors.add("email", "invalid")
    if inbound.phone and not PHONE_RE.match(inbound.phone):
        errors.add("phone", "invalid")
    identity_needed = inbound.kind in IDENTITY_REQUIRED_KINDS or bool(
        category and category.requires_identity
    )
    if identity_needed:
        if not inbound.citizen_name:
            errors.add("name", "required_for_kind")
        if not (inbound.email or inbound.phone or inbound.chat_contact):
            errors.add("contact", "required_for_kind")
    if len(inbound.attachments) > settings.max_attachments:
        errors.add("attachments", "too_many")
    checked = []
    for item in inbound.attachments:
        ok, code = check_file(item, settings.max_attachment_bytes)
        if code:
            errors.add("attachments", code)
        else:
            checked.append(ok)
    if errors:
        raise IntakeError(errors)
    return {"category_id": category.id if category else None, "area_id": area_id, "files": checked}


def _existing(session: Session, channel: str, external_id: str) -> Ticket | None:
    ticket_id = session.execute(
        select(InboundMessage.ticket_id).where(
            InboundMessage.channel == channel, InboundMessage.external_id == external_id
        )
    ).scalar()
    return session.get(Ticket, ticket_id) if ticket_id else None


def _citizen_contacts(
    session: Session, inbound: InboundTicket
) -> tuple[Citizen, list[CitizenContact]]:
    """Find the citizen by any of the contacts given, or create one; add the missing contacts."""
    wanted: list[tuple[str, str, str | None]] = []
    if inbound.chat_contact:
        wanted.append((inbound.chat_contact[0], inbound.chat_contact[1], inbound.citizen_name))
    if inbound.email:
        wanted.append(("email", inbound.email, inbound.email))
    if inbound.phone:
        wanted.append(("phone", inbound.phone, inbound.phone))
    found: dict[tuple[str, str], CitizenContact] = {}
    if wanted:
        rows = session.scalars(
            select(CitizenContact).where(
                or_(
                    *(
                        (CitizenContact.channel == ch) & (CitizenContact.external_id == ext)
                        for ch, ext, _ in wanted
                    )
                )
            )
        ).all()
        found = {(c.channel, c.external_id): c for c in rows}
    citizen = next(iter(found.values())).citizen if found else None
    # A confidential denouncer must not be merged onto another person's identity through a
    # shared phone: contacts are unique, so reuse the owner but never overwrite their name.
    if citizen is None:
        citizen = Citizen(
            full_name=inbound.citizen_name,
            address=inbound.citizen_address,
            language=inbound.language if inbound.language in ("vi", "en") else "vi",
        )
        session.add(citizen)
    elif inbound.citizen_name and not citizen.full_name:
        citizen.full_name = inbound.citizen_name
    contacts = []
    for ch, ext, display in wanted:
        contact = found.get((ch, ext))
        if contact is None:
            contact = CitizenContact(citizen=citizen, channel=ch, external_id=ext, display=display)
            session.add(contact)
        contacts.append(contact)
    return citizen, contacts


def _reply_contact(inbound: InboundTicket, contacts: list[CitizenContact]) -> CitizenContact | None:
    """Answer on the channel used; web, hotline and API tickets are answered by email if given."""
    by_channel = {c.channel: c for c in contacts}
    if inbound.channel in by_channel:
        return by_channel[inbound.channel]
    return by_channel.get("email") or (contacts[0] if contacts else None)


def receive(
    session: Session,
    inbound: InboundTicket,
    settings: Settings,
    now: dt.datetime | None = None,
    _retry: bool = True,
) -> Received:
    """Validate, store ticket + citizen + raw message + first event in one commit, then enqueue
    routing. A repeated (channel, external id) returns the first ticket and creates nothing."""
    now = now or utcnow()
    inbound = _clean(inbound)
    if inbound.external_id:
        existing = _existing(session, inbound.channel, inbound.external_id)
        if existing is not None:
            return Received(existing, created=False)
    refs = validate(session, inbound, settings)
    external_id = inbound.external_id or secrets.token_hex(16)
    try:
        citizen, contacts = _citizen_contacts(session, inbound)
        ticket = Ticket(
            tracking_token=secrets.token_urlsafe(24),
            kind=inbound.kind,
            legal_form=inbound.legal_form,
            channel=inbound.channel,
            category_id=refs["category_id"],
            title=inbound.title,
            description=inbound.description,
            extra=inbound.extra or None,
            address=inbound.address,
            latitude=inbound.latitude,
            longitude=inbound.longitude,
            area_agency_id=refs["area_id"],
            citizen=citizen,
            reply_contact=_reply_contact(inbound, contacts),
            filed_by_id=inbound.filed_by_id,
            confidential=inbound.kind == "denunciation",
            received_at=now,
            status="received",
        )
        session.add(ticket)
        session.flush()
        ticket.code = f"{settings.code_prefix}-{now.year}-{ticket.id:06d}"
        event = TicketEvent(
            ticket=ticket,
            created_at=now,
            kind="received",
            public=True,
            actor_id=inbound.filed_by_id,
            actor_label="operator" if inbound.filed_by_id else "citizen",
            to_status="received",
            data={"channel": inbound.channel, "legal_form": inbound.legal_form},
        )
        session.add(event)
        session.add(
            InboundMessage(
                channel=inbound.channel,
                external_id=external_id,
                received_at=now,
                payload=inbound.payload,
                ticket_id=ticket.id,
            )
        )
        for checked in refs["files"]:
            store(settings.upload_folder, checked)
            session.add(
                Attachment(
                    ticket=ticket,
                    filename=checked.filename,
                    content_type=checked.content_type,
                    size=len(checked.data),
                    sha256=checked.sha256,
                    created_at=now,
                )
            )
        jobs.defer(session, "route", ticket.id)
        session.commit()
    except IntegrityError:
        # A concurrent twin won the unique (channel, external id) or contact race: use its result.
        session.rollback()
        if inbound.external_id:
            existing = _existing(session, inbound.channel, inbound.external_id)
            if existing is not None:
                return Received(existing, created=False)
        if _retry:  # a new contact inserted by a concurrent request: now it will be found
            return receive(session, inbound, settings, now, _retry=False)
        raise
    return Received(ticket, created=True)


def store_raw(
    session: Session, channel: str, external_id: str, payload: str, now: dt.datetime | None = None
) -> InboundMessage | None:
    """Keep a provider's raw message once (unique channel + id) and queue its processing.
    Returns None for a redelivery, which the webhook acknowledges and drops."""
    message = InboundMessage(
        channel=channel, external_id=external_id, payload=payload, state="new",
        received_at=now or utcnow(),
    )  # fmt: skip
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    jobs.defer(session, "process_inbound", message.id)
    session.commit()
    return message
