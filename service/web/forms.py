"""WTForms (CSRF via Flask-WTF). Field rules live in the domain; forms only coerce and carry."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired

from ..extensions import db
from ..models import Agency, Category
from .common import agency_name, category_name

KIND_CHOICES = [
    ("feedback", _l("Feedback (report a problem)")),
    ("recommendation", _l("Recommendation")),
    ("complaint", _l("Complaint")),
    ("denunciation", _l("Denunciation")),
]
LEGAL_FORM_CHOICES = [
    ("electronic", _l("Electronic (phone, web, email)")),
    ("signed_petition", _l("Signed petition")),
    ("in_person", _l("In person")),
]
AREA_KINDS = ("commune", "ward", "special_zone")


class TicketForm(FlaskForm):
    kind = SelectField(_l("Type"), choices=KIND_CHOICES, default="feedback", validate_choice=False)
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"))
    area = SelectField(_l("Commune / ward"), choices=[], validate_choice=False)
    address = StringField(_l("Address"))
    # Text, not FloatField: the domain checks coordinates and words the error in Vietnamese.
    lat = StringField(_l("Latitude"))
    lng = StringField(_l("Longitude"))
    name = StringField(_l("Full name"))
    email = StringField(_l("Email"))
    phone = StringField(_l("Phone"))
    citizen_address = StringField(_l("Your address"))
    attachments = MultipleFileField(_l("Attachments (images or PDF)"))
    # A per-form nonce: a double click or a resubmitted page files one ticket, not two.
    nonce = HiddenField(default=lambda: uuid.uuid4().hex)

    def load_choices(self) -> None:
        cats = db.session.scalars(
            select(Category)
            .where(Category.active.is_(True))
            .order_by(Category.group, Category.code)
        ).all()
        self.category.choices = [("", _l("— choose —"))] + [
            (c.code, category_name(c)) for c in cats
        ]
        areas = db.session.scalars(
            select(Agency).where(Agency.kind.in_(AREA_KINDS)).order_by(Agency.name)
        ).all()
        self.area.choices = [("", _l("— choose —"))] + [(a.code, agency_name(a)) for a in areas]


class OperatorTicketForm(TicketForm):
    legal_form = SelectField(
        _l("Legal form"), choices=LEGAL_FORM_CHOICES, default="electronic", validate_choice=False
    )


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"))


class WithdrawForm(FlaskForm):
    confirm = BooleanField(_l("I want to withdraw this submission"))


class ActionForm(FlaskForm):
    action = HiddenField()
    body = TextAreaField(_l("Text"))
    target_agency = SelectField(_l("Agency"), choices=[], validate_choice=False)
    duplicate_of = StringField(_l("Original ticket code"))
