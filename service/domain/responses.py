"""Response templates: canned answers per category with placeholders filled from the ticket.

Placeholders: {code}, {title}, {agency}, {due_date}, {citizen_name}. Only these are replaced
(no str.format: a template must not reach object attributes). {citizen_name} is always empty for
a sealed (denunciation) ticket, so a template can never put the denouncer's name into a reply.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Agency, ResponseTemplate, Ticket
from . import redaction

PLACEHOLDERS = ("code", "title", "agency", "due_date", "citizen_name")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def available(session: Session, ticket: Ticket) -> list[ResponseTemplate]:
    """Active templates for the ticket's category, then those for every category."""
    query = select(ResponseTemplate).where(ResponseTemplate.active.is_(True))
    if ticket.category_id is None:
        query = query.where(ResponseTemplate.category_id.is_(None))
    else:
        query = query.where(
            or_(
                ResponseTemplate.category_id == ticket.category_id,
                ResponseTemplate.category_id.is_(None),
            )
        )
    rows = session.scalars(query.order_by(ResponseTemplate.name, ResponseTemplate.id)).all()
    return sorted(rows, key=lambda t: t.category_id is None)


def values(ticket: Ticket, agency: Agency | None, language: str) -> dict[str, str]:
    due = ticket.resolution_due or ticket.acceptance_due
    name = ""
    if not redaction.is_sealed(ticket) and ticket.citizen is not None:
        name = ticket.citizen.full_name or ""
    agency_label = ""
    if agency is not None:
        agency_label = (agency.name_en or agency.name) if language == "en" else agency.name
    return {
        "code": ticket.code or "",
        "title": ticket.title,
        "agency": agency_label,
        "due_date": due.strftime("%d/%m/%Y") if due else "",
        "citizen_name": name,
    }


def fill(body: str, filled: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: filled.get(m.group(1), ""), body or "")


def render(template: ResponseTemplate, ticket: Ticket, agency: Agency | None,
           language: str | None = None) -> str:  # fmt: skip
    """The template in the citizen's language (English when they chose it and it exists)."""
    lang = language or (ticket.citizen.language if ticket.citizen is not None else "vi")
    english = lang == "en" and bool(template.body_en)
    body = (template.body_en or "") if english else template.body_vi
    return fill(body, values(ticket, agency, "en" if english else "vi"))


def usable(session: Session, template_id: Any, ticket: Ticket) -> ResponseTemplate | None:
    """The template if it is active and fits the ticket's category, else None."""
    try:
        wanted = int(template_id)
    except (TypeError, ValueError):
        return None
    return next((t for t in available(session, ticket) if t.id == wanted), None)
