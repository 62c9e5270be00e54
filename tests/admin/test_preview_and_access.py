""" "Where would this go?" agrees with real routing and saves nothing; /admin is admins only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from service.domain.handling import route_ticket
from service.domain.intake import InboundTicket, Settings, receive
from service.models import Agency, AuditEntry, Category, RoutingRule, Ticket, TicketEvent
from tests.helpers import csrf_token

TITLE = "Đường hư hỏng nặng"
CASES = [
    # kind, category, area, channel, words in the description
    ("feedback", "traffic", "DN-HAICHAU", "web", "Ổ gà lớn zzadmintest giữa đường"),
    ("feedback", "env", "DN-HAICHAU", "hotline", "Rác tồn đọng nhiều ngày"),
    ("denunciation", "land", "DN-HAICHAU", "web", "Tố cáo lấn chiếm đất công"),
    ("recommendation", "other", None, "web", "Đề nghị mở thêm công viên"),
]


@pytest.fixture
def keyword_rule(db: Any, tag: str, cleanup: None) -> int:
    """A first rule that only raises the priority on a keyword nobody else uses."""
    rule = RoutingRule(position=1, name=f"{tag} keyword", keywords=["zzadmintest"],
                       priority="urgent", stop=False)  # fmt: skip
    db.session.add(rule)
    db.session.commit()
    return rule.id


def _ids(db: Any, model: Any, code: str | None) -> int | None:
    return db.session.scalars(select(model.id).where(model.code == code)).first() if code else None


def _preview(post: Any, kind: str, category: int | None, area: int | None, channel: str,
             text: str) -> tuple[int | None, list[int], str]:  # fmt: skip
    data = {"kind": kind, "category": str(category or ""), "area": str(area or ""),
            "channel": channel, "text": text}  # fmt: skip
    page = post("/admin/rules/preview", data, page="/admin/rules/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    agency = re.search(r'id="preview-agency" data-agency-id="(\d*)"', html)
    assert agency, html[-3000:]
    matched = [int(i) for i in re.findall(r'<li data-id="(\d+)"', html)]
    priority = re.search(r'id="preview-priority">(\w+)<', html)
    return (int(agency.group(1)) if agency.group(1) else None), matched, priority.group(1)


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_preview_matches_real_routing(app: Any, db: Any, post: Any, keyword_rule: int,
                                      case: tuple[Any, ...]) -> None:  # fmt: skip
    kind, category, area, channel, words = case
    counts = [db.session.scalar(select(func.count()).select_from(m))
              for m in (Ticket, TicketEvent, AuditEntry)]  # fmt: skip
    agency, matched, priority = _preview(post, kind, _ids(db, Category, category),
                                         _ids(db, Agency, area), channel, f"{TITLE}\n{words}")  # fmt: skip
    db.session.expire_all()
    after = [db.session.scalar(select(func.count()).select_from(m))
             for m in (Ticket, TicketEvent, AuditEntry)]  # fmt: skip
    assert after == counts  # nothing saved, nothing audited

    result = receive(db.session, InboundTicket(
        channel=channel, kind=kind, category_code=category, area_code=area, title=TITLE,
        description=words, address="5 Trần Phú", citizen_name="Nguyễn Văn Thử",
        email="thu@example.com", phone="0905000111", citizen_address="1 Lê Lợi",
    ), Settings(code_prefix="PA", upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
    assert route_ticket(db.session, result.ticket_id)
    ticket = db.session.get(Ticket, result.ticket_id)
    routed = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "routed")
    ).one()
    assert agency == ticket.agency_id is not None
    assert matched == routed.data["rules"]
    assert priority == ticket.priority
    assert (keyword_rule in matched) == ("zzadmintest" in words)


NON_ADMINS = ["hotline", "canbo.haichau", "lanhdao.xaydung", "giamsat"]
PAGES = ["/admin/", "/admin/agencies", "/admin/agencies/merge", "/admin/users",
         "/admin/categories/new", "/admin/rules", "/admin/rules/preview", "/admin/policies",
         "/admin/holidays/2026", "/admin/templates"]  # fmt: skip


@pytest.mark.parametrize("username", NON_ADMINS)
def test_non_admins_are_refused(app: Any, db: Any, username: str) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/login"))
    response = client.post("/login", data={"username": username, "password": "pakn-demo-2026",
                                           "csrf_token": token})  # fmt: skip
    assert response.status_code == 302
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    admin_id = db.session.scalars(select(Agency.id).where(Agency.code == "DN")).one()
    token = csrf_token(client.get("/"))  # a fresh session after login: a fresh token
    response = client.post(f"/admin/agencies/{admin_id}",
                           data={"code": "HACKED", "name": "x", "kind": "x", "csrf_token": token})  # fmt: skip
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Agency, admin_id).code == "DN"
    # No link to the screens either; supervisors still read the audit log.
    assert "/admin/" not in client.get("/console/").get_data(as_text=True).replace(
        "/admin/audit", "")  # fmt: skip
    if username == "giamsat":
        assert client.get("/admin/audit/").status_code == 200


def test_anonymous_is_sent_to_login(client: Any) -> None:
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.location


def test_admin_sees_every_screen(admin: Any) -> None:
    assert 'href="/admin/"' in admin.get("/console/").get_data(as_text=True)
    for page in PAGES + ["/admin/agencies/new", "/admin/users/new", "/admin/rules/new",
                         "/admin/policies/new", "/admin/templates/new", "/admin/categories"]:  # fmt: skip
        response = admin.get(page)
        assert response.status_code == 200, page
        assert 'name="csrf_token"' in response.get_data(as_text=True) or page in (
            "/admin/", "/admin/agencies", "/admin/users", "/admin/categories")  # fmt: skip
