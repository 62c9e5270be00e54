"""The agency tree for administrators: ordering as an indented tree and merging agencies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Agency, RoutingRule, Ticket, TicketEvent, User, utcnow
from . import lifecycle, notices
from .routing import descendants

MERGE_REASON = "agency merged"
KIND_SUGGESTIONS = ("province", "department", "commune", "ward", "public_unit", "village")


class MergeError(ValueError):
    """A merge the rules refuse; the message is shown to the administrator."""


@dataclass
class MergeResult:
    successor_id: int
    merged_ids: list[int]
    tickets: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    rules: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    triage_moved: bool = False


def tree(agencies: Sequence[Agency]) -> list[tuple[Agency, int]]:
    """Agencies in depth-first order with their depth; orphans of a cycle are listed last."""
    by_parent: dict[int | None, list[Agency]] = {}
    for agency in agencies:
        by_parent.setdefault(agency.parent_id, []).append(agency)
    for siblings in by_parent.values():
        siblings.sort(key=lambda a: a.code)
    out: list[tuple[Agency, int]] = []
    seen: set[int] = set()
    stack = [(a, 0) for a in reversed(by_parent.get(None, []))]
    while stack:
        agency, depth = stack.pop()
        if agency.id in seen:
            continue
        seen.add(agency.id)
        out.append((agency, depth))
        stack += [(c, depth + 1) for c in reversed(by_parent.get(agency.id, []))]
    out += [(a, 0) for a in agencies if a.id not in seen]
    return out


def would_cycle(session: Session, agency_id: int, parent_id: int | None) -> bool:
    """True if making `parent_id` the parent of `agency_id` puts the agency under itself."""
    if parent_id is None:
        return False
    parents = dict(session.execute(select(Agency.id, Agency.parent_id)).all())
    return parent_id in descendants(agency_id, parents)


def _check_merge(session: Session, merged: list[Agency], successor: Agency | None,
                 day: dt.date) -> None:  # fmt: skip
    if successor is None:
        raise MergeError("choose the successor agency")
    if not merged:
        raise MergeError("choose at least one agency to merge")
    if successor.id in {a.id for a in merged}:
        raise MergeError("the successor cannot be one of the merged agencies")
    if not successor.is_active_on(day):
        raise MergeError("the successor is not in effect on the merge date")
    ended = [a.code for a in merged if a.effective_to is not None and a.effective_to <= day]
    if ended:
        raise MergeError("already ended: " + ", ".join(ended))
    parents = dict(session.execute(select(Agency.id, Agency.parent_id)).all())
    for agency in merged:
        if successor.id in descendants(agency.id, parents):
            raise MergeError("the successor cannot lie under a merged agency")


def merge(
    session: Session,
    merged_ids: Sequence[int],
    successor_id: int,
    *,
    actor: User | None,
    day: dt.date,
    now: dt.datetime | None = None,
) -> MergeResult:
    """Retire the merged agencies on `day` and hand everything open to the successor: tickets
    (each with a public `transferred` event), users, routing rules and child agencies. Nothing
    is deleted. Adds to the session without committing: the caller audits, then commits."""
    now = now or utcnow()
    ids = sorted(set(merged_ids))
    merged = list(session.scalars(select(Agency).where(Agency.id.in_(ids)).order_by(Agency.id)))
    if len(merged) != len(ids):
        raise MergeError("an agency to merge no longer exists")
    successor = session.get(Agency, successor_id)
    _check_merge(session, merged, successor, day)
    assert successor is not None
    result = MergeResult(successor_id=successor.id, merged_ids=ids)
    for agency in merged:
        agency.effective_to = day
        if successor not in agency.successors:
            agency.successors.append(successor)
        if agency.is_triage:  # unrouted tickets must still land somewhere alive
            agency.is_triage, successor.is_triage = False, True
            result.triage_moved = True
    children = select(Agency.id).where(Agency.parent_id.in_(ids), Agency.id.not_in(ids))
    result.children = list(session.scalars(children))
    session.execute(
        update(Agency).where(Agency.id.in_(result.children)).values(parent_id=successor.id)
    )
    result.users = list(session.scalars(select(User.id).where(User.agency_id.in_(ids))))
    session.execute(update(User).where(User.agency_id.in_(ids)).values(agency_id=successor.id))
    result.rules = _move_rules(session, ids, successor.id)
    result.tickets = _move_tickets(session, ids, successor, actor, now)
    session.flush()
    return result


def _move_rules(session: Session, ids: list[int], successor_id: int) -> list[int]:
    rules = session.scalars(
        select(RoutingRule).where(
            RoutingRule.target_agency_id.in_(ids) | RoutingRule.area_agency_id.in_(ids)
        )
    ).all()
    for rule in rules:
        if rule.target_agency_id in ids:
            rule.target_agency_id = successor_id
        if rule.area_agency_id in ids:
            rule.area_agency_id = successor_id
    return [r.id for r in rules]


def _move_tickets(session: Session, ids: list[int], successor: Agency, actor: User | None,
                  now: dt.datetime) -> list[int]:  # fmt: skip
    """Open tickets go on with their status and clocks: the successor inherits the duty."""
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.agency_id.in_(ids), Ticket.status.in_(lifecycle.OPEN_STATUSES))
        .order_by(Ticket.id)
        .with_for_update()
    ).all()
    for ticket in tickets:
        from_agency = ticket.agency_id
        ticket.agency_id = successor.id
        event = TicketEvent(
            ticket_id=ticket.id,
            created_at=now,
            kind="transferred",
            public=True,
            actor_id=actor.id if actor else None,
            actor_label=actor.role if actor else "system",
            from_status=ticket.status,
            to_status=ticket.status,
            body=MERGE_REASON,
            data={"from_agency_id": from_agency, "to_agency_id": successor.id,
                  "reason": MERGE_REASON},
        )  # fmt: skip
        session.add(event)
        session.flush()
        notices.notify_citizen(session, ticket, event)
        notices.notify_agency(session, ticket, event, successor, "agency_transfer")
    return [t.id for t in tickets]
