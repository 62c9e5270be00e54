"""Staff login: hashed passwords, a configurable lock-out, then the second factor when enrolled.

Security settings (service/config.py): LOGIN_MAX_FAILURES, LOGIN_LOCK_MINUTES, TOTP_REQUIRED_ROLES,
SESSION_COOKIE_SECURE. Two-factor pages live in service/web/twofactor.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from .. import audit
from ..domain import accounts
from ..domain.accounts import Outcome
from ..extensions import db, limiter, login_manager
from ..models import User, utcnow
from .forms import LoginForm

bp = Blueprint("auth", __name__)
PENDING_KEY = "2fa_pending"  # session: a user who passed the password step, awaiting the code


@bp.record_once
def _configure_login(state: Any) -> None:
    # "strong": a session used from another address or browser is dropped, not just refreshed.
    login_manager.session_protection = "strong"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.localize_callback = str  # translate now: the session stores plain text
    login_manager.login_message_category = "error"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def lockout_policy() -> accounts.LockoutPolicy:
    cfg = current_app.config
    return accounts.LockoutPolicy(cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_LOCK_MINUTES"])


def safe_next(target: str | None) -> str | None:
    if (
        target
        and target.startswith("/")
        and not urlsplit(target).netloc
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return None


def landing_url(user: User) -> str:
    return url_for("operator.new_ticket") if user.role == "operator" else url_for("console.queue")


def new_session() -> None:
    """Drop everything in the session (fixation); the CSRF token is made anew on next use."""
    session.clear()
    # Flask-WTF caches the token on `g`, which outlives a request inside an app context (tests).
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def complete_login(user: User, next_url: str | None) -> Any:
    """Password (and code, if enrolled) accepted: a fresh session, an audit entry, go on."""
    new_session()  # a new session on every login: nothing set before authentication survives
    login_user(user)
    accounts.register_success(user, utcnow(), request.remote_addr)
    audit.record(db.session, user, "login.success", "user", user.username,
                 after={"second_factor": bool(user.totp_enabled)})  # fmt: skip
    db.session.commit()
    return redirect(safe_next(next_url) or landing_url(user))


def start_second_factor(user: User, next_url: str | None) -> Any:
    new_session()
    session[PENDING_KEY] = {"uid": user.id, "at": time.time(), "next": safe_next(next_url)}
    return redirect(url_for("twofactor.verify"))


def _record_failure(outcome: Outcome, user: User | None, username: str) -> None:
    action = {Outcome.LOCKED: "login.locked", Outcome.JUST_LOCKED: "login.lockout"}.get(
        outcome, "login.failure"
    )
    audit.record(db.session, None, action, "user", username[:128],
                 after={"known_user": user is not None})  # fmt: skip
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        username = (form.username.data or "").strip()
        outcome, user = accounts.check_password(
            db.session, username, form.password.data or "", lockout_policy(), utcnow()
        )
        if outcome is Outcome.OK and user is not None:
            if user.totp_enabled:  # failures stay counted until the code is right too
                return start_second_factor(user, request.args.get("next"))
            return complete_login(user, request.args.get("next"))
        _record_failure(outcome, user, username)
        if outcome in (Outcome.LOCKED, Outcome.JUST_LOCKED):
            flash(_("Too many failed attempts; try again later."), "error")
        else:
            flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout() -> Any:
    audit.record(db.session, current_user, "logout", "user", current_user.username)
    db.session.commit()
    logout_user()
    new_session()
    return redirect(url_for("public.index"))
