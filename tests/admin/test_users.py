"""Users and roles: create, edit, reset password, reset two-factor; each audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import Agency, User
from tests.admin.conftest import last_audit
from tests.helpers import csrf_token


def _user(db: Any, username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.username == username)).first()


def _agency_id(db: Any, code: str) -> int:
    return db.session.scalars(select(Agency.id).where(Agency.code == code)).one()


def _create(post: Any, username: str, **extra: str) -> Any:
    data = {"username": username, "full_name": "Người Thử", "role": "officer",
            "agency": "", "active": "y", "password": "mot-mat-khau-dai", **extra}  # fmt: skip
    return post("/admin/users/new", data, page="/admin/users/new")


def test_create_and_edit_user(app: Any, post: Any, db: Any, tag: str, cleanup: None) -> None:
    haichau = _agency_id(db, "DN-HAICHAU")
    response = _create(post, f"{tag}.one", agency=str(haichau), email="one@example.com")
    assert response.status_code == 302
    user = _user(db, f"{tag}.one")
    assert (user.role, user.agency_id, user.active, user.email) == (
        "officer", haichau, True, "one@example.com")  # fmt: skip
    created = last_audit(db, "user.create")
    assert created.target_id == f"{tag}.one" and created.after["role"] == "officer"
    assert "password_hash" not in created.after

    url = f"/admin/users/{user.id}"
    data = {"username": f"{tag}.one", "full_name": "Người Thử", "role": "lead",
            "agency": str(_agency_id(db, "DN-SXD")), "email": "one@example.com"}  # fmt: skip
    assert post(url, data, page=url).status_code == 302
    user = _user(db, f"{tag}.one")
    assert (user.role, user.active) == ("lead", False)
    entry = last_audit(db, "user.update")
    assert entry.before == {"role": "officer", "agency_id": haichau, "active": True}
    assert entry.after == {"role": "lead", "agency_id": user.agency_id, "active": False}
    # An inactive account cannot log in.
    other = app.test_client()
    token = csrf_token(other.get("/login"))
    response = other.post("/login", data={"username": f"{tag}.one",
                                          "password": "mot-mat-khau-dai", "csrf_token": token})  # fmt: skip
    assert response.status_code == 401


def test_bad_user_input(post: Any, db: Any, tag: str, cleanup: None) -> None:
    for extra, message in [
        ({"password": "short"}, "At least 10 characters"),
        ({"username": "admin"}, "already used"),
        ({"role": "emperor"}, "Not a valid choice"),
        ({"email": "x@"}, "valid email"),
    ]:
        response = _create(post, extra.pop("username", f"{tag}.bad"), **extra)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert _user(db, f"{tag}.bad") is None


def test_admin_cannot_remove_own_access(post: Any, db: Any) -> None:
    me = _user(db, "admin")
    url = f"/admin/users/{me.id}"
    data = {"username": "admin", "full_name": me.full_name, "role": "officer", "active": "y",
            "agency": str(me.agency_id)}  # fmt: skip
    response = post(url, data, page=url)
    assert response.status_code == 200
    assert "cannot remove your own" in response.get_data(as_text=True)
    assert _user(db, "admin").role == "admin"


def test_reset_password_and_twofactor(app: Any, post: Any, db: Any, tag: str,
                                      cleanup: None) -> None:  # fmt: skip
    _create(post, f"{tag}.two")
    user = _user(db, f"{tag}.two")
    user.failed_logins, user.totp_secret, user.totp_enabled = 3, "JBSWY3DPEHPK3PXP", True
    db.session.commit()
    page = f"/admin/users/{user.id}"
    short = post(f"/admin/users/{user.id}/password", {"password": "abc"}, page=page)
    assert short.status_code == 302
    assert post(f"/admin/users/{user.id}/password", {"password": "mat-khau-moi-2026"},
                page=page).status_code == 302  # fmt: skip
    entry = last_audit(db, "user.password_reset")
    assert entry.target_id == f"{tag}.two"
    assert "mat-khau-moi-2026" not in str(entry.after) and "abc" not in str(entry.after)
    assert _user(db, f"{tag}.two").failed_logins == 0

    # Without the confirmation box nothing happens; with it, two-factor is off.
    post(f"/admin/users/{user.id}/2fa", {}, page=page)
    assert _user(db, f"{tag}.two").totp_enabled is True
    post(f"/admin/users/{user.id}/2fa", {"confirm": "y"}, page=page)
    reset = _user(db, f"{tag}.two")
    assert (reset.totp_enabled, reset.totp_secret) == (False, None)
    entry = last_audit(db, "user.2fa_reset")
    assert entry.before == {"totp_enabled": True} and entry.after == {"totp_enabled": False}

    # The new password works (two-factor is off now, so the password alone signs in).
    other = app.test_client()
    token = csrf_token(other.get("/login"))
    response = other.post("/login", data={"username": f"{tag}.two",
                                          "password": "mat-khau-moi-2026", "csrf_token": token})  # fmt: skip
    assert response.status_code == 302
