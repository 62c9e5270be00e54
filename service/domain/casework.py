"""Officer casework beyond a single lifecycle step: mark duplicate / merge (the duplicate's
citizen follows the original), split a multi-content ticket, and the sender's referral record."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import Ticket, TicketEvent, TicketFollower, TicketReferral, TicketSplit, User, utcnow
from . import deadlines, lifecycle, notices, redaction, refdata, search
from .handling import ActionError, _append, _lock, _refresh_due_state, apply_action, local_date
from .intake import ticket_code
from .text import clean_text
from .validation import Errors, IntakeError, check_length

MAX_SPLIT_PARTS = 10
SPLITTABLE = lifecycle.OPEN_STATUSES - {lifecycle.RECEIVED}


@dataclass
class Part:
    title: str
    description: str


# --- Duplicates -------------------------------------------------------------------------------


def _root(session: Session, ticket: Ticket) -> Ticket:
    """Follow duplicate links to the ticket actually being handled (cycle-safe)."""
    seen = {ticket.id}
    while ticket.duplicate_of_id is not None and ticket.duplicate_of_id not in seen:
        parent = session.get(Ticket, ticket.duplicate_of_id)
        if parent is None:
            break
        seen.add(parent.id)
        ticket = parent
    return ticket


def may_follow(original: Ticket, duplicate: Ticket) -> bool:
    """A stranger never receives news of a sealed denunciation; the same citizen may."""
    if redaction.is_sealed(original):
        return original.citizen_id is not None and original.citizen_id == duplicate.citizen_id
    return True


def find_original(session: Session, ticket: Ticket, code: str | None,
                  visible: set[int] | None) -> Ticket:  # fmt: skip
    """The ticket being handled for `code` (following duplicate links), if the actor can see it
    and it is not `ticket` itself."""
    code = clean_text(code, multiline=False).upper()
    original = session.scalars(select(Ticket).where(Ticket.code == code)).first() if code else None
    if original is None or (visible is not None and original.agency_id not in visible):
        raise ActionError("give the code of the original ticket")
    original = _root(session, original)
    if original.id == ticket.id:
        raise ActionError("give the code of the original ticket")
    return original


def mark_duplicate(session: Session, ticket: Ticket, original: Ticket, actor: User,
                   body: str | None, now: dt.datetime | None = None) -> TicketEvent:  # fmt: skip
    """Close `ticket` as a duplicate of `original` (see find_original), let its citizen follow
    the original, and note the merge on the original's timeline; one commit."""
    now = now or utcnow()
    lifecycle.next_status("mark_duplicate", ticket.status)  # refuse early, before any write
    if may_follow(original, ticket):
        _follow(session, original.id, ticket.id, now)
    # Whoever followed the duplicate now follows the original instead.
    moved = session.scalars(select(TicketFollower).where(TicketFollower.ticket_id == ticket.id))
    for row in list(moved):
        follower = session.get(Ticket, row.follower_ticket_id)
        if follower is not None and follower.id != original.id and may_follow(original, follower):
            _follow(session, original.id, follower.id, now)
    session.execute(delete(TicketFollower).where(TicketFollower.ticket_id == ticket.id))
    _append(session, original, "duplicate_merged", now=now, public=False, actor=actor,
            data={"duplicate": ticket.code, "duplicate_id": ticket.id})  # fmt: skip
    return apply_action(session, ticket, "mark_duplicate", actor=actor, body=body,
                        duplicate_of_code=original.code, now=now)  # fmt: skip


def _follow(session: Session, original_id: int, follower_ticket_id: int, now: dt.datetime) -> None:
    exists = session.scalars(
        select(TicketFollower.id).where(TicketFollower.ticket_id == original_id,
                                        TicketFollower.follower_ticket_id == follower_ticket_id)
    ).first()  # fmt: skip
    if exists is None:
        session.add(TicketFollower(ticket_id=original_id, follower_ticket_id=follower_ticket_id,
                                   created_at=now))  # fmt: skip


def followed_original(session: Session, ticket: Ticket) -> Ticket | None:
    """The original whose news this (duplicate) ticket's citizen follows, if any."""
    original_id = session.scalars(
        select(TicketFollower.ticket_id).where(TicketFollower.follower_ticket_id == ticket.id)
        .order_by(TicketFollower.id.desc())
    ).first()  # fmt: skip
    return session.get(Ticket, original_id) if original_id else None


def agency_public_events(session: Session, ticket: Ticket) -> list[TicketEvent]:
    """Public events written by the agency (not the other citizen's own messages)."""
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public.is_(True),
                   TicketEvent.actor_label != "citizen", TicketEvent.kind != "received")
            .order_by(TicketEvent.id)
        )
    )  # fmt: skip


# --- Split ------------------------------------------------------------------------------------


