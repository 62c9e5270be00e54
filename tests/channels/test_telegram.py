"""Telegram end to end against the fake Bot API on 127.0.0.1 and real RQ worker processes:
webhook authentication and dedup, the conversation in the chat, officer replies back in the chat,
provider outages, permanent refusals, polling and webhook registration, the shared rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from channels.base import PermanentError, TransientError
from channels.ratelimit import RateLimiter
from channels.telegram import classify, split_text
from service.domain import handling
from service.domain.intake import InboundTicket, Settings, receive
from service.extensions import db as _db
from service.models import Delivery, InboundMessage, Ticket, User
from tests.channels.conftest import (
    TG_SECRET,
    Chat,
    png_bytes,
    post_tg,
    tg_callback,
    tg_message,
)
from tests.conftest import wait_for

CHAT = 555000111


def count(app: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        value = _db.session.scalar(select(func.count()).select_from(model).where(*where))
        _db.session.remove()
        return int(value or 0)


def ticket_by(app: Any, *where: Any) -> Ticket | None:
    with app.app_context():
        ticket = _db.session.scalars(select(Ticket).where(*where).order_by(Ticket.id)).first()
        if ticket is not None:
            _ = (ticket.reply_contact, ticket.attachments, ticket.events, ticket.category)
            _db.session.expunge_all()
        _db.session.remove()
        return ticket


def deliveries(app: Any, ticket_id: int) -> list[Delivery]:
    with app.app_context():
        rows = _db.session.scalars(
            select(Delivery).where(Delivery.ticket_id == ticket_id).order_by(Delivery.id)
        ).all()
        _db.session.expunge_all()
        _db.session.remove()
        return list(rows)


def officer_replies(app: Any, code: str, body: str) -> None:
    """The agency accepts and answers, as the console does."""
    with app.app_context():
        session = _db.session
        ticket = session.scalars(select(Ticket).where(Ticket.code == code)).one()
        officer = session.scalars(select(User).where(User.username == "canbo.vanphong")).one()
        handling.apply_action(session, ticket, "accept", actor=officer)
        handling.apply_action(session, ticket, "reply", actor=officer, body=body)
        session.remove()


def file_directly(app: Any, chat_id: int) -> Ticket:
    """A ticket as the conversation files it (channel telegram, answered in the chat)."""
    with app.app_context():
        received = receive(_db.session, InboundTicket(
            channel="telegram", kind="feedback", category_code="env",
            title="Rác thải ùn ứ trước chợ", description="Rác tồn đọng ba ngày, bốc mùi.",
            area_code="DN-HAICHAU", chat_contact=("telegram", str(chat_id)),
        ), Settings(upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
        ticket_id = received.ticket_id
        _db.session.remove()
    ticket = ticket_by(app, Ticket.id == ticket_id)
    assert ticket is not None
    return ticket


def sweep(app: Any) -> None:
    from workers.sweeper import sweep as run

    with app.app_context():
        run(_db.session)
        _db.session.remove()


# -- webhook door --------------------------------------------------------------------------


def test_a_channel_without_settings_has_no_webhook(client: Any) -> None:
    assert (
        client.post("/webhooks/telegram", json=tg_message(CHAT, text="/start")).status_code == 404
    )
    assert client.post("/webhooks/zalo-bot", json={"ok": True}).status_code == 404


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", TG_SECRET + "x", TG_SECRET[:-1]])
def test_a_forged_or_missing_secret_is_refused_and_nothing_stored(
    telegram_app: Any, client: Any, secret: str | None
) -> None:
    response = post_tg(client, tg_message(CHAT, text="/start"), secret=secret)
    assert response.status_code == 403
    assert count(telegram_app, InboundMessage) == 0


def test_without_a_configured_secret_every_webhook_call_is_refused(
    telegram_app: Any, client: Any
) -> None:
    telegram_app.config["TELEGRAM_WEBHOOK_SECRET"] = None
    assert post_tg(client, tg_message(CHAT, text="/start"), secret="").status_code == 403
    assert count(telegram_app, InboundMessage) == 0


def test_a_redelivered_update_is_acknowledged_and_stored_once(
    telegram_app: Any, client: Any
) -> None:
    update = tg_message(CHAT, text="/start")
    first, second = post_tg(client, update), post_tg(client, update)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json["duplicate"], second.json["duplicate"]) == (False, True)
    assert count(telegram_app, InboundMessage, InboundMessage.channel == "telegram") == 1
    assert post_tg(client, {"no": "update_id"}).status_code == 400


# -- end to end ----------------------------------------------------------------------------


def test_a_citizen_files_in_the_chat_and_the_officers_reply_arrives_there(
    telegram_app: Any, client: Any, telegram_api: Any, telegram_worker: Any
) -> None:
    telegram_worker.start(2)
    telegram_api.host_file("photo-1", png_bytes(7))
    chat = Chat(client, telegram_api, CHAT, post_tg)
    greeting = chat.send(tg_message(CHAT, text="/start"))
    assert "/status" in greeting[0].text and greeting[0].buttons
    kinds = chat.send(tg_callback(CHAT, "new"))
    assert [d for row in kinds[-1].buttons for _label, d in row][0] == "k:feedback"
    categories = chat.send(tg_callback(CHAT, "k:feedback"))
    env = next(d for row in categories[-1].buttons for label, d in row if "nvironment" in label
               or "Môi trường" in label)  # fmt: skip
    chat.send(tg_callback(CHAT, env))
    chat.send(
        tg_message(CHAT, text="Cây đổ chắn ngang đường\nCây xanh bật gốc trên đường Bạch Đằng.")
    )
    chat.send(tg_message(CHAT, location=(16.0717, 108.2240)))
    chat.send(tg_message(CHAT, photo="photo-1", caption="ảnh hiện trường"))
    chat.send(tg_message(CHAT, text="xong"))
    confirm = tg_callback(CHAT, "send")
    receipt = chat.send(confirm)
    ticket = ticket_by(telegram_app, Ticket.channel == "telegram")
    assert ticket is not None and ticket.code in receipt[-1].text
    assert (ticket.reply_contact.channel, ticket.reply_contact.external_id) == (
        "telegram",
        str(CHAT),
    )
    assert (ticket.latitude, ticket.longitude, ticket.category.code) == (16.0717, 108.2240, "env")
    assert [a.content_type for a in ticket.attachments] == ["image/png"]
    assert "getFile" in telegram_api.calls() and telegram_api.state.answered_callbacks
    # the same "send" press delivered again: still one ticket
    assert post_tg(client, confirm).json["duplicate"] is True
    # routed by the worker: the receipt notice arrives in the chat
    wait_for(lambda: [(d.template, d.state) for d in deliveries(telegram_app, ticket.id)]
             == [("receipt", "sent")], timeout=30)  # fmt: skip
    assert len([t for t in telegram_api.texts_to(CHAT) if ticket.code in t]) == 2
    officer_replies(telegram_app, ticket.code, "Đội cây xanh đã xử lý cây đổ lúc 9 giờ.")
    wait_for(
        lambda: any("Đội cây xanh đã xử lý" in t for t in telegram_api.texts_to(CHAT)), timeout=30
    )
    assert count(telegram_app, Ticket) == 1
    wait_for(lambda: {d.state for d in deliveries(telegram_app, ticket.id)} == {"sent"})
    assert {d.channel for d in deliveries(telegram_app, ticket.id)} == {"telegram"}


@pytest.mark.parametrize("outage", ["500", "timeout"])
def test_a_provider_outage_is_retried_and_nothing_is_lost(
    telegram_app: Any, telegram_api: Any, telegram_worker: Any, outage: str
) -> None:
    telegram_api.go_down(outage)
    telegram_worker.start(1)
    ticket = file_directly(telegram_app, CHAT + 1)
    wait_for(
        lambda: [d.state for d in deliveries(telegram_app, ticket.id)] == ["retry"], timeout=30
    )
    assert telegram_api.texts_to(CHAT + 1) == []
    telegram_api.go_down(None)

    def sent() -> bool:
        sweep(telegram_app)  # the scheduler's round: deliveries due for a retry are queued again
        return [d.state for d in deliveries(telegram_app, ticket.id)] == ["sent"]

    wait_for(sent, timeout=40, interval=0.5)
    [delivery] = deliveries(telegram_app, ticket.id)
    assert delivery.attempts >= 2 and delivery.last_error is None
    assert len([t for t in telegram_api.texts_to(CHAT + 1) if ticket.code in t]) == 1


@pytest.mark.parametrize("failure", ["whole API down", "sendMessage fails twice"])
def test_a_chat_reply_lost_to_an_outage_is_sent_once_telegram_is_back(
    telegram_app: Any, client: Any, telegram_api: Any, telegram_worker: Any, failure: str
) -> None:
    from service.models import Conversation

    if failure == "whole API down":
        telegram_api.go_down("502")  # fails at getMe, before the conversation moves
    else:
        telegram_api.fail_next("500", "500")  # fails after the conversation moved
    telegram_worker.start(1)
    assert post_tg(client, tg_message(CHAT + 5, text="/new")).status_code == 200
    wait_for(lambda: "getMe" in telegram_api.calls(), timeout=30)
    assert telegram_api.texts_to(CHAT + 5) == []
    telegram_api.go_down(None)

    def answered() -> bool:
        sweep(telegram_app)  # the raw update is still "new": queued again until processed
        return bool(telegram_api.texts_to(CHAT + 5))

    wait_for(answered, timeout=40, interval=0.5)
    wait_for(lambda: count(telegram_app, InboundMessage, InboundMessage.state == "processed"))
    with telegram_app.app_context():
        state = _db.session.scalar(select(Conversation.state))
        _db.session.remove()
    assert state == "kind"  # moved on once, whatever the retries
    [sent] = telegram_api.sent_to(CHAT + 5)
    assert sent.buttons and sent.buttons[0][0][1] == "k:feedback"


@pytest.mark.parametrize("mode", ["400", "403"])
def test_bad_request_and_blocked_bot_fail_the_delivery_on_the_timeline(
    telegram_app: Any, telegram_api: Any, mode: str
) -> None:
    from service.delivery import deliver

    ticket = file_directly(telegram_app, CHAT + 2)
    with telegram_app.app_context():
        handling.route_ticket(_db.session, ticket.id)
        [delivery_id] = _db.session.scalars(
            select(Delivery.id).where(Delivery.ticket_id == ticket.id)
        ).all()
        telegram_api.fail_next(mode)
        assert deliver(_db.session, delivery_id) == "failed"
        _db.session.remove()
    [delivery] = deliveries(telegram_app, ticket.id)
    assert delivery.state == "failed" and delivery.attempts == 1
    assert ("chat not found" if mode == "400" else "blocked") in (delivery.last_error or "").lower()
    failed = [e for e in ticket_by(telegram_app, Ticket.id == ticket.id).events  # type: ignore[union-attr]
              if e.kind == "delivery_failed"]  # fmt: skip
    assert failed and failed[0].data["channel"] == "telegram" and not failed[0].public


def test_flood_control_waits_the_time_telegram_asks(telegram_app: Any, telegram_api: Any) -> None:
    from service.delivery import deliver

    ticket = file_directly(telegram_app, CHAT + 3)
    with telegram_app.app_context():
        handling.route_ticket(_db.session, ticket.id)
        delivery_id = _db.session.scalar(select(Delivery.id).where(Delivery.ticket_id == ticket.id))
        telegram_api.fail_next("429")
        assert deliver(_db.session, delivery_id) == "retry"
        _db.session.remove()
    [delivery] = deliveries(telegram_app, ticket.id)
    assert "Flood" in (delivery.last_error or "")
    assert delivery.next_attempt_at - delivery.claimed_at >= dt.timedelta(seconds=3)


# -- polling and webhook registration -----------------------------------------------------


def test_set_webhook_registers_the_url_with_the_secret(
    telegram_app: Any, telegram_api: Any
) -> None:
    result = telegram_app.test_cli_runner().invoke(
        args=["telegram-set-webhook", "https://pakn.example.vn/webhooks/telegram"]
    )
    assert result.exit_code == 0, result.output
    assert telegram_api.state.webhook == {
        "url": "https://pakn.example.vn/webhooks/telegram", "secret_token": TG_SECRET,
        "allowed_updates": ["message", "callback_query"]}  # fmt: skip


def test_polling_once_stores_updates_like_the_webhook_and_the_worker_answers(
    telegram_app: Any, telegram_api: Any, telegram_worker: Any
) -> None:
    telegram_api.state.webhook = {"url": "https://old.example/hook"}
    telegram_api.queue_update(tg_message(CHAT + 4, text="/start"))
    telegram_api.queue_update(tg_message(CHAT + 4, text="/list"))
    runner = telegram_app.test_cli_runner()
    first = runner.invoke(args=["telegram-poll", "--once"])
    assert first.exit_code == 0, first.output
    assert "2 new update(s)" in first.output and telegram_api.state.webhook is None
    again = runner.invoke(args=["telegram-poll", "--once"])  # not confirmed yet: seen again
    assert "0 new update(s)" in again.output
    assert count(telegram_app, InboundMessage, InboundMessage.channel == "telegram") == 2
    telegram_worker.burst()
    texts = telegram_api.texts_to(CHAT + 4)
    assert len(texts) == 2 and "/status" in texts[0] and "no submissions" in texts[1]


def test_polling_reports_a_refusal(telegram_app: Any, telegram_api: Any) -> None:
    telegram_api.fail_next("403", methods=None)
    result = telegram_app.test_cli_runner().invoke(args=["telegram-poll", "--once"])
    assert result.exit_code != 0 and "refused" in result.output


# -- units: errors, splitting, the shared rate limit ---------------------------------------


def test_sending_works_where_an_event_loop_already_runs(
    telegram_app: Any, telegram_api: Any
) -> None:
    """E.g. under an async server, or beside Playwright's sync API in the same test process."""
    from channels.base import OutboundMessage
    from channels.telegram import TelegramChannel

    async def inside_a_loop() -> str:
        return TelegramChannel(telegram_app.config).send(OutboundMessage("424242", "s", "Xin chào"))

    with ThreadPoolExecutor(max_workers=1) as pool:  # a thread of our own, whatever runs here
        assert pool.submit(lambda: asyncio.run(inside_a_loop())).result()
    assert telegram_api.texts_to(424242) == ["Xin chào"]


