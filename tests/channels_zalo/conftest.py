"""Fixtures for the Zalo channels: a fake Zalo OA API server and the app configured to use it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from tests.fakes.zalo_oa_api import FakeZaloOA

ZALO_OA_APP_ID = "4318201949155212339"
ZALO_OA_SECRET = "oa-secret-key-for-tests"
FIRST_ACCESS = "first-access-token"
FIRST_REFRESH = "first-refresh-token"


@pytest.fixture(scope="session")
def zalo_oa_server() -> Iterator[FakeZaloOA]:
    fake = FakeZaloOA(ZALO_OA_APP_ID, ZALO_OA_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def zalo_oa_api(zalo_oa_server: FakeZaloOA) -> FakeZaloOA:
    """The fake, reset: authorised with the first token pair, nothing sent, no failures."""
    zalo_oa_server.reset(FIRST_ACCESS, FIRST_REFRESH)
    return zalo_oa_server


@pytest.fixture
def zalo_oa_env(zalo_oa_server: FakeZaloOA) -> dict[str, str]:
    """Environment that turns the Zalo OA channel on against the fake."""
    return {
        "ZALO_OA_APP_ID": ZALO_OA_APP_ID,
        "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
        "ZALO_OA_API_BASE": zalo_oa_server.url,
        "ZALO_OA_OAUTH_BASE": zalo_oa_server.url,
        "ZALO_OA_ACCESS_TOKEN": FIRST_ACCESS,
        "ZALO_OA_REFRESH_TOKEN": FIRST_REFRESH,
        "ZALO_OA_REPLAY_WINDOW_SECONDS": "300",
        "ZALO_OA_TIMEOUT": "1",
    }


@pytest.fixture
def zalo_oa_app(app: Any, db: Any, zalo_oa_api: FakeZaloOA,
                zalo_oa_env: dict[str, str]) -> Iterator[Any]:  # fmt: skip
    """The session app with the channel switched on for one test (and off again afterwards)."""
    from service.domain import notices
    from service.models import Setting

    values: dict[str, Any] = {
        k: int(v) if k.endswith(("_SECONDS", "_TIMEOUT")) else v for k, v in zalo_oa_env.items()
    }
    old = {k: app.config.get(k) for k in values}
    app.config.update(values)
    had_channel = "zalo_oa" in notices.DELIVERABLE
    notices.DELIVERABLE.add("zalo_oa")
    with app.app_context():
        db.session.execute(delete(Setting).where(Setting.key.like("zalo_oa.%")))
        db.session.commit()
    yield app
    app.config.update(old)
    if not had_channel:
        notices.DELIVERABLE.discard("zalo_oa")


@pytest.fixture
def zalo_worker(worker: Any, zalo_oa_env: dict[str, str]) -> Any:
    """Real RQ worker processes whose environment turns the channel on."""
    worker.env.update(zalo_oa_env)
    return worker


def sign(body: bytes, timestamp: str, app_id: str = ZALO_OA_APP_ID,
         secret: str = ZALO_OA_SECRET) -> str:  # fmt: skip
    return (
        "mac="
        + hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()
    )


def zalo_event(event_name: str, user_id: str, *, msg_id: str | None = None,
               text: str | None = None, attachments: list[dict[str, Any]] | None = None,
               timestamp_ms: int | None = None) -> dict[str, Any]:  # fmt: skip
    """An OA webhook event in Zalo's shape."""
    event: dict[str, Any] = {
        "app_id": ZALO_OA_APP_ID,
        "event_name": event_name,
        "sender": {"id": user_id},
        "recipient": {"id": "579745863508352884"},
        "timestamp": str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)),
        "user_id_by_app": "app-" + user_id,
    }
    if msg_id is not None:
        message: dict[str, Any] = {"msg_id": msg_id}
        if text is not None:
            message["text"] = text
        if attachments is not None:
            message["attachments"] = attachments
        event["message"] = message
    return event


def post_event(client: Any, event: dict[str, Any], *, signature: str | None = "valid") -> Any:
    """POST the event to the webhook the way Zalo does: raw JSON plus the mac header."""
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        headers["X-ZEvent-Signature"] = sign(body, event["timestamp"])
    elif signature is not None:
        headers["X-ZEvent-Signature"] = signature
    return client.post("/webhooks/zalo-oa", data=body, headers=headers)
