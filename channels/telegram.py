"""Telegram bot: webhook (or long polling) in, the shared conversation, python-telegram-bot out.

Inbound: `POST /webhooks/telegram` compares `X-Telegram-Bot-Api-Secret-Token` with
TELEGRAM_WEBHOOK_SECRET in constant time before anything is stored (403 otherwise; without a
configured secret every webhook call is refused, polling still works), keeps the raw update once
per update_id and answers 200. The worker (`process`) parses it with `Update.de_json`, downloads
the largest photo, runs `channels.conversation.handle` and answers with inline keyboards. Only
private chats are served. Outbound notices (`send`) and conversation replies share a Redis rate
limit (1/s per chat with bursts of TELEGRAM_RATE_CHAT_BURST, 30/s overall); a notice that would
wait over a second is rescheduled instead (TransientError with retry_after). Errors: RetryAfter → TransientError(retry_after); BadRequest,
Forbidden, InvalidToken → PermanentError (BadRequest subclasses NetworkError: checked first);
TimedOut / NetworkError / other → TransientError.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from service.domain.attachments import ALLOWED_TYPES, IncomingFile

from .base import (
    Channel,
    OutboundMessage,
    PermanentError,
    TransientError,
    WebhookResponse,
    register,
    shared_secret_ok,
)
from .conversation import ChatInput, ChatReply, handle, settings_from_config
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_TEXT = 4096  # characters per Telegram message
BOT_FILE_LIMIT = 20 * 1024 * 1024  # bots cannot fetch larger files
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def classify(exc: TelegramError) -> PermanentError | TransientError:
    """Map a python-telegram-bot error to retry or give up (order matters: subclasses first)."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return TransientError(f"Telegram flood control: {exc}", retry_after=seconds)
    if isinstance(exc, (BadRequest, Forbidden, InvalidToken, ChatMigrated)):
        return PermanentError(f"Telegram refused: {exc}")
    if isinstance(exc, (TimedOut, NetworkError)):
        return TransientError(f"Telegram unreachable: {exc}")
    return TransientError(f"Telegram error: {exc}")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut long text into messages, at line breaks where possible."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*chunks, text] if text or not chunks else chunks


