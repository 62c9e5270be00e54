"""Staff login with hashed passwords and a lock-out after repeated failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash

from ..extensions import db, limiter, login_manager
from ..models import User, utcnow
from .forms import LoginForm

bp = Blueprint("auth", __name__)
MAX_FAILURES = 5
LOCK_MINUTES = 15


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


def _safe_next(target: str | None) -> str | None:
    if (
        target
        and target.startswith("/")
        and not urlsplit(target).netloc
        and not target.startswith("//")
    ):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalars(select(User).where(User.username == form.username.data)).first()
        now = utcnow()
        if user is not None and user.locked_until and user.locked_until > now:
            flash(_("Too many failed attempts; try again later."), "error")
        elif (
            user is not None
            and user.active
            and check_password_hash(user.password_hash, form.password.data or "")
        ):
            user.failed_logins, user.locked_until = 0, None
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("console.queue"))
        else:
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                    user.failed_logins = 0
                db.session.commit()
            flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("public.index"))
