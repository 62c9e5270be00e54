"""Write audit entries inside the caller's transaction: `record(...)` adds, never commits.

Use it for every security-relevant or configuration change, e.g.

    before = audit.snapshot(category, "name_vi", "active")
    category.active = False
    audit.record(db.session, current_user, "category.update", "category", category.id,
                 before=before, after=audit.snapshot(category, "name_vi", "active"))
    db.session.commit()
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from .models.audit import AuditEntry
from .models.base import utcnow

MAX_REASON = 2000


def _jsonable(value: Any) -> Any:
    """Dates, decimals, sets and enums as JSON-friendly values, recursively."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


def snapshot(obj: Any, *fields: str) -> dict[str, Any]:
    """The named attributes of a model as a JSON-friendly dict (for before/after)."""
    return {name: _jsonable(getattr(obj, name, None)) for name in fields}


def _request_ip() -> str | None:
    # Flask is optional here: workers and the CLI record without a request.
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover
        return None
    return (request.remote_addr or None) if has_request_context() else None


def record(
    session: Session,
    actor: Any,
    action: str,
    target_type: str,
    target_id: Any,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
    ip: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Add one entry to `session` (no commit: it lands or rolls back with the change itself).

    `actor` is a User, None for the system, or an anonymous user object (treated as None);
    `target_id` is stored as text (an id, a ticket code, a username)."""
    user_id = getattr(actor, "id", None) if getattr(actor, "is_authenticated", False) else None
    label = actor_label or (getattr(actor, "username", None) if user_id else None) or "system"
    entry = AuditEntry(
        at=utcnow(),
        actor_id=user_id,
        actor_label=label[:128],
        action=action[:64],
        target_type=target_type[:64],
        target_id=None if target_id is None else str(target_id)[:128],
        reason=reason[:MAX_REASON] if reason else None,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip=(ip or _request_ip() or "")[:64] or None,
    )
    session.add(entry)
    return entry
