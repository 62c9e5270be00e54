"""WTForms ships no Vietnamese catalog: its messages are translated in ours (listed here so that
extraction finds them) and every Flask-WTF form is pointed at our translations."""

from __future__ import annotations

from typing import Any

from flask_babel import get_translations, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

# Messages WTForms validators and fields produce (wording must match WTForms exactly).
MESSAGES = (
    _l("This field is required."),
    _l("Not a valid choice."),
    _l("Not a valid integer value."),
    _l("Not a valid float value."),
    _l("Not a valid decimal value."),
    _l("Not a valid date value."),
    _l("Not a valid datetime value."),
    _l("Not a valid time value."),
    _l("Invalid input."),
    _l("Invalid email address."),
    _l("Invalid URL."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Date must be at least %(min)s."),
    _l("Date must be at most %(max)s."),
    _l("Date must be between %(min)s and %(max)s."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Field must be equal to %(other_name)s."),
    _l("Invalid value, must be one of: %(values)s."),
    _l("Invalid CSRF Token."),
    _l("CSRF token missing."),
    _l("CSRF token expired."),
    _l("CSRF failed."),
    _l("File does not have an approved extension."),
)


def _plurals() -> None:
    """Marks the plural messages for extraction; never called."""
    ngettext("Field must be at least %(min)d character long.",
             "Field must be at least %(min)d characters long.", 1)  # fmt: skip
    ngettext("Field cannot be longer than %(max)d character.",
             "Field cannot be longer than %(max)d characters.", 1)  # fmt: skip
    ngettext("Field must be exactly %(max)d character long.",
             "Field must be exactly %(max)d characters long.", 1)  # fmt: skip


class _Translations:
    """What WTForms expects: unformatted text from our catalog (it fills the placeholders)."""

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)


def install() -> None:
    translations = _Translations()

    def get_translations(self: Any, form: Any) -> _Translations:
        return translations

    FlaskForm.Meta.get_translations = get_translations  # type: ignore[method-assign]
