"""Routing, officer and citizen actions, and deadline checks on a ticket."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Agency, DeadlinePolicy, RoutingRule, Ticket, TicketEvent, User, utcnow
from . import deadlines, intake, lifecycle, notices, refdata, routing, search

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Action → name of the event it appends.
EVENT_KIND = {
    "route": "routed",
    "accept": "accepted",
    "start": "started",
    "request_info": "info_requested",
    "provide_info": "info_provided",
    "reply": "replied",
    "transfer": "transferred",
    "resolve": "resolved",
    "close": "closed",
    "reject": "rejected",
    "mark_duplicate": "duplicate",
    "withdraw": "withdrawn",
    "reopen": "reopened",
}


class ActionError(ValueError):
    """A request that the rules refuse; the message is shown to the person who asked."""


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TZ).date()


def policy_for(session: Session, kind: str, category_id: int | None) -> deadlines.Policy | None:
    rows = session.scalars(
        select(DeadlinePolicy).where(
            DeadlinePolicy.kind == kind,
            (DeadlinePolicy.category_id == category_id) | DeadlinePolicy.category_id.is_(None),
        )
    ).all()
    # A category-specific policy beats the kind's default.
    row = next((r for r in rows if r.category_id is not None), rows[0] if rows else None)
    if row is None:
        return None
    return deadlines.Policy(
        **{f.name: getattr(row, f.name) for f in dataclasses.fields(deadlines.Policy)}
    )


def _append(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    now: dt.datetime,
    public: bool,
    actor: User | None = None,
    actor_label: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        created_at=now,
        kind=kind,
        public=public,
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.role if actor else "system"),
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data,
    )
    session.add(event)
    session.flush()
    return event


def _refresh_due_state(session: Session, ticket: Ticket, today: dt.date) -> str:
    if ticket.status not in lifecycle.OPEN_STATUSES or ticket.status == lifecycle.NEED_INFO:
        ticket.due_state = "none"
        return ticket.due_state
    due = (
        ticket.acceptance_due
        if ticket.status in lifecycle.AWAITING_ACCEPTANCE
        else ticket.resolution_due
    )
    policy = policy_for(session, ticket.kind, ticket.category_id)
    soon = policy.due_soon_days if policy else 2
    ticket.due_state = deadlines.due_state(due, today, refdata.work_calendar(session), soon)
    return ticket.due_state


def _lock(session: Session, ticket_id: int) -> Ticket | None:
    # Row lock on PostgreSQL serialises two workers or officers acting on one ticket.
    return session.scalars(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()


def route_ticket(session: Session, ticket_id: int, now: dt.datetime | None = None) -> bool:
    """Pick the agency by rules, set the acceptance clock, tell the citizen. Idempotent."""
    now = now or utcnow()
    ticket = _lock(session, ticket_id)
    if ticket is None or ticket.status != lifecycle.RECEIVED:
        session.rollback()
        return False
    parents = dict(session.execute(select(Agency.id, Agency.parent_id)).all())
    rules = session.scalars(
        select(RoutingRule)
        .where(RoutingRule.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    triage = session.execute(select(Agency.id).where(Agency.is_triage.is_(True))).scalar()
    facts = routing.Facts(
        kind=ticket.kind,
        category_id=ticket.category_id,
        channel=ticket.channel,
        text=f"{ticket.title}\n{ticket.description}",
        area_id=ticket.area_agency_id,
        area_path=routing.ancestors(ticket.area_agency_id, parents),
    )
    decision = routing.decide(rules, facts, triage)
    if ticket.pending_contact is not None:
        _attach_citizen(session, ticket)
    new_status = lifecycle.next_status("route", ticket.status)
    ticket.agency_id = decision.agency_id
    ticket.initial_agency_id = decision.agency_id
    ticket.priority = decision.priority
    ticket.routed_at = now
    if ticket.area_agency_id is not None:
        ticket.is_remote = bool(session.get(Agency, ticket.area_agency_id).is_remote)  # type: ignore[union-attr]
    policy = policy_for(session, ticket.kind, ticket.category_id)
    cal = refdata.work_calendar(session)
    if policy is not None:
        ticket.acceptance_due = deadlines.acceptance_due(
            policy, local_date(ticket.received_at), cal
        )
    old, ticket.status = ticket.status, new_status
    _refresh_due_state(session, ticket, local_date(now))
    search.index_ticket(session, ticket)  # searchable from now on (see domain.search)
    event = _append(
        session,
        ticket,
        "routed",
        now=now,
        public=True,
        from_status=old,
        to_status=new_status,
        data={
            "agency_id": decision.agency_id,
            "rules": decision.matched_rule_ids,
            "fallback": decision.fallback,
            "acceptance_due": ticket.acceptance_due.isoformat() if ticket.acceptance_due else None,
        },
    )
    notices.notify_citizen(session, ticket, event)
    session.commit()
    _console_on_arrival(session, ticket_id)
    return True


def route_tickets(session: Session, ticket_ids: list[int]) -> int:
    """Route a batch (the intake relay's job), each ticket in its own transaction, so one bad
    ticket does not hold up the others; raises at the end if any failed, and the job's retry
    routes those (the rest are no-ops by then). Returns how many were routed now."""
    routed, failed = 0, []
    for ticket_id in ticket_ids:
        try:
            routed += route_ticket(session, ticket_id)
        except Exception:  # noqa: BLE001  (reported below, retried by the job)
            session.rollback()
            logging.getLogger(__name__).exception("routing ticket %s failed", ticket_id)
            failed.append(ticket_id)
    if failed:
        raise RoutingFailed(failed)
    return routed


class RoutingFailed(RuntimeError):
    def __init__(self, ticket_ids: list[int]) -> None:
        super().__init__(f"routing failed for tickets {ticket_ids}; the job will be retried")
        self.ticket_ids = ticket_ids


def _attach_citizen(session: Session, ticket: Ticket) -> None:
    """Find or create the citizen from the snapshot intake kept; a savepoint absorbs the race
    with a concurrent job creating the same contact (then it is found on the second try)."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                citizen, reply = intake.resolve_citizen(
                    session, ticket.pending_contact or {}, ticket.channel
                )
                session.flush()
            break
        except IntegrityError:
            if attempt == 2:
                raise
    ticket.citizen, ticket.reply_contact, ticket.pending_contact = citizen, reply, None


