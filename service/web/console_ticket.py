"""Console ticket page: facts, deadlines, citizen (via the identity include), description,
attachments, related tickets, the timeline, and the action forms; attachment downloads and
response-template filling."""

from __future__ import annotations

import os
from typing import Any

from flask import abort, current_app, jsonify, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select

from ..domain import (
    assignment,
    casework,
    deadlines,
    lifecycle,
    redaction,
    refdata,
    related,
    responses,
)
from ..domain.attachments import stored_path
from ..domain.handling import policy_for
from ..extensions import db
from ..models import Attachment, Delivery, Ticket, TicketEvent, TicketReferral, User, utcnow
from .auth import roles_required
from .common import agency_name, category_name, today_local
from .console import ACTING, STAFF, bp, current_scope, ticket_access, transfer_targets

# Lifecycle actions offered on the page (route, provide_info and withdraw are not an officer's).
PAGE_ACTIONS = ("accept", "start", "request_info", "reply", "transfer", "resolve", "close",
                "reject", "reopen")  # fmt: skip
TEMPLATE_TARGETS = ("reply", "resolve", "request_info", "reject")


def _events(ticket: Ticket, referral: TicketReferral | None) -> list[TicketEvent]:
    """Everything for the holders; for a former holder, its own history up to the transfer and
    the public news after it."""
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if referral is not None:
        upto = referral.event_id or 0
        query = query.where((TicketEvent.id <= upto) | TicketEvent.public.is_(True))
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def _deadline_facts(ticket: Ticket) -> dict[str, Any]:
    cal = refdata.work_calendar(db.session)
    today = today_local()
    policy = policy_for(db.session, ticket.kind, ticket.category_id)
    running = ticket.resolution_due if ticket.accepted_at else ticket.acceptance_due
    running = running or ticket.resolution_due or ticket.acceptance_due
    open_clock = ticket.status in lifecycle.OPEN_STATUSES and running is not None
    return {
        "days_left": deadlines.working_days_left(running, today, cal) if open_clock else None,
        "paused": ticket.status == lifecycle.NEED_INFO,
        "extensions_left": max(0, policy.max_extensions - ticket.extensions) if policy else 0,
        "can_extend": bool(policy and policy.max_extensions and ticket.resolution_due
                           and ticket.status in lifecycle.OPEN_STATUSES),
    }  # fmt: skip


def _template_text(ticket: Ticket, templates: list[Any]) -> tuple[str | None, str]:
    """Server-side template picker: ?template=<id>&into=<form> pre-fills that form's text."""
    into = request.args.get("into") if request.args.get("into") in TEMPLATE_TARGETS else "reply"
    chosen = next((t for t in templates if str(t.id) == request.args.get("template")), None)
    if chosen is None:
        return None, into
    return responses.render(chosen, ticket, ticket.agency), into


@bp.get("/tickets/<code>")
@roles_required(*STAFF)
def ticket(code: str) -> Any:
    ticket, referral = ticket_access(code)
    scope = current_scope()
    can_act = referral is None and current_user.role in ACTING
    events = _events(ticket, referral)
    templates = responses.available(db.session, ticket) if can_act else []
    prefill, prefill_into = _template_text(ticket, templates)
    people = {e.actor_id for e in events if e.actor_id}
    people |= {e.data["to"] for e in events if e.kind == "assigned" and (e.data or {}).get("to")}
    users = db.session.scalars(select(User).where(User.id.in_(people or {-1})))
    actors = {u.id: u.full_name for u in users}
    return render_template(
        "console/ticket.html",
        ticket=ticket,
        referral=referral,
        read_only=not can_act,
        events=events,
        bodies={e.id: redaction.scrub_for_handlers(ticket, e.body) for e in events},
        actors=actors,
        description=redaction.scrub_for_handlers(ticket, ticket.description),
        deliveries=[] if referral else db.session.scalars(
            select(Delivery).where(Delivery.ticket_id == ticket.id).order_by(Delivery.id)
        ).all(),
        agency=agency_name(ticket.agency),
        category=category_name(ticket.category),
        assignee=ticket.assignee.full_name if ticket.assignee else None,
        deadline=_deadline_facts(ticket),
        related=related.related(db.session, ticket, scope, utcnow()) if referral is None else {},
        actions=[a for a in lifecycle.allowed_actions(ticket.status) if a in PAGE_ACTIONS]
        if can_act else [],
        can_act=can_act,
        can_split=can_act and ticket.status in casework.SPLITTABLE,
        can_mark_duplicate=can_act and "mark_duplicate" in lifecycle.allowed_actions(ticket.status),
        can_assign=can_act and ticket.status in assignment.ASSIGNABLE_STATUSES,
        assignable=assignment.assignable_users(db.session, ticket, current_user, scope)
        if can_act else [],
        targets=transfer_targets(ticket.agency_id) if can_act else [],
        templates=templates,
        template_targets=TEMPLATE_TARGETS,
        prefill=prefill,
        prefill_into=prefill_into,
    )  # fmt: skip


@bp.get("/tickets/<code>/templates/<int:template_id>")
@roles_required(*ACTING)
def template_text(code: str, template_id: int) -> Any:
    """The filled template as JSON, for the picker's small script (static/console.js)."""
    ticket, referral = ticket_access(code)
    if referral is not None:
        abort(404)
    chosen = responses.usable(db.session, template_id, ticket)
    if chosen is None:
        abort(404)
    return jsonify(body=responses.render(chosen, ticket, ticket.agency))


@bp.get("/tickets/<code>/attachments/<int:attachment_id>")
@roles_required(*STAFF)
def attachment(code: str, attachment_id: int) -> Any:
    ticket, _referral = ticket_access(code)
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.ticket_id != ticket.id:
        abort(404)
    path = stored_path(current_app.config["UPLOAD_FOLDER"], item.sha256)
    if not os.path.isfile(path):
        abort(404)
    response = send_file(path, mimetype=item.content_type, as_attachment=True,
                         download_name=item.filename, max_age=0)  # fmt: skip
    # Citizens' files: never kept by shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response
