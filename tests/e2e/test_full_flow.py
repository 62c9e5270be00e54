"""End to end on the real stack: PostgreSQL, Redis, a real RQ worker process, a real SMTP server."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from service.models import Agency, Ticket
from tests.conftest import wait_for
from tests.helpers import TICKET, csrf_token, ticket_status


def _agency_code(app: Any, db: Any, code: str) -> str:
    with app.app_context():
        ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        agency = db.session.get(Agency, ticket.agency_id)
        result = agency.code if agency else ""
        db.session.remove()
        return result


def test_three_intakes_routed_notified_answered(app, db, client, worker, mailbox, login):
    worker.start(1)

    # 1. A citizen files on the public web form (CSRF on, Vietnamese page).
    page = client.get("/submit")
    assert "Gửi phản ánh" in page.get_data(as_text=True)
    response = client.post("/submit", data={
        "csrf_token": csrf_token(page), "nonce": "n-1", "kind": "feedback", "category": "env",
        "title": "Đèn đường hỏng <b>khu dân cư</b>", "area": "DN-HAICHAU",
        "description": "Rác thải ùn ứ nhiều ngày <script>alert(1)</script> trước nhà số 5.",
        "address": "5 Trần Phú", "name": "Lê Thị Web", "email": "web@example.com", "phone": "",
    })  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    submitted = client.get(response.location)
    web_code = re.search(r'id="ticket-code">([^<]+)<', submitted.get_data(as_text=True)).group(1)
    track_url = re.search(
        r'id="tracking-link" href="([^"]+)"', submitted.get_data(as_text=True)
    ).group(1)

    # 2. A hotline operator files a caller's road damage report as a signed petition.
    login("hotline")
    page = client.get("/operator/new")
    response = client.post("/operator/new", data={
        "csrf_token": csrf_token(page), "nonce": "n-2", "kind": "complaint", "category": "traffic",
        "legal_form": "signed_petition", "title": "Ổ gà lớn trên đường Điện Biên Phủ",
        "description": "Ổ gà sâu gây nguy hiểm cho xe máy vào ban đêm.", "area": "DN-THANHKHE",
        "name": "Trần Văn Gọi", "email": "caller@example.com", "phone": "0905000111",
    })  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    hotline_code = response.location.split("filed=")[1]
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/operator/new"))})

    # 3. A program files a denunciation through the JSON API.
    body = {**TICKET, "kind": "denunciation", "category": "land",
            "citizen": {"name": "Người Tố Cáo", "email": "api@example.com"}}  # fmt: skip
    response = client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201
    api = response.get_json()
    assert set(api) == {"code", "tracking_token", "status", "tracking_url"}
    assert api["status"] == "received"

    # Routed by the worker where the demo rules say.
    for code in (web_code, hotline_code, api["code"]):
        wait_for(lambda c=code: ticket_status(app, c) == "routed")
    assert _agency_code(app, db, web_code) == "DN-HAICHAU"  # local matter → the ward
    assert _agency_code(app, db, hotline_code) == "DN-SXD"  # traffic → Department of Construction
    assert _agency_code(app, db, api["code"]) == "DN-TTR"  # denunciation → Inspectorate
    with app.app_context():
        hotline_ticket = db.session.scalars(select(Ticket).where(Ticket.code == hotline_code)).one()
        assert hotline_ticket.channel == "hotline"
        assert hotline_ticket.legal_form == "signed_petition"
        assert hotline_ticket.acceptance_due is not None
        db.session.remove()

    # Receipts arrive by email, threaded and marked automatic.
    for address, code in (("web@example.com", web_code), ("caller@example.com", hotline_code),
                          ("api@example.com", api["code"])):  # fmt: skip
        mail = wait_for(lambda a=address: mailbox.to(a))[0]
        assert code in mail["Subject"]
        assert mail["Auto-Submitted"] == "auto-replied"
        assert re.fullmatch(rf"<pakn\.{code}\.\d+\.[0-9a-f]{{16}}@[^>]+>", mail["Message-ID"])
        assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
    receipt = mailbox.to("web@example.com")[0]
    assert "Hải Châu" in receipt.get_body(("plain",)).get_content()

    # An officer of another ward cannot see the ticket at all.
    login("canbo.thanhkhe")
    assert client.get(f"/console/tickets/{web_code}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/console/"))})

    # The ward's officer accepts and replies.
    login("canbo.haichau")
    page = client.get(f"/console/tickets/{web_code}")
    assert page.status_code == 200
    token = csrf_token(page)
    assert (
        client.post(
            f"/console/tickets/{web_code}/act", data={"csrf_token": token, "action": "accept"}
        ).status_code
        == 302
    )
    reply = "Phường đã cử tổ vệ sinh thu gom rác trong sáng nay. <i>Cảm ơn</i>"
    client.post(
        f"/console/tickets/{web_code}/act",
        data={"csrf_token": token, "action": "reply", "body": reply},
    )
    assert ticket_status(app, web_code) == "in_progress"

    # The reply reaches the citizen by email, in the same thread as the receipt.
    mail = wait_for(
        lambda: [
            m
            for m in mailbox.to("web@example.com")
            if "tổ vệ sinh" in m.get_body(("plain",)).get_content()
        ]
    )[0]
    assert receipt["Message-ID"] in mail["References"].split()
    assert mail["In-Reply-To"] == mail["References"].split()[-1]
    assert mail["Auto-Submitted"] == "no"
    html = mail.get_body(("html",)).get_content()
    assert "<i>Cảm ơn</i>" not in html and "&lt;i&gt;Cảm ơn&lt;/i&gt;" in html

    # The citizen sees the reply on the tracking page, markup shown as text.
    page = app.test_client().get(
        track_url.replace("http://pakn.test", "").replace("http://localhost", "")
    )
    text = page.get_data(as_text=True)
    assert "tổ vệ sinh thu gom rác" in text
    assert "&lt;i&gt;Cảm ơn&lt;/i&gt;" in text and "<script>alert(1)</script>" not in text
    assert 'data-status="in_progress"' in text

    # And through the API with the tracking token.
    status = client.get(
        f"/api/v1/tickets/{api['code']}", headers={"X-Tracking-Token": api["tracking_token"]}
    )
    assert status.status_code == 200 and status.get_json()["agency"] == "Thanh tra thành phố"
    assert (
        client.get(
            f"/api/v1/tickets/{api['code']}", headers={"X-Tracking-Token": "wrong"}
        ).status_code
        == 403
    )
