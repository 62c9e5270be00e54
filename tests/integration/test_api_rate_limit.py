"""The JSON API's rate limit: a clear 429 in the API's error format, shared through Redis, and
still enforced (per process) while Redis is unreachable."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select

from service import create_app
from service.models import Ticket
from tests.helpers import TICKET


def limited_app(storage: str) -> Any:
    return create_app({"TESTING": True, "API_RATE_LIMIT": "3/minute",
                       "RATELIMIT_STORAGE_URI": storage})  # fmt: skip


@pytest.mark.parametrize("storage", ["redis", "unreachable"])
def test_fourth_filing_in_a_minute_gets_429(app, db, redis_url, storage) -> None:
    uri = redis_url if storage == "redis" else "redis://127.0.0.1:1/0"
    Redis.from_url(redis_url).flushdb()
    client = limited_app(uri).test_client()
    answers = [client.post("/api/v1/tickets", json=TICKET) for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    refused = answers[3].get_json()["error"]
    assert refused["code"] == "rate_limited" and refused["message"]
    assert 0 < int(answers[3].headers["Retry-After"]) <= 60
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id))) == 3  # nothing half-saved
    # Another address has its own window; reading a ticket counts separately from filing.
    other = client.post("/api/v1/tickets", json=TICKET, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 201
    code, token = answers[0].get_json()["code"], answers[0].get_json()["tracking_token"]
    assert (
        client.get(f"/api/v1/tickets/{code}", headers={"X-Tracking-Token": token}).status_code
        == 200
    )


def test_workers_share_the_window_through_redis(app, db, redis_url) -> None:
    Redis.from_url(redis_url).flushdb()
    first, second = limited_app(redis_url).test_client(), limited_app(redis_url).test_client()
    statuses = [c.post("/api/v1/tickets", json=TICKET).status_code for c in (first, second) * 2]
    assert statuses == [201, 201, 201, 429]
