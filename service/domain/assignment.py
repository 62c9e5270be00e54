"""Who handles a ticket inside its agency: manual assignment and per-agency auto-assignment
(round robin or least loaded, with a per-officer cap), safe with many workers at once.

Concurrency: auto-assignment locks the agency's policy row (SELECT … FOR UPDATE on PostgreSQL)
so loads are counted and the cap is checked by one worker at a time, and it writes the assignee
with a conditional UPDATE (… WHERE assignee_id IS NULL) so a ticket is never assigned twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import Agency, AssignmentPolicy, Ticket, TicketEvent, User, utcnow
from ..models.console import ASSIGNMENT_MODES
from . import lifecycle, routing

HANDLER_ROLES = ("officer", "lead")
AUTO_ROLES = ("officer",)
MAX_CAP = 10_000
# Statuses in which a ticket may get an assignee (awaiting acceptance or being handled).
ASSIGNABLE_STATUSES = lifecycle.OPEN_STATUSES - {lifecycle.RECEIVED}


class AssignmentError(ValueError):
    """An assignment the rules refuse; the message is shown to the person who asked."""


def _parents(session: Session) -> dict[int, int | None]:
    return dict(session.execute(select(Agency.id, Agency.parent_id)).all())


def assignable_users(session: Session, ticket: Ticket, actor: User,
                     actor_scope: set[int] | None) -> list[User]:  # fmt: skip
    """Colleagues `actor` may give `ticket` to: handlers who can see the ticket (officers of its
    agency, leads above it), limited to the actor's agency for officers and subtree for leads."""
    if ticket.agency_id is None:
        return []
    above = routing.ancestors(ticket.agency_id, _parents(session))
    users = session.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_(HANDLER_ROLES), User.agency_id.in_(above))
        .order_by(User.full_name, User.id)
    ).all()
    can_handle = [u for u in users if u.agency_id == ticket.agency_id or u.role == "lead"]
    if actor.role == "officer":
        return [u for u in can_handle if u.agency_id == ticket.agency_id]
    if actor_scope is None:
        return can_handle
    return [u for u in can_handle if u.agency_id in actor_scope]


def assign(session: Session, ticket: Ticket, assignee: User | None, actor: User,
           allowed: Sequence[User], now: dt.datetime | None = None) -> TicketEvent:  # fmt: skip
    """Give the ticket to `assignee` (None: nobody); an internal timeline event records it."""
    from .handling import _append, _lock

    now = now or utcnow()
    locked = _lock(session, ticket.id)
    assert locked is not None
    if locked.status not in ASSIGNABLE_STATUSES:
        raise AssignmentError("only an open ticket can be assigned")
    if assignee is not None and assignee.id not in {u.id for u in allowed}:
        raise AssignmentError("that person cannot handle this ticket")
    before = locked.assignee_id
    new = assignee.id if assignee is not None else None
    if before == new:
        raise AssignmentError("the ticket is already assigned so")
    locked.assignee_id = new
    event = _append(
        session, locked, "assigned", now=now, public=False, actor=actor,
        data={"from": before, "to": new, "to_name": assignee.full_name if assignee else None},
    )  # fmt: skip
    session.commit()
    return event


def choose(mode: str, officer_ids: Sequence[int], loads: dict[int, int], cap: int | None,
           last_id: int | None) -> int | None:  # fmt: skip
    """Pick the next officer: round robin continues after the last one chosen; least loaded
    takes the smallest open load, ties broken in round-robin order. Officers at the cap are
    skipped; None when nobody is eligible."""
    ordered = sorted(officer_ids)
    if not ordered:
        return None
    start = next((i for i, o in enumerate(ordered) if last_id is not None and o > last_id), 0)
    rotation = ordered[start:] + ordered[:start]
    eligible = [o for o in rotation if cap is None or loads.get(o, 0) < cap]
    if not eligible:
        return None
    if mode == "round_robin":
        return eligible[0]
    if mode == "least_loaded":
        return min(eligible, key=lambda o: (loads.get(o, 0), eligible.index(o)))
    return None


def open_loads(session: Session, officer_ids: Sequence[int]) -> dict[int, int]:
    """Open tickets held by each officer."""
    if not officer_ids:
        return {}
    rows = session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(list(officer_ids)),
               Ticket.status.in_(sorted(lifecycle.OPEN_STATUSES)))
        .group_by(Ticket.assignee_id)
    ).all()  # fmt: skip
    return {int(a): int(n) for a, n in rows}


