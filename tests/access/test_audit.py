"""The audit log: `record` joins the caller's transaction; /admin/audit filters, pages, scopes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import delete, select

from service import audit
from service.models import AuditEntry, User
from tests.access.support import post_login


@pytest.fixture
def scratch(db: Any) -> Iterator[None]:
    """Entries with actions under "test." are removed afterwards."""
    yield
    db.session.rollback()
    db.session.execute(delete(AuditEntry).where(AuditEntry.action.startswith("test.")))
    db.session.commit()


def _rows(response: Any) -> list[str]:
    return re.findall(r'class="audit-entry" data-action="([^"]+)"', response.get_data(as_text=True))


def test_record_is_part_of_the_callers_transaction(app, db, scratch):
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    audit.record(db.session, admin, "test.rolled_back", "category", 1)
    db.session.rollback()
    assert (
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "test.rolled_back")
        ).first()
        is None
    )

    entry = audit.record(
        db.session, admin, "test.saved", "holiday", 7,
        before={"day": dt.date(2026, 2, 16), "tags": {"b", "a"}},
        after={"when": dt.datetime(2026, 2, 16, 1, 2, tzinfo=dt.UTC), "name": "Tết"},
        reason="make-up day",
    )  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    saved = db.session.get(AuditEntry, entry.id)
    assert (saved.actor_id, saved.actor_label, saved.target_id) == (admin.id, "admin", "7")
    assert saved.before == {"day": "2026-02-16", "tags": ["a", "b"]}
    assert saved.after == {"when": "2026-02-16T01:02:00+00:00", "name": "Tết"}
    assert saved.ip is None and saved.reason == "make-up day"  # no request, no address
    assert audit.snapshot(admin, "username", "role") == {"username": "admin", "role": "admin"}

    anonymous = audit.record(db.session, AnonymousUserMixin(), "test.anon", "user", "x")
    assert anonymous.actor_id is None and anonymous.actor_label == "system"
    db.session.commit()


def test_entries_are_append_only(app, db, scratch):
    entry = audit.record(db.session, None, "test.immutable", "user", "x")
    db.session.commit()
    entry.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_audit_page_filters_and_pages(app, db, client, login, scratch):
    for i in range(60):
        audit.record(db.session, None, "test.page", "category", i, actor_label="seed")
    audit.record(db.session, None, "test.other", "holiday", "2026-01-01", actor_label="someone")
    db.session.commit()
    login("admin")
    first = client.get("/admin/audit/?action=test.page")
    assert first.status_code == 200 and _rows(first) == ["test.page"] * 50
    assert "page=2" in first.get_data(as_text=True)
    second = client.get("/admin/audit/?action=test.page&page=2")
    assert _rows(second) == ["test.page"] * 10
    assert set(_rows(client.get("/admin/audit/?action=test"))) == {"test.page", "test.other"}
    assert _rows(client.get("/admin/audit/?actor=someone")) == ["test.other"]
    assert _rows(client.get("/admin/audit/?target_type=holiday&target=2026-01-01")) == [
        "test.other"
    ]
    today = dt.date.today()
    gone = client.get(f"/admin/audit/?action=test&date_to={today - dt.timedelta(days=3)}")
    assert _rows(gone) == []
    kept = f"/admin/audit/?action=test.other&date_from={today - dt.timedelta(days=1)}"
    assert _rows(client.get(kept)) == ["test.other"]
    bad = client.get("/admin/audit/?action=test.other&date_from=31/12/2026&page=x")
    assert bad.status_code == 200 and _rows(bad) == ["test.other"]
    assert "2026-01-31" in bad.get_data(as_text=True)  # the message shows the expected format


def test_supervisor_sees_only_their_subtree(app, db, make_user, scratch):
    inside = make_user("t.aud.in", "officer", "DN-SXD")
    outside = make_user("t.aud.out", "officer", "DN-HAICHAU")
    make_user("t.aud.sup", "supervisor", "DN-SXD")
    audit.record(db.session, inside, "test.scope", "category", 1)
    audit.record(db.session, outside, "test.scope", "category", 2)
    audit.record(db.session, None, "test.scope", "category", 3)  # system / CLI
    db.session.commit()
    supervisor = app.test_client()
    post_login(supervisor, "t.aud.sup")
    html = supervisor.get("/admin/audit/?action=test.scope").get_data(as_text=True)
    assert "t.aud.in" in html and "t.aud.out" not in html and "category 3" not in html
    admin = app.test_client()
    post_login(admin, "admin")
    assert len(_rows(admin.get("/admin/audit/?action=test.scope"))) == 3


def test_audit_page_is_for_admins_and_supervisors(app, db, client, login):
    assert client.get("/admin/audit/").status_code == 302  # anonymous → login
    login("canbo.haichau")
    assert client.get("/admin/audit/").status_code == 403
