"""Fixtures for the administration tests: a logged-in administrator, form posting with CSRF,
and clean-up of the rows a test made (under codes starting with "tadm")."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select

from service.models import (
    AuditEntry,
    Category,
    DeadlinePolicy,
    Holiday,
    ResponseTemplate,
    RoutingRule,
    User,
)
from tests.helpers import csrf_token


@pytest.fixture
def admin(client: Any, login: Callable[..., None]) -> Any:
    """The test client, signed in as the demo administrator."""
    client.set_cookie("lang", "en")  # assertions read English messages, whatever is translated
    login("admin")
    return client


@pytest.fixture
def post(admin: Any) -> Callable[..., Any]:
    """POST a form with a valid CSRF token taken from `page` (default: the admin index)."""

    def _post(url: str, data: dict[str, Any], page: str = "/admin/") -> Any:
        token = csrf_token(admin.get(page))
        return admin.post(url, data={**data, "csrf_token": token})

    return _post


@pytest.fixture
def tag() -> str:
    return f"tadm{uuid.uuid4().hex[:6]}"


def last_audit(db: Any, action: str) -> AuditEntry:
    db.session.expire_all()
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None, f"no audit entry {action}"
    return entry


@pytest.fixture
def cleanup(db: Any) -> Iterator[None]:
    """Remove what the test made in shared reference tables (agencies stay: tickets use them)."""
    yield
    db.session.rollback()
    cats = select(Category.id).where(Category.code.startswith("tadm"))
    db.session.execute(delete(ResponseTemplate).where(ResponseTemplate.name.startswith("tadm")))
    db.session.execute(delete(RoutingRule).where(RoutingRule.name.startswith("tadm")))
    db.session.execute(delete(DeadlinePolicy).where(DeadlinePolicy.category_id.in_(cats)))
    db.session.execute(delete(Holiday).where(Holiday.name.startswith("tadm")))
    db.session.execute(delete(User).where(User.username.startswith("tadm")))
    db.session.execute(delete(Category).where(Category.code.startswith("tadm")))
    db.session.commit()
    from service.domain import refdata

    refdata.clear()
