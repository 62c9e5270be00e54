"""Response templates with placeholders (the denouncer's name always blank), and scoping: another
agency's ticket is a 404 for every console route; supervisors read but never act."""

from __future__ import annotations

import html
import re

from service.domain import responses
from service.models import Category, ResponseTemplate, Ticket
from tests.console.conftest import reload

BODY = (
    "Kính gửi {citizen_name}: hồ sơ {code} ({title}) do {agency} xử lý trước {due_date}. {unknown}"
)


def _templates(db) -> tuple[ResponseTemplate, ResponseTemplate]:
    env = db.session.query(Category).filter_by(code="env").one()
    health = db.session.query(Category).filter_by(code="health").one()
    mine = ResponseTemplate(category_id=env.id, name="Tiếp nhận môi trường", body_vi=BODY,
                            body_en="Dear {citizen_name}, {code} is handled by {agency}.")  # fmt: skip
    general = ResponseTemplate(category_id=None, name="Chung", body_vi="Cảm ơn về {code}.")
    db.session.add_all([
        mine, general,
        ResponseTemplate(category_id=health.id, name="Y tế", body_vi="Không dành cho môi trường"),
        ResponseTemplate(category_id=None, name="Đã tắt", body_vi="Cũ", active=False),
    ])  # fmt: skip
    db.session.commit()
    return mine, general


def reply_box(page) -> str:
    match = re.search(r'<textarea name="body" id="body-reply"[^>]*>([^<]*)</textarea>',
                      page.get_data(as_text=True))  # fmt: skip
    assert match
    return html.unescape(match.group(1))


def test_template_picker_fills_placeholders(db, file, console):
    mine, general = _templates(db)
    ticket = file("Khói bụi từ xưởng gỗ", name="Phan Văn Rõ")
    console.login("tcs.a1")
    console.act(ticket.code, "accept")
    ticket = reload(db, ticket)
    page = console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    names = re.findall(r'data-template-url="[^"]+">([^<]+)</a>', page)
    assert set(names) == {"Tiếp nhận môi trường", "Chung"}  # its category + general, active only
    filled = reply_box(console.get(f"/console/tickets/{ticket.code}?template={mine.id}&into=reply"))
    due = ticket.resolution_due.strftime("%d/%m/%Y")
    assert filled == (f"Kính gửi Phan Văn Rõ: hồ sơ {ticket.code} (Khói bụi từ xưởng gỗ) do "
                      f"UBND phường Thử A xử lý trước {due}. {{unknown}}")  # fmt: skip
    as_json = console.get(f"/console/tickets/{ticket.code}/templates/{general.id}").get_json()
    assert as_json == {"body": f"Cảm ơn về {ticket.code}."}
    other = db.session.query(ResponseTemplate).filter_by(name="Y tế").one()
    assert console.get(f"/console/tickets/{ticket.code}/templates/{other.id}").status_code == 404
    assert console.get("/static/console.js").status_code == 200


def test_template_never_names_the_denouncer(db, file, console):
    mine, _general = _templates(db)
    sealed = file("Tố cáo xả thải trái phép", kind="denunciation", category="env",
                  agency="TCS-A", name="Trịnh Bí Mật", language="en")  # fmt: skip
    console.login("tcs.a1")
    console.act(sealed.code, "accept")
    body = console.get(f"/console/tickets/{sealed.code}/templates/{mine.id}").get_json()["body"]
    assert body == f"Dear , {sealed.code} is handled by UBND phường Thử A."
    assert "Bí Mật" not in body
    assert responses.fill("{citizen_name}{code}", {"code": "X"}) == "X"


def test_other_agency_gets_404_everywhere(app, db, file, console, org):
    from service.domain.attachments import IncomingFile
    from service.domain.handling import route_ticket
    from service.domain.intake import InboundTicket, Settings, receive

    result = receive(db.session, InboundTicket(
        channel="web", kind="feedback", category_code="env", area_code="TCS-A",
        title="Ảnh bãi rác tự phát", description="Bãi rác tự phát sau trường học.",
        attachments=[IncomingFile("a.pdf", b"%PDF-1.4\n" + b"0" * 64)]),
        Settings(code_prefix="PA", upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
    route_ticket(db.session, result.ticket_id)
    ticket = db.session.get(Ticket, result.ticket_id)
    attachment_id = ticket.attachments[0].id
    code = ticket.code
    template = ResponseTemplate(name="Chung", body_vi="x")
    db.session.add(template)
    db.session.commit()
    urls = [f"/console/tickets/{code}", f"/console/tickets/{code}/attachments/{attachment_id}",
            f"/console/tickets/{code}/templates/{template.id}"]  # fmt: skip
    console.login("tcs.b1")
    for url in urls:
        assert console.get(url).status_code == 404, url
    for action in ("accept", "note", "assign", "transfer", "split", "mark_duplicate", "extend"):
        assert console.act(code, action, body="x").status_code == 404
    assert console.act("PA-1999-000001", "accept").status_code == 404
    assert (
        console.post("/console/auto-assign", agency_id=org["agencies"]["TCS-A"]).status_code == 404
    )
    assert reload(db, ticket).status == "routed" and len(ticket.events) == 2

    console.login("tcs.sup")  # reads everything below TCS, acts on nothing
    page = console.get(urls[0])
    assert page.status_code == 200 and 'id="actions"' not in page.get_data(as_text=True)
    assert console.get(urls[1]).status_code == 200
    assert console.get(urls[2]).status_code == 403
    assert console.act(code, "accept").status_code == 403
    assert (
        console.post("/console/bulk", op="status", bulk_action="accept", codes=code).status_code
        == 403
    )
    assert reload(db, ticket).status == "routed"

    console.login("tcs.op")
    assert console.get(urls[0]).status_code == 403
