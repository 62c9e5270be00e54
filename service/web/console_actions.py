"""Console actions: one ticket (/act), several at once (/bulk), auto-assignment (button and
per-agency settings). Every action is checked by the domain; refusals become clear messages."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import audit
from ..domain import assignment, casework, lifecycle
from ..domain.assignment import AssignmentError
from ..domain.handling import ActionError, add_note, apply_action, extend_deadline
from ..domain.text import clean_text
from ..domain.validation import IntakeError
from ..extensions import db
from ..models import Agency, Ticket, User
from ..models.console import ASSIGNMENT_MODES
from .auth import roles_required
from .common import agency_name
from .console import (
    ACTING,
    BULK_ACTIONS,
    bp,
    current_scope,
    ticket_in_scope,
)
from .console_ticket import PAGE_ACTIONS
from .messages import CODES, action_error, label, transition_message

MAX_BULK = 200
BULK_OPS = ("assign", "transfer", "status")
# Refusals worded in the domain (English), shown to officers in their language.
CONSOLE_ERRORS = {
    "only an open ticket can be assigned": _l("Only an open ticket can be assigned."),
    "that person cannot handle this ticket": _l("That person cannot handle this ticket."),
    "the ticket is already assigned so": _l("The ticket is already assigned so."),
    "a split needs at least one new ticket": _l("A split needs at least one new ticket."),
    "at most 10 tickets at a time": _l("At most 10 new tickets at a time."),
    "choose none, round robin or least loaded": _l("Choose none, round robin or least loaded."),
    "unknown action": _l("Unknown action."),
    "the cap must be a whole number from 1 to 10000, or empty": _l(
        "The cap must be a whole number from 1 to 10000, or empty."
    ),
}


def _message(exc: Exception) -> str:
    if isinstance(exc, lifecycle.TransitionError):
        return transition_message(exc)
    if isinstance(exc, IntakeError):
        parts = []
        for key, code in exc.fields.items():
            name, _sep, index = key.rpartition("_")
            prefix = _("New ticket %(n)s", n=int(index) + 1) if index.isdigit() else ""
            parts.append(f"{prefix} – {label(name)}: {CODES.get(code, CODES['invalid'])}")
        return " ".join(parts)
    text = str(exc)
    return str(CONSOLE_ERRORS.get(text) or action_error(text))


def _duplicate_notice(ticket: Ticket, original: Ticket) -> str:
    """What the duplicate's citizen reads, in their language, when the officer wrote nothing."""
    lang = ticket.citizen.language if ticket.citizen is not None else "vi"
    with force_locale(lang if lang in ("vi", "en") else "vi"):
        if not casework.may_follow(original, ticket):  # a stranger hears nothing of a denunciation
            return _("Your submission concerns the same matter as an earlier submission, which "
                     "is being handled.")  # fmt: skip
        return _(
            "Your submission concerns the same matter as submission %(code)s, which is being "
            "handled. You will receive its news here.",
            code=original.code,
        )


def _split_parts(form: Any) -> list[casework.Part]:
    raw = [(form.get(f"title_{i}"), form.get(f"description_{i}"))
           for i in range(casework.MAX_SPLIT_PARTS + 1)]  # fmt: skip
    return casework.clean_parts(raw)


