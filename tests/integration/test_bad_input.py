"""Bad input gets a clear error and leaves nothing half-saved; markup is shown escaped."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from service.models import Attachment, Citizen, CitizenContact, InboundMessage, Ticket, TicketEvent
from tests.helpers import TICKET, csrf_token

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def client(client):
    # API messages follow Accept-Language (Vietnamese by default); these assert the English ones.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def nothing_saved(db) -> None:
    for model in (Ticket, TicketEvent, Citizen, CitizenContact, InboundMessage, Attachment):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0, model.__name__


def api_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"} and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"title": None}, "title", "This field is required."),
        ({"title": 42}, "title", "This value has the wrong type."),
        ({"title": "ab"}, "title", "This is too short."),
        ({"description": "x" * 10001}, "description", "This is too long."),
        ({"kind": "praise"}, "kind", "This value is not valid."),
        ({"category": "nope"}, "category", "This choice does not exist."),
        ({"location": {"area": "NOWHERE"}}, "area", "This choice does not exist."),
        ({"location": {"lat": 200, "lng": 1}}, "lat", "This value is not valid."),
        ({"location": {"lat": "16"}}, "lat", "This value has the wrong type."),
        ({"location": "Hải Châu"}, "location", "This value has the wrong type."),
        ({"citizen": {"email": "not-an-email"}}, "email", "This value is not valid."),
        ({"citizen": {"phone": "12ab"}}, "phone", "This value is not valid."),
        ({"kind": "complaint", "citizen": {}}, "name", None),
        ({"kind": "denunciation", "citizen": {"name": "Ẩn Danh"}}, "contact", None),
        ({"category": "admin", "citizen": {}}, "contact", None),
        ({"attachments": "x"}, "attachments", "This value has the wrong type."),
        ({"attachments": [{"filename": "a.png", "content_base64": "!!!"}]}, "attachments", None),
    ],
)
def test_api_field_errors(client, db, patch, field, message):
    err = api_error(client.post("/api/v1/tickets", json={**TICKET, **patch}), 422)
    assert err["code"] == "invalid" and field in err["fields"]
    if message:
        assert err["fields"][field] == message
    nothing_saved(db)


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"\xff\xfe{}", "bad_encoding"), (b'{"kind": ', "malformed_json"), (b"[1, 2]", "not_object")],
)
def test_api_unreadable_body(client, db, raw, code):
    err = api_error(client.post("/api/v1/tickets", data=raw, content_type="application/json"), 400)
    assert err["code"] == code
    nothing_saved(db)


def test_api_wrong_content_type(client, db):
    err = api_error(client.post("/api/v1/tickets", data="kind=feedback"), 415)
    assert err["code"] == "unsupported_media_type"
    nothing_saved(db)


def test_api_oversized_body(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    body = {**TICKET, "description": "x" * 60_000}
    err = api_error(client.post("/api/v1/tickets", json=body), 413)
    assert err["code"] == "too_large"
    nothing_saved(db)


def test_api_attachments_checked_by_content(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_ATTACHMENT_BYTES", 1000)
    fake = {
        "filename": "photo.jpg",
        "content_base64": base64.b64encode(b"MZ\x90\x00 not an image").decode(),
    }
    err = api_error(client.post("/api/v1/tickets", json={**TICKET, "attachments": [fake]}), 422)
    assert (
        err["fields"]["attachments"]
        == "Only JPEG, PNG, GIF, WebP images and PDF files are accepted."
    )
    big = {"filename": "big.png", "content_base64": base64.b64encode(PNG + b"\0" * 2000).decode()}
    err = api_error(client.post("/api/v1/tickets", json={**TICKET, "attachments": [big]}), 422)
    assert err["fields"]["attachments"] == "A file is too large."
    nothing_saved(db)
    good = {"filename": "../../etc/passwd.exe", "content_base64": base64.b64encode(PNG).decode()}
    assert client.post("/api/v1/tickets", json={**TICKET, "attachments": [good]}).status_code == 201
    attachment = db.session.scalars(select(Attachment)).one()
    assert (attachment.content_type, attachment.filename) == ("image/png", "passwd.png")


def test_api_unknown_ticket_and_missing_token(client, db):
    assert api_error(client.get("/api/v1/tickets/PA-2026-999999"), 404)["code"] == "not_found"
    code = client.post("/api/v1/tickets", json=TICKET).get_json()["code"]
    assert api_error(client.get(f"/api/v1/tickets/{code}"), 403)["code"] == "forbidden"


def test_markup_is_stored_as_text_and_shown_escaped(client, db):
    evil = {
        **TICKET,
        "title": "<script>alert('x')</script> Rác",
        "description": "<img src=x onerror=alert(1)> ở đây",
    }
    created = client.post("/api/v1/tickets", json=evil).get_json()
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.title == "<script>alert('x')</script> Rác"  # kept verbatim as plain text
    page = client.get(f"/track/{created['tracking_token']}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Rác" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_control_characters_are_dropped(client, db):
    client.post("/api/v1/tickets", json={**TICKET, "title": "Rác\x00 thải\x07 nhiều"})
    assert db.session.scalars(select(Ticket.title)).one() == "Rác thải nhiều"


def test_api_messages_default_to_vietnamese(app, db):
    err = api_error(app.test_client().post("/api/v1/tickets", json={**TICKET, "title": None}), 422)
    assert err["fields"]["title"] == "Thông tin này là bắt buộc."


def test_web_form_errors_in_vietnamese_and_nothing_saved(client, db):
    page = client.get("/submit")
    response = client.post("/submit", data={
        "csrf_token": csrf_token(page), "kind": "complaint", "category": "env", "title": "",
        "description": "ngắn", "email": "sai", "lat": "abc",
    })  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Thông tin này là bắt buộc." in html  # title required, in Vietnamese
    assert "Giá trị không hợp lệ." in html  # bad email
    assert 'class="field has-error"' in html
    nothing_saved(db)


def test_web_form_without_csrf_is_refused(client, db):
    response = client.post("/submit", data={"kind": "feedback", "category": "env", "title": "Tiêu đề đủ dài",
                                            "description": "Mô tả đủ dài cho phản ánh"})  # fmt: skip
    assert response.status_code == 400
    assert "Yêu cầu không hợp lệ" in response.get_data(as_text=True)
    nothing_saved(db)


def test_web_form_oversized_upload(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 20_000)
    page = client.get("/submit")
    from io import BytesIO

    response = client.post("/submit", data={
        "csrf_token": csrf_token(page), "kind": "feedback", "category": "env", "title": "Ảnh quá lớn",
        "description": "Gửi ảnh rất lớn để thử", "attachments": (BytesIO(PNG + b"\0" * 40_000), "a.png"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 413
    assert "Dung lượng quá lớn" in response.get_data(as_text=True)
    nothing_saved(db)


def test_invalid_utf8_in_form_is_not_a_500(client, db):
    page = client.get("/submit")
    body = (
        b"csrf_token="
        + csrf_token(page).encode()
        + b"&kind=feedback&category=env&title=%FF%FE%FD+abc&description=%C3%28%28%28%28%28%28%28%28"
    )
    response = client.post("/submit", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (302, 422)