def apply_action(
    session: Session,
    ticket: Ticket,
    action: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    body: str | None = None,
    target_agency_id: int | None = None,
    duplicate_of_code: str | None = None,
    now: dt.datetime | None = None,
) -> TicketEvent:
    """Run one lifecycle action: check it, change the ticket, append the event, queue notices."""
    now = now or utcnow()
    locked = _lock(session, ticket.id)
    assert locked is not None
    ticket = locked
    body = (body or "").strip() or None
    old = ticket.status
    new = lifecycle.next_status(action, old, reason=body, paused_from=ticket.paused_from_status)
    today = local_date(now)
    cal = refdata.work_calendar(session)
    policy = policy_for(session, ticket.kind, ticket.category_id)
    data: dict[str, Any] = {}
    receiving_agency: Agency | None = None
    if action == "accept":
        ticket.accepted_at = now
        if policy is not None:
            ticket.resolution_due = deadlines.resolution_due(
                policy, today, cal, complex=ticket.is_complex, remote=ticket.is_remote
            )
            data["resolution_due"] = ticket.resolution_due.isoformat()
    elif action == "request_info":
        ticket.paused_at = now
        ticket.paused_from_status = old
    elif action == "provide_info":
        _resume_clock(ticket, now, cal, policy)
    elif action == "transfer":
        receiving_agency = session.get(Agency, target_agency_id) if target_agency_id else None
        if receiving_agency is None or receiving_agency.id == ticket.agency_id:
            raise ActionError("choose another agency to transfer to")
        if not receiving_agency.is_active_on(today):
            raise ActionError("that agency no longer exists; choose its successor")
        data.update(from_agency_id=ticket.agency_id, to_agency_id=receiving_agency.id)
        ticket.agency_id = receiving_agency.id
        ticket.assignee_id = None
        # The receiving agency gets its own acceptance clock from today.
        if policy is not None:
            ticket.acceptance_due = deadlines.acceptance_due(policy, today, cal)
            ticket.accepted_at = None
            ticket.resolution_due = None
    elif action == "mark_duplicate":
        original = session.scalars(select(Ticket).where(Ticket.code == duplicate_of_code)).first()
        if original is None or original.id == ticket.id:
            raise ActionError("give the code of the original ticket")
        ticket.duplicate_of_id = original.id
        data["duplicate_of"] = original.code
    if action in ("reply", "resolve") and ticket.first_response_at is None:
        ticket.first_response_at = now
    if action in ("resolve", "reject"):
        ticket.resolution = body
        ticket.resolved_at = now
    if action in ("close", "withdraw"):
        ticket.closed_at = now
    if action == "reopen":
        ticket.resolved_at = ticket.closed_at = None
    _stamp_dashboard_durations(ticket, cal)
    ticket.status = new
    _refresh_due_state(session, ticket, today)
    if old == lifecycle.RECEIVED:  # ended before routing (withdrawn, rejected…): still findable
        search.index_ticket(session, ticket)
    spec = lifecycle.ACTIONS[action]
    event = _append(
        session,
        ticket,
        EVENT_KIND[action],
        now=now,
        public=spec.public,
        actor=actor,
        actor_label=actor_label,
        from_status=old,
        to_status=new,
        body=body,
        data=data or None,
    )
    if actor_label != "citizen":
        notices.notify_citizen(session, ticket, event)
    if receiving_agency is not None:
        notices.notify_agency(session, ticket, event, receiving_agency, "agency_transfer")
        _console_record_referral(session, ticket, event, data.get("from_agency_id"), actor)
    session.commit()
    if receiving_agency is not None:
        _console_on_arrival(session, ticket.id)
    return event


