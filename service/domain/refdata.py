"""Small per-process caches of reference data read on every intake (categories, areas, calendar)."""

from __future__ import annotations

import time
import weakref
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Agency, Category, Holiday
from .calendar import WorkCalendar

TTL_SECONDS = 60.0
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}


class CategoryRef(NamedTuple):
    id: int
    requires_identity: bool


def _cached(key: tuple[Any, ...]) -> Any:
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    return None


def _remember(key: tuple[Any, ...], value: Any) -> Any:
    if value is not None:  # misses are not cached, so new rows show up at once
        _cache[key] = (time.monotonic() + TTL_SECONDS, value)
    return value


def clear() -> None:
    _cache.clear()


_bind_keys: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _bind_key(session: Session) -> str:
    # Rendering the URL costs more than the cache lookup it keys: once per engine.
    bind = session.get_bind()
    key = _bind_keys.get(bind)
    if key is None:
        key = _bind_keys[bind] = str(bind.url)
    return key


def category_by_code(session: Session, code: str) -> CategoryRef | None:
    key = ("cat", _bind_key(session), code)
    found = _cached(key)
    if found is None:
        row = session.execute(
            select(Category.id, Category.requires_identity).where(
                Category.code == code, Category.active.is_(True)
            )
        ).first()
        found = _remember(key, CategoryRef(row[0], row[1]) if row else None)
    return found


def agency_id_by_code(session: Session, code: str) -> int | None:
    key = ("agency", _bind_key(session), code)
    found = _cached(key)
    if found is None:
        found = _remember(
            key, session.execute(select(Agency.id).where(Agency.code == code)).scalar()
        )
    return found


def work_calendar(session: Session) -> WorkCalendar:
    key = ("calendar", _bind_key(session))
    found = _cached(key)
    if found is None:
        rows = session.execute(select(Holiday.day, Holiday.kind)).all()
        found = _remember(
            key,
            WorkCalendar(
                holidays=frozenset(d for d, k in rows if k == "holiday"),
                workdays=frozenset(d for d, k in rows if k == "workday"),
            ),
        )
    return found
