"""Confidentiality sweep: a denouncer's planted name, phone, email and address appear in none of
the outputs handlers or others see (queue, ticket page, API, agency notices, audit log)."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from service.delivery import render
from service.domain import redaction
from service.domain.handling import apply_action
from service.models import Agency, Delivery, Ticket
from tests.access.support import PLANTED, file_ticket, planted_leaks


def _fake_ticket(kind: str = "denunciation", confidential: bool = True) -> SimpleNamespace:
    contacts = [
        SimpleNamespace(channel="email", display=PLANTED["email"], external_id=PLANTED["email"]),
        SimpleNamespace(channel="phone", display=None, external_id=PLANTED["phone"]),
    ]
    citizen = SimpleNamespace(full_name=PLANTED["name"], address=PLANTED["address"],
                              contacts=contacts)  # fmt: skip
    return SimpleNamespace(kind=kind, confidential=confidential, citizen=citizen,
                           pending_contact=None)  # fmt: skip


def test_sealed_tickets_are_redacted_whoever_asks() -> None:
    sealed = _fake_ticket()
    for viewer_can_see in (True, False):
        view = redaction.public_citizen_view(sealed, viewer_can_see)
        assert view["redacted"] and view["sealed"] and view["has_identity"]
        assert planted_leaks(str(view)) == []
        assert planted_leaks(str(redaction.citizen_columns(sealed, viewer_can_see))) == []
    # A denunciation is sealed even if the flag was not set.
    assert redaction.is_sealed(_fake_ticket(confidential=False))
    revealed = redaction.reveal_citizen(sealed)
    assert revealed["revealed"] and sorted(planted_leaks(str(revealed))) == sorted(PLANTED.values())


def test_ordinary_tickets_follow_viewer_can_see() -> None:
    ordinary = _fake_ticket(kind="feedback", confidential=False)
    assert redaction.public_citizen_view(ordinary, False)["name"] is None
    shown = redaction.public_citizen_view(ordinary, True)
    assert shown["name"] == PLANTED["name"] and not shown["redacted"]
    assert redaction.citizen_columns(ordinary, True) == {
        "citizen_name": PLANTED["name"],
        "citizen_email": PLANTED["email"],
        "citizen_phone": PLANTED["phone"],
        "citizen_address": PLANTED["address"],
    }


def test_identity_before_routing_comes_from_the_intake_snapshot() -> None:
    ticket = SimpleNamespace(kind="denunciation", confidential=True, citizen=None,
                             pending_contact={"name": PLANTED["name"], "email": PLANTED["email"],
                                              "phone": None, "address": None, "chat": None})  # fmt: skip
    assert planted_leaks(str(redaction.public_citizen_view(ticket, True))) == []
    assert redaction.reveal_citizen(ticket)["contacts"] == [
        {"channel": "email", "value": PLANTED["email"]}
    ]


def test_scrub_masks_identity_typed_into_free_text() -> None:
    sealed = _fake_ticket()
    text = f"Tôi là {PLANTED['name'].upper()}, số 0912.345.678 hoặc {PLANTED['phone']}."
    scrubbed = redaction.scrub_for_handlers(sealed, text)
    assert planted_leaks(scrubbed) == [] and redaction.MASK in scrubbed
    ordinary = _fake_ticket(kind="feedback", confidential=False)
    assert redaction.scrub_for_handlers(ordinary, text) == text


def test_template_helpers_for_the_ticket_page(app, db, denunciation):
    from flask import render_template_string

    ticket = db.session.get(Ticket, denunciation.id)
    with app.test_request_context():
        text = f"Người tố cáo: {PLANTED['name']}, ĐT {PLANTED['phone']}"
        out = render_template_string("{{ text|scrub_identity(ticket) }}", text=text, ticket=ticket)
        assert planted_leaks(out) == [] and redaction.MASK in out
        # Not logged in: the partial shows nothing identifying and offers no reveal.
        block = render_template_string('{% include "console/_identity.html" %}', ticket=ticket)
        assert planted_leaks(block) == [] and "identity-reveal-form" not in block


def test_no_output_shows_the_denouncer(app, db, client, login, denunciation):
    ordinary = file_ticket(db.session, app.config["UPLOAD_FOLDER"], agency="DN-TTR")
    for username in ("canbo.thanhtra", "giamsat", "admin"):
        login(username)
        for path in (
            "/console/",
            "/console/?status=all",
            "/console/?q=đất+đai",
            f"/console/tickets/{denunciation.code}",
        ):
            response = client.get(path)
            assert response.status_code == 200, (username, path)
            assert planted_leaks(response.get_data(as_text=True)) == [], (username, path)
        queue = client.get("/console/?status=all").get_data(as_text=True)
        assert denunciation.code in queue and ordinary.code in queue  # really listed
    # The public API, with the ticket's own tracking token.
    response = client.get(
        f"/api/v1/tickets/{denunciation.code}",
        headers={"X-Tracking-Token": denunciation.tracking_token},
    )
    assert response.status_code == 200 and response.get_json()["code"] == denunciation.code
    assert planted_leaks(response.get_data(as_text=True)) == []


def test_notices_to_agencies_do_not_carry_the_identity(app, db, denunciation):
    target = db.session.scalars(select(Agency).where(Agency.code == "DN-SXD")).one()
    ticket = db.session.get(Ticket, denunciation.id)
    apply_action(db.session, ticket, "transfer", actor_label="system",
                 body="Chuyển Sở Xây dựng xem xét", target_agency_id=target.id)  # fmt: skip
    db.session.commit()
    deliveries = db.session.scalars(select(Delivery).where(Delivery.ticket_id == ticket.id)).all()
    to_agencies = [d for d in deliveries if d.template.startswith("agency_")]
    assert [d.recipient for d in to_agencies] == [target.email]
    # Also the deadline notices an agency gets.
    for template in ("agency_due_soon", "agency_overdue"):
        extra = Delivery(ticket_id=ticket.id, channel="email", recipient=target.email,
                         template=template)  # fmt: skip
        db.session.add(extra)
        to_agencies.append(extra)
    db.session.flush()
    with app.test_request_context():
        for delivery in to_agencies:
            message = render(db.session, delivery)
            rendered = f"{message.subject}\n{message.text}\n{message.html}"
            assert ticket.code in rendered
            assert planted_leaks(rendered) == [], delivery.template
    db.session.rollback()


def test_audit_log_of_a_reveal_shows_no_identity(app, db, client, login, denunciation):
    from tests.helpers import csrf_token

    login("giamsat")
    token = csrf_token(client.get(f"/console/tickets/{denunciation.code}"))
    response = client.post(f"/console/tickets/{denunciation.code}/identity",
                           data={"csrf_token": token, "reason": "Xác minh thông tin tố cáo"})  # fmt: skip
    assert response.status_code == 200
    log = client.get(f"/admin/audit/?target={denunciation.code}").get_data(as_text=True)
    assert "identity.reveal" in log and "Xác minh thông tin tố cáo" in log
    assert planted_leaks(log) == []