def _assignee(ticket: Ticket, raw: str | None) -> tuple[User | None, list[User]]:
    allowed = assignment.assignable_users(db.session, ticket, current_user, current_scope())
    if raw in (None, "", "none"):
        return None, allowed
    user = db.session.get(User, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if user is None:
        raise AssignmentError("that person cannot handle this ticket")
    return user, allowed


def run_action(ticket: Ticket, action: str, form: Any) -> str | None:
    """Do one action on one ticket for the current user; returns a success message or None.
    Raises the domain's refusals (the caller rolls back and reports them)."""
    body = clean_text(form.get("body"))[:10000]  # control characters (NUL…) never reach the DB
    if action == "note":
        add_note(db.session, ticket, current_user, body)
    elif action == "extend":
        extend_deadline(db.session, ticket, current_user, body)
    elif action == "assign":
        user, allowed = _assignee(ticket, form.get("assignee"))
        assignment.assign(db.session, ticket, user, current_user, allowed)
    elif action == "mark_duplicate":
        original = casework.find_original(db.session, ticket, form.get("duplicate_of"),
                                          current_scope())  # fmt: skip
        notice = body.strip() or _duplicate_notice(ticket, original)
        casework.mark_duplicate(db.session, ticket, original, current_user, notice)
    elif action == "split":
        children = casework.split(db.session, ticket, _split_parts(form), current_user,
                                  current_app.config["TICKET_CODE_PREFIX"])  # fmt: skip
        return _("New tickets: %(codes)s", codes=", ".join(c.code or "" for c in children))
    elif action in PAGE_ACTIONS:
        target = form.get("target_agency") or ""
        apply_action(
            db.session, ticket, action, actor=current_user, body=body,
            target_agency_id=int(target) if target.isdigit() and len(target) < 10 else None,
        )  # fmt: skip
    else:
        raise ActionError("unknown action")
    return None


REFUSALS = (lifecycle.TransitionError, ActionError, AssignmentError, IntakeError)


@bp.post("/tickets/<code>/act")
@roles_required(*ACTING)
def act(code: str) -> Any:
    ticket = ticket_in_scope(code)
    action = request.form.get("action") or ""
    try:
        message = run_action(ticket, action, request.form)
        flash(message or _("Done."), "success")
    except REFUSALS as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    return redirect(_after(code))


def _after(code: str) -> str:
    """Back to the ticket if the user may still see it (a transfer leaves a read-only referral)."""
    db.session.expire_all()
    scope = current_scope()
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    if ticket is not None and (scope is None or ticket.agency_id in scope
                               or casework.referral_for(db.session, ticket, scope)):  # fmt: skip
        return url_for("console.ticket", code=code)
    return url_for("console.queue")


def _safe_next(raw: str | None) -> str:
    if raw and raw.startswith("/console") and "//" not in raw and "\\" not in raw:
        return raw
    return url_for("console.queue")


def _bulk_one(code: str, op: str, form: Any, scope: set[int] | None) -> tuple[bool, str]:
    ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).first()
    if ticket is None or (scope is not None and ticket.agency_id not in scope):
        return False, _("Not found.")
    action = {"assign": "assign", "transfer": "transfer"}.get(op) or form.get("bulk_action")
    if op == "status" and action not in BULK_ACTIONS:
        return False, _("Choose a status change.")
    try:
        run_action(ticket, action or "", form)
        return True, _("Done.")
    except REFUSALS as exc:
        db.session.rollback()
        return False, _message(exc)


@bp.post("/bulk")
@roles_required(*ACTING)
def bulk() -> Any:
    back = _safe_next(request.form.get("next"))
    codes = list(dict.fromkeys(c.strip() for c in request.form.getlist("codes") if c.strip()))
    op = request.form.get("op") or ""
    if not codes or op not in BULK_OPS:
        flash(_("Select tickets and what to do with them."), "error")
        return redirect(back)
    if len(codes) > MAX_BULK:
        flash(_("At most %(n)s tickets at a time.", n=MAX_BULK), "error")
        return redirect(back)
    scope = current_scope()
    results = [(code, *_bulk_one(code, op, request.form, scope)) for code in codes]
    return render_template(
        "console/bulk.html", results=results, back=back,
        succeeded=sum(1 for r in results if r[1]), failed=sum(1 for r in results if not r[1]),
    )  # fmt: skip


def _agency_in_scope(raw: str | None) -> Agency:
    agency_id = int(raw) if raw and raw.isdigit() and len(raw) < 10 else None
    agency = db.session.get(Agency, agency_id) if agency_id else None
    scope = current_scope()
    if agency is None or (scope is not None and agency.id not in scope):
        abort(404)
    if current_user.role == "officer" and agency.id != current_user.agency_id:
        abort(404)
    return agency


@bp.post("/auto-assign")
@roles_required(*ACTING)
def auto_assign() -> Any:
    agency = _agency_in_scope(request.form.get("agency_id"))
    done = assignment.auto_assign_agency(db.session, agency.id)
    flash(_("%(n)s ticket(s) assigned automatically.", n=len(done)), "success")
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/assignment", methods=["GET", "POST"])
@roles_required("lead", "admin")
def assignment_settings() -> Any:
    if request.method == "POST":
        agency = _agency_in_scope(request.form.get("agency_id"))
        raw_cap = (request.form.get("cap") or "").strip()
        try:
            if raw_cap and not raw_cap.isdigit():
                raise AssignmentError("the cap must be a whole number from 1 to 10000, or empty")
            existing = assignment.policy_of(db.session, agency.id)
            before = audit.snapshot(existing, "mode", "max_open_per_officer") if existing else None
            policy = assignment.set_policy(db.session, agency.id, request.form.get("mode") or "",
                                           int(raw_cap) if raw_cap else None)  # fmt: skip
            audit.record(db.session, current_user, "assignment_policy.update", "agency",
                         agency.code, before=before,
                         after=audit.snapshot(policy, "mode", "max_open_per_officer"))  # fmt: skip
            db.session.commit()
            flash(_("Saved."), "success")
        except AssignmentError as exc:
            db.session.rollback()
            flash(_message(exc), "error")
        return redirect(url_for("console.assignment_settings"))
    scope = current_scope()
    query = select(Agency).order_by(Agency.name)
    if scope is not None:
        query = query.where(Agency.id.in_(sorted(scope) or [-1]))
    agencies = db.session.scalars(query).all()
    policies = {a.id: assignment.policy_of(db.session, a.id) for a in agencies}
    return render_template(
        "console/assignment.html", agencies=agencies, policies=policies, modes=ASSIGNMENT_MODES,
        agency_name=agency_name,
    )  # fmt: skip
