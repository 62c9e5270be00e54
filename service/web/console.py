"""Officer pages (plain): the agency's queue and the ticket page with lifecycle actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..domain import deadlines, lifecycle, refdata
from ..domain.handling import ActionError, add_note, apply_action, extend_deadline
from ..extensions import db
from ..models import Agency, Delivery, Ticket, TicketEvent
from .auth import roles_required
from .common import agency_name, category_name, scope_agency_ids, today_local
from .forms import ActionForm
from .messages import action_error

bp = Blueprint("console", __name__, url_prefix="/console")
STAFF = ("officer", "lead", "supervisor", "admin")
ACTING = ("officer", "lead", "admin")
PAGE = 50


def _ticket_or_404(code: str) -> Ticket:
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    scope = scope_agency_ids(current_user)
    # Outside the officer's scope looks exactly like a missing ticket.
    if ticket is None or (scope is not None and ticket.agency_id not in scope):
        abort(404)
    return ticket


@bp.get("/")
@roles_required(*STAFF)
def queue() -> Any:
    scope = scope_agency_ids(current_user)
    status = request.args.get("status") or "open"
    query = select(Ticket)
    if scope is not None:
        query = query.where(Ticket.agency_id.in_(scope))
    if status == "open":
        query = query.where(Ticket.status.in_(lifecycle.OPEN_STATUSES))
    elif status in lifecycle.STATUSES:
        query = query.where(Ticket.status == status)
    page = max(1, request.args.get("page", 1, type=int))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    tickets = db.session.scalars(
        query.order_by(Ticket.acceptance_due.is_(None), Ticket.acceptance_due, Ticket.id)
        .limit(PAGE)
        .offset((page - 1) * PAGE)
    ).all()
    return render_template(
        "console/queue.html", tickets=tickets, total=total, page=page, status=status,
        statuses=lifecycle.STATUSES, page_size=PAGE,
    )  # fmt: skip


@bp.get("/tickets/<code>")
@roles_required(*STAFF)
def ticket(code: str) -> Any:
    ticket = _ticket_or_404(code)
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()
    deliveries = db.session.scalars(
        select(Delivery).where(Delivery.ticket_id == ticket.id).order_by(Delivery.id)
    ).all()
    cal = refdata.work_calendar(db.session)
    today = today_local()
    due = ticket.resolution_due or ticket.acceptance_due
    form = ActionForm()
    form.target_agency.choices = [
        (str(a.id), agency_name(a))
        for a in db.session.scalars(select(Agency).order_by(Agency.name))
        if a.id != ticket.agency_id and a.is_active_on(today)
    ]
    return render_template(
        "console/ticket.html",
        ticket=ticket,
        events=events,
        deliveries=deliveries,
        agency=agency_name(ticket.agency),
        category=category_name(ticket.category),
        days_left=deadlines.working_days_left(due, today, cal) if due else None,
        actions=lifecycle.allowed_actions(ticket.status) if current_user.role in ACTING else [],
        form=form,
        can_act=current_user.role in ACTING,
    )


@bp.post("/tickets/<code>/act")
@roles_required(*ACTING)
def act(code: str) -> Any:
    ticket = _ticket_or_404(code)
    form = ActionForm()
    form.target_agency.choices = []
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("console.ticket", code=code))
    action = form.action.data or ""
    try:
        if action == "note":
            add_note(db.session, ticket, current_user, form.body.data or "")
        elif action == "extend":
            extend_deadline(db.session, ticket, current_user, form.body.data or "")
        elif action in lifecycle.ACTIONS and action not in ("route", "provide_info", "withdraw"):
            target = form.target_agency.data
            apply_action(
                db.session, ticket, action, actor=current_user, body=form.body.data,
                target_agency_id=int(target) if target and target.isdigit() else None,
                duplicate_of_code=(form.duplicate_of.data or "").strip() or None,
            )  # fmt: skip
        else:
            abort(400)
        flash(_("Done."), "success")
    except lifecycle.TransitionError as exc:
        db.session.rollback()
        flash(_("Not allowed: %(reason)s", reason=str(exc)), "error")
    except ActionError as exc:
        db.session.rollback()
        flash(action_error(str(exc)), "error")
    still_visible = db.session.get(Ticket, ticket.id)
    scope = scope_agency_ids(current_user)
    if still_visible is not None and (scope is None or still_visible.agency_id in scope):
        return redirect(url_for("console.ticket", code=code))
    return redirect(url_for("console.queue"))