def test_errors_are_classified_permanent_or_transient() -> None:
    assert isinstance(classify(BadRequest("Chat not found")), PermanentError)
    assert isinstance(classify(Forbidden("bot was blocked by the user")), PermanentError)
    assert isinstance(classify(TimedOut()), TransientError)
    assert isinstance(classify(NetworkError("connection reset")), TransientError)
    flood = classify(RetryAfter(7))
    assert isinstance(flood, TransientError) and flood.retry_after == 7


def test_long_texts_are_split_at_line_breaks() -> None:
    text = "\n".join(f"dòng {i} " + "x" * 90 for i in range(100))
    parts = split_text(text)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "".join(p + "\n" for p in parts).rstrip("\n") == text
    assert split_text("ngắn") == ["ngắn"]


def test_the_rate_limit_is_shared_by_every_process(app: Any) -> None:
    url = app.config["REDIS_URL"]
    Redis.from_url(url).delete(*Redis.from_url(url).keys("ratelimit:unit:*") or ["none"])
    worker_a = RateLimiter(Redis.from_url(url), "unit", per_chat=1, overall=2)
    worker_b = RateLimiter(Redis.from_url(url), "unit", per_chat=1, overall=2)
    t = 1_000_000.0
    assert worker_a.try_acquire("c1", now_ms=t) == 0
    assert worker_b.try_acquire("c1", now_ms=t) == pytest.approx(1.0)  # same chat: 1 per second
    assert worker_b.try_acquire("c2", now_ms=t + 500) == 0  # overall: one per 500 ms
    assert worker_a.try_acquire("c3", now_ms=t + 500) == pytest.approx(0.5)
    assert worker_a.try_acquire("c1", now_ms=t + 1000) == 0
    bursty = RateLimiter(Redis.from_url(url), "unit-burst", per_chat=1, overall=0, chat_burst=3)
    Redis.from_url(url).delete("ratelimit:unit-burst:chat:c1", "ratelimit:unit-burst:all")
    assert [bursty.try_acquire("c1", now_ms=t) for _ in range(4)] == [0, 0, 0, pytest.approx(1.0)]
    assert bursty.try_acquire("c1", now_ms=t + 1000) == 0  # then one per second
    assert bursty.try_acquire("c1", now_ms=t + 1000) == pytest.approx(1.0)


def test_acquire_sleeps_briefly_or_asks_for_a_retry(app: Any) -> None:
    url = app.config["REDIS_URL"]
    limiter = RateLimiter(Redis.from_url(url), "unit-acquire", per_chat=0.1, overall=1000)
    Redis.from_url(url).delete("ratelimit:unit-acquire:chat:c9", "ratelimit:unit-acquire:all")
    slept: list[float] = []
    limiter.acquire("c9", max_wait=1.0, sleep=slept.append)
    assert slept == []
    with pytest.raises(TransientError) as raised:
        limiter.acquire("c9", max_wait=1.0, sleep=slept.append)  # next slot ~10 s away
    assert raised.value.retry_after and raised.value.retry_after > 1.0 and slept == []
