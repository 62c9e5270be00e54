"""Notices: outbox rows written in the same transaction as the event that causes them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Agency, Delivery, Ticket, TicketEvent, TicketFollower
from . import jobs

# Channels that have a sender; the channel registry adds its names at start-up.
DELIVERABLE: set[str] = {"email"}

# Event kind → template of the notice the citizen gets (events the citizen caused send none).
CITIZEN_TEMPLATES = {
    "routed": "receipt",
    "accepted": "accepted",
    "info_requested": "info_requested",
    "replied": "reply",
    "transferred": "transferred",
    "resolved": "resolved",
    "rejected": "rejected",
    "closed": "closed",
    "duplicate": "duplicate",
    "reopened": "reopened",
    "extended": "extended",
}


def _citizen_target(ticket: Ticket) -> tuple[str, str] | None:
    contact = ticket.reply_contact
    if contact is not None and contact.channel in DELIVERABLE:
        return contact.channel, contact.external_id
    # Fall back to any deliverable contact of the same citizen (an email given on a web form).
    if ticket.citizen is not None:
        for c in ticket.citizen.contacts:
            if c.channel in DELIVERABLE:
                return c.channel, c.external_id
    return None


def _add(session: Session, ticket: Ticket, event: TicketEvent, channel: str, to: str,
         template: str) -> Delivery:  # fmt: skip
    delivery = Delivery(
        ticket_id=ticket.id,
        event_id=event.id,
        channel=channel,
        recipient=to,
        template=template,
        created_at=event.created_at,
    )
    session.add(delivery)
    session.flush()
    jobs.defer(session, "deliver", delivery.id)
    return delivery


def notify_citizen(session: Session, ticket: Ticket, event: TicketEvent) -> Delivery | None:
    template = CITIZEN_TEMPLATES.get(event.kind)
    if template is None or not event.public:
        return None
    target = _citizen_target(ticket)
    if event.id is None:
        session.flush()
    delivery = _add(session, ticket, event, target[0], target[1], template) if target else None
    if event.kind not in NOT_FOR_FOLLOWERS:
        _notify_followers(session, ticket, event, template, target)
    return delivery


# --- Followers (officer console): citizens of duplicates hear the original's public news. ---
NOT_FOR_FOLLOWERS = frozenset({"routed", "duplicate"})


def _notify_followers(session: Session, ticket: Ticket, event: TicketEvent, template: str,
                      already: tuple[str, str] | None) -> None:  # fmt: skip
    """One notice per follower's contact, rendered on the follower's own ticket (its tracking
    page shows the original's progress); a contact that already got this event is skipped."""
    followers = session.scalars(
        select(Ticket)
        .join(TicketFollower, TicketFollower.follower_ticket_id == Ticket.id)
        .where(TicketFollower.ticket_id == ticket.id)
        .order_by(TicketFollower.id)
    ).all()
    sent = {already} if already else set()
    for follower in followers:
        target = _citizen_target(follower)
        if target is not None and target not in sent:
            sent.add(target)
            _add(session, follower, event, target[0], target[1], template)


def notify_agency(
    session: Session, ticket: Ticket, event: TicketEvent, agency: Agency | None, template: str
) -> Delivery | None:
    """Mail the agency's shared inbox (due soon, overdue, transfer received)."""
    if agency is None or not agency.email:
        return None
    if event.id is None:
        session.flush()
    return _add(session, ticket, event, "email", agency.email, template)
