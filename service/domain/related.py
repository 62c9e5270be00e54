"""Tickets related to one ticket, as the ticket page lists them; always inside the viewer's scope.

Same-citizen links are never shown for sealed (denunciation) tickets in either direction: that
list would tie a known citizen to a denunciation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, union_all
from sqlalchemy.orm import Session

from ..models import Ticket, TicketSplit
from . import redaction
from .queue import scope_clause

LIMIT = 10
NEARBY_DAYS = 30


def _not_sealed() -> object:
    return (Ticket.confidential.is_(False)) & (Ticket.kind.not_in(redaction.SEALED_KINDS))


def related(session: Session, ticket: Ticket, scope: set[int] | None,
            now: dt.datetime) -> dict[str, list[Ticket]]:  # fmt: skip
    """same_citizen, duplicates, split, nearby (same area and category, recent)."""
    visible = scope_clause(scope)
    other = Ticket.id != ticket.id
    result: dict[str, list[Ticket]] = {}
    if ticket.citizen_id is not None and not redaction.is_sealed(ticket):
        result["same_citizen"] = list(session.scalars(
            select(Ticket).where(visible, other, Ticket.citizen_id == ticket.citizen_id,
                                 _not_sealed())
            .order_by(Ticket.received_at.desc()).limit(LIMIT)
        ))  # fmt: skip
    dup_clause = Ticket.duplicate_of_id == ticket.id
    if ticket.duplicate_of_id is not None:
        dup_clause = or_(dup_clause, Ticket.id == ticket.duplicate_of_id)
    result["duplicates"] = list(session.scalars(
        select(Ticket).where(visible, other, dup_clause).order_by(Ticket.id).limit(LIMIT)
    ))  # fmt: skip
    parent_id = select(TicketSplit.parent_id).where(TicketSplit.child_id == ticket.id)
    children = select(TicketSplit.child_id).where(TicketSplit.parent_id == ticket.id)
    result["split"] = list(session.scalars(
        # One IN over a UNION: an OR of two IN-subqueries made PostgreSQL walk the whole table.
        select(Ticket).where(visible, other, Ticket.id.in_(union_all(parent_id, children)))
        .order_by(Ticket.id).limit(LIMIT)
    ))  # fmt: skip
    if ticket.area_agency_id is not None and ticket.category_id is not None:
        since = now - dt.timedelta(days=NEARBY_DAYS)
        result["nearby"] = list(session.scalars(
            select(Ticket).where(visible, other, Ticket.area_agency_id == ticket.area_agency_id,
                                 Ticket.category_id == ticket.category_id,
                                 Ticket.received_at >= since)
            .order_by(Ticket.received_at.desc()).limit(LIMIT)
        ))  # fmt: skip
    return {k: v for k, v in result.items() if v}