def auto_assign(session: Session, ticket_id: int, now: dt.datetime | None = None) -> int | None:
    """Assign an unassigned ticket by its agency's policy; returns the officer id or None.
    Commits its own transaction; safe to run from several processes at once."""
    from .handling import _append

    now = now or utcnow()
    row = session.execute(
        select(Ticket.agency_id, Ticket.assignee_id, Ticket.status).where(Ticket.id == ticket_id)
    ).first()
    if row is None or row.agency_id is None or row.assignee_id is not None:
        session.rollback()
        return None
    if row.status not in ASSIGNABLE_STATUSES:
        session.rollback()
        return None
    # The policy row is the agency's mutex: loads below are counted by one worker at a time.
    policy = session.scalars(
        select(AssignmentPolicy)
        .where(AssignmentPolicy.agency_id == row.agency_id)
        .with_for_update()
    ).first()
    if policy is None or policy.mode not in ("round_robin", "least_loaded"):
        session.rollback()
        return None
    officer_ids = list(
        session.scalars(
            select(User.id).where(User.agency_id == row.agency_id, User.role.in_(AUTO_ROLES),
                                  User.active.is_(True))
        )
    )  # fmt: skip
    chosen = choose(policy.mode, officer_ids, open_loads(session, officer_ids),
                    policy.max_open_per_officer, policy.last_assignee_id)  # fmt: skip
    if chosen is None:
        session.rollback()
        return None
    taken = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.assignee_id.is_(None),
               Ticket.agency_id == row.agency_id)
        .values(assignee_id=chosen, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if taken.rowcount != 1:  # someone else assigned it meanwhile
        session.rollback()
        return None
    policy.last_assignee_id = chosen
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    _append(session, ticket, "assigned", now=now, public=False, actor_label="system",
            data={"from": None, "to": chosen, "auto": policy.mode})  # fmt: skip
    session.commit()
    return chosen


def auto_assign_agency(session: Session, agency_id: int, limit: int = 500) -> list[int]:
    """Run auto-assignment over an agency's unassigned open tickets, earliest deadline first.
    Stops early when nobody is eligible (everyone at the cap or no policy)."""
    ids = list(
        session.scalars(
            select(Ticket.id)
            .where(Ticket.agency_id == agency_id, Ticket.assignee_id.is_(None),
                   Ticket.status.in_(sorted(ASSIGNABLE_STATUSES)))
            .order_by(func.coalesce(Ticket.resolution_due, Ticket.acceptance_due), Ticket.id)
            .limit(limit)
        )
    )  # fmt: skip
    session.rollback()
    done = []
    for ticket_id in ids:
        if auto_assign(session, ticket_id) is not None:
            done.append(ticket_id)
        elif not _anyone_eligible(session, agency_id):
            break
    return done


def _anyone_eligible(session: Session, agency_id: int) -> bool:
    policy = session.get(AssignmentPolicy, agency_id)
    if policy is None or policy.mode not in ("round_robin", "least_loaded"):
        session.rollback()
        return False
    officer_ids = list(
        session.scalars(select(User.id).where(User.agency_id == agency_id,
                                              User.role.in_(AUTO_ROLES), User.active.is_(True)))
    )  # fmt: skip
    cap = policy.max_open_per_officer
    loads = open_loads(session, officer_ids)
    session.rollback()
    return any(cap is None or loads.get(o, 0) < cap for o in officer_ids)


def policy_of(session: Session, agency_id: int) -> AssignmentPolicy | None:
    return session.get(AssignmentPolicy, agency_id)


def set_policy(session: Session, agency_id: int, mode: str, cap: int | None) -> AssignmentPolicy:
    """Create or change an agency's policy (the caller commits, with its audit entry)."""
    if mode not in ASSIGNMENT_MODES:
        raise AssignmentError("choose none, round robin or least loaded")
    if cap is not None and not 1 <= cap <= MAX_CAP:
        raise AssignmentError("the cap must be a whole number from 1 to 10000, or empty")
    policy = session.get(AssignmentPolicy, agency_id)
    if policy is None:
        policy = AssignmentPolicy(agency_id=agency_id)
        session.add(policy)
    policy.mode, policy.max_open_per_officer = mode, cap
    return policy
