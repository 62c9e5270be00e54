"""The queue: filters, badge counts, order, pages, accent-insensitive search (PostgreSQL),
scoping and the denouncer's identity kept out of lists and search."""

from __future__ import annotations

import re

from sqlalchemy import select

from service.domain import queue as queue_rules
from service.domain.handling import apply_action
from service.models import Category, Ticket, User
from tests.console.conftest import reload


def codes_on(page) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-code="([^"]+)"', page.get_data(as_text=True))


def badge(page, name: str) -> int:
    match = re.search(
        rf'data-filter="{name}">[^<]*<span class="badge">(\d+)<', page.get_data(as_text=True)
    )
    assert match, name
    return int(match.group(1))


def test_filters_and_counts(db, file, console, org):
    a1 = db.session.get(User, org["users"]["tcs.a1"])
    road = file("Đường hỏng trước chợ", category="urban")
    light = file("Đèn đường không sáng", category="lighting", channel="hotline")
    trash = file("Rác thải ùn ứ", category="env", kind="recommendation")
    done = file("Cây đổ chắn lối đi")
    other = file("Việc của phường B", area="TCS-B")
    apply_action(db.session, reload(db, done), "accept", actor=a1)
    apply_action(db.session, reload(db, done), "resolve", actor=a1, body="Đã dọn xong.")
    road = reload(db, road)
    road.assignee_id = a1.id
    road.due_state = "overdue"
    db.session.commit()
    light = reload(db, light)
    light.due_state = "due_soon"
    db.session.commit()

    console.login("tcs.a1")
    page = console.get("/console/")
    assert page.status_code == 200
    assert set(codes_on(page)) == {road.code, light.code, trash.code}  # open, own agency only
    assert other.code not in page.get_data(as_text=True)
    assert (badge(page, "open"), badge(page, "all"), badge(page, "status-resolved")) == (3, 4, 1)
    assert (badge(page, "mine"), badge(page, "unassigned")) == (1, 2)
    assert (badge(page, "due_soon"), badge(page, "overdue")) == (1, 1)

    assert codes_on(console.get("/console/?assigned=mine")) == [road.code]
    assert set(codes_on(console.get("/console/?assigned=unassigned"))) == {light.code, trash.code}
    assert codes_on(console.get("/console/?due=overdue")) == [road.code]
    assert codes_on(console.get("/console/?due=due_soon")) == [light.code]
    assert codes_on(console.get("/console/?status=resolved")) == [done.code]
    assert codes_on(console.get("/console/?kind=recommendation")) == [trash.code]
    assert codes_on(console.get("/console/?channel=hotline")) == [light.code]
    lighting = db.session.query(Category).filter_by(code="lighting").one()
    assert codes_on(console.get(f"/console/?category={lighting.id}")) == [light.code]
    # Badges follow the other filters: under "hotline" only one ticket is open.
    assert badge(console.get("/console/?channel=hotline"), "open") == 1
    # Unknown filter values fall back to defaults instead of failing.
    assert (
        console.get("/console/?status=bogus&due=x&sort=y&page=-3&category=abc").status_code == 200
    )


def test_sort_by_deadline_and_received_and_pages(db, file, console, org):
    import datetime as dt

    tickets = [file(f"Phản ánh số {i} về vỉa hè") for i in range(5)]
    dues = [dt.date(2030, 1, d) for d in (5, 3, 9, 1, 7)]
    for t, due in zip(tickets, dues, strict=True):
        reload(db, t).acceptance_due = due
        db.session.commit()
    accepted = reload(db, tickets[2])  # accepted: its resolution deadline is the one that counts
    accepted.accepted_at, accepted.resolution_due = accepted.received_at, dt.date(2029, 12, 1)
    db.session.commit()
    console.login("tcs.a1")
    by_due = codes_on(console.get("/console/"))
    expected = [tickets[i].code for i in (2, 3, 1, 0, 4)]
    assert by_due == expected
    assert codes_on(console.get("/console/?sort=-received")) == [t.code for t in reversed(tickets)]
    assert codes_on(console.get("/console/?sort=received")) == [t.code for t in tickets]

    from service.extensions import db as _db

    scope = {org["agencies"]["TCS-A"]}
    f = queue_rules.QueueFilter()
    first = queue_rules.page(_db.session, scope, f, None, page_size=2)
    second = queue_rules.page(
        _db.session, scope, queue_rules.QueueFilter(page=3), None, page_size=2
    )
    assert [t.code for t in first.tickets] == expected[:2] and first.total == 5 and first.has_next
    assert [t.code for t in second.tickets] == expected[4:] and not second.has_next


