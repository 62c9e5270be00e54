"""Fixtures for access tests: dedicated users (removed afterwards) and a denunciation with a
planted denouncer identity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, or_

from service.cli import DEMO_PASSWORD, create_user
from service.models import AuditEntry, Ticket, User
from tests.access.support import PLANTED, file_ticket


@pytest.fixture
def denunciation(app: Any, db: Any) -> Ticket:
    """A denunciation with the planted identity, in the Inspectorate (DN-TTR)."""
    return file_ticket(db.session, app.config["UPLOAD_FOLDER"], kind="denunciation",
                       category="land", agency="DN-TTR", identity=PLANTED,
                       title="Tố cáo sai phạm đất đai")  # fmt: skip


@pytest.fixture
def make_user(app: Any, db: Any) -> Iterator[Callable[..., User]]:
    """Create a user for one test; it and its audit entries are deleted afterwards, so the
    shared demo accounts are never locked or enrolled by these tests."""
    made: list[tuple[int, str]] = []

    def _make(username: str, role: str, agency: str | None = "DN-VP", *,
              can_reveal: bool = False) -> User:  # fmt: skip
        user = create_user(username, f"Test {username}", role, agency, DEMO_PASSWORD)
        user.can_reveal_identity = can_reveal
        db.session.commit()
        made.append((user.id, username))
        return user

    yield _make
    db.session.rollback()
    ids, names = [i for i, _ in made], [n for _, n in made]
    if made:
        db.session.execute(
            delete(AuditEntry).where(
                or_(
                    AuditEntry.actor_id.in_(ids),
                    (AuditEntry.target_type == "user") & AuditEntry.target_id.in_(names),
                )
            )
        )
        db.session.execute(delete(User).where(User.id.in_(ids)))
        db.session.commit()
