"""The intake relay: filing enqueues nothing; the relay hands new tickets to RQ in batches, once
each, trails the newest id by a lag, and leaves them for the next round while Redis is down."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from service.domain import handling
from service.models import Ticket, TicketEvent
from tests.helpers import TICKET
from workers import jobs, relay


def _file(client, n: int) -> list[int]:
    codes = [
        client.post("/api/v1/tickets", json={**TICKET, "title": f"Phản ánh số {i}"}).get_json()[
            "code"
        ]
        for i in range(n)
    ]
    from service.extensions import db

    return list(db.session.scalars(select(Ticket.id).where(Ticket.code.in_(codes))))


def _queued(app) -> list[tuple[str, tuple]]:
    queue = Queue("default", connection=Redis.from_url(app.config["REDIS_URL"]))
    return [(job.func_name, job.args) for job in queue.get_jobs()]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(relay.time, "monotonic", c)
    return c


def test_filing_enqueues_nothing_and_the_relay_sends_batches_once(app, client, db, clock):
    ids = sorted(_file(client, 5))
    assert _queued(app) == []  # the request wrote rows only
    r = relay.Relay(batch=2)
    with app.app_context():
        assert r.poll(db.session) == 5
        assert r.poll(db.session) == 0  # already sent, not yet routed: not sent again
    assert _queued(app) == [
        ("workers.jobs.route_batch", (ids[0:2],)),
        ("workers.jobs.route_batch", (ids[2:4],)),
        ("workers.jobs.route_batch", (ids[4:],)),
    ]
    assert jobs.route_batch(ids[0:2]) == 2
    assert jobs.route_batch(ids[0:2]) == 0  # idempotent
    db.session.expire_all()
    routed = db.session.scalar(select(func.count()).where(TicketEvent.kind == "routed"))
    assert routed == 2


def test_floor_trails_the_newest_id_by_the_lag(app, client, db, clock):
    r = relay.Relay()
    first = sorted(_file(client, 2))
    with app.app_context():
        assert r.poll(db.session) == 2 and r.floor is None  # before a lag: every received one
        clock.now += relay.LAG_SECONDS / 2
        later = sorted(_file(client, 1))
        assert r.poll(db.session) == 1
        clock.now += relay.LAG_SECONDS / 2
        r.poll(db.session)
    # Ids seen a full lag ago are committed by now: the floor moves up and forgets them.
    assert r.floor == first[-1] and r.sent == set(later)


def test_redis_down_keeps_tickets_for_the_next_round(app, client, db, clock, monkeypatch):
    ids = _file(client, 3)
    r = relay.Relay()
    monkeypatch.setattr(relay, "enqueue_safely", lambda job, args: False)
    with app.app_context():
        assert r.poll(db.session) == 0 and r.sent == set()
    monkeypatch.undo()
    monkeypatch.setattr(relay.time, "monotonic", clock)
    with app.app_context():
        assert r.poll(db.session) == 3
    assert [args for _name, args in _queued(app)] == [(sorted(ids),)]


def test_one_failing_ticket_does_not_hold_up_the_batch(app, client, db, monkeypatch):
    ids = sorted(_file(client, 3))
    real = handling.route_ticket

    def flaky(session, ticket_id, now=None):
        if ticket_id == ids[1]:
            raise RuntimeError("agency tree being edited")
        return real(session, ticket_id, now)

    monkeypatch.setattr(handling, "route_ticket", flaky)
    with pytest.raises(handling.RoutingFailed) as failed:
        jobs.route_batch(ids)
    assert failed.value.ticket_ids == [ids[1]]
    monkeypatch.undo()
    assert jobs.route_batch(ids) == 1  # the job's retry: only the failed one is left
    db.session.expire_all()
    statuses = set(db.session.scalars(select(Ticket.status).where(Ticket.id.in_(ids))))
    assert statuses == {"routed"}