def _stamp_dashboard_durations(ticket: Ticket, cal: Any) -> None:
    """Supervisor dashboard: working-day durations stored on the ticket when they happen."""
    from . import report_durations

    report_durations.stamp_durations(ticket, cal)


def _resume_clock(
    ticket: Ticket, now: dt.datetime, cal: Any, policy: deadlines.Policy | None
) -> None:
    """Waiting for the citizen does not count: push the running deadline by the pause."""
    if ticket.paused_at is None:
        return
    paused_on, resumed_on = local_date(ticket.paused_at), local_date(now)
    ticket.paused_days += cal.working_days_between(paused_on, resumed_on)
    if ticket.resolution_due is not None and policy is not None:
        ticket.resolution_due = deadlines.shift_for_pause(
            ticket.resolution_due, paused_on, resumed_on, policy.resolution_unit, cal
        )
    elif ticket.acceptance_due is not None and policy is not None:
        ticket.acceptance_due = deadlines.shift_for_pause(
            ticket.acceptance_due, paused_on, resumed_on, policy.acceptance_unit, cal
        )
    ticket.paused_at = None
    ticket.paused_from_status = None


def add_note(session: Session, ticket: Ticket, actor: User, body: str,
             now: dt.datetime | None = None) -> TicketEvent:  # fmt: skip
    body = (body or "").strip()
    if not body:
        raise ActionError("the note is empty")
    event = _append(
        session, ticket, "note", now=now or utcnow(), public=False, actor=actor, body=body
    )
    session.commit()
    return event


def add_citizen_info(session: Session, ticket: Ticket, body: str,
                     now: dt.datetime | None = None) -> TicketEvent:  # fmt: skip
    """The citizen adds information; if the officer was waiting for it, the clock resumes."""
    body = (body or "").strip()
    if not body:
        raise ActionError("the message is empty")
    if ticket.status == lifecycle.NEED_INFO:
        return apply_action(
            session, ticket, "provide_info", actor_label="citizen", body=body, now=now
        )
    if ticket.status not in lifecycle.OPEN_STATUSES:
        raise lifecycle.TransitionError("add information to", ticket.status)
    event = _append(
        session, ticket, "info_added", now=now or utcnow(), public=True, actor_label="citizen",
        body=body,
    )  # fmt: skip
    session.commit()
    return event


