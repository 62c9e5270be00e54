"""Administration at /admin (administrators only): the agency tree with merges, users and roles.

Reference data screens live in admin_config.py (categories, routing rules) and admin_calendar.py
(deadline policies, holidays, response templates) on this same blueprint. Every change is audited
in its own transaction and clears the reference caches (service/domain/refdata.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from .. import audit
from ..domain import agencies as agency_domain
from ..domain import refdata, twofactor
from ..extensions import db
from ..models import Agency, User
from .admin_forms import MIN_PASSWORD, AgencyForm, ConfirmForm, MergeForm, PasswordForm, UserForm
from .admin_forms import to_id as _to_id
from .auth import roles_required
from .common import today_local

bp = Blueprint("admin", __name__, url_prefix="/admin")

AGENCY_FIELDS = ("code", "name", "name_en", "kind", "parent_id", "email", "effective_from",
                 "effective_to", "is_triage", "is_remote")  # fmt: skip
USER_FIELDS = ("username", "full_name", "email", "role", "agency_id", "active",
               "can_reveal_identity")  # fmt: skip


@bp.before_request
@roles_required("admin")
def _admins_only() -> None:
    """Every screen here is for administrators (the audit log has its own blueprint)."""


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def save_audited(obj: Any, fields: tuple[str, ...], apply: Callable[[], None], action: str,
                 target_type: str, *, new: bool = False, key: str = "id") -> str | None:  # fmt: skip
    """Apply a change, audit the changed fields and commit in one transaction; on a database
    refusal roll back everything and return the message to show (None on success)."""
    before = {} if new else audit.snapshot(obj, *fields)
    apply()
    if new:
        db.session.add(obj)
    try:
        db.session.flush()
        old, now = changes(before, audit.snapshot(obj, *fields))
        if old or now:
            audit.record(db.session, current_user, action, target_type, getattr(obj, key),
                         before=None if new else old, after=now)  # fmt: skip
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _("This conflicts with an existing entry (a code or a day used twice?).")
    refdata.clear()
    return None


def delete_audited(obj: Any, fields: tuple[str, ...], action: str, target_type: str) -> bool:
    before = audit.snapshot(obj, *fields)
    target_id = obj.id
    db.session.delete(obj)
    try:
        db.session.flush()
        audit.record(db.session, current_user, action, target_type, target_id, before=before)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash(_("This entry is still in use and cannot be deleted."), "error")
        return False
    refdata.clear()
    flash(_("Deleted."), "success")
    return True


def confirmed() -> bool:
    form = ConfirmForm()
    if form.validate_on_submit():
        return True
    flash(_("Tick “I confirm” first."), "error")
    return False


def get_or_404(model: Any, object_id: int) -> Any:
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


@bp.get("/")
def index() -> Any:
    return render_template("admin/index.html")


# --- Agencies ---


@bp.get("/agencies")
def agencies() -> Any:
    rows = agency_domain.tree(db.session.scalars(select(Agency)).all())
    return render_template("admin/agencies.html", rows=rows, today=today_local())


def _apply_agency(agency: Agency, form: AgencyForm) -> None:
    agency.code = form.code.data.strip()
    agency.name = form.name.data.strip()
    agency.name_en = (form.name_en.data or "").strip() or None
    agency.kind = form.kind.data.strip()
    agency.parent_id = _to_id(form.parent.data)
    agency.email = (form.email.data or "").strip() or None
    agency.effective_from = form.effective_from.data
    agency.effective_to = form.effective_to.data
    agency.is_triage = form.is_triage.data
    agency.is_remote = form.is_remote.data


def _agency_form_ok(form: AgencyForm, agency: Agency | None) -> bool:
    if not form.validate_on_submit():
        return False
    taken = db.session.scalar(
        select(Agency.id).where(Agency.code == form.code.data.strip(),
                                Agency.id != (agency.id if agency else -1))
    )  # fmt: skip
    if taken:
        form.code.errors.append(_("This code is already used."))
    parent = _to_id(form.parent.data)
    if (
        agency is not None
        and parent is not None
        and (parent == agency.id or agency_domain.would_cycle(db.session, agency.id, parent))
    ):
        form.parent.errors.append(_("An agency cannot be placed under itself."))
    return not (form.code.errors or form.parent.errors)


@bp.route("/agencies/new", methods=["GET", "POST"])
def agency_new() -> Any:
    form = AgencyForm()
    form.load_choices()
    if _agency_form_ok(form, None):
        agency = Agency()
        error = save_audited(agency, AGENCY_FIELDS, lambda: _apply_agency(agency, form),
                             "agency.create", "agency", new=True)  # fmt: skip
        if error is None:
            flash(_("Agency saved."), "success")
            return redirect(url_for("admin.agencies"))
        form.code.errors.append(error)
    return _agency_page(form, None)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
def agency_edit(agency_id: int) -> Any:
    agency = get_or_404(Agency, agency_id)
    form = AgencyForm(obj=agency) if request.method == "GET" else AgencyForm()
    if request.method == "GET":
        form.parent.data = str(agency.parent_id or "")
    form.load_choices()
    if _agency_form_ok(form, agency):
        error = save_audited(agency, AGENCY_FIELDS, lambda: _apply_agency(agency, form),
                             "agency.update", "agency")  # fmt: skip
        if error is None:
            flash(_("Agency saved."), "success")
            return redirect(url_for("admin.agencies"))
        form.code.errors.append(error)
    return _agency_page(form, agency)


def _agency_page(form: AgencyForm, agency: Agency | None) -> Any:
    title = _("Edit agency") if agency else _("New agency")
    return render_template("admin/agency_form.html", form=form, agency=agency, title=title,
                           kinds=agency_domain.KIND_SUGGESTIONS)  # fmt: skip


@bp.route("/agencies/merge", methods=["GET", "POST"])
def agency_merge() -> Any:
    form = MergeForm()
    form.load_choices()
    if request.method == "GET" and not form.day.data:
        form.day.data = today_local()
    if form.validate_on_submit():
        merged = [i for i in (_to_id(v) for v in form.merged.data or []) if i is not None]
        successor_id = _to_id(form.successor.data) or 0
        try:
            result = agency_domain.merge(db.session, merged, successor_id, actor=current_user,
                                         day=form.day.data)  # fmt: skip
        except agency_domain.MergeError as exc:
            db.session.rollback()
            form.successor.errors = [*form.successor.errors, str(exc)]
        else:
            codes = list(db.session.scalars(select(Agency.code).where(Agency.id.in_(merged))))
            audit.record(db.session, current_user, "agency.merge", "agency", successor_id,
                         before={"agencies": sorted(codes), "effective_to": None},
                         after={"effective_to": form.day.data, "successor_id": successor_id,
                                "tickets": result.tickets, "users": result.users,
                                "rules": result.rules, "children": result.children,
                                "triage_moved": result.triage_moved})  # fmt: skip
            db.session.commit()
            refdata.clear()
            flash(_("Merged: %(t)s open tickets, %(u)s users and %(r)s rules moved.",
                    t=len(result.tickets), u=len(result.users), r=len(result.rules)),
                  "success")  # fmt: skip
            return redirect(url_for("admin.agencies"))
    return render_template("admin/form.html", form=form, title=_("Merge agencies"),
                           hint=_("The merged agencies end on the merge date and are kept. "
                                  "Their open tickets, users, routing rules and sub-agencies "
                                  "move to the successor; each ticket's timeline shows the "
                                  "transfer."))  # fmt: skip


# --- Users ---


@bp.get("/users")
def users() -> Any:
    rows = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows)


def _apply_user(user: User, form: UserForm) -> None:
    user.username = form.username.data.strip()
    user.full_name = form.full_name.data.strip()
    user.email = (form.email.data or "").strip() or None
    user.role = form.role.data
    user.agency_id = _to_id(form.agency.data)
    user.active = form.active.data
    user.can_reveal_identity = form.can_reveal_identity.data


def _user_form_ok(form: UserForm, user: User | None) -> bool:
    if not form.validate_on_submit():
        return False
    taken = db.session.scalar(
        select(func.count()).where(User.username == form.username.data.strip(),
                                   User.id != (user.id if user else -1))
    )  # fmt: skip
    if taken:
        form.username.errors.append(_("This username is already used."))
    if user is None and len(form.password.data or "") < MIN_PASSWORD:
        form.password.errors.append(_("At least %(n)s characters.", n=MIN_PASSWORD))
    if (
        user is not None
        and user.id == current_user.id
        and (form.role.data != "admin" or not form.active.data)
    ):
        form.role.errors.append(_("You cannot remove your own administrator access."))
    return not (form.username.errors or form.password.errors or form.role.errors)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> Any:
    form = UserForm()
    form.load_choices()
    if _user_form_ok(form, None):
        user = User(password_hash=generate_password_hash(form.password.data))
        error = save_audited(user, USER_FIELDS, lambda: _apply_user(user, form), "user.create",
                             "user", new=True, key="username")  # fmt: skip
        if error is None:
            flash(_("User saved."), "success")
            return redirect(url_for("admin.users"))
        form.username.errors.append(error)
    return render_template("admin/user_form.html", form=form, user=None, title=_("New user"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    if request.method == "GET":
        form.agency.data = str(user.agency_id or "")
    form.load_choices()
    if _user_form_ok(form, user):
        error = save_audited(user, USER_FIELDS, lambda: _apply_user(user, form), "user.update",
                             "user", key="username")  # fmt: skip
        if error is None:
            flash(_("User saved."), "success")
            return redirect(url_for("admin.users"))
        form.username.errors.append(error)
    return render_template("admin/user_form.html", form=form, user=user, title=_("Edit user"),
                           password_form=PasswordForm(formdata=None),
                           confirm_form=ConfirmForm(formdata=None))  # fmt: skip


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        for error in form.password.errors:
            flash(_("Password: %(error)s", error=error), "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    user.password_hash = generate_password_hash(form.password.data)
    user.failed_logins, user.locked_until = 0, None
    # Never the password or its hash in the log: only that it was reset.
    audit.record(db.session, current_user, "user.password_reset", "user", user.username,
                 after={"password": "reset", "locked_until": None})  # fmt: skip
    db.session.commit()
    flash(_("Password reset; the account is unlocked."), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/2fa")
def user_twofactor(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    if confirmed():
        before = {"totp_enabled": user.totp_enabled}
        twofactor.reset(user)
        audit.record(db.session, current_user, "user.2fa_reset", "user", user.username,
                     before=before, after={"totp_enabled": False})  # fmt: skip
        db.session.commit()
        flash(_("Two-factor login reset: the user enrols again at the next login."), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


from . import admin_calendar, admin_config  # noqa: E402,F401  (register their routes on bp)
