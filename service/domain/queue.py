"""The officer's queue: filters, search, order, pages and the counts shown on filter badges.

Everything is scoped to a set of agencies (None = all, for administrators) before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, select, true
from sqlalchemy.orm import Session, selectinload

from ..models import Ticket, TicketReferral
from . import lifecycle, search

KINDS = ("feedback", "recommendation", "complaint", "denunciation")
STATUS_CHOICES = ("open", "all", *lifecycle.STATUSES)
ASSIGNED_CHOICES = ("any", "mine", "unassigned")
DUE_CHOICES = ("any", "due_soon", "overdue")
SORTS = ("due", "received", "-received")
PAGE_SIZE = 50
MAX_PAGE = 1000
# The deadline the ticket is running against now: resolution once accepted, acceptance before.
DUE_KEY = func.coalesce(Ticket.resolution_due, Ticket.acceptance_due)


@dataclass(frozen=True)
class QueueFilter:
    status: str = "open"
    kind: str | None = None
    category_id: int | None = None
    channel: str | None = None
    assigned: str = "any"
    due: str = "any"
    q: str = ""
    sort: str = "due"
    page: int = 1

    def cleaned(self) -> QueueFilter:
        """Unknown values fall back to the defaults instead of failing the page."""
        return replace(
            self,
            status=self.status if self.status in STATUS_CHOICES else "open",
            kind=self.kind if self.kind in KINDS else None,
            channel=(self.channel or None) and self.channel[:32],
            assigned=self.assigned if self.assigned in ASSIGNED_CHOICES else "any",
            due=self.due if self.due in DUE_CHOICES else "any",
            q=search.normalise_query(self.q),
            sort=self.sort if self.sort in SORTS else "due",
            page=min(max(1, self.page), MAX_PAGE),
        )


@dataclass
class QueuePage:
    tickets: list[Ticket]
    total: int
    page: int
    page_size: int
    counts: dict[str, int]

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


def scope_clause(scope: set[int] | None) -> ColumnElement[bool]:
    if scope is None:
        return true()
    if not scope:
        return false()
    if len(scope) == 1:
        return Ticket.agency_id == next(iter(scope))
    return Ticket.agency_id.in_(sorted(scope))


def _status_clause(status: str) -> ColumnElement[bool]:
    if status == "open":
        return Ticket.status.in_(sorted(lifecycle.OPEN_STATUSES))
    if status == "all":
        return true()
    return Ticket.status == status


def _assigned_clause(assigned: str, user_id: int | None) -> ColumnElement[bool]:
    if assigned == "mine":
        return Ticket.assignee_id == user_id if user_id is not None else false()
    if assigned == "unassigned":
        return Ticket.assignee_id.is_(None)
    return true()


def _due_clause(due: str) -> ColumnElement[bool]:
    # due_state is kept by the deadline checks and every action (handling._refresh_due_state).
    return Ticket.due_state == due if due in ("due_soon", "overdue") else true()


def _base_clauses(session: Session, scope: set[int] | None, f: QueueFilter) -> list[Any]:
    """Scope, search and the attribute filters; status, assignment and due are added apart so
    the badges can count each of their values."""
    text = search.match(session, f.q)
    clauses: list[Any] = [scope_clause(scope)]
    if f.kind:
        clauses.append(Ticket.kind == f.kind)
    if f.category_id:
        clauses.append(Ticket.category_id == f.category_id)
    if f.channel:
        clauses.append(Ticket.channel == f.channel)
    if text is not None:
        clauses.append(text)
    return clauses


def _ordered(query: Select[Any], sort: str) -> Select[Any]:
    if sort == "received":
        return query.order_by(Ticket.received_at, Ticket.id)
    if sort == "-received":
        return query.order_by(Ticket.received_at.desc(), Ticket.id.desc())
    return query.order_by(DUE_KEY.asc().nulls_last(), Ticket.id)


def counts(
    session: Session, scope: set[int] | None, f: QueueFilter, user_id: int | None
) -> dict[str, int]:
    """Badge figures in one pass: tickets per status (under the assignment and deadline filters),
    and mine, unassigned, due soon and overdue (under the status filter)."""
    chosen = and_(_assigned_clause(f.assigned, user_id), _due_clause(f.due))
    in_status = _status_clause(f.status)
    figures = {s: func.count().filter(and_(Ticket.status == s, chosen)) for s in lifecycle.STATUSES}
    figures.update(
        mine=func.count().filter(and_(in_status, _assigned_clause("mine", user_id))),
        unassigned=func.count().filter(and_(in_status, _assigned_clause("unassigned", user_id))),
        due_soon=func.count().filter(and_(in_status, _due_clause("due_soon"))),
        overdue=func.count().filter(and_(in_status, _due_clause("overdue"))),
    )
    row = session.execute(
        select(*(v.label(k) for k, v in figures.items())).where(*_base_clauses(session, scope, f))
    ).one()
    result = {k: int(v or 0) for k, v in row._mapping.items()}
    result["all"] = sum(result[s] for s in lifecycle.STATUSES)
    result["open"] = sum(result[s] for s in lifecycle.OPEN_STATUSES)
    return result


def page(
    session: Session, scope: set[int] | None, f: QueueFilter, user_id: int | None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:  # fmt: skip
    f = f.cleaned()
    where = [
        *_base_clauses(session, scope, f),
        _status_clause(f.status),
        _assigned_clause(f.assigned, user_id),
        _due_clause(f.due),
    ]
    badge = counts(session, scope, f, user_id)
    tickets = list(
        session.scalars(
            _ordered(select(Ticket).options(selectinload(Ticket.assignee)).where(*where), f.sort)
            .limit(page_size)
            .offset((f.page - 1) * page_size)
        )
    )
    # The per-status badge under the same filters is the total of this listing.
    return QueuePage(tickets, badge[f.status], f.page, page_size, badge)


def _referred_where(scope: set[int] | None) -> list[Any]:
    if scope is None:
        return []
    if not scope:
        return [false()]
    return [
        TicketReferral.from_agency_id.in_(sorted(scope)),
        Ticket.agency_id.not_in(sorted(scope)),
    ]


def referred_count(session: Session, scope: set[int] | None) -> int:
    return int(
        session.scalar(
            select(func.count(TicketReferral.id))
            .join(Ticket, Ticket.id == TicketReferral.ticket_id)
            .where(*_referred_where(scope))
        )
        or 0
    )


def referred(
    session: Session, scope: set[int] | None, page_no: int = 1, page_size: int = PAGE_SIZE
) -> tuple[list[tuple[TicketReferral, Ticket]], int]:
    """Tickets the user's agencies transferred away and no longer hold (read-only view)."""
    where = _referred_where(scope)
    joined = select(TicketReferral, Ticket).join(Ticket, Ticket.id == TicketReferral.ticket_id)
    total = referred_count(session, scope)
    rows = session.execute(
        joined.where(*where)
        .order_by(TicketReferral.created_at.desc(), TicketReferral.id.desc())
        .limit(page_size)
        .offset((max(1, min(page_no, MAX_PAGE)) - 1) * page_size)
    ).all()
    return [(r[0], r[1]) for r in rows], total
