"""Read-only audit log at /admin/audit for administrators and supervisors, filtered and paged.

Administrators see every entry. A supervisor sees the entries about their agency subtree: done by
a user of it, about a user of it, or about a ticket of it (system and CLI entries are admin-only).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, or_, select

from ..extensions import db
from ..models import AuditEntry, Ticket, User
from .auth import roles_required
from .common import scope_agency_ids

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE = 50
FILTERS = ("action", "actor", "target_type", "target", "date_from", "date_to")


def _scoped(query: Select[Any], user: Any) -> Select[Any]:
    scope = scope_agency_ids(user)
    if scope is None:
        return query
    users_in_scope = select(User.id).where(User.agency_id.in_(scope))
    names_in_scope = select(User.username).where(User.agency_id.in_(scope))
    tickets_in_scope = select(Ticket.code).where(Ticket.agency_id.in_(scope))
    return query.where(
        or_(
            AuditEntry.actor_id.in_(users_in_scope),
            (AuditEntry.target_type == "user") & AuditEntry.target_id.in_(names_in_scope),
            (AuditEntry.target_type == "ticket") & AuditEntry.target_id.in_(tickets_in_scope),
        )
    )


def _local_day_start(raw: str, name: str) -> dt.datetime | None:
    """A YYYY-MM-DD local date as the UTC instant its day starts; a bad value is reported."""
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        flash(_("%(field)s: use a date like 2026-01-31.", field=name), "error")
        return None
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _filtered(args: dict[str, str]) -> Select[Any]:
    query = _scoped(select(AuditEntry), current_user)
    if args["action"]:
        query = query.where(
            or_(
                AuditEntry.action == args["action"],
                AuditEntry.action.startswith(args["action"] + "."),
            )
        )
    if args["actor"]:
        query = query.where(AuditEntry.actor_label == args["actor"])
    if args["target_type"]:
        query = query.where(AuditEntry.target_type == args["target_type"])
    if args["target"]:
        query = query.where(AuditEntry.target_id == args["target"])
    start = _local_day_start(args["date_from"], _("From"))
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    end = _local_day_start(args["date_to"], _("To"))
    if end is not None:
        query = query.where(AuditEntry.at < end + dt.timedelta(days=1))
    return query


def _pretty(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


@bp.get("/")
@roles_required("admin", "supervisor")
def index() -> Any:
    args = {name: (request.args.get(name) or "").strip()[:128] for name in FILTERS}
    query = _filtered(args)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = db.session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(PAGE)
        .offset((page - 1) * PAGE)
    ).all()
    actions = list(db.session.scalars(select(AuditEntry.action).distinct()))
    types = db.session.scalars(
        select(AuditEntry.target_type).distinct().order_by(AuditEntry.target_type)
    )
    kept = {k: v for k, v in args.items() if v}
    return render_template(
        "audit/list.html",
        entries=entries,
        total=total,
        page=page,
        args=args,
        actions=sorted({a.split(".")[0] for a in actions} | set(actions)),
        target_types=list(types),
        pretty=_pretty,
        prev_url=url_for("audit.index", page=page - 1, **kept) if page > 1 else None,
        next_url=url_for("audit.index", page=page + 1, **kept) if page * PAGE < total else None,
    )
