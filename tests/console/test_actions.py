"""Every console action through HTTP with CSRF: lifecycle steps, assignment, notes, extension,
transfer with its read-only referral, duplicates followed by their citizen, split, attachments."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from service.domain.handling import add_citizen_info
from service.models import Delivery, Ticket, TicketEvent, TicketFollower, TicketSplit, User
from tests.console.conftest import reload


def events(db, ticket) -> list[TicketEvent]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ))  # fmt: skip


def deliveries(db, **where) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).filter_by(**where).order_by(Delivery.id)))


def flash_of(console, response) -> str:
    assert response.status_code == 302, response.status_code
    text = console.get(response.location).get_data(as_text=True)
    return " ".join(
        re.findall(r'<div class="flash (?:error|success)" role="status">([^<]*)<', text)
    )


def test_lifecycle_actions_with_csrf(db, file, console, org):
    ticket = file("Vỉa hè bị lấn chiếm", category="urban", email="dan1@example.com")
    console.login("tcs.a1")
    page = console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    assert 'id="act-accept"' in page and 'id="act-resolve"' not in page

    # No CSRF token: refused, nothing changes.
    response = console.client.post(f"/console/tickets/{ticket.code}/act", data={"action": "accept"})
    assert response.status_code == 400 and reload(db, ticket).status == "routed"

    assert "Done" in flash_of(console, console.act(ticket.code, "accept"))
    ticket = reload(db, ticket)
    assert ticket.status == "accepted" and ticket.resolution_due is not None

    console.act(ticket.code, "note", body="Đã gọi điện cho tổ dân phố.")
    reply = console.act(ticket.code, "reply", body="Phường sẽ kiểm tra trong tuần.")
    assert "Done" in flash_of(console, reply) and reload(db, ticket).status == "in_progress"
    assert "“Reject” needs a reason." in flash_of(
        console, console.act(ticket.code, "reject", body="  ")
    )

    console.act(ticket.code, "request_info", body="Xin gửi ảnh hiện trường.")
    ticket = reload(db, ticket)
    assert ticket.status == "need_info" and ticket.paused_at is not None
    page = console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    assert "Paused while waiting for the citizen" in page or "Tạm dừng" in page
    add_citizen_info(db.session, ticket, "Ảnh đã gửi qua email.")
    assert reload(db, ticket).status == "in_progress"

    console.act(ticket.code, "resolve", body="Đã giải tỏa vỉa hè.")
    ticket = reload(db, ticket)
    assert ticket.status == "resolved" and ticket.resolution == "Đã giải tỏa vỉa hè."
    console.act(ticket.code, "reopen", body="Tái lấn chiếm sau hai ngày.")
    assert reload(db, ticket).status == "reopened"
    console.act(ticket.code, "resolve", body="Đã xử phạt và giải tỏa.")
    console.act(ticket.code, "close")
    assert reload(db, ticket).status == "closed"

    kinds = [(e.kind, e.public) for e in events(db, ticket)]
    assert ("note", False) in kinds and ("replied", True) in kinds and ("reopened", True) in kinds
    sent = [d.template for d in deliveries(db, ticket_id=ticket.id, recipient="dan1@example.com")]
    assert sent == ["receipt", "accepted", "reply", "info_requested", "resolved", "reopened",
                    "resolved", "closed"]  # fmt: skip
    page = console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    note = re.search(r'<li class="event internal event-note".*?</li>', page, re.S).group(0)
    assert "badge-internal" in note and "Đã gọi điện cho tổ dân phố." in note


def test_assign_to_colleagues(db, file, console, org):
    ticket = file("Cây xanh đổ", category="lighting")
    child = file("Việc ở tổ dân phố", area="TCS-A1")
    users = org["users"]
    console.login("tcs.a1")
    assert "Done" in flash_of(console, console.act(ticket.code, "assign", assignee=users["tcs.a2"]))
    assert reload(db, ticket).assignee_id == users["tcs.a2"]
    assigned = [e for e in events(db, ticket) if e.kind == "assigned"][0]
    assert not assigned.public and assigned.data["to"] == users["tcs.a2"]
    for other in ("tcs.b1", "tcs.a1x"):  # another agency; a child agency's officer cannot see it
        message = flash_of(console, console.act(ticket.code, "assign", assignee=users[other]))
        assert "cannot handle" in message
    assert "Done" in flash_of(console, console.act(ticket.code, "assign", assignee="none"))
    assert reload(db, ticket).assignee_id is None
    assert console.act(ticket.code, "assign", assignee="abc").status_code == 302

    console.login("tcs.lead")  # a lead assigns within the subtree
    console.act(child.code, "assign", assignee=users["tcs.a1x"])
    assert reload(db, child).assignee_id == users["tcs.a1x"]
    assert "cannot handle" in flash_of(console, console.act(child.code, "assign",
                                                             assignee=users["tcs.a2"]))  # fmt: skip
    console.act(child.code, "assign", assignee=users["tcs.lead"])
    assert reload(db, child).assignee_id == users["tcs.lead"]


def test_extend_within_the_legal_maximum(db, file, console):
    ticket = file("Tố cáo sai phạm trong xây dựng", kind="denunciation", category="urban",
                  agency="TCS-A")  # fmt: skip
    console.login("tcs.a1")
    console.act(ticket.code, "accept")
    first_due = reload(db, ticket).resolution_due
    assert "reason" in flash_of(console, console.act(ticket.code, "extend", body=""))
    console.act(ticket.code, "extend", body="Cần xác minh tại nhiều nơi.")
    second = reload(db, ticket).resolution_due
    assert second >= first_due + dt.timedelta(days=30)
    console.act(ticket.code, "extend", body="Chờ kết quả giám định.")
    message = flash_of(console, console.act(ticket.code, "extend", body="Lần thứ ba."))
    assert "2" in message and reload(db, ticket).extensions == 2
    extended = [e for e in events(db, ticket) if e.kind == "extended"]
    assert [e.body for e in extended] == ["Cần xác minh tại nhiều nơi.", "Chờ kết quả giám định."]


def test_transfer_leaves_a_read_only_referral(db, file, console, org):
    ticket = file("Ngập nước cục bộ", category="env", email="ngap@example.com")
    console.login("tcs.a1")
    console.act(ticket.code, "note", body="Ghi chú của phường A trước khi chuyển.")
    refused = console.act(ticket.code, "transfer", target_agency=org["agencies"]["TCS-B"], body="")
    assert "“Transfer” needs a reason." in flash_of(console, refused)
    response = console.act(ticket.code, "transfer", target_agency=org["agencies"]["TCS-B"],
                           body="Thuộc địa bàn phường B.")  # fmt: skip
    assert response.location.endswith(f"/console/tickets/{ticket.code}")
    ticket = reload(db, ticket)
    assert ticket.status == "transferred" and ticket.agency_id == org["agencies"]["TCS-B"]
    assert [d.template for d in deliveries(db, recipient="tcs-b@agency.test")] == [
        "agency_transfer"
    ]
    assert "transferred" in [d.template for d in deliveries(db, recipient="ngap@example.com")]

    console.login("tcs.b1")  # the receiving officer sees and acts
    assert ticket.code in console.get("/console/").get_data(as_text=True)
    console.act(ticket.code, "accept")
    console.act(ticket.code, "note", body="Ghi chú nội bộ của phường B.")

    console.login("tcs.a1")  # the sender reads, cannot act
    page = console.get(f"/console/tickets/{ticket.code}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="referral"' in text and 'id="actions"' not in text
    assert "Ghi chú của phường A trước khi chuyển." in text  # its own history
    assert "Ghi chú nội bộ của phường B." not in text  # not the new holder's internal notes
    assert 'data-kind="accepted"' in text  # public news after the transfer
    assert console.act(ticket.code, "note", body="x").status_code == 404
    assert ticket.code not in console.get("/console/").get_data(as_text=True)
    referred = console.get("/console/referred").get_data(as_text=True)
    assert f'data-code="{ticket.code}"' in referred

    console.login("tcs.c1")  # a third agency sees nothing
    assert console.get(f"/console/tickets/{ticket.code}").status_code == 404
    assert f'data-code="{ticket.code}"' not in console.get("/console/referred").get_data(
        as_text=True
    )


def test_duplicate_is_followed_by_its_citizen(db, file, console, client, org):
    original = file("Rác thải tràn ra đường", email="dau@example.com", name="Người Đầu Tiên")
    duplicate = file("Rác tràn ra đường Lê Lợi", email="sau@example.com", name="Người Thứ Hai",
                     language="en")  # fmt: skip
    foreign = file("Việc của phường B", area="TCS-B")
    console.login("tcs.a1")
    for code in ("", duplicate.code, foreign.code, "PA-1999-999999"):
        message = flash_of(
            console, console.act(duplicate.code, "mark_duplicate", duplicate_of=code)
        )
        assert "original ticket" in message
    console.act(duplicate.code, "mark_duplicate", duplicate_of=original.code.lower())
    duplicate = reload(db, duplicate)
    assert duplicate.status == "duplicate" and duplicate.duplicate_of_id == original.id
    told = deliveries(db, ticket_id=duplicate.id, template="duplicate")
    assert told and told[0].recipient == "sau@example.com"
    notice = db.session.get(TicketEvent, told[0].event_id).body
    assert original.code in notice and "same matter" in notice  # in the citizen's language
    assert "duplicate_merged" in [e.kind for e in events(db, original)]

    console.act(original.code, "accept")
    console.act(original.code, "reply", body="Đã thu gom toàn bộ rác.")
    for address, ticket in (("dau@example.com", original), ("sau@example.com", duplicate)):
        reply = [d for d in deliveries(db, recipient=address) if d.template == "reply"]
        assert len(reply) == 1 and reply[0].ticket_id == ticket.id

    track = client.get(f"/track/{duplicate.tracking_token}").get_data(as_text=True)
    assert 'id="original-code">' + original.code in track
    assert "Đã thu gom toàn bộ rác." in track
    assert "Người Đầu Tiên" not in track and "dau@example.com" not in track
    page = console.get(f"/console/tickets/{original.code}").get_data(as_text=True)
    assert f'data-related="duplicates"><a href="/console/tickets/{duplicate.code}"' in page


def test_a_stranger_does_not_follow_a_denunciation(db, file, console):
    sealed = file("Tố cáo hành vi nhận tiền", kind="denunciation", category="urban",
                  agency="TCS-A", email="kin@example.com", name="Người Kín")  # fmt: skip
    other = file("Nhận tiền trái phép", email="khac@example.com", name="Người Khác")
    console.login("tcs.a1")
    console.act(other.code, "mark_duplicate", duplicate_of=sealed.code)
    assert reload(db, other).status == "duplicate"
    assert db.session.scalars(select(TicketFollower)).all() == []
    told = deliveries(db, ticket_id=other.id, template="duplicate")[0]
    notice = db.session.get(TicketEvent, told.event_id).body
    assert sealed.code not in notice and "You will receive" not in notice


def test_split_makes_new_routed_tickets(db, file, console, org):
    parent = file("Nhiều vấn đề trong khu phố", email="nhieu@example.com")
    console.login("tcs.a1")
    bad = console.act(parent.code, "split", title_0="Ngắn", description_0="Quá ngắn")
    assert "New ticket 1" in flash_of(console, bad)
    assert db.session.scalars(select(TicketSplit)).all() == []
    response = console.act(
        parent.code, "split",
        title_0="Đèn đường hỏng ở hẻm 5", description_0="Ba bóng đèn tắt từ tuần trước.",
        title_1="", description_1="",
        title_2="Rác tồn đọng ở chợ", description_2="Rác không được thu gom hai ngày.",
    )  # fmt: skip
    assert "New tickets" in flash_of(console, response)
    children = [
        db.session.get(Ticket, s.child_id)
        for s in db.session.scalars(
            select(TicketSplit)
            .where(TicketSplit.parent_id == parent.id)
            .order_by(TicketSplit.child_id)
        )
    ]
    assert [c.title for c in children] == ["Đèn đường hỏng ở hẻm 5", "Rác tồn đọng ở chợ"]
    parent = reload(db, parent)
    for child in children:
        assert (child.citizen_id, child.channel, child.agency_id) == (
            parent.citizen_id,
            parent.channel,
            parent.agency_id,
        )
        assert child.status == "routed" and child.acceptance_due == parent.acceptance_due
        receipt = deliveries(db, ticket_id=child.id, template="receipt")
        assert [d.recipient for d in receipt] == ["nhieu@example.com"]
    split_event = [e for e in events(db, parent) if e.kind == "split"][0]
    assert split_event.public and split_event.data["children"] == [c.code for c in children]
    console.act(children[0].code, "accept")
    assert reload(db, children[0]).status == "accepted"
    page = console.get(f"/console/tickets/{children[1].code}").get_data(as_text=True)
    assert f'data-related="split"><a href="/console/tickets/{parent.code}"' in page


def test_attachment_download(app, db, console, org):
    from service.domain.attachments import IncomingFile
    from service.domain.handling import route_ticket
    from service.domain.intake import InboundTicket, Settings, receive

    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    result = receive(db.session, InboundTicket(
        channel="web", kind="feedback", category_code="env", area_code="TCS-A",
        title="Ảnh hiện trường rác thải", description="Xem ảnh đính kèm về bãi rác tự phát.",
        attachments=[IncomingFile("hiện trường.png", png)]),
        Settings(code_prefix="PA", upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
    route_ticket(db.session, result.ticket_id)
    ticket = db.session.get(Ticket, result.ticket_id)
    item = ticket.attachments[0]
    url = f"/console/tickets/{ticket.code}/attachments/{item.id}"
    console.login("tcs.a1")
    assert url in console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    response = console.get(url)
    assert response.status_code == 200 and response.data == png
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    other = console.get("/console/").status_code  # a second ticket's id does not open this file
    assert other == 200
    assert (
        console.get(f"/console/tickets/{ticket.code}/attachments/{item.id + 999}").status_code
        == 404
    )
    console.login("tcs.b1")
    assert console.get(url).status_code == 404


def test_officer_names_in_timeline(db, file, console, org):
    ticket = file("Bảng tên đường bị đổ")
    console.login("tcs.a1")
    console.act(ticket.code, "assign", assignee=org["users"]["tcs.a3"])
    page = console.get(f"/console/tickets/{ticket.code}").get_data(as_text=True)
    assert "Cán bộ tcs.a3" in page and 'id="assignee">Cán bộ tcs.a3' in page
    assert db.session.get(User, org["users"]["tcs.a3"]).role == "officer"


def test_control_characters_are_refused_or_dropped_not_500(db, file, console):
    ticket = file("Biển báo bị che khuất")
    console.login("tcs.a1")
    assert console.get("/console/?q=duong%00hong").status_code == 200
    assert console.act(ticket.code, "note", body="Ghi\x00 chú").status_code == 302
    assert [e.body for e in events(db, ticket) if e.kind == "note"] == ["Ghi chú"]
    response = console.act(ticket.code, "mark_duplicate", duplicate_of="PA\x00-1")
    assert "original ticket" in flash_of(console, response)
    assert console.act(ticket.code, "withdraw").status_code == 302  # not an officer's action
    assert reload(db, ticket).status == "routed"
