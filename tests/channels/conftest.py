"""Fixtures for the Telegram and Zalo Bot channels: fake provider servers on 127.0.0.1, the app
and the worker processes configured to use them, and builders of realistic updates."""

from __future__ import annotations

import itertools
import json
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from tests.conftest import wait_for
from tests.fakes.telegram_api import BOT_USER, FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot

TG_TOKEN = "7000000001:AAH-test-token_for-pakn"
TG_SECRET = "tg-webhook-secret_0123456789"
ZB_TOKEN = "2233445566:zalo-bot-test-token"
ZB_SECRET = "zalo-bot-secret-0123456789"
_ids = itertools.count(int(time.time()) % 100000 * 1000)


def next_id() -> int:
    return next(_ids)


def png_bytes(seed: int = 0) -> bytes:
    """A small valid PNG (different bytes per seed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + bytes([(seed + x) % 256, 0, 0] * 1) for x in range(4))
    ihdr = struct.pack(">IIBBBBB", 1, 4, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip


def _switch_on(app: Any, env: dict[str, str], channel: str) -> Iterator[Any]:
    """The session app with a channel's settings for one test, off again afterwards."""
    from service.domain import notices

    values = {k: (float(v) if k.endswith(("_RATE_PER_CHAT", "_RATE_GLOBAL"))
                  else int(v) if k.endswith("_TIMEOUT") else v) for k, v in env.items()}  # fmt: skip
    old = {k: app.config.get(k) for k in values}
    app.config.update(values)
    had = channel in notices.DELIVERABLE
    notices.DELIVERABLE.add(channel)
    yield app
    app.config.update(old)
    if not had:
        notices.DELIVERABLE.discard(channel)


@pytest.fixture
def conversations(app: Any, db: Any) -> Any:
    """No conversation left over from another test."""
    from service.models import Conversation

    with app.app_context():
        db.session.execute(delete(Conversation))
        db.session.commit()
    return db


# -- Telegram ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[FakeTelegram]:
    fake = FakeTelegram(TG_TOKEN).start()
    fake.timeout_seconds = 2.5
    yield fake
    fake.stop()


@pytest.fixture
def telegram_api(telegram_server: FakeTelegram) -> FakeTelegram:
    telegram_server.reset()
    return telegram_server


@pytest.fixture
def telegram_env(telegram_server: FakeTelegram) -> dict[str, str]:
    # Per-chat rate raised so tests need not wait a second between replies (tested on its own).
    return {
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_API_BASE": telegram_server.url,
        "TELEGRAM_TIMEOUT": "1",
        "TELEGRAM_RATE_PER_CHAT": "100",
        "TELEGRAM_RATE_GLOBAL": "1000",
    }


@pytest.fixture
def telegram_app(app: Any, conversations: Any, telegram_api: FakeTelegram,
                 telegram_env: dict[str, str]) -> Iterator[Any]:  # fmt: skip
    yield from _switch_on(app, telegram_env, "telegram")


@pytest.fixture
def telegram_worker(worker: Any, telegram_env: dict[str, str]) -> Any:
    worker.env.update(telegram_env)
    return worker


def tg_user(chat_id: int, lang: str = "vi") -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Nguyễn", "last_name": "Văn An",
            "username": f"citizen{chat_id}", "language_code": lang}  # fmt: skip


def tg_message(chat_id: int, *, text: str | None = None, location: tuple[float, float] | None = None,
               photo: str | None = None, caption: str | None = None, lang: str = "vi",
               update_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """An update with a private message, as Telegram sends it."""
    update_id = update_id or next_id()
    msg: dict[str, Any] = {
        "message_id": update_id % 1000000, "from": tg_user(chat_id, lang), "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Nguyễn", "last_name": "Văn An"},
    }  # fmt: skip
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    if location is not None:
        msg["location"] = {"latitude": location[0], "longitude": location[1]}
    if photo is not None:
        msg["photo"] = [
            {"file_id": f"{photo}-small", "file_unique_id": f"{photo}s", "file_size": 900,
             "width": 90, "height": 68},
            {"file_id": photo, "file_unique_id": f"{photo}u", "file_size": 4200, "width": 1280,
             "height": 960},
        ]  # fmt: skip
        if caption:
            msg["caption"] = caption
    return {"update_id": update_id, "message": msg}


