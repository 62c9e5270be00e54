"""Helpers shared by the web blueprints: intake settings, public ticket view, scoping."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import select

from ..domain import lifecycle
from ..domain.handling import local_date
from ..domain.intake import Settings
from ..domain.routing import descendants
from ..extensions import db
from ..links import tracking_link
from ..models import Agency, Category, Ticket, TicketEvent


def intake_settings() -> Settings:
    cfg = current_app.config
    return Settings(
        code_prefix=cfg["TICKET_CODE_PREFIX"],
        upload_folder=cfg["UPLOAD_FOLDER"],
        max_attachment_bytes=cfg["MAX_ATTACHMENT_BYTES"],
        max_attachments=cfg["MAX_ATTACHMENTS"],
    )


def tracking_url(tracking_token: str) -> str:
    return tracking_link(tracking_token)


def category_name(category: Category | None) -> str | None:
    if category is None:
        return None
    return category.name_en if str(get_locale()) == "en" else category.name_vi


def agency_name(agency: Agency | None) -> str | None:
    if agency is None:
        return None
    return (agency.name_en or agency.name) if str(get_locale()) == "en" else agency.name


def public_events(ticket: Ticket) -> list[TicketEvent]:
    return list(
        db.session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public.is_(True))
            .order_by(TicketEvent.id)
        )
    )


def public_summary(ticket: Ticket) -> dict[str, Any]:
    """What the citizen (or a program holding the tracking token) may see. No identities."""
    return {
        "code": ticket.code,
        "status": ticket.status,
        "kind": ticket.kind,
        "category": ticket.category.code if ticket.category else None,
        "title": ticket.title,
        "agency": agency_name(ticket.agency),
        "received_at": ticket.received_at.isoformat(),
        "acceptance_due": ticket.acceptance_due.isoformat() if ticket.acceptance_due else None,
        "resolution_due": ticket.resolution_due.isoformat() if ticket.resolution_due else None,
        "resolution": ticket.resolution,
        "events": [
            {
                "kind": e.kind,
                "at": e.created_at.isoformat(),
                "status": e.to_status,
                "body": e.body,
                "by": e.actor_label if e.actor_label == "citizen" else "agency",
            }
            for e in public_events(ticket)
        ],
    }


def scope_agency_ids(user: Any) -> set[int] | None:
    """Agencies whose tickets `user` may see; None means all (administrators)."""
    if user.role == "admin":
        return None
    if user.agency_id is None:
        return set()
    if user.role in ("lead", "supervisor"):
        parents = dict(db.session.execute(select(Agency.id, Agency.parent_id)).all())
        return descendants(user.agency_id, parents)
    return {user.agency_id}


def can_see(user: Any, ticket: Ticket) -> bool:
    scope = scope_agency_ids(user)
    return scope is None or ticket.agency_id in scope


def today_local() -> Any:
    from ..models import utcnow

    return local_date(utcnow())


STATUS_OPEN = lifecycle.OPEN_STATUSES