def clean_parts(raw: Sequence[tuple[str | None, str | None]]) -> list[Part]:
    """Blank rows are dropped; each kept part needs a title and a description of normal length."""
    parts = []
    errors = Errors()
    for i, (title, description) in enumerate(raw):
        title = clean_text(title, multiline=False)
        description = clean_text(description)
        if not title and not description:
            continue
        check_length(errors, f"title_{i}", title, "title")
        check_length(errors, f"description_{i}", description, "description")
        parts.append(Part(title, description))
    if errors:
        raise IntakeError(errors)
    if not parts:
        raise ActionError("a split needs at least one new ticket")
    if len(parts) > MAX_SPLIT_PARTS:
        raise ActionError("at most 10 tickets at a time")
    return parts


def split(session: Session, parent: Ticket, parts: Sequence[Part], actor: User,
          code_prefix: str, now: dt.datetime | None = None) -> list[Ticket]:  # fmt: skip
    """New tickets, one per content, with the parent's citizen, channel and agency, each routed
    there with its own acceptance clock from the original receipt; the citizen gets a receipt for
    each; the parent's timeline lists them. Everything in one commit."""
    now = now or utcnow()
    parent = _lock(session, parent.id) or parent
    if parent.status not in SPLITTABLE or parent.agency_id is None:
        raise lifecycle.TransitionError("split", parent.status)
    from .handling import policy_for

    cal = refdata.work_calendar(session)
    policy = policy_for(session, parent.kind, parent.category_id)
    children = []
    for part in parts:
        child = Ticket(
            tracking_token=secrets.token_urlsafe(24), kind=parent.kind,
            legal_form=parent.legal_form, channel=parent.channel,
            category_id=parent.category_id, status=lifecycle.ROUTED, priority=parent.priority,
            title=part.title, description=part.description, address=parent.address,
            latitude=parent.latitude, longitude=parent.longitude,
            area_agency_id=parent.area_agency_id, agency_id=parent.agency_id,
            initial_agency_id=parent.agency_id, citizen_id=parent.citizen_id,
            reply_contact_id=parent.reply_contact_id, filed_by_id=actor.id,
            confidential=parent.confidential, is_remote=parent.is_remote,
            received_at=parent.received_at, routed_at=now, updated_at=now,
            acceptance_due=(deadlines.acceptance_due(policy, local_date(parent.received_at), cal)
                            if policy else None),
        )  # fmt: skip
        session.add(child)
        session.flush()
        child.code = ticket_code(code_prefix, now.year, child.id)
        session.add(TicketSplit(child_id=child.id, parent_id=parent.id, actor_id=actor.id,
                                created_at=now))  # fmt: skip
        _refresh_due_state(session, child, local_date(now))
        search.index_ticket(session, child)
        _append(session, child, "received", now=now, public=True, actor=actor,
                to_status=lifecycle.RECEIVED, data={"split_from": parent.code})  # fmt: skip
        routed = _append(session, child, "routed", now=now, public=True, actor=actor,
                         from_status=lifecycle.RECEIVED, to_status=lifecycle.ROUTED,
                         data={"agency_id": child.agency_id, "split_from": parent.code})  # fmt: skip
        notices.notify_citizen(session, child, routed)
        children.append(child)
    codes = [c.code for c in children]
    _append(session, parent, "split", now=now, public=True, actor=actor, body=", ".join(codes),
            data={"children": codes})  # fmt: skip
    session.commit()
    return children


def split_family(session: Session, ticket: Ticket) -> tuple[Ticket | None, list[Ticket]]:
    """The parent this ticket was split from, and the tickets split from it."""
    parent_id = session.scalars(
        select(TicketSplit.parent_id).where(TicketSplit.child_id == ticket.id)
    ).first()
    children = session.scalars(
        select(Ticket).join(TicketSplit, TicketSplit.child_id == Ticket.id)
        .where(TicketSplit.parent_id == ticket.id).order_by(Ticket.id)
    ).all()  # fmt: skip
    return (session.get(Ticket, parent_id) if parent_id else None), list(children)


# --- Referrals --------------------------------------------------------------------------------


def record_referral(session: Session, ticket: Ticket, event: TicketEvent,
                    from_agency_id: int | None, actor: User | None) -> None:  # fmt: skip
    """The sending agency keeps a read-only view; a second transfer from it updates the row."""
    if from_agency_id is None or ticket.agency_id is None:
        return
    row = session.scalars(
        select(TicketReferral).where(TicketReferral.ticket_id == ticket.id,
                                     TicketReferral.from_agency_id == from_agency_id)
    ).first()  # fmt: skip
    if row is None:
        row = TicketReferral(ticket_id=ticket.id, from_agency_id=from_agency_id)
        session.add(row)
    row.to_agency_id, row.event_id = ticket.agency_id, event.id
    row.actor_id, row.created_at = (actor.id if actor else None), event.created_at


def referral_for(session: Session, ticket: Ticket, scope: set[int] | None) -> TicketReferral | None:
    """The referral through which an agency in `scope` may still read `ticket`."""
    if scope is not None and not scope:
        return None
    query = select(TicketReferral).where(TicketReferral.ticket_id == ticket.id)
    if scope is not None:
        query = query.where(TicketReferral.from_agency_id.in_(sorted(scope)))
    return session.scalars(query.order_by(TicketReferral.created_at.desc())).first()