def test_search_is_accent_insensitive_on_postgresql(db, file, console):
    road = file("Đường hỏng nặng ở Hòa Khánh", description="Ổ gà sâu, nước đọng sau mưa lớn.")
    lamp = file("Đèn chiếu sáng hư", description="Cột đèn số 4 tắt từ tuần trước.",
                address="45 Nguyễn Văn Linh")  # fmt: skip
    console.login("tcs.a1")
    assert codes_on(console.get("/console/?q=duong hong")) == [road.code]
    assert codes_on(console.get("/console/?q=ĐƯỜNG HỎNG")) == [road.code]
    assert codes_on(console.get("/console/?q=o ga")) == [road.code]
    assert codes_on(console.get("/console/?q=nguyen van linh")) == [lamp.code]  # the place
    assert codes_on(console.get(f"/console/?q={lamp.code}")) == [lamp.code]
    assert codes_on(console.get('/console/?q="hong duong"')) == []  # a phrase keeps word order
    assert codes_on(console.get("/console/?q=den -cot")) == []
    assert codes_on(console.get("/console/?q=!!! ((")) == []
    # Search composes with filters and the badges count the matches.
    page = console.get("/console/?q=den")
    assert codes_on(page) == [lamp.code] and badge(page, "open") == 1


def test_words_are_indexed_when_a_ticket_leaves_received(app, db, org):
    """Filing does not compute the search vector (it stays one INSERT); routing does, and so does
    any action that ends a ticket before it was routed. The code is found at once."""
    from service.domain.handling import route_ticket
    from service.domain.intake import InboundTicket, Settings, receive

    def filed(title: str) -> str:
        result = receive(db.session, InboundTicket(
            channel="api", kind="feedback", category_code="env", area_code="TCS-A", title=title,
            description="Nước thải chảy tràn ra đường.", address="8 Trần Phú"),
            Settings(code_prefix="PA", upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
        return result.code

    def found(q: str) -> list[str]:
        f = queue_rules.QueueFilter(q=q, status="all")
        return [t.code for t in queue_rules.page(db.session, None, f, None).tickets]

    routed, withdrawn = filed("Cống ngầm bị vỡ"), filed("Mương thoát nước bốc mùi")
    assert found("cong ngam") == [] and found(routed) == [routed]
    ticket_id = db.session.scalars(select(Ticket.id).where(Ticket.code == routed)).one()
    assert route_ticket(db.session, ticket_id)
    assert found("cong ngam") == [routed]
    unrouted = db.session.scalars(select(Ticket).where(Ticket.code == withdrawn)).one()
    apply_action(db.session, unrouted, "withdraw", actor_label="citizen")
    assert found("muong thoat nuoc") == [withdrawn]


def test_search_and_lists_never_show_or_match_the_denouncer(db, file, console):
    secret = file("Tố cáo cán bộ nhận hối lộ", kind="denunciation", category="land",
                  name="Trịnh Bí Mật", email="bimat@example.com", phone="0912345678",
                  agency="TCS-A")  # fmt: skip
    console.login("tcs.a1")
    assert codes_on(console.get("/console/?q=hoi lo")) == [secret.code]
    for q in ("Trịnh Bí Mật", "trinh bi mat", "bimat@example.com", "0912345678"):
        page = console.get("/console/", query_string={"q": q})
        assert codes_on(page) == []
    page = console.get("/console/").get_data(as_text=True)
    assert secret.code in page
    assert "Bí Mật" not in page and "bimat@example.com" not in page


def test_queue_is_scoped(db, file, console, org):
    a = file("Việc ở phường A")
    a1 = file("Việc ở tổ A1", area="TCS-A1")
    b = file("Việc ở phường B", area="TCS-B")
    console.login("tcs.b1")
    assert codes_on(console.get("/console/")) == [b.code]
    assert codes_on(console.get(f"/console/?q={a.code}")) == []
    console.login("tcs.lead")  # a lead sees the agency and its subtree
    assert set(codes_on(console.get("/console/"))) == {a.code, a1.code}
    console.login("tcs.sup")  # the supervisor reads the whole tree, without bulk controls
    page = console.get("/console/")
    assert set(codes_on(page)) == {a.code, a1.code, b.code}
    assert 'name="codes"' not in page.get_data(as_text=True)
    console.login("tcs.op")
    assert console.get("/console/").status_code == 403
