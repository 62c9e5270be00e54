"""Revealing a sealed denouncer's identity: permission + stated reason + audit entry, one request.

Who may reveal (documented choice): a user whose account has `can_reveal_identity` set by an
administrator, whose role is in IDENTITY_REVEAL_ROLES (default lead, supervisor, admin), and whose
console scope contains the ticket's agency. Officers never see it, whatever the flag: they handle
the redacted copy (art. 47). Every attempt, granted or refused, is in the audit log.

The citizen block of the console ticket page is templates/console/_identity.html, which uses the
template helpers registered here: `identity_view(ticket)`, `identity_reveal_allowed(ticket)` and
the filter `scrub_identity(ticket)` for free text of sealed tickets.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from .. import audit
from ..domain import redaction
from ..extensions import db
from ..models import Ticket
from .auth import roles_required
from .common import agency_name, can_see

bp = Blueprint("identity", __name__, url_prefix="/console")
STAFF = ("officer", "lead", "supervisor", "admin")
MIN_REASON, MAX_REASON = 10, 1000


class RevealForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (kept in the audit log)"),
        validators=[InputRequired(), Length(min=MIN_REASON, max=MAX_REASON)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


def reveal_roles() -> frozenset[str]:
    raw = current_app.config.get("IDENTITY_REVEAL_ROLES") or ""
    return frozenset(r.strip() for r in raw.split(",") if r.strip())


def may_reveal(user: Any, ticket: Ticket) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.can_reveal_identity
        and user.role in reveal_roles()
        and can_see(user, ticket)
    )


@bp.app_template_global("identity_view")
def identity_view(ticket: Ticket) -> dict[str, Any]:
    """The citizen block for the current user: redacted if sealed or out of scope."""
    viewer = current_user.is_authenticated and can_see(current_user, ticket)
    return redaction.public_citizen_view(ticket, viewer_can_see=viewer)


@bp.app_template_global("identity_reveal_allowed")
def identity_reveal_allowed(ticket: Ticket) -> bool:
    return redaction.is_sealed(ticket) and may_reveal(current_user, ticket)


@bp.app_template_filter("scrub_identity")
def scrub_identity(text: str | None, ticket: Ticket) -> str | None:
    return redaction.scrub_for_handlers(ticket, text)


def _scoped_ticket(code: str) -> Ticket:
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    # Outside the user's scope looks exactly like a missing ticket.
    if ticket is None or not can_see(current_user, ticket):
        abort(404)
    return ticket


@bp.post("/tickets/<code>/identity")
@roles_required(*STAFF)
def reveal(code: str) -> Any:
    ticket = _scoped_ticket(code)
    form = RevealForm()
    if not may_reveal(current_user, ticket):
        audit.record(db.session, current_user, "identity.reveal_denied", "ticket", ticket.code,
                     reason=form.reason.data or None)  # fmt: skip
        db.session.commit()
        abort(403)
    if not redaction.is_sealed(ticket):
        return redirect(url_for("console.ticket", code=code))  # nothing sealed to reveal
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            flash(_("The form expired; please try again."), "error")
        else:
            flash(_("State why you need the identity (at least %(n)s characters).",
                    n=MIN_REASON), "error")  # fmt: skip
        return redirect(url_for("console.ticket", code=code))
    reason = (form.reason.data or "").strip()
    audit.record(db.session, current_user, "identity.reveal", "ticket", ticket.code,
                 reason=reason, after={"agency_id": ticket.agency_id})  # fmt: skip
    db.session.commit()
    response = make_response(
        render_template(
            "console/identity.html",
            ticket=ticket,
            agency=agency_name(ticket.agency),
            revealed_identity=redaction.reveal_citizen(ticket),
            reason=reason,
        )
    )
    # Shown for this request only: not cached by the browser or any proxy.
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Pragma"] = "no-cache"
    return response