def keyboard(reply: ChatReply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label[:64], callback_data=data) for label, data in row]
         for row in reply.buttons]
    )  # fmt: skip


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~60 ms, a Bot is made per job."""
    try:
        import certifi  # httpx's own CA bundle (it depends on certifi)
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def http_request(timeout: float) -> HTTPXRequest:
    return HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                        pool_timeout=timeout, httpx_kwargs={"verify": tls_context()})  # fmt: skip


def run_coroutine(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run(main()), or in a helper thread when this thread already runs an event loop
    (an async server, or a tool such as Playwright's sync API in tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    context = contextvars.copy_context()  # the Flask app context goes along
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, lambda: asyncio.run(main())).result()


@register
class TelegramChannel(Channel):
    name = "telegram"
    webhook_path = "telegram"

    @classmethod
    def enabled(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("TELEGRAM_BOT_TOKEN"))

    # -- webhook ---------------------------------------------------------------------------

    def handle_webhook(
        self, session: Any, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        from service.domain.intake import store_raw

        if not shared_secret_ok(headers, SECRET_HEADER, self.config.get("TELEGRAM_WEBHOOK_SECRET")):
            return WebhookResponse(403, {"error": "invalid secret token"})
        try:
            update = json.loads(body)
            update_id = int(update["update_id"])
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            return WebhookResponse(400, {"error": "not a Telegram update"})
        stored = store_raw(session, self.name, str(update_id), body.decode("utf-8"))
        return WebhookResponse(200, {"ok": True, "duplicate": stored is None})

    # -- the Bot API -----------------------------------------------------------------------

    def bot(self) -> Bot:
        """A fresh Bot (use inside one asyncio.run: a Bot does not survive its event loop)."""
        cfg = self.config
        base = (cfg.get("TELEGRAM_API_BASE") or "https://api.telegram.org").rstrip("/")
        timeout = float(cfg.get("TELEGRAM_TIMEOUT", 10))
        return Bot(
            cfg["TELEGRAM_BOT_TOKEN"], base_url=f"{base}/bot",
            base_file_url=cfg.get("TELEGRAM_FILE_BASE") or f"{base}/file/bot",
            request=http_request(timeout), get_updates_request=http_request(timeout),
        )  # fmt: skip

    def run(self, work: Callable[[Bot], Awaitable[T]]) -> T:
        """Run `work(bot)` with a fresh, initialised Bot; Telegram errors become ours."""

        async def main() -> T:
            async with self.bot() as bot:
                return await work(bot)

        try:
            return run_coroutine(main)
        except TelegramError as exc:
            raise classify(exc) from exc

    def limiter(self) -> RateLimiter:
        from workers.queues import connection

        cfg = self.config
        return RateLimiter(connection(cfg["REDIS_URL"]), self.name,
                           float(cfg.get("TELEGRAM_RATE_PER_CHAT", 1)),
                           float(cfg.get("TELEGRAM_RATE_GLOBAL", 30)),
                           int(cfg.get("TELEGRAM_RATE_CHAT_BURST", 3)))  # fmt: skip

    async def _send_reply(self, bot: Bot, chat_id: str, reply: ChatReply, max_wait: float
                          ) -> Message | None:  # fmt: skip
        """One reply, split to Telegram's size; the keyboard goes with the last part."""
        limiter, sent = self.limiter(), None
        chunks = split_text(reply.text)
        for index, chunk in enumerate(chunks):
            await asyncio.to_thread(limiter.acquire, chat_id, max_wait)
            last = index == len(chunks) - 1
            sent = await bot.send_message(chat_id=chat_id, text=chunk,
                                          reply_markup=keyboard(reply) if last else None)  # fmt: skip
        return sent

    # -- sending notices -------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> str:
        """An officer's reply or a status notice to a chat; returns Telegram's message id."""

        async def work(bot: Bot) -> str:
            sent = await self._send_reply(bot, message.recipient, ChatReply(message.text), 1.0)
            return str(sent.message_id) if sent else ""

        return self.run(work)

    # -- worker side -----------------------------------------------------------------------

    def process(self, session: Any, message: Any) -> None:
        """One stored update → the conversation → replies in the chat."""
        from flask import current_app

        data = json.loads(message.payload or "{}")
        settings = settings_from_config(current_app.config)

        async def work(bot: Bot) -> None:
            update = Update.de_json(data, bot)
            inp = await self._input(bot, update)
            if inp is None:
                return
            replies = handle(session, inp, settings)
            spinner = None
            if update.callback_query is not None:  # stop the button's spinner meanwhile
                spinner = asyncio.create_task(bot.answer_callback_query(update.callback_query.id))
            for reply in replies:
                await self._send_reply(bot, inp.chat_id, reply, 5.0)
            if spinner is not None:
                try:
                    await spinner
                except TelegramError as exc:  # cosmetic: never worth a retry
                    log.info("answerCallbackQuery failed: %s", exc)

        self.run(work)

    async def _input(self, bot: Bot, update: Update) -> ChatInput | None:
        """The provider-neutral input, or None for updates the conversation does not take."""
        query = update.callback_query
        msg = update.message
        source = query.message if query is not None else msg
        user = query.from_user if query is not None else (msg.from_user if msg else None)
        if source is None or user is None or source.chat.type != "private":
            return None
        inp = ChatInput(
            channel=self.name, user_id=str(user.id), chat_id=str(source.chat.id),
            language=user.language_code or "vi", display_name=user.full_name,
            message_id=str(update.update_id),
        )  # fmt: skip
        if query is not None:
            inp.callback = query.data
            return inp
        assert msg is not None
        inp.text = msg.text or msg.caption
        if msg.location is not None:
            inp.location = (msg.location.latitude, msg.location.longitude)
        inp.photos = await self._files(bot, msg)
        return inp

    async def _files(self, bot: Bot, msg: Message) -> list[IncomingFile]:
        """The largest size of a photo, or a document that is an image or PDF, within limits."""
        cap = min(BOT_FILE_LIMIT, int(self.config.get("MAX_ATTACHMENT_BYTES", BOT_FILE_LIMIT)))
        wanted: list[tuple[str, str, int | None]] = []
        if msg.photo:
            largest = max(msg.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
            wanted.append((largest.file_id, f"telegram-{largest.file_unique_id}.jpg",
                           largest.file_size))  # fmt: skip
        elif msg.document is not None and msg.document.mime_type in ALLOWED_TYPES:
            doc = msg.document
            wanted.append((doc.file_id, doc.file_name or f"telegram-{doc.file_unique_id}",
                           doc.file_size))  # fmt: skip
        files = []
        for file_id, name, size in wanted:
            if size is not None and size > cap:
                # Not fetched: a placeholder over the cap makes the conversation say "too large".
                files.append(IncomingFile(name, b"\0" * (cap + 1)))
                continue
            tg_file = await bot.get_file(file_id)
            files.append(IncomingFile(name, bytes(await tg_file.download_as_bytearray())))
        return files
