"""Administration of deadline policies, the holiday calendar and response templates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..domain import deadlines
from ..extensions import db
from ..models import Category, DeadlinePolicy, Holiday, ResponseTemplate
from .admin import bp, confirmed, delete_audited, get_or_404, save_audited
from .admin_forms import ConfirmForm, HolidayForm, PolicyForm, TemplateForm, to_id
from .common import today_local

NUMBERS = tuple(f.name for f in dataclasses.fields(deadlines.Policy) if not f.name.endswith("unit"))
POLICY_FIELDS = ("kind", "category_id", "name_vi", "name_en", "acceptance_unit",
                 "resolution_unit", *NUMBERS)  # fmt: skip
HOLIDAY_FIELDS = ("day", "name", "name_en", "kind")
TEMPLATE_FIELDS = ("name", "category_id", "body_vi", "body_en", "active")
MIN_YEAR, MAX_YEAR = 2000, 2100


# --- Deadline policies ---


@bp.get("/policies")
def policies() -> Any:
    rows = db.session.scalars(
        select(DeadlinePolicy).order_by(DeadlinePolicy.kind, DeadlinePolicy.category_id)
    ).all()
    cats = dict(db.session.execute(select(Category.id, Category.code)).all())
    return render_template("admin/policies.html", policies=rows, categories=cats,
                           confirm_form=ConfirmForm(formdata=None))  # fmt: skip


def _apply_policy(policy: DeadlinePolicy, form: PolicyForm) -> None:
    policy.kind = form.kind.data
    policy.category_id = to_id(form.category.data)
    policy.name_vi = form.name_vi.data.strip()
    policy.name_en = form.name_en.data.strip()
    policy.acceptance_unit = form.acceptance_unit.data
    policy.resolution_unit = form.resolution_unit.data
    for name in NUMBERS:
        setattr(policy, name, getattr(form, name).data)


def _policy_form_ok(form: PolicyForm, policy: DeadlinePolicy | None) -> bool:
    if not form.validate_on_submit():
        return False
    try:  # the same checks the clock applies when it loads the row
        deadlines.Policy(acceptance_unit=form.acceptance_unit.data,
                         resolution_unit=form.resolution_unit.data,
                         **{n: getattr(form, n).data for n in NUMBERS})  # fmt: skip
    except deadlines.DeadlineError as exc:
        form.resolution_days.errors.append(str(exc))
        return False
    maximum = form.max_total_resolution_days.data
    if maximum is not None and maximum < form.resolution_days.data:
        form.max_total_resolution_days.errors.append(_("Cannot be less than the resolution days."))
        return False
    category_id = to_id(form.category.data)
    clash = select(func.count()).where(
        DeadlinePolicy.kind == form.kind.data,
        DeadlinePolicy.category_id.is_(None) if category_id is None
        else DeadlinePolicy.category_id == category_id,
        DeadlinePolicy.id != (policy.id if policy else -1),
    )  # fmt: skip
    if db.session.scalar(clash):
        form.category.errors.append(_("A policy for this type and category already exists."))
        return False
    return True


@bp.route("/policies/new", methods=["GET", "POST"])
@bp.route("/policies/<int:policy_id>", methods=["GET", "POST"])
def policy_form(policy_id: int | None = None) -> Any:
    policy = get_or_404(DeadlinePolicy, policy_id) if policy_id is not None else None
    form = PolicyForm(obj=policy) if request.method == "GET" else PolicyForm()
    form.load_choices()
    if request.method == "GET" and policy is not None:
        form.category.data = str(policy.category_id or "")
    if _policy_form_ok(form, policy):
        target = policy or DeadlinePolicy()
        error = save_audited(target, POLICY_FIELDS, lambda: _apply_policy(target, form),
                             "policy.update" if policy else "policy.create", "deadline_policy",
                             new=policy is None)  # fmt: skip
        if error is None:
            flash(_("Deadline policy saved."), "success")
            return redirect(url_for("admin.policies"))
        form.category.errors.append(error)
    title = _("Edit deadline policy") if policy else _("New deadline policy")
    return render_template("admin/form.html", form=form, title=title,
                           back=url_for("admin.policies"))  # fmt: skip


@bp.post("/policies/<int:policy_id>/delete")
def policy_delete(policy_id: int) -> Any:
    policy = get_or_404(DeadlinePolicy, policy_id)
    if confirmed():
        delete_audited(policy, POLICY_FIELDS, "policy.delete", "deadline_policy")
    return redirect(url_for("admin.policies"))


# --- Holiday calendar ---


@bp.get("/holidays")
def holidays_now() -> Any:
    return redirect(url_for("admin.holidays", year=today_local().year))


@bp.route("/holidays/<int:year>", methods=["GET", "POST"])
def holidays(year: int) -> Any:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return redirect(url_for("admin.holidays", year=today_local().year))
    form = HolidayForm()
    if form.validate_on_submit() and _holiday_ok(form, year):
        holiday = Holiday()
        error = save_audited(holiday, HOLIDAY_FIELDS, lambda: _apply_holiday(holiday, form),
                             "holiday.create", "holiday", new=True)  # fmt: skip
        if error is None:
            flash(_("Day added."), "success")
            return redirect(url_for("admin.holidays", year=year))
        form.day.errors.append(error)
    days = db.session.scalars(
        select(Holiday)
        .where(Holiday.day >= dt.date(year, 1, 1), Holiday.day <= dt.date(year, 12, 31))
        .order_by(Holiday.day)
    ).all()
    return render_template("admin/holidays.html", form=form, days=days, year=year,
                           confirm_form=ConfirmForm(formdata=None))  # fmt: skip


def _holiday_ok(form: HolidayForm, year: int) -> bool:
    day = form.day.data
    if day.year != year:
        form.day.errors.append(_("The day must be in %(year)s.", year=year))
    elif db.session.scalar(select(func.count()).where(Holiday.day == day)):
        form.day.errors.append(_("This day is already in the calendar."))
    elif form.kind.data == "workday" and day.weekday() < 5:
        form.day.errors.append(_("A make-up working day must be a Saturday or Sunday."))
    return not form.day.errors


def _apply_holiday(holiday: Holiday, form: HolidayForm) -> None:
    holiday.day = form.day.data
    holiday.name = form.name.data.strip()
    holiday.name_en = (form.name_en.data or "").strip() or None
    holiday.kind = form.kind.data


@bp.post("/holidays/<int:holiday_id>/delete")
def holiday_delete(holiday_id: int) -> Any:
    holiday = get_or_404(Holiday, holiday_id)
    year = holiday.day.year
    if confirmed():
        delete_audited(holiday, HOLIDAY_FIELDS, "holiday.delete", "holiday")
    return redirect(url_for("admin.holidays", year=year))


# --- Response templates ---


@bp.get("/templates")
def templates() -> Any:
    rows = db.session.scalars(
        select(ResponseTemplate).order_by(ResponseTemplate.category_id, ResponseTemplate.name)
    ).all()
    return render_template("admin/templates.html", templates=rows,
                           confirm_form=ConfirmForm(formdata=None))  # fmt: skip


def _apply_template(template: ResponseTemplate, form: TemplateForm) -> None:
    template.name = form.name.data.strip()
    template.category_id = to_id(form.category.data)
    template.body_vi = form.body_vi.data.strip()
    template.body_en = (form.body_en.data or "").strip() or None
    template.active = form.active.data


@bp.route("/templates/new", methods=["GET", "POST"])
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
def template_form(template_id: int | None = None) -> Any:
    template = get_or_404(ResponseTemplate, template_id) if template_id is not None else None
    form = TemplateForm(obj=template) if request.method == "GET" else TemplateForm()
    form.load_choices()
    if request.method == "GET" and template is not None:
        form.category.data = str(template.category_id or "")
    if form.validate_on_submit():
        target = template or ResponseTemplate()
        error = save_audited(target, TEMPLATE_FIELDS, lambda: _apply_template(target, form),
                             "template.update" if template else "template.create",
                             "response_template", new=template is None)  # fmt: skip
        if error is None:
            flash(_("Response template saved."), "success")
            return redirect(url_for("admin.templates"))
        form.name.errors.append(error)
    title = _("Edit response template") if template else _("New response template")
    return render_template("admin/form.html", form=form, title=title,
                           back=url_for("admin.templates"),
                           hint=_("Placeholders such as {code} and {citizen_name} are filled "
                                  "in when an officer uses the template."))  # fmt: skip


@bp.post("/templates/<int:template_id>/delete")
def template_delete(template_id: int) -> Any:
    template = get_or_404(ResponseTemplate, template_id)
    if confirmed():
        delete_audited(template, TEMPLATE_FIELDS, "template.delete", "response_template")
    return redirect(url_for("admin.templates"))
