"""Officer console: the agency's queue, the referred tab, and access rules shared by the ticket
page (console_ticket.py) and the actions (console_actions.py), which add routes to this blueprint.

Roles: officers, leads and administrators act; supervisors read. Every page is scoped by
`scope_agency_ids`: a ticket outside it is a 404, except that an agency which transferred a
ticket away keeps a read-only view of it (a referral).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..domain import casework, lifecycle
from ..domain import queue as queue_rules
from ..extensions import db
from ..models import Agency, Category, Ticket, TicketReferral, User
from .auth import roles_required
from .common import agency_name, category_name, scope_agency_ids, today_local

bp = Blueprint("console", __name__, url_prefix="/console")
STAFF = ("officer", "lead", "supervisor", "admin")
ACTING = ("officer", "lead", "admin")
CHANNELS = ("web", "hotline", "api", "email", "telegram", "zalo_oa", "zalo_bot")


def current_scope() -> set[int] | None:
    return scope_agency_ids(current_user)


def ticket_access(code: str) -> tuple[Ticket, TicketReferral | None]:
    """The ticket and, when the user sees it only as its former holder, the referral. A ticket
    outside the user's scope (and not referred by it) looks exactly like a missing one."""
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    if ticket is None:
        abort(404)
    scope = current_scope()
    if scope is None or ticket.agency_id in scope:
        return ticket, None
    referral = casework.referral_for(db.session, ticket, scope)
    if referral is None:
        abort(404)
    return ticket, referral


def ticket_in_scope(code: str) -> Ticket:
    """For actions: only the agencies that hold the ticket may act on it."""
    ticket, referral = ticket_access(code)
    if referral is not None:
        abort(404)
    return ticket


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def filter_from_request() -> queue_rules.QueueFilter:
    args = request.args
    return queue_rules.QueueFilter(
        status=args.get("status") or "open",
        kind=args.get("kind") or None,
        category_id=_int_arg("category"),
        channel=args.get("channel") if args.get("channel") in CHANNELS else None,
        assigned=args.get("assigned") or "any",
        due=args.get("due") or "any",
        q=args.get("q") or "",
        sort=args.get("sort") or "due",
        page=_int_arg("page") or 1,
    ).cleaned()


def filter_args(f: queue_rules.QueueFilter, **changes: Any) -> str:
    """The query string for the same listing with some filters changed (page reset to 1)."""
    values = {
        "status": f.status, "kind": f.kind, "category": f.category_id, "channel": f.channel,
        "assigned": f.assigned, "due": f.due, "q": f.q, "sort": f.sort, "page": None,
    }  # fmt: skip
    values.update(changes)
    defaults = {"status": "open", "assigned": "any", "due": "any", "sort": "due", "page": 1}
    kept = {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}
    return "?" + urlencode(kept) if kept else "?"


def handlers_in_scope(scope: set[int] | None) -> list[User]:
    """People a bulk assignment may name (each ticket is checked again on its own)."""
    query = select(User).where(User.active.is_(True), User.role.in_(("officer", "lead")))
    if current_user.role == "officer":
        query = query.where(User.agency_id == current_user.agency_id)
    elif scope is not None:
        query = query.where(User.agency_id.in_(sorted(scope) or [-1]))
    return list(db.session.scalars(query.order_by(User.full_name, User.id)))


def transfer_targets(exclude: int | None = None) -> list[tuple[int, str]]:
    today = today_local()
    agencies = db.session.scalars(select(Agency).order_by(Agency.name)).all()
    return [(a.id, agency_name(a) or a.code) for a in agencies
            if a.id != exclude and a.is_active_on(today)]  # fmt: skip


def _categories() -> list[tuple[int, str]]:
    rows = db.session.scalars(select(Category).order_by(Category.group, Category.code)).all()
    return [(c.id, category_name(c) or c.code) for c in rows]


def _policy_agencies(scope: set[int] | None) -> list[tuple[int, str]]:
    """Agencies in scope whose auto-assignment is on (for the queue's button)."""
    from ..models import AssignmentPolicy

    query = (
        select(Agency)
        .join(AssignmentPolicy, AssignmentPolicy.agency_id == Agency.id)
        .where(AssignmentPolicy.mode != "none")
    )
    if scope is not None:
        query = query.where(Agency.id.in_(sorted(scope) or [-1]))
    return [
        (a.id, agency_name(a) or a.code) for a in db.session.scalars(query.order_by(Agency.name))
    ]


@bp.get("/")
@roles_required(*STAFF)
def queue() -> Any:
    scope = current_scope()
    f = filter_from_request()
    listing = queue_rules.page(db.session, scope, f, current_user.id)
    can_act = current_user.role in ACTING
    referred_total = queue_rules.referred_count(db.session, scope)
    return render_template(
        "console/queue.html",
        listing=listing,
        f=f,
        filter_args=filter_args,
        statuses=lifecycle.STATUSES,
        kinds=queue_rules.KINDS,
        channels=CHANNELS,
        categories=_categories(),
        agencies={a.id: agency_name(a) for a in db.session.scalars(select(Agency))},
        can_act=can_act,
        handlers=handlers_in_scope(scope) if can_act else [],
        targets=transfer_targets() if can_act else [],
        bulk_actions=BULK_ACTIONS if can_act else (),
        auto_agencies=_policy_agencies(scope) if can_act else [],
        referred_total=referred_total,
        next_url=request.full_path,
    )


@bp.get("/referred")
@roles_required(*STAFF)
def referred() -> Any:
    page_no = _int_arg("page") or 1
    rows, total = queue_rules.referred(db.session, current_scope(), page_no)
    return render_template(
        "console/referred.html",
        rows=rows,
        total=total,
        page=page_no,
        page_size=queue_rules.PAGE_SIZE,
        agencies={a.id: agency_name(a) for a in db.session.scalars(select(Agency))},
    )


@bp.app_template_global("followed_original")
def followed_original(ticket: Ticket) -> dict[str, Any] | None:
    """For the citizen's tracking page of a duplicate: the original it follows, with the
    agency's public news (never the other citizen's own messages)."""
    original = casework.followed_original(db.session, ticket)
    if original is None:
        return None
    return {"ticket": original, "events": casework.agency_public_events(db.session, original)}


# Status changes offered for several tickets at once (each still checked by the lifecycle).
BULK_ACTIONS = ("accept", "start", "request_info", "resolve", "close", "reject", "reopen")

from . import console_actions, console_ticket  # noqa: E402, F401  (routes on this blueprint)
