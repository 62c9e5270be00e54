"""Citizen pages: file a submission, follow it by its private tracking link."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..domain import lifecycle
from ..domain.attachments import IncomingFile
from ..domain.handling import ActionError, add_citizen_info, apply_action
from ..domain.intake import InboundTicket, Received, receive, validate
from ..domain.validation import IntakeError
from ..extensions import db, limiter
from ..models import Ticket
from .common import agency_name, category_name, intake_settings, public_events
from .forms import MessageForm, TicketForm, WithdrawForm
from .messages import describe

bp = Blueprint("public", __name__)


def _coordinate(raw: str | None) -> float | None:
    """Blank → None; unreadable → NaN, which the domain rejects as invalid."""
    raw = (raw or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return float("nan")


def inbound_from_form(form: TicketForm, channel: str) -> InboundTicket:
    files = [
        IncomingFile(f.filename or "file", f.read())
        for f in (form.attachments.data or [])
        if getattr(f, "filename", None)
    ]
    return InboundTicket(
        channel=channel,
        kind=form.kind.data or "",
        category_code=form.category.data or None,
        title=form.title.data or "",
        description=form.description.data or "",
        area_code=form.area.data or None,
        address=form.address.data,
        latitude=_coordinate(form.lat.data),
        longitude=_coordinate(form.lng.data),
        citizen_name=form.name.data,
        email=form.email.data,
        phone=form.phone.data,
        citizen_address=form.citizen_address.data,
        external_id=f"form-{form.nonce.data}" if form.nonce.data else None,
        language=str(request.cookies.get("lang") or request.args.get("lang") or "vi"),
        attachments=files,
    )


def submit_ticket(form: TicketForm, channel: str, **extra: Any) -> Received | None:
    """Shared by the citizen and operator forms: errors go back onto the form's fields."""
    if not form.is_submitted():
        return None
    form_ok = form.validate()
    if "csrf_token" in form.errors:
        form.form_errors.append(_("The form expired; please try again."))
        return None
    inbound = inbound_from_form(form, channel)
    for key, value in extra.items():
        setattr(inbound, key, value)
    try:
        if not form_ok:  # still check the rest, so every mistake is shown at once
            validate(db.session, inbound, intake_settings())
            return None
        return receive(db.session, inbound, intake_settings())
    except IntakeError as exc:
        db.session.rollback()
        for name, message in describe(exc.fields).items():
            target = getattr(form, name if name != "contact" else "email", None)
            if target is not None:
                target.errors = list(target.errors or []) + [message]
            else:
                form.form_errors.append(message)
        return None


@bp.get("/")
def index() -> Any:
    return render_template("public/index.html")


@bp.route("/submit", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PUBLIC_FORM_RATE_LIMIT"], methods=["POST"])
def submit() -> Any:
    form = TicketForm()
    form.load_choices()
    ticket = submit_ticket(form, "web")
    if ticket is not None:
        return redirect(url_for("public.submitted", token=ticket.tracking_token))
    status = 422 if request.method == "POST" else 200
    return render_template("public/submit.html", form=form), status


@bp.get("/submitted/<token>")
def submitted(token: str) -> Any:
    return render_template("public/submitted.html", ticket=_by_token(token))


def _by_token(token: str) -> Ticket:
    if not token or len(token) > 64:
        abort(404)
    ticket = db.session.scalars(select(Ticket).where(Ticket.tracking_token == token)).first()
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/track/<token>")
def track(token: str) -> Any:
    ticket = _by_token(token)
    return render_template(
        "public/track.html",
        ticket=ticket,
        events=public_events(ticket),
        agency=agency_name(ticket.agency),
        category=category_name(ticket.category),
        info_form=MessageForm(prefix="info"),
        withdraw_form=WithdrawForm(prefix="wd"),
        can_withdraw="withdraw" in lifecycle.allowed_actions(ticket.status),
        can_add_info=ticket.status in lifecycle.OPEN_STATUSES,
    )


@bp.post("/track/<token>/info")
def add_info(token: str) -> Any:
    ticket = _by_token(token)
    form = MessageForm(prefix="info")
    if form.validate_on_submit():
        try:
            add_citizen_info(db.session, ticket, (form.body.data or "")[:10000])
            flash(_("Thank you, your information was added."), "success")
        except (ActionError, lifecycle.TransitionError):
            db.session.rollback()
            flash(
                _("Please write a message; closed submissions cannot take more information."),
                "error",
            )
    else:
        flash(_("The form expired; please try again."), "error")
    return redirect(url_for("public.track", token=token))


@bp.post("/track/<token>/withdraw")
def withdraw(token: str) -> Any:
    ticket = _by_token(token)
    form = WithdrawForm(prefix="wd")
    if form.validate_on_submit() and form.confirm.data:
        try:
            apply_action(db.session, ticket, "withdraw", actor_label="citizen")
            flash(_("Your submission was withdrawn."), "success")
        except lifecycle.TransitionError:
            db.session.rollback()
            flash(_("This submission can no longer be withdrawn."), "error")
    else:
        flash(_("Tick the box to confirm the withdrawal."), "error")
    return redirect(url_for("public.track", token=token))
