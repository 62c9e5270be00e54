"""What a chat user may see and add to: their own tickets (/status, /list) and the open ticket that
free text is added to. Used by channels.conversation; no provider knowledge here."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.domain import handling, lifecycle
from service.domain.attachments import CheckedFile, store
from service.links import tracking_link
from service.models import Agency, Attachment, CitizenContact, Ticket, TicketEvent, utcnow
from service.web.messages import KIND_LABELS, STATUS_LABELS

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Free text goes to the chat's most recent open ticket while its last activity is this recent.
FOLLOW_UP_DAYS = 7
LIST_LIMIT = 10


def contact_of(session: Session, channel: str, chat_id: str) -> CitizenContact | None:
    return session.scalars(
        select(CitizenContact).where(
            CitizenContact.channel == channel, CitizenContact.external_id == chat_id
        )
    ).first()


def own_tickets(session: Session, channel: str, chat_id: str, limit: int = LIST_LIMIT
                ) -> list[Ticket]:  # fmt: skip
    """Tickets of the citizen behind this chat, newest first (any channel they filed on)."""
    contact = contact_of(session, channel, chat_id)
    if contact is None:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.citizen_id == contact.citizen_id)
            .order_by(Ticket.received_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
    )


def own_ticket(session: Session, channel: str, chat_id: str, code: str | None) -> Ticket | None:
    """The citizen's ticket with that code (any case), or their latest one without a code."""
    contact = contact_of(session, channel, chat_id)
    if contact is None:
        return None
    query = select(Ticket).where(Ticket.citizen_id == contact.citizen_id)
    if code:
        query = query.where(Ticket.code == code.strip().upper())
    return session.scalars(query.order_by(Ticket.received_at.desc(), Ticket.id.desc())).first()


def last_activity(session: Session, ticket: Ticket) -> dt.datetime:
    latest = session.scalar(
        select(func.max(TicketEvent.created_at)).where(TicketEvent.ticket_id == ticket.id)
    )
    if latest is not None and latest.tzinfo is None:  # SQLite aggregates come back naive
        latest = latest.replace(tzinfo=dt.UTC)
    return max(latest or ticket.received_at, ticket.received_at)


def follow_up_ticket(session: Session, channel: str, chat_id: str,
                     now: dt.datetime | None = None) -> Ticket | None:  # fmt: skip
    """The open ticket free text from this chat is added to: one waiting for the citizen's
    information first, else the most recently active open ticket filed on this channel, as long
    as its last activity is within FOLLOW_UP_DAYS."""
    now = now or utcnow()
    contact = contact_of(session, channel, chat_id)
    if contact is None:
        return None
    open_tickets = session.scalars(
        select(Ticket).where(
            Ticket.citizen_id == contact.citizen_id,
            Ticket.channel == channel,
            Ticket.status.in_(lifecycle.OPEN_STATUSES),
        )
    ).all()
    waiting = [t for t in open_tickets if t.status == lifecycle.NEED_INFO]
    if waiting:
        return max(waiting, key=lambda t: last_activity(session, t))
    recent = [(last_activity(session, t), t.id, t) for t in open_tickets]
    recent = [r for r in recent if now - r[0] <= dt.timedelta(days=FOLLOW_UP_DAYS)]
    return max(recent, key=lambda r: (r[0], r[1]))[2] if recent else None


def add_text(session: Session, ticket: Ticket, text: str) -> TicketEvent:
    """The citizen's message on their open ticket (resumes the clock when info was requested)."""
    return handling.add_citizen_info(session, ticket, text)


def add_photo(session: Session, ticket: Ticket, checked: CheckedFile, folder: str,
              caption: str | None) -> TicketEvent:  # fmt: skip
    """A photo sent on an open ticket: the file and a timeline entry saying so."""
    store(folder, checked)
    attachment = Attachment(
        ticket_id=ticket.id, filename=checked.filename, content_type=checked.content_type,
        size=len(checked.data), sha256=checked.sha256, created_at=utcnow(),
    )  # fmt: skip
    session.add(attachment)
    event = handling.add_citizen_info(
        session, ticket, caption or _("(photo: %(name)s)", name=checked.filename)
    )
    attachment.event_id = event.id
    session.commit()
    return event


def local_date(moment: dt.datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y") if moment else ""


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def status_text(session: Session, ticket: Ticket, lang: str) -> str:
    """One ticket's progress for the chat, in the active locale."""
    lines = [f"{ticket.code}: {ticket.title}",
             _("Type: %(kind)s", kind=kind_label(ticket.kind)),
             _("Status: %(status)s", status=status_label(ticket.status)),
             _("Received: %(date)s", date=local_date(ticket.received_at))]  # fmt: skip
    agency = session.get(Agency, ticket.agency_id) if ticket.agency_id else None
    if agency is not None:
        name = agency.name_en if lang == "en" and agency.name_en else agency.name
        lines.append(_("Responsible agency: %(name)s", name=name))
    if ticket.resolution_due and ticket.status in lifecycle.OPEN_STATUSES:
        lines.append(
            _("To be resolved by: %(date)s", date=ticket.resolution_due.strftime("%d/%m/%Y"))
        )
    elif ticket.acceptance_due and ticket.status in lifecycle.AWAITING_ACCEPTANCE:
        lines.append(
            _("To be accepted by: %(date)s", date=ticket.acceptance_due.strftime("%d/%m/%Y"))
        )
    answer = session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public.is_(True),
               TicketEvent.kind.in_(("replied", "resolved", "rejected", "info_requested")),
               TicketEvent.body.is_not(None))
        .order_by(TicketEvent.id.desc())
    ).first()  # fmt: skip
    if answer is not None:
        lines.append(_("Latest answer (%(date)s):", date=local_date(answer.created_at)))
        lines.append(answer.body or "")
    lines.append(_("Follow it here: %(url)s", url=tracking_link(ticket.tracking_token)))
    return "\n".join(lines)


def list_text(tickets: list[Ticket]) -> str:
    if not tickets:
        return _("You have no submissions from this chat yet. Send /new to file one.")
    lines = [_("Your submissions (newest first):")]
    for ticket in tickets:
        title = ticket.title if len(ticket.title) <= 60 else ticket.title[:59] + "…"
        lines.append(f"• {ticket.code} — {status_label(ticket.status)} — {title}")
    return "\n".join(lines)
