"""In Chromium: a citizen files on the web form; the ward officer accepts, replies and resolves it;
a transfer between agencies lands in the receiving officer's queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import Agency, Ticket
from tests.browser.conftest import shot, sign_in
from tests.helpers import TICKET, ticket_status


def _ticket(app: Any, db: Any, code: str) -> tuple[str, str | None, str | None]:
    with app.app_context():
        ticket = db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        agency = db.session.get(Agency, ticket.agency_id) if ticket.agency_id else None
        result = (ticket.status, agency.code if agency else None, ticket.resolution)
        db.session.remove()
        return result


def _file_on_web(page: Any) -> tuple[str, str]:
    """The citizen's side: the public form, then the receipt page; returns (code, tracking URL)."""
    page.goto("/submit")
    assert page.locator("h1").inner_text() == "Gửi phản ánh"
    shot(page, "01-public-form")
    page.select_option("select[name=kind]", "feedback")
    page.select_option("select[name=category]", "traffic")
    page.select_option("select[name=area]", "DN-HAICHAU")
    page.fill("input[name=title]", "Ổ gà lớn trên đường Hồng Bàng")
    page.fill("textarea[name=description]", "Mặt đường hỏng nặng trước số 12, xe máy dễ té ngã.")
    page.fill("input[name=address]", "12 Hồng Bàng")
    page.fill("input[name=name]", "Lê Thị Trình Duyệt")
    page.fill("input[name=email]", "trinhduyet@example.com")
    page.click("form.ticket-form button[type=submit]")
    code = page.locator("#ticket-code").inner_text().strip()
    return code, page.locator("#tracking-link").get_attribute("href") or ""


def test_officer_accepts_replies_and_resolves(app, db, worker, new_page):
    citizen = new_page()
    code, tracking = _file_on_web(citizen)
    worker.burst()  # the route job: traffic goes to the Department of Construction
    status, agency, _ = _ticket(app, db, code)
    assert (status, agency) == ("routed", "DN-SXD")

    officer = new_page()
    sign_in(officer, "canbo.xaydung")
    officer.goto("/console/?status=open&q=duong+hong")  # accent-insensitive search
    row = officer.locator("#queue tbody tr", has_text=code)
    assert row.count() == 1
    shot(officer, "03-console-queue")
    row.locator(f"a:text('{code}')").click()
    officer.wait_for_url(f"**/console/tickets/{code}")
    shot(officer, "04-console-ticket")

    officer.click("#act-accept button[type=submit]")
    officer.wait_for_load_state()
    assert ticket_status(app, code) == "accepted"
    officer.fill("#act-reply textarea[name=body]", "Đã cử đội duy tu kiểm tra hiện trường.")
    officer.click("#act-reply button[type=submit]")
    officer.wait_for_load_state()
    assert ticket_status(app, code) == "in_progress"
    officer.fill("#act-resolve textarea[name=body]", "Đã vá ổ gà, mặt đường đi lại bình thường.")
    officer.click("#act-resolve button[type=submit]")
    officer.wait_for_load_state()
    assert _ticket(app, db, code)[0::2] == ("resolved", "Đã vá ổ gà, mặt đường đi lại bình thường.")
    timeline = officer.locator("li.event").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert [k for k in ("accepted", "replied", "resolved") if k in timeline] == [
        "accepted", "replied", "resolved"]  # fmt: skip

    # The citizen's tracking page shows the public reply and the result.
    worker.burst()
    citizen.goto(tracking)
    text = citizen.locator("body").inner_text()
    assert "Đã cử đội duy tu kiểm tra hiện trường." in text
    assert "Đã vá ổ gà, mặt đường đi lại bình thường." in text
    shot(citizen, "02-tracking-page")


def test_transfer_reaches_the_receiving_officer(app, db, client, worker, new_page):
    body = {**TICKET, "title": "Rác thải tồn đọng chợ Cồn", "category": "env"}
    response = client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    code = response.get_json()["code"]
    worker.burst()
    assert _ticket(app, db, code)[:2] == ("routed", "DN-HAICHAU")

    sender = new_page()
    sign_in(sender, "canbo.haichau")
    sender.goto(f"/console/tickets/{code}")
    with app.app_context():
        thanh_khe = db.session.scalar(select(Agency.id).where(Agency.code == "DN-THANHKHE"))
        db.session.remove()
    sender.select_option("#act-transfer select[name=target_agency]", str(thanh_khe))
    sender.fill("#act-transfer textarea[name=body]", "Địa điểm thuộc phường Thanh Khê.")
    sender.click("#act-transfer button[type=submit]")
    sender.wait_for_load_state()
    assert _ticket(app, db, code)[:2] == ("transferred", "DN-THANHKHE")
    # The sender keeps a read-only referral.
    sender.goto("/console/referred")
    assert sender.locator("body", has_text=code).count() == 1

    receiver = new_page()
    sign_in(receiver, "canbo.thanhkhe")
    receiver.goto("/console/")
    row = receiver.locator("#queue tbody tr", has_text=code)
    assert row.count() == 1
    row.locator(f"a:text('{code}')").click()
    receiver.click("#act-accept button[type=submit]")
    receiver.wait_for_load_state()
    assert _ticket(app, db, code)[:2] == ("accepted", "DN-THANHKHE")
