"""Forms of the administration screens (CSRF via Flask-WTF); choices are loaded per request."""

from __future__ import annotations

import json
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..domain import agencies as agency_domain
from ..domain.calendar import UNITS
from ..domain.intake import CHANNELS
from ..extensions import db
from ..models import Agency, Category
from .forms import KIND_CHOICES

ROLES = ("operator", "officer", "lead", "supervisor", "admin")
PRIORITIES = ("low", "normal", "high", "urgent")
FIELD_TYPES = ("text", "textarea", "number", "date", "select", "checkbox")
MIN_PASSWORD = 10
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NONE = ("", _l("— none —"))


def agency_choices() -> list[tuple[str, str]]:
    rows = agency_domain.tree(db.session.scalars(select(Agency)).all())
    return [(str(a.id), "— " * depth + f"{a.code} · {a.name}") for a, depth in rows]


def category_choices() -> list[tuple[str, str]]:
    cats = db.session.scalars(select(Category).order_by(Category.code)).all()
    return [(str(c.id), f"{c.code} · {c.name_vi}") for c in cats]


def to_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def check_email(_form: Any, field: Any) -> None:
    if field.data and not EMAIL.match(field.data.strip()):
        raise ValidationError(_l("Enter a valid email address."))


class ConfirmForm(FlaskForm):
    confirm = BooleanField(_l("I confirm"), validators=[InputRequired()])


class AgencyForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=64)])
    name = StringField(_l("Name (Vietnamese)"), validators=[InputRequired(), Length(max=255)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=255)])
    kind = StringField(_l("Kind"), validators=[InputRequired(), Length(max=32)])
    parent = SelectField(_l("Parent"), choices=[])
    email = StringField(_l("Email"), validators=[Length(max=255), check_email])
    effective_from = DateField(_l("Effective from"), validators=[Optional()])
    effective_to = DateField(_l("Effective to (first day no longer in effect)"),
                             validators=[Optional()])  # fmt: skip
    is_triage = BooleanField(_l("Triage agency (receives what no rule routes)"))
    is_remote = BooleanField(_l("Remote area (longer legal deadlines)"))

    def load_choices(self) -> None:
        self.parent.choices = [NONE, *agency_choices()]

    def validate_effective_to(self, field: Any) -> None:
        start = self.effective_from.data
        if field.data and start and field.data <= start:
            raise ValidationError(_l("Must be after the start date."))


class MergeForm(FlaskForm):
    merged = SelectMultipleField(_l("Agencies to merge"), choices=[],
                                 validators=[InputRequired()])  # fmt: skip
    successor = SelectField(_l("Successor"), choices=[], validators=[InputRequired()])
    day = DateField(_l("Merge date (first day of the successor)"), validators=[InputRequired()])

    def load_choices(self) -> None:
        choices = agency_choices()
        self.merged.choices = choices
        self.successor.choices = [("", _l("— choose —")), *choices]


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=128)])
    full_name = StringField(_l("Full name"), validators=[InputRequired(), Length(max=255)])
    email = StringField(_l("Email"), validators=[Length(max=255), check_email])
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES])
    agency = SelectField(_l("Agency"), choices=[])
    active = BooleanField(_l("Active"), default=True)
    can_reveal_identity = BooleanField(_l("May unseal a denouncer's identity"))
    password = PasswordField(_l("Password (new users)"))

    def load_choices(self) -> None:
        self.agency.choices = [NONE, *agency_choices()]


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[InputRequired(), Length(min=MIN_PASSWORD, max=200)]
    )


class CategoryForm(FlaskForm):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=64)])
    name_vi = StringField(_l("Name (Vietnamese)"), validators=[InputRequired(), Length(max=255)])
    name_en = StringField(_l("Name (English)"), validators=[InputRequired(), Length(max=255)])
    group = StringField(_l("Group"), validators=[Length(max=64)])
    requires_identity = BooleanField(_l("Requires the citizen's identity"))
    active = BooleanField(_l("Active"), default=True)
    extra_fields = TextAreaField(
        _l("Extra fields (JSON list)"),
        description=_l(
            'e.g. [{"name": "plate", "label_vi": "Biển số", "label_en": "Plate", "type": "text"}]'
        ),  # fmt: skip
    )

    def validate_extra_fields(self, field: Any) -> None:
        field.parsed = parse_extra_fields(field.data or "")


