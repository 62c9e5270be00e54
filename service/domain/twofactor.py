"""TOTP second factor (RFC 6238, 30-second steps, 6 digits) with replay protection."""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp

from ..models import User

WINDOW = 1  # accept the previous and next step too: phone clocks drift


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read (from a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def required_roles(raw: str | None) -> frozenset[str]:
    return frozenset(r.strip() for r in (raw or "").split(",") if r.strip())


def must_enrol(user: User, required: frozenset[str]) -> bool:
    return user.role in required and not user.totp_enabled


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code equals `code` within the window, else None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-WINDOW, WINDOW + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            return step + offset
    return None


def verify(user: User, code: str, now: dt.datetime) -> bool:
    """Check a code of an enrolled user; a code (time step) already used is refused."""
    if not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def start_enrolment(user: User) -> str:
    """Give the user a secret to scan (kept until confirmed, so a reload shows the same one)."""
    if user.totp_enabled:
        raise ValueError("already enrolled")
    if not user.totp_secret:
        user.totp_secret = new_secret()
    return user.totp_secret


def confirm_enrolment(user: User, code: str, now: dt.datetime) -> bool:
    """Turn two-factor on once the user proves the app shows the right codes."""
    if user.totp_enabled or not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    user.totp_enabled, user.totp_last_step = True, step
    return True


def reset(user: User) -> None:
    """Forget the secret (lost device, or turned off): the next login asks for a new enrolment."""
    user.totp_secret, user.totp_enabled, user.totp_last_step = None, False, None