def extend_deadline(session: Session, ticket: Ticket, actor: User, reason: str,
                    now: dt.datetime | None = None) -> TicketEvent:  # fmt: skip
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("an extension needs a reason")
    if ticket.resolution_due is None or ticket.status not in lifecycle.OPEN_STATUSES:
        raise ActionError("only an accepted, open ticket can be extended")
    policy = policy_for(session, ticket.kind, ticket.category_id)
    if policy is None:
        raise ActionError("no deadline policy applies to this ticket")
    try:
        new_due = deadlines.extend(
            policy, ticket.resolution_due, ticket.extensions, refdata.work_calendar(session)
        )
    except deadlines.DeadlineError as exc:
        raise ActionError(str(exc)) from exc
    old_due, ticket.resolution_due = ticket.resolution_due, new_due
    ticket.extensions += 1
    _refresh_due_state(session, ticket, local_date(now))
    event = _append(
        session, ticket, "extended", now=now, public=True, actor=actor, body=reason,
        data={"from": old_due.isoformat(), "to": new_due.isoformat(), "n": ticket.extensions},
    )  # fmt: skip
    notices.notify_citizen(session, ticket, event)
    session.commit()
    return event


def check_deadlines(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Mark due-soon and overdue tickets and tell their agency once per change of state.
    States are computed from a light column scan; only tickets whose state changes are locked."""
    now = now or utcnow()
    today = local_date(now)
    cal = refdata.work_calendar(session)
    policies: dict[tuple[str, int | None], deadlines.Policy | None] = {}
    counts = {"due_soon": 0, "overdue": 0}
    rows = session.execute(
        select(Ticket.id, Ticket.kind, Ticket.category_id, Ticket.status, Ticket.acceptance_due,
               Ticket.resolution_due, Ticket.due_state)
        .where(Ticket.status.in_(lifecycle.OPEN_STATUSES - {lifecycle.RECEIVED, lifecycle.NEED_INFO}))
    ).all()  # fmt: skip
    changed = []
    for row in rows:
        key = (row.kind, row.category_id)
        if key not in policies:
            policies[key] = policy_for(session, *key)
        policy = policies[key]
        due = (
            row.acceptance_due
            if row.status in lifecycle.AWAITING_ACCEPTANCE
            else row.resolution_due
        )
        state = deadlines.due_state(due, today, cal, policy.due_soon_days if policy else 2)
        if state != row.due_state:
            changed.append(row.id)
    session.rollback()
    for ticket_id in changed:
        ticket = _lock(session, ticket_id)
        if ticket is None:
            continue
        before = ticket.due_state
        after = _refresh_due_state(session, ticket, today)
        if after != before and after in counts:
            counts[after] += 1
            event = _append(session, ticket, after, now=now, public=False, data={"was": before})
            agency = session.get(Agency, ticket.agency_id) if ticket.agency_id else None
            notices.notify_agency(session, ticket, event, agency, f"agency_{after}")
        session.commit()
    return counts


# --- Officer console hooks: the sender's referral and auto-assignment when a ticket arrives. ---


def _console_record_referral(session: Session, ticket: Ticket, event: TicketEvent,
                             from_agency_id: int | None, actor: User | None) -> None:  # fmt: skip
    from . import casework

    casework.record_referral(session, ticket, event, from_agency_id, actor)


def _console_on_arrival(session: Session, ticket_id: int) -> None:
    """After routing or a transfer has committed: the agency's auto-assignment policy, if any.
    A failure here never undoes the arrival; the console's button can run it again."""
    from . import assignment

    try:
        assignment.auto_assign(session, ticket_id)
    except Exception:  # noqa: BLE001
        session.rollback()
        logging.getLogger(__name__).exception("auto-assignment failed for ticket %s", ticket_id)
