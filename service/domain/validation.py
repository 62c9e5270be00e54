"""Field checks shared by every intake channel; errors are codes that the web layer translates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("feedback", "recommendation", "complaint", "denunciation")
LEGAL_FORMS = ("electronic", "signed_petition", "in_person")
# Complaints and denunciations must carry the petitioner's name and a way to reach them.
IDENTITY_REQUIRED_KINDS = frozenset({"complaint", "denunciation"})

EMAIL_RE = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9]{8,15}$")

LIMITS = {"title": (5, 200), "description": (10, 10000), "name": (2, 255), "address": (0, 500)}


@dataclass
class Errors:
    """field → error code (required, too_short, too_long, invalid, unknown, …)."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, code: str) -> None:
        self.fields.setdefault(name, code)

    def __bool__(self) -> bool:
        return bool(self.fields)


class IntakeError(ValueError):
    def __init__(self, errors: Errors | dict[str, str]) -> None:
        self.fields = errors.fields if isinstance(errors, Errors) else dict(errors)
        super().__init__("invalid ticket: " + ", ".join(f"{k}={v}" for k, v in self.fields.items()))


def normalise_phone(value: str) -> str:
    digits = re.sub(r"[\s.\-()]", "", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    return digits


def check_length(errors: Errors, name: str, value: str, limit_key: str | None = None) -> None:
    low, high = LIMITS[limit_key or name]
    if low and not value:
        errors.add(name, "required")
    elif len(value) < low:
        errors.add(name, "too_short")
    elif len(value) > high:
        errors.add(name, "too_long")


def check_coordinates(errors: Errors, lat: float | None, lng: float | None) -> None:
    if (lat is None) != (lng is None):
        errors.add("lat" if lat is None else "lng", "required")
    # NaN fails both comparisons, so an unreadable number is reported as invalid too.
    if lat is not None and not -90 <= lat <= 90:
        errors.add("lat", "invalid")
    if lng is not None and not -180 <= lng <= 180:
        errors.add("lng", "invalid")