def parse_extra_fields(raw: str) -> list[dict[str, str]] | None:
    """A JSON list of {name, label_vi, label_en, type}; empty text means none."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(_l("Not valid JSON: %(error)s", error=str(exc))) from exc
    if not isinstance(value, list):
        raise ValidationError(_l("Must be a JSON list."))
    keys = {"name", "label_vi", "label_en", "type"}
    names = set()
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict) or set(item) != keys:
            raise ValidationError(_l("Item %(n)s must have exactly: name, label_vi, label_en, "
                                     "type.", n=n))  # fmt: skip
        if not all(isinstance(item[k], str) and item[k].strip() for k in keys):
            raise ValidationError(_l("Item %(n)s: every value must be non-empty text.", n=n))
        if item["type"] not in FIELD_TYPES:
            raise ValidationError(_l("Item %(n)s: type must be one of %(types)s.", n=n,
                                     types=", ".join(FIELD_TYPES)))  # fmt: skip
        if item["name"] in names:
            raise ValidationError(_l("Item %(n)s: the name is used twice.", n=n))
        names.add(item["name"])
    return value


def split_words(raw: str | None) -> list[str] | None:
    words = [w.strip() for w in re.split(r"[,\n]", raw or "") if w.strip()]
    return words or None


class RuleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=255)])
    position = IntegerField(_l("Position"), validators=[InputRequired(), NumberRange(min=0)])
    kinds = SelectMultipleField(_l("Types (none = all)"), choices=KIND_CHOICES)
    category = SelectField(_l("Category"), choices=[])
    area = SelectField(_l("Area (with all its sub-areas)"), choices=[])
    keywords = TextAreaField(_l("Keywords (comma or line separated; any one matches)"))
    channels = SelectMultipleField(_l("Channels (none = all)"), choices=[(c, c) for c in CHANNELS])
    target = SelectField(_l("Send to agency"), choices=[])
    route_to_area = BooleanField(_l("Send to the area the citizen chose"))
    priority = SelectField(_l("Priority"), choices=[NONE, *[(p, p) for p in PRIORITIES]])
    stop = BooleanField(_l("Stop here when it matches"), default=True)
    active = BooleanField(_l("Active"), default=True)

    def load_choices(self) -> None:
        agencies = agency_choices()
        self.category.choices = [NONE, *category_choices()]
        self.area.choices = [NONE, *agencies]
        self.target.choices = [NONE, *agencies]

    def validate_route_to_area(self, field: Any) -> None:
        if field.data and self.target.data:
            raise ValidationError(_l("Choose either a target agency or the citizen's area."))


class PreviewForm(FlaskForm):
    kind = SelectField(_l("Type"), choices=KIND_CHOICES)
    category = SelectField(_l("Category"), choices=[])
    area = SelectField(_l("Commune / ward"), choices=[])
    channel = SelectField(_l("Channel"), choices=[(c, c) for c in CHANNELS])
    text = TextAreaField(_l("Title and description"), validators=[Length(max=10000)])

    def load_choices(self) -> None:
        self.category.choices = [NONE, *category_choices()]
        self.area.choices = [NONE, *agency_choices()]


def _days(label: Any, required: bool = True, minimum: int = 1) -> IntegerField:
    first = InputRequired() if required else Optional()
    return IntegerField(label, validators=[first, NumberRange(min=minimum, max=3650)])


UNIT_CHOICES = [(u, u) for u in sorted(UNITS)]


class PolicyForm(FlaskForm):
    kind = SelectField(_l("Type"), choices=KIND_CHOICES)
    category = SelectField(_l("Category (none = every category of the type)"), choices=[])
    name_vi = StringField(_l("Name (Vietnamese)"), validators=[InputRequired(), Length(max=255)])
    name_en = StringField(_l("Name (English)"), validators=[InputRequired(), Length(max=255)])
    acceptance_days = _days(_l("Acceptance days"))
    acceptance_unit = SelectField(_l("Acceptance unit"), choices=UNIT_CHOICES)
    resolution_days = _days(_l("Resolution days"))
    resolution_unit = SelectField(_l("Resolution unit"), choices=UNIT_CHOICES)
    complex_resolution_days = _days(_l("Resolution days, complex case"), required=False)
    remote_resolution_days = _days(_l("Resolution days, remote area"), required=False)
    remote_complex_resolution_days = _days(_l("Resolution days, remote and complex"),
                                           required=False)  # fmt: skip
    extension_days = _days(_l("Days per extension"), minimum=0)
    max_extensions = _days(_l("Maximum extensions"), minimum=0)
    max_total_resolution_days = _days(_l("Legal maximum incl. extensions"), required=False)
    due_soon_days = _days(_l("Warn this many working days before"), minimum=0)

    def load_choices(self) -> None:
        self.category.choices = [NONE, *category_choices()]


class HolidayForm(FlaskForm):
    day = DateField(_l("Day"), validators=[InputRequired()])
    name = StringField(_l("Name (Vietnamese)"), validators=[InputRequired(), Length(max=255)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=255)])
    kind = SelectField(_l("Kind"), choices=[("holiday", _l("Holiday (day off)")),
                                            ("workday", _l("Make-up working day"))])  # fmt: skip


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=255)])
    category = SelectField(_l("Category (none = all)"), choices=[])
    body_vi = TextAreaField(_l("Text (Vietnamese)"), validators=[InputRequired()])
    body_en = TextAreaField(_l("Text (English)"))
    active = BooleanField(_l("Active"), default=True)

    def load_choices(self) -> None:
        self.category.choices = [NONE, *category_choices()]
