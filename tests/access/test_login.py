"""Password login: lock-out with configured thresholds, audit entries, session hardening."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from service.config import load_config
from service.models import AuditEntry, User, utcnow
from tests.access.support import audit_actions, post_login
from tests.helpers import csrf_token


def test_config_defaults(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOGIN_MAX_FAILURES", "LOGIN_LOCK_MINUTES", "TOTP_REQUIRED_ROLES"):
        monkeypatch.delenv(name, raising=False)
    cfg = load_config(str(tmp_path))
    assert (cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_LOCK_MINUTES"]) == (5, 15)
    assert cfg["TOTP_REQUIRED_ROLES"] == "admin,supervisor"
    assert cfg["SESSION_COOKIE_HTTPONLY"] and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("TOTP_REQUIRED_ROLES", "")
    cfg = load_config(str(tmp_path))
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["TOTP_REQUIRED_ROLES"] == ""


def test_success_is_audited_and_lands_by_role(app, db, client, make_user):
    make_user("t.login.op", "operator")
    response = post_login(client, "t.login.op")
    assert response.status_code == 302 and response.location.endswith("/operator/new")
    user = db.session.scalars(select(User).where(User.username == "t.login.op")).one()
    assert user.last_login_at is not None and user.last_login_ip == "127.0.0.1"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.target_id == "t.login.op")).one()
    assert (entry.action, entry.actor_id, entry.ip) == ("login.success", user.id, "127.0.0.1")


def test_lockout_after_configured_failures(app, db, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    monkeypatch.setitem(app.config, "LOGIN_LOCK_MINUTES", 30)
    make_user("t.lock", "officer")
    for _ in range(2):
        response = post_login(client, "t.lock", "wrong-password")
        assert response.status_code == 401
        assert "t.lock" not in str(response.headers.get("Location"))
    response = post_login(client, "t.lock", "wrong-password")  # the third: locked
    assert response.status_code == 401
    user = db.session.scalars(select(User).where(User.username == "t.lock")).one()
    db.session.refresh(user)
    assert user.locked_until is not None
    # Even the right password is refused while locked, and nothing is logged in.
    response = post_login(client, "t.lock")
    assert response.status_code == 401
    assert client.get("/console/").status_code == 302
    assert audit_actions(db, "t.lock") == [
        "login.failure",
        "login.failure",
        "login.lockout",
        "login.locked",
    ]
    # The lock lasts LOGIN_LOCK_MINUTES: moving it into the past lets the user in again.
    remaining = user.locked_until - utcnow()
    assert 29 * 60 < remaining.total_seconds() <= 30 * 60
    user.locked_until = utcnow()
    db.session.commit()
    assert post_login(client, "t.lock").status_code == 302


def test_unknown_user_failure_is_audited_without_actor(app, db, client):
    response = post_login(client, "no.such.user", "whatever")
    assert response.status_code == 401
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.target_id == "no.such.user")
    ).first()
    assert entry is not None and entry.action == "login.failure" and entry.actor_id is None
    assert "whatever" not in str(entry.after)  # the attempted password is never logged


def test_session_rotated_and_cookie_flags(app, db, client, make_user, monkeypatch):
    make_user("t.cookie", "officer")
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted_before_login"] = "attacker-chosen"
    response = post_login(client, "t.cookie")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.session_transaction() as sess:
        assert "planted_before_login" not in sess
        assert sess["_user_id"] and sess["_id"]  # Flask-Login "strong" protection identifier
    assert app.login_manager.session_protection == "strong"
    # Another browser (user agent) presenting the same cookie is logged out.
    assert client.get("/console/", headers={"User-Agent": "other-browser"}).status_code == 302

    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    other = app.test_client()
    response = post_login(other, "t.cookie")
    assert "Secure" in response.headers["Set-Cookie"]


def test_logout_needs_post_with_csrf(app, db, client, make_user):
    make_user("t.logout", "officer")
    post_login(client, "t.logout")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/console/").status_code == 200
    token = csrf_token(client.get("/console/"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302
    assert "logout" in audit_actions(db, "t.logout")


def test_next_parameter_cannot_leave_the_site(app, db, client, make_user):
    make_user("t.next", "officer")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = post_login(client, "t.next", next=evil)
        assert response.status_code == 302
        assert "evil" not in response.location
    response = post_login(client, "t.next", next="/console/?status=all")
    assert response.location.endswith("/console/?status=all")
