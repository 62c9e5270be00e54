"""Password checks with a lock-out after repeated failures (no Flask: callers pass the session)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import User


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_minutes: int = 15


class Outcome(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown user, wrong password or inactive account: one answer for all
    LOCKED = "locked"  # the account was already locked; the password was not even checked
    JUST_LOCKED = "just_locked"  # this failure reached the limit and locked the account


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password")


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def register_failure(user: User, policy: LockoutPolicy, now: dt.datetime) -> bool:
    """Count a failed password or second-factor code; True if the account is now locked."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= policy.max_failures:
        user.locked_until = now + dt.timedelta(minutes=policy.lock_minutes)
        user.failed_logins = 0
        return True
    return False


def register_success(user: User, now: dt.datetime, ip: str | None) -> None:
    user.failed_logins, user.locked_until = 0, None
    user.last_login_at, user.last_login_ip = now, (ip or "")[:64] or None


def check_password(
    session: Session, username: str, password: str, policy: LockoutPolicy, now: dt.datetime
) -> tuple[Outcome, User | None]:
    """Check a login attempt and count failures (the caller commits)."""
    user = find_user(session, username)
    if user is None:
        check_password_hash(_dummy_hash(), password)  # same cost as a real check: no user probing
        return Outcome.WRONG, None
    if is_locked(user, now):
        return Outcome.LOCKED, user
    if user.active and check_password_hash(user.password_hash, password):
        return Outcome.OK, user
    return (Outcome.JUST_LOCKED if register_failure(user, policy, now) else Outcome.WRONG), user
