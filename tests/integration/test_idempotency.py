"""Jobs are idempotent: running route or deliver twice (or at once) changes and sends things once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from service.models import Delivery, Ticket, TicketEvent
from tests.helpers import TICKET, csrf_token
from workers import jobs


def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_route_and_deliver_twice_send_one_email(app, client, db, mailbox):
    code = client.post("/api/v1/tickets", json=TICKET).get_json()["code"]
    ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.code == code))
    assert jobs.route_ticket(ticket_id) is True
    assert jobs.route_ticket(ticket_id) is False  # already routed: nothing happens
    assert _count(db, TicketEvent, TicketEvent.kind == "routed") == 1
    delivery_id = db.session.scalar(select(Delivery.id))
    assert _count(db, Delivery) == 1
    assert jobs.deliver(delivery_id) == "sent"
    assert jobs.deliver(delivery_id) == "skipped"
    assert len(mailbox.to("a@example.com")) == 1


def test_concurrent_deliveries_send_once(app, client, db, mailbox):
    code = client.post("/api/v1/tickets", json=TICKET).get_json()["code"]
    jobs.route_ticket(db.session.scalar(select(Ticket.id).where(Ticket.code == code)))
    delivery_id = db.session.scalar(select(Delivery.id))
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(jobs.deliver(delivery_id))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["sent", "skipped", "skipped", "skipped"]
    assert len(mailbox.to("a@example.com")) == 1


def test_api_idempotency_key_makes_one_ticket(client, db):
    first = client.post("/api/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert _count(db, Ticket) == 1


def test_form_resubmission_makes_one_ticket(client, db):
    page = client.get("/submit")
    data = {"csrf_token": csrf_token(page), "nonce": "same-nonce", "kind": "feedback",
            "category": "env", "title": "Cây xanh gãy đổ", "description": "Cây gãy chắn lối đi bộ."}  # fmt: skip
    first = client.post("/submit", data=data)
    second = client.post("/submit", data=data)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    assert _count(db, Ticket) == 1


def test_same_citizen_contact_reused(client, db):
    client.post("/api/v1/tickets", json=TICKET)
    client.post("/api/v1/tickets", json={**TICKET, "title": "Một phản ánh khác nữa"})
    tickets = db.session.scalars(select(Ticket)).all()
    assert len(tickets) == 2 and tickets[0].citizen_id == tickets[1].citizen_id
