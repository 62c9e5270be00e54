"""Auto-assignment per agency: round robin, least loaded, the per-officer cap, the hooks after
routing and transfer, the console button and settings, and concurrency on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import delete, select

from service.domain import assignment
from service.models import AssignmentPolicy, AuditEntry, Ticket, TicketEvent
from tests.console.conftest import reload


def set_policy(db, org, agency: str, mode: str, cap: int | None = None) -> None:
    assignment.set_policy(db.session, org["agencies"][agency], mode, cap)
    db.session.commit()


def test_choose():
    assert assignment.choose("round_robin", [3, 1, 2], {}, None, None) == 1
    assert assignment.choose("round_robin", [1, 2, 3], {}, None, 1) == 2
    assert assignment.choose("round_robin", [1, 2, 3], {}, None, 3) == 1  # wraps around
    assert assignment.choose("round_robin", [1, 2, 3], {2: 5}, 5, 1) == 3  # 2 is at the cap
    assert assignment.choose("least_loaded", [1, 2, 3], {1: 2, 2: 0, 3: 1}, None, None) == 2
    assert assignment.choose("least_loaded", [1, 2, 3], {1: 1, 2: 1, 3: 1}, None, 1) == 2  # tie
    assert assignment.choose("least_loaded", [1, 2], {1: 4, 2: 4}, 4, None) is None
    assert assignment.choose("none", [1], {}, None, None) is None
    assert assignment.choose("round_robin", [], {}, None, None) is None


def test_round_robin_after_routing_and_transfer(db, file, console, org):
    c1, c2 = org["users"]["tcs.c1"], org["users"]["tcs.c2"]
    set_policy(db, org, "TCS-C", "round_robin")
    routed = [file(f"Phản ánh ở xã C số {i}", area="TCS-C") for i in range(3)]
    assert [reload(db, t).assignee_id for t in routed] == [c1, c2, c1]
    auto = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "assigned")).first()
    assert auto.data == {"from": None, "to": c1, "auto": "round_robin"} and not auto.public

    moved = file("Chuyển sang xã C")
    assert reload(db, moved).assignee_id is None  # TCS-A has no policy
    console.login("tcs.a1")
    console.act(moved.code, "transfer", target_agency=org["agencies"]["TCS-C"], body="Địa bàn xã C")
    assert reload(db, moved).assignee_id == c2


def test_least_loaded_with_cap(db, file, org):
    a1, a2, a3 = (org["users"][u] for u in ("tcs.a1", "tcs.a2", "tcs.a3"))
    busy = [file(f"Việc cũ {i}") for i in range(3)]
    for t, who in zip(busy, (a1, a1, a2), strict=True):
        reload(db, t).assignee_id = who
        db.session.commit()
    set_policy(db, org, "TCS-A", "least_loaded", cap=2)
    new = [file(f"Việc mới {i}") for i in range(4)]
    # Loads a1=2 (at cap), a2=1, a3=0 → a3, then a2/a3 tie → a2 (rotation), then a3, then nobody.
    assert [reload(db, t).assignee_id for t in new] == [a3, a2, a3, None]


def test_concurrent_workers_never_double_assign_and_respect_the_cap(app, db, file, org):
    tickets = [file(f"Phản ánh đồng thời số {i}") for i in range(12)]  # no policy yet
    set_policy(db, org, "TCS-A", "least_loaded", cap=3)
    ids = [t.id for t in tickets]
    jobs = ids + ids[:8]  # some tickets are attempted twice at the same moment
    barrier = threading.Barrier(len(jobs))
    outcomes: list[int | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(ticket_id: int) -> None:
        from service.extensions import db as _db

        try:
            with app.app_context():
                barrier.wait()
                chosen = assignment.auto_assign(_db.session, ticket_id)
                _db.session.remove()
            with lock:
                outcomes.append(chosen)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(outcomes) == len(jobs)
    db.session.expire_all()
    holders = Counter(db.session.scalars(
        select(Ticket.assignee_id).where(Ticket.id.in_(ids), Ticket.assignee_id.is_not(None))
    ))  # fmt: skip
    officers = {org["users"][u] for u in ("tcs.a1", "tcs.a2", "tcs.a3")}
    assert set(holders) == officers and set(holders.values()) == {3}  # 9 assigned, 3 each
    assert sum(1 for o in outcomes if o is not None) == 9
    events = Counter(db.session.scalars(
        select(TicketEvent.ticket_id).where(TicketEvent.kind == "assigned",
                                            TicketEvent.ticket_id.in_(ids))
    ))  # fmt: skip
    assert len(events) == 9 and set(events.values()) == {1}  # one assignment per ticket


def test_console_settings_and_button(db, file, console, org):
    waiting = [file(f"Chờ phân công {i}") for i in range(2)]
    console.login("tcs.a1")
    assert console.get("/console/assignment").status_code == 403
    console.login("tcs.lead")
    page = console.get("/console/assignment").get_data(as_text=True)
    assert 'data-agency="TCS-A"' in page and 'data-agency="TCS-B"' not in page
    assert console.post("/console/assignment", agency_id=org["agencies"]["TCS-B"],
                        mode="round_robin").status_code == 404  # fmt: skip
    bad = console.post("/console/assignment", agency_id=org["agencies"]["TCS-A"], mode="x")
    assert (
        bad.status_code == 302
        and db.session.get(AssignmentPolicy, org["agencies"]["TCS-A"]) is None
    )
    console.post("/console/assignment", agency_id=org["agencies"]["TCS-A"], mode="round_robin",
                 cap="5")  # fmt: skip
    db.session.expire_all()
    policy = db.session.get(AssignmentPolicy, org["agencies"]["TCS-A"])
    assert (policy.mode, policy.max_open_per_officer) == ("round_robin", 5)
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "assignment_policy.update")).all()[-1]  # fmt: skip
    assert entry.target_id == "TCS-A" and entry.after == {
        "mode": "round_robin",
        "max_open_per_officer": 5,
    }
    db.session.execute(delete(AuditEntry).where(AuditEntry.id == entry.id))  # keep the log as found
    db.session.commit()

    console.login("tcs.a1")
    assert 'id="auto-assign"' in console.get("/console/").get_data(as_text=True)
    response = console.post("/console/auto-assign", agency_id=org["agencies"]["TCS-A"])
    assert response.status_code == 302
    assert all(reload(db, t).assignee_id is not None for t in waiting)
