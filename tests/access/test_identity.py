"""Revealing a denouncer's identity: permission, a stated reason, an audit entry, one request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from service.models import AuditEntry
from tests.access.support import PLANTED, file_ticket, planted_leaks, post_login
from tests.helpers import csrf_token


def _reveal(client: Any, code: str, reason: str | None) -> Any:
    token = csrf_token(client.get(f"/console/tickets/{code}"))
    data = {"csrf_token": token} | ({"reason": reason} if reason is not None else {})
    return client.post(f"/console/tickets/{code}/identity", data=data)


def _last_id(db: Any) -> int:
    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def _entries(db: Any, code: str, since: int) -> list[AuditEntry]:
    """Entries about the ticket written by this test (codes restart with each test's data)."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "ticket", AuditEntry.target_id == code)
            .where(AuditEntry.id > since)
            .order_by(AuditEntry.id)
        )
    )


def test_handler_sees_the_denunciation_redacted(app, db, client, login, denunciation):
    login("canbo.thanhtra")  # officer of the Inspectorate, which handles the denunciation
    page = client.get(f"/console/tickets/{denunciation.code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert planted_leaks(html) == []
    assert "identity-sealed" in html
    assert "identity-reveal-form" not in html  # officers are never offered the reveal


def test_reveal_with_permission_and_reason(app, db, client, login, denunciation):
    start = _last_id(db)
    login("giamsat")  # supervisor of the whole city, given the permission in the demo data
    page = client.get(f"/console/tickets/{denunciation.code}")
    assert "identity-reveal-form" in page.get_data(as_text=True)
    assert planted_leaks(page.get_data(as_text=True)) == []

    reason = "Cần liên hệ người tố cáo để bổ sung chứng cứ"
    response = _reveal(client, denunciation.code, reason)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert sorted(planted_leaks(html)) == sorted(PLANTED.values())
    assert "no-store" in response.headers["Cache-Control"]

    [entry] = [e for e in _entries(db, denunciation.code, start) if e.action == "identity.reveal"]
    assert entry.reason == reason and entry.actor.username == "giamsat"
    assert entry.ip == "127.0.0.1"
    assert planted_leaks(f"{entry.before} {entry.after} {entry.reason}") == []

    # Shown for that request only: the ticket page is redacted again.
    again = client.get(f"/console/tickets/{denunciation.code}").get_data(as_text=True)
    assert planted_leaks(again) == []


def test_reveal_needs_a_reason(app, db, client, login, denunciation):
    start = _last_id(db)
    login("giamsat")
    for reason in (None, "", "   too short  ", "          "):
        response = _reveal(client, denunciation.code, reason)
        assert response.status_code == 302, reason
        assert planted_leaks(client.get(response.location).get_data(as_text=True)) == []
    assert [e.action for e in _entries(db, denunciation.code, start)] == []


def test_reveal_needs_csrf(app, db, client, login, denunciation):
    login("giamsat")
    response = client.post(
        f"/console/tickets/{denunciation.code}/identity", data={"reason": "x" * 40}
    )
    assert response.status_code == 400
    assert planted_leaks(response.get_data(as_text=True)) == []


def test_reveal_refused_without_permission(app, db, client, make_user, denunciation):
    start = _last_id(db)
    reason = "Tôi muốn biết ai đã tố cáo vụ việc này"
    cases = [
        ("t.off.ttr", "officer", "DN-TTR", False, 403),  # the handler itself
        ("t.off.flag", "officer", "DN-TTR", True, 403),  # officers never, even with the flag
        ("t.lead.ttr", "lead", "DN-TTR", False, 403),  # a lead in scope, without the flag
        ("t.lead.sxd", "lead", "DN-SXD", True, 404),  # the flag, but another agency's ticket
    ]
    for username, role, agency, flag, status in cases:
        make_user(username, role, agency, can_reveal=flag)
        other = app.test_client()
        post_login(other, username)
        token = csrf_token(other.get("/console/"))
        response = other.post(f"/console/tickets/{denunciation.code}/identity",
                              data={"csrf_token": token, "reason": reason})  # fmt: skip
        assert response.status_code == status, username
        assert planted_leaks(response.get_data(as_text=True)) == [], username
    denied = [
        e for e in _entries(db, denunciation.code, start) if e.action == "identity.reveal_denied"
    ]
    assert sorted(e.actor_label for e in denied) == ["t.lead.ttr", "t.off.flag", "t.off.ttr"]
    assert all(e.reason == reason for e in denied)
    assert not [e for e in _entries(db, denunciation.code, start) if e.action == "identity.reveal"]


def test_lead_with_flag_in_scope_may_reveal(app, db, client, make_user, denunciation):
    make_user("t.lead.ok", "lead", "DN-TTR", can_reveal=True)
    post_login(client, "t.lead.ok")
    response = _reveal(client, denunciation.code, "Xác minh nội dung tố cáo với người tố cáo")
    assert response.status_code == 200
    assert PLANTED["phone"] in response.get_data(as_text=True)


def test_ordinary_ticket_shows_the_citizen_to_its_handler(app, db, client, login):
    ticket = file_ticket(db.session, app.config["UPLOAD_FOLDER"], agency="DN-HAICHAU")
    login("canbo.haichau")
    html = client.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    assert "Người Dân Thường" in html and "0905111222" in html
    assert "identity-reveal-form" not in html
    # The reveal route refuses an officer whatever the ticket; a permitted user is just sent
    # back (nothing is sealed).
    assert _reveal(client, ticket.code, "không cần thiết nhưng thử xem").status_code == 403
    login("giamsat")
    response = _reveal(client, ticket.code, "không cần thiết nhưng thử xem")
    assert response.status_code == 302 and response.location.endswith(ticket.code)
