"""Administration of categories and routing rules, with a "where would this go?" preview."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField

from .. import audit
from ..domain import refdata, routing
from ..extensions import db
from ..models import Agency, Category, RoutingRule
from .admin import bp, confirmed, delete_audited, get_or_404, save_audited
from .admin_forms import CategoryForm, ConfirmForm, PreviewForm, RuleForm, split_words, to_id

CATEGORY_FIELDS = ("code", "name_vi", "name_en", "group", "requires_identity", "extra_fields",
                   "active")  # fmt: skip
RULE_FIELDS = ("position", "name", "kinds", "category_id", "area_agency_id", "keywords",
               "channels", "target_agency_id", "route_to_area", "priority", "stop", "active")  # fmt: skip


class MoveForm(FlaskForm):
    direction = SelectField(choices=[("up", "up"), ("down", "down")])


# --- Categories (never deleted: tickets keep theirs; inactive ones leave the forms) ---


@bp.get("/categories")
def categories() -> Any:
    rows = db.session.scalars(select(Category).order_by(Category.group, Category.code)).all()
    return render_template("admin/categories.html", categories=rows)


def _apply_category(category: Category, form: CategoryForm) -> None:
    category.code = form.code.data.strip()
    category.name_vi = form.name_vi.data.strip()
    category.name_en = form.name_en.data.strip()
    category.group = (form.group.data or "").strip() or None
    category.requires_identity = form.requires_identity.data
    category.active = form.active.data
    category.extra_fields = getattr(form.extra_fields, "parsed", None)


def _category_form_ok(form: CategoryForm, category: Category | None) -> bool:
    if not form.validate_on_submit():
        return False
    taken = db.session.scalar(
        select(func.count()).where(Category.code == form.code.data.strip(),
                                   Category.id != (category.id if category else -1))
    )  # fmt: skip
    if taken:
        form.code.errors.append(_("This code is already used."))
    return not form.code.errors


@bp.route("/categories/new", methods=["GET", "POST"])
@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
def category_form(category_id: int | None = None) -> Any:
    category = get_or_404(Category, category_id) if category_id is not None else None
    form = CategoryForm(obj=category) if request.method == "GET" else CategoryForm()
    if request.method == "GET" and category is not None:
        form.extra_fields.data = _json(category) if category.extra_fields else ""
    if _category_form_ok(form, category):
        target = category or Category()
        error = save_audited(target, CATEGORY_FIELDS, lambda: _apply_category(target, form),
                             "category.update" if category else "category.create", "category",
                             new=category is None)  # fmt: skip
        if error is None:
            flash(_("Category saved."), "success")
            return redirect(url_for("admin.categories"))
        form.code.errors.append(error)
    title = _("Edit category") if category else _("New category")
    return render_template("admin/form.html", form=form, title=title,
                           back=url_for("admin.categories"))  # fmt: skip


def _json(category: Category) -> str:
    return json.dumps(category.extra_fields, ensure_ascii=False, indent=1)


# --- Routing rules ---


def _ordered_rules() -> list[RoutingRule]:
    return list(
        db.session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id))
    )


@bp.get("/rules")
def rules() -> Any:
    names = dict(db.session.execute(select(Agency.id, Agency.code)).all())
    cats = dict(db.session.execute(select(Category.id, Category.code)).all())
    return render_template("admin/rules.html", rules=_ordered_rules(), agencies=names,
                           categories=cats, move_form=MoveForm(formdata=None),
                           confirm_form=ConfirmForm(formdata=None))  # fmt: skip


def _apply_rule(rule: RoutingRule, form: RuleForm) -> None:
    rule.name = form.name.data.strip()
    rule.position = form.position.data
    rule.kinds = list(form.kinds.data or []) or None
    rule.category_id = to_id(form.category.data)
    rule.area_agency_id = to_id(form.area.data)
    rule.keywords = split_words(form.keywords.data)
    rule.channels = list(form.channels.data or []) or None
    rule.target_agency_id = to_id(form.target.data)
    rule.route_to_area = form.route_to_area.data
    rule.priority = form.priority.data or None
    rule.stop = form.stop.data
    rule.active = form.active.data


def _fill_rule_form(form: RuleForm, rule: RoutingRule) -> None:
    form.kinds.data = rule.kinds or []
    form.channels.data = rule.channels or []
    form.category.data = str(rule.category_id or "")
    form.area.data = str(rule.area_agency_id or "")
    form.target.data = str(rule.target_agency_id or "")
    form.keywords.data = "\n".join(rule.keywords or [])
    form.priority.data = rule.priority or ""


@bp.route("/rules/new", methods=["GET", "POST"])
@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
def rule_form(rule_id: int | None = None) -> Any:
    rule = get_or_404(RoutingRule, rule_id) if rule_id is not None else None
    form = RuleForm(obj=rule) if request.method == "GET" else RuleForm()
    form.load_choices()
    if request.method == "GET":
        if rule is not None:
            _fill_rule_form(form, rule)
        else:
            last = db.session.scalar(select(func.max(RoutingRule.position))) or 0
            form.position.data = last + 10
    if form.validate_on_submit():
        target = rule or RoutingRule()
        error = save_audited(target, RULE_FIELDS, lambda: _apply_rule(target, form),
                             "rule.update" if rule else "rule.create", "routing_rule",
                             new=rule is None)  # fmt: skip
        if error is None:
            flash(_("Routing rule saved."), "success")
            return redirect(url_for("admin.rules"))
        form.name.errors.append(error)
    title = _("Edit routing rule") if rule else _("New routing rule")
    return render_template("admin/form.html", form=form, title=title,
                           back=url_for("admin.rules"))  # fmt: skip


@bp.post("/rules/<int:rule_id>/delete")
def rule_delete(rule_id: int) -> Any:
    rule = get_or_404(RoutingRule, rule_id)
    if confirmed():
        delete_audited(rule, RULE_FIELDS, "rule.delete", "routing_rule")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<int:rule_id>/move")
def rule_move(rule_id: int) -> Any:
    """Swap a rule with its neighbour and renumber all positions by tens."""
    rule = get_or_404(RoutingRule, rule_id)
    form = MoveForm()
    if not form.validate_on_submit():
        flash(_("Choose up or down."), "error")
        return redirect(url_for("admin.rules"))
    ordered = _ordered_rules()
    index = ordered.index(rule)
    other = index - 1 if form.direction.data == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    before = {str(r.id): r.position for r in ordered}
    for n, item in enumerate(ordered, 1):
        item.position = n * 10
    after = {str(r.id): r.position for r in ordered}
    old = {k: v for k, v in before.items() if after[k] != v}
    new = {k: after[k] for k in old}
    if new:
        audit.record(db.session, current_user, "rule.reorder", "routing_rule", rule.id,
                     before={"positions": old}, after={"positions": new})  # fmt: skip
    db.session.commit()
    refdata.clear()
    return redirect(url_for("admin.rules"))


def preview_decision(kind: str, category_id: int | None, area_id: int | None, channel: str,
                     text: str) -> routing.Decision:  # fmt: skip
    """Route a sample ticket the way handling.route_ticket does, without writing anything."""
    parents = dict(db.session.execute(select(Agency.id, Agency.parent_id)).all())
    active = select(RoutingRule).where(RoutingRule.active.is_(True))
    ordered = db.session.scalars(active.order_by(RoutingRule.position, RoutingRule.id)).all()
    triage = db.session.execute(select(Agency.id).where(Agency.is_triage.is_(True))).scalar()
    facts = routing.Facts(kind=kind, category_id=category_id, channel=channel, text=text,
                          area_id=area_id, area_path=routing.ancestors(area_id, parents))  # fmt: skip
    return routing.decide(ordered, facts, triage)


@bp.route("/rules/preview", methods=["GET", "POST"])
def rule_preview() -> Any:
    form = PreviewForm()
    form.load_choices()
    decision, matched, agency = None, [], None
    if form.validate_on_submit():
        decision = preview_decision(form.kind.data, to_id(form.category.data),
                                    to_id(form.area.data), form.channel.data,
                                    form.text.data or "")  # fmt: skip
        by_id = {r.id: r for r in _ordered_rules()}
        matched = [by_id[i] for i in decision.matched_rule_ids if i in by_id]
        agency = db.session.get(Agency, decision.agency_id) if decision.agency_id else None
    db.session.rollback()  # a preview never saves anything
    return render_template("admin/preview.html", form=form, decision=decision,
                           matched=matched, agency=agency)  # fmt: skip
