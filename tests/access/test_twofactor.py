"""TOTP two-factor login: enrolment, the code step, replay and lock-out, the mandatory-role gate,
and the administrator's reset for a lost device."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from sqlalchemy import select

from service.models import User
from service.web.twofactor import reset_2fa_command
from tests.access.support import audit_actions, post_login
from tests.helpers import csrf_token


def _secret_from(page: Any) -> str:
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.get_data(as_text=True))
    assert match, "no secret on the enrolment page"
    return match.group(1)


def _enrol(client: Any) -> str:
    """Enrol the logged-in user; the code used is the previous step's, so that a login right
    after can use the current one (each step is accepted once)."""
    page = client.get("/account/2fa")
    secret = _secret_from(page)
    code = pyotp.TOTP(secret).at(time.time(), counter_offset=-1)
    response = client.post("/account/2fa", data={"csrf_token": csrf_token(page), "code": code})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return secret


def _send_code(client: Any, code: str) -> Any:
    page = client.get("/login/2fa")
    return client.post("/login/2fa", data={"csrf_token": csrf_token(page), "code": code})


def _user(db: Any, username: str) -> User:
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.username == username)).one()


def test_enrolment_page_shows_secret_uri_and_qr(app, db, client, make_user):
    make_user("t.enrol", "officer")
    post_login(client, "t.enrol")
    page = client.get("/account/2fa")
    html = page.get_data(as_text=True)
    secret = _secret_from(page)
    assert f"otpauth://totp/PAKN:t.enrol?secret={secret}" in html.replace("&amp;", "&")
    assert "<svg" in html and 'id="totp-qr"' in html  # drawn server-side, no CDN
    assert _secret_from(client.get("/account/2fa")) == secret  # a reload keeps the same secret
    assert "no-store" in page.headers["Cache-Control"]

    wrong = client.post("/account/2fa", data={"csrf_token": csrf_token(page), "code": "000000"})
    assert wrong.status_code == 422
    assert _user(db, "t.enrol").totp_enabled is False
    _enrol(client)
    assert _user(db, "t.enrol").totp_enabled is True
    assert 'data-enabled="1"' in client.get("/account/2fa").get_data(as_text=True)
    assert audit_actions(db, "t.enrol")[-1] == "2fa.enrol"


def test_login_with_second_factor(app, db, client, make_user):
    make_user("t.totp", "officer")
    post_login(client, "t.totp")
    secret = _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account/2fa"))})

    response = post_login(client, "t.totp")
    assert response.status_code == 302 and response.location.endswith("/login/2fa")
    # Between the password and the code, nothing protected is reachable.
    assert client.get("/console/").status_code == 302
    wrong = _send_code(client, "123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    assert wrong.status_code == 401
    assert client.get("/console/").status_code == 302
    code = pyotp.TOTP(secret).now()
    response = _send_code(client, code)
    assert response.status_code == 302 and response.location.endswith("/console/")
    assert client.get("/console/").status_code == 200
    assert audit_actions(db, "t.totp")[-2:] == ["2fa.failure", "login.success"]

    # The same code cannot be used twice (replay), even within its 30 seconds.
    other = app.test_client()
    post_login(other, "t.totp")
    assert _send_code(other, code).status_code == 401
    assert other.get("/console/").status_code == 302


def test_wrong_codes_lock_the_account(app, db, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    make_user("t.totp.lock", "officer")
    post_login(client, "t.totp.lock")
    secret = _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account/2fa"))})
    post_login(client, "t.totp.lock")
    bad = "111111" if pyotp.TOTP(secret).now() != "111111" else "222222"
    assert _send_code(client, bad).status_code == 401
    assert _send_code(client, bad).status_code == 401
    locked = _send_code(client, bad)
    assert locked.status_code == 302 and locked.location.endswith("/login")
    assert _user(db, "t.totp.lock").locked_until is not None
    # A fresh password attempt is refused while locked, even with the right password.
    assert post_login(client, "t.totp.lock").status_code == 401
    assert "login.lockout" in audit_actions(db, "t.totp.lock")


def test_mandatory_role_must_enrol_before_anything_else(app, db, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "TOTP_REQUIRED_ROLES", "admin,supervisor")
    make_user("t.must", "supervisor", "DN")
    response = post_login(client, "t.must")
    assert response.status_code == 302
    for path in ("/console/", "/dashboard/", "/admin/audit/", "/"):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert "/account/2fa" in blocked.location, path
    page = client.get("/account/2fa")
    assert page.status_code == 200
    assert 'data-enabled="0"' in page.get_data(as_text=True)
    _enrol(client)
    assert client.get("/console/").status_code == 200
    # A mandatory role cannot switch it off itself.
    code = pyotp.TOTP(_user(db, "t.must").totp_secret).now()
    token = csrf_token(client.get("/account/2fa"))
    client.post("/account/2fa/disable", data={"csrf_token": token, "code": code})
    assert _user(db, "t.must").totp_enabled is True


def test_optional_role_not_gated_and_can_disable(app, db, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "TOTP_REQUIRED_ROLES", "admin,supervisor")
    make_user("t.optional", "officer", "DN-HAICHAU")
    post_login(client, "t.optional")
    assert client.get("/console/").status_code == 200
    secret = _enrol(client)
    token = csrf_token(client.get("/account/2fa"))
    client.post("/account/2fa/disable", data={"csrf_token": token, "code": "000000"})
    assert _user(db, "t.optional").totp_enabled is True  # a wrong code changes nothing
    code = pyotp.TOTP(secret).now()
    client.post("/account/2fa/disable", data={"csrf_token": token, "code": code})
    user = _user(db, "t.optional")
    assert user.totp_enabled is False and user.totp_secret is None
    assert audit_actions(db, "t.optional")[-1] == "2fa.disable"


def test_admin_reset_for_a_lost_device(app, db, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "TOTP_REQUIRED_ROLES", "admin")
    make_user("t.lost", "admin")
    post_login(client, "t.lost")
    _enrol(client)
    runner = app.test_cli_runner()
    result = runner.invoke(reset_2fa_command, ["t.lost", "--reason", "phone stolen"])
    assert result.exit_code == 0, result.output
    user = _user(db, "t.lost")
    assert (user.totp_enabled, user.totp_secret) == (False, None)
    assert audit_actions(db, "t.lost")[-1] == "2fa.reset"
    # The next login goes straight to enrolment (the role requires it).
    other = app.test_client()
    assert post_login(other, "t.lost").status_code == 302
    assert "/account/2fa" in other.get("/console/").location
    assert runner.invoke(reset_2fa_command, ["nobody.here"]).exit_code != 0
    assert "reset-2fa" in app.cli.commands  # available as `flask reset-2fa USER`


def test_code_step_expires_without_password(app, db, client):
    response = client.get("/login/2fa")
    assert response.status_code == 302 and response.location.endswith("/login")
