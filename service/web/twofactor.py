"""Two-factor login (TOTP): the code step after the password, enrolment, the mandatory-role gate,
and `flask reset-2fa USER` for a lost device."""

from __future__ import annotations

import time
from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import InputRequired

from .. import audit
from ..domain import accounts, twofactor
from ..extensions import db
from ..models import User, utcnow
from .auth import PENDING_KEY, complete_login, landing_url, lockout_policy, safe_next

bp = Blueprint("twofactor", __name__)
PENDING_SECONDS = 300  # the code must follow the password within five minutes
# What a user who must enrol may still reach: the enrolment page, logging out, static files.
OPEN_WHILE_ENROLLING = frozenset({"twofactor.enrol", "auth.logout", "static"})


class CodeForm(FlaskForm):
    code = StringField(_l("Six-digit code"), validators=[InputRequired()])


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    app.cli.add_command(reset_2fa_command)


def required_roles() -> frozenset[str]:
    return twofactor.required_roles(current_app.config["TOTP_REQUIRED_ROLES"])


@bp.before_app_request
def _enrolment_gate() -> Any:
    """A user whose role requires two-factor reaches nothing but enrolment until enrolled."""
    if request.endpoint in OPEN_WHILE_ENROLLING or not current_user.is_authenticated:
        return None
    if twofactor.must_enrol(current_user, required_roles()):
        return redirect(url_for("twofactor.enrol", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def _no_store(response: Any) -> Any:
    # The enrolment page shows the secret: no browser or proxy keeps a copy.
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, int(pending.get("uid", 0)))
    return user if user is not None and user.active and user.totp_enabled else None


@bp.route("/login/2fa", methods=["GET", "POST"])
def verify() -> Any:
    user = _pending_user()
    if user is None:
        flash(_("Please log in again."), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        now = utcnow()
        if accounts.is_locked(user, now):
            session.pop(PENDING_KEY, None)
            flash(_("Too many failed attempts; try again later."), "error")
            return redirect(url_for("auth.login"))
        if twofactor.verify(user, form.code.data or "", now):
            return complete_login(user, session[PENDING_KEY].get("next"))
        locked = accounts.register_failure(user, lockout_policy(), now)
        audit.record(db.session, None, "login.lockout" if locked else "2fa.failure", "user",
                     user.username)  # fmt: skip
        db.session.commit()
        if locked:
            session.pop(PENDING_KEY, None)
            flash(_("Too many failed attempts; try again later."), "error")
            return redirect(url_for("auth.login"))
        flash(_("That code is not right. Enter the current code from your app."), "error")
    elif form.is_submitted():
        flash(_("The form expired; please try again."), "error")
    status = 200 if request.method == "GET" else 401
    return render_template("auth/2fa_verify.html", form=form), status


def qr_svg(uri: str) -> Markup | None:
    """The otpauth URI as an inline SVG QR code, drawn here (no CDN); None without segno."""
    try:
        import segno
    except ImportError:  # pragma: no cover (segno is a pinned dependency)
        return None
    # Safe: segno writes only SVG paths built from the URI's bits, no text from the URI.
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, omitsize=False))


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def enrol() -> Any:
    user: User = current_user._get_current_object()
    next_url = request.args.get("next")
    if user.totp_enabled:
        return render_template(
            "auth/2fa_enrol.html", enabled=True, form=CodeForm(),
            mandatory=user.role in required_roles(),
        )  # fmt: skip
    form = CodeForm()
    secret = twofactor.start_enrolment(user)
    db.session.commit()
    if form.validate_on_submit():
        if twofactor.confirm_enrolment(user, form.code.data or "", utcnow()):
            audit.record(db.session, user, "2fa.enrol", "user", user.username)
            db.session.commit()
            flash(_("Two-factor login is on."), "success")
            return redirect(safe_next(next_url) or landing_url(user))
        flash(_("That code is not right. Check the time on your phone and try again."), "error")
    elif form.is_submitted():
        flash(_("The form expired; please try again."), "error")
    uri = twofactor.provisioning_uri(secret, user.username, current_app.config["TOTP_ISSUER"])
    return render_template(
        "auth/2fa_enrol.html", enabled=False, form=form, secret=secret, uri=uri,
        qr=qr_svg(uri), mandatory=user.role in required_roles(),
    ), 200 if request.method == "GET" else 422  # fmt: skip


@bp.post("/account/2fa/disable")
@login_required
def disable() -> Any:
    user: User = current_user._get_current_object()
    form = CodeForm()
    if user.role in required_roles():
        flash(_("Your role requires two-factor login; an administrator can reset it."), "error")
    elif not user.totp_enabled:
        flash(_("Two-factor login is not on."), "error")
    elif form.validate_on_submit() and twofactor.verify(user, form.code.data or "", utcnow()):
        twofactor.reset(user)
        audit.record(db.session, user, "2fa.disable", "user", user.username)
        db.session.commit()
        flash(_("Two-factor login is off."), "success")
    else:
        flash(_("That code is not right. Enter the current code from your app."), "error")
    return redirect(url_for("twofactor.enrol"))


@click.command("reset-2fa")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit log).")
def reset_2fa_command(username: str, reason: str) -> None:
    """Turn off USERNAME's two-factor login (lost device); they enrol again at the next login."""
    user = accounts.find_user(db.session, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    was_enabled = user.totp_enabled
    twofactor.reset(user)
    audit.record(db.session, None, "2fa.reset", "user", user.username, actor_label="cli",
                 before={"totp_enabled": was_enabled}, after={"totp_enabled": False},
                 reason=reason or None)  # fmt: skip
    db.session.commit()
    click.echo(f"Two-factor login reset for {username}; they enrol again at the next login.")
