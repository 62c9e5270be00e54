"""Zalo Bot platform (bot-api.zaloplatforms.com, Telegram-like): webhook in, the shared
conversation, `sendMessage` out, with plain `requests`.

Inbound: `POST /webhooks/zalo-bot` compares `X-Bot-Api-Secret-Token` with ZALO_BOT_WEBHOOK_SECRET
in constant time (403, nothing stored, otherwise), keeps the raw update once per
`message.message_id` and answers 200. The worker maps text and image events to a `ChatInput`.
Zalo has no buttons: replies carry numbered options (`conversation.numbered`) and the
conversation accepts the number (or the option's text) as the answer.
Outbound: `POST {base}/bot{token}/sendMessage {chat_id, text}`, text cut to 2000 characters per
message. Timeouts, connection errors, 5xx and 429 → TransientError; other 4xx or `ok: false`
→ PermanentError.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import requests

from service.domain.attachments import IncomingFile

from .base import (
    Channel,
    OutboundMessage,
    PermanentError,
    TransientError,
    WebhookResponse,
    register,
    shared_secret_ok,
)
from .conversation import ChatInput, handle, numbered, settings_from_config
from .telegram import split_text

log = logging.getLogger(__name__)

MAX_TEXT = 2000
SECRET_HEADER = "X-Bot-Api-Secret-Token"
EVENTS = frozenset({"message.text.received", "message.image.received",
                    "message.sticker.received", "message.unsupported.received"})  # fmt: skip


def update_of(body: Any) -> dict[str, Any] | None:
    """The update inside a webhook body (`{"ok", "result": update}`, or the bare update)."""
    if not isinstance(body, dict):
        return None
    update = body.get("result", body)
    return update if isinstance(update, dict) else None


def message_of(update: dict[str, Any]) -> dict[str, Any]:
    message = update.get("message")
    return message if isinstance(message, dict) else {}


def _id(part: Any) -> str:
    return str(part.get("id") or "") if isinstance(part, dict) else ""


def photo_urls(message: dict[str, Any]) -> list[str]:
    found = message.get("photo") or message.get("photo_url") or []
    urls = found if isinstance(found, list) else [found]
    return [u for u in urls if isinstance(u, str) and u.startswith(("https://", "http://"))]


@register
class ZaloBotChannel(Channel):
    name = "zalo_bot"
    webhook_path = "zalo-bot"

    @classmethod
    def enabled(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("ZALO_BOT_TOKEN"))

    # -- webhook ---------------------------------------------------------------------------

    def handle_webhook(
        self, session: Any, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        from service.domain.intake import store_raw

        if not shared_secret_ok(headers, SECRET_HEADER, self.config.get("ZALO_BOT_WEBHOOK_SECRET")):
            return WebhookResponse(403, {"error": "invalid secret token"})
        try:
            update = update_of(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            update = None
        if update is None:
            return WebhookResponse(400, {"error": "not a Zalo Bot update"})
        message_id = str(message_of(update).get("message_id") or "")
        if update.get("event_name") not in EVENTS or not message_id:
            return WebhookResponse(200, {"ok": True, "ignored": True})
        stored = store_raw(session, self.name, message_id[:255], body.decode("utf-8"))
        return WebhookResponse(200, {"ok": True, "duplicate": stored is None})

    # -- the Bot API -----------------------------------------------------------------------

    def call(self, method: str, payload: dict[str, Any]) -> Any:
        """One API call; the `result` on success, our error classes otherwise."""
        cfg = self.config
        base = (cfg.get("ZALO_BOT_API_BASE") or "https://bot-api.zaloplatforms.com").rstrip("/")
        try:
            response = requests.post(f"{base}/bot{cfg['ZALO_BOT_TOKEN']}/{method}", json=payload,
                                     timeout=float(cfg.get("ZALO_BOT_TIMEOUT", 10)))  # fmt: skip
        except requests.RequestException as exc:
            raise TransientError(f"Zalo Bot API unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"Zalo Bot API answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TransientError(f"Zalo Bot API answered non-JSON (HTTP {response.status_code})")
        if response.status_code >= 400 or not answer.get("ok"):
            raise PermanentError(f"Zalo Bot API {method} refused: {answer.get('error_code')} "
                                 f"{answer.get('description', '')}".strip())  # fmt: skip
        return answer.get("result")

    def send_text(self, chat_id: str, text: str) -> str:
        """Send text in 2000-character messages; returns the last message id."""
        message_id = ""
        for chunk in split_text(text, MAX_TEXT):
            result = self.call("sendMessage", {"chat_id": chat_id, "text": chunk})
            if isinstance(result, dict):
                message_id = str(result.get("message_id") or "")
        return message_id

    def send(self, message: OutboundMessage) -> str:
        return self.send_text(message.recipient, message.text)

    # -- worker side -----------------------------------------------------------------------

    def process(self, session: Any, message: Any) -> None:
        from flask import current_app

        update = update_of(json.loads(message.payload or "{}")) or {}
        inp = self.input_of(update)
        if inp is None:
            return
        for reply in handle(session, inp, settings_from_config(current_app.config)):
            self.send_text(inp.chat_id, numbered(reply))

    def input_of(self, update: dict[str, Any]) -> ChatInput | None:
        msg = message_of(update)
        sender, chat = msg.get("from"), msg.get("chat")
        chat_id = _id(chat) or _id(sender)
        if not chat_id or (isinstance(chat, dict) and chat.get("chat_type") == "GROUP"):
            return None  # citizens file in private chats only
        name = (
            (sender.get("display_name") or sender.get("name")) if isinstance(sender, dict) else None
        )
        inp = ChatInput(channel=self.name, user_id=_id(sender) or chat_id, chat_id=chat_id,
                        display_name=str(name) if name else None,
                        message_id=str(msg.get("message_id") or ""))  # fmt: skip
        text = msg.get("text") or msg.get("caption")
        inp.text = str(text) if text else None
        if update.get("event_name") == "message.image.received":
            inp.photos = [self.download(url, i) for i, url in enumerate(photo_urls(msg), 1)]
        return inp

    def download(self, url: str, index: int) -> IncomingFile:
        """Fetch an image Zalo hosts, never reading past the attachment cap."""
        cap = int(self.config.get("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
        name = f"zalo-bot-{index}"
        try:
            with requests.get(url, stream=True,
                              timeout=float(self.config.get("ZALO_BOT_TIMEOUT", 10))) as response:  # fmt: skip
                if response.status_code >= 500:
                    raise TransientError(f"Zalo file host answered HTTP {response.status_code}")
                if response.status_code != 200:
                    return IncomingFile(name, b"")  # gone: reported as an empty file
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data.extend(chunk)
                    if len(data) > cap:
                        break  # over the cap: the conversation reports "too large"
                return IncomingFile(name, bytes(data))
        except requests.RequestException as exc:
            raise TransientError(f"cannot fetch {url}: {exc}") from exc