def tg_callback(chat_id: int, data: str, lang: str = "vi") -> dict[str, Any]:
    """A press on an inline keyboard button."""
    update_id = next_id()
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(4000000000000 + update_id), "from": tg_user(chat_id, lang),
            "chat_instance": f"-{chat_id}", "data": data,
            "message": {"message_id": 1, "from": BOT_USER, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"}, "text": "…"},
        },
    }  # fmt: skip


def post_tg(client: Any, update: dict[str, Any], secret: str | None = TG_SECRET) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return client.post("/webhooks/telegram", data=json.dumps(update, ensure_ascii=False),
                       headers=headers)  # fmt: skip


class Chat:
    """A citizen talking to the bot through the webhook; waits for each answer at the fake."""

    def __init__(self, client: Any, api: Any, chat_id: int, post: Any, lang: str = "vi") -> None:
        self.client, self.api, self.chat_id, self.post, self.lang = client, api, chat_id, post, lang

    def send(self, update: dict[str, Any], replies: int = 1) -> list[Any]:
        before = len(self.api.sent_to(self.chat_id))
        response = self.post(self.client, update)
        assert response.status_code == 200, response.data
        wait_for(lambda: len(self.api.sent_to(self.chat_id)) >= before + replies, timeout=30)
        return self.api.sent_to(self.chat_id)[before:]


# -- Zalo Bot ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def zalo_bot_server() -> Iterator[FakeZaloBot]:
    fake = FakeZaloBot(ZB_TOKEN).start()
    fake.timeout_seconds = 2.5
    yield fake
    fake.stop()


@pytest.fixture
def zalo_bot_api(zalo_bot_server: FakeZaloBot) -> FakeZaloBot:
    zalo_bot_server.reset()
    return zalo_bot_server


@pytest.fixture
def zalo_bot_env(zalo_bot_server: FakeZaloBot) -> dict[str, str]:
    return {
        "ZALO_BOT_TOKEN": ZB_TOKEN,
        "ZALO_BOT_WEBHOOK_SECRET": ZB_SECRET,
        "ZALO_BOT_API_BASE": zalo_bot_server.url,
        "ZALO_BOT_TIMEOUT": "1",
    }


@pytest.fixture
def zalo_bot_app(app: Any, conversations: Any, zalo_bot_api: FakeZaloBot,
                 zalo_bot_env: dict[str, str]) -> Iterator[Any]:  # fmt: skip
    yield from _switch_on(app, zalo_bot_env, "zalo_bot")


@pytest.fixture
def zalo_bot_worker(worker: Any, zalo_bot_env: dict[str, str]) -> Any:
    worker.env.update(zalo_bot_env)
    return worker


def zb_update(user_id: str, *, text: str | None = None, photo_url: str | None = None,
              message_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A webhook body as the Zalo Bot platform sends it."""
    message: dict[str, Any] = {
        "from": {"id": user_id, "display_name": "Trần Thị Bình", "is_bot": False},
        "chat": {"id": user_id, "chat_type": "PRIVATE"},
        "message_id": message_id or f"zm{next_id()}",
        "date": int(time.time() * 1000),
    }
    event = "message.text.received"
    if text is not None:
        message["text"] = text
    if photo_url is not None:
        message["photo"] = photo_url
        event = "message.image.received"
    return {"ok": True, "result": {"event_name": event, "message": message}}


def post_zb(client: Any, update: dict[str, Any], secret: str | None = ZB_SECRET) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Bot-Api-Secret-Token"] = secret
    return client.post("/webhooks/zalo-bot", data=json.dumps(update, ensure_ascii=False),
                       headers=headers)  # fmt: skip
