"""Zalo Official Account: signed webhook in, the shared conversation, replies via the OA API.

Inbound: `POST /webhooks/zalo-oa` checks `X-ZEvent-Signature: mac=sha256(app_id + body +
timestamp + oa_secret_key)` and a replay window before anything is stored, keeps the raw event
once per msg_id and answers 200; the worker maps it to the provider-neutral conversation.
Outbound: `POST {API}/v3.0/oa/message/cs`; -216 refreshes the token and retries once, -230 (the
user is outside the reply window) raises `OutsideReplyWindow`, on which service.delivery falls
back to another contact of the citizen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.domain.attachments import IncomingFile
from service.models import Setting, utcnow

from .base import (
    Channel,
    FallbackError,
    OutboundMessage,
    PermanentError,
    TransientError,
    WebhookResponse,
    register,
)
from .telegram import split_text
from .zalo_tokens import TokenStore, oauth_refresher, redis_client

log = logging.getLogger(__name__)

EVENTS = frozenset(
    {"user_send_text", "user_send_image", "user_send_location", "user_send_file", "follow",
     "unfollow"}
)  # fmt: skip
TOKEN_EXPIRED = -216
# Errors meaning "the OA may not message this user now": try another contact instead.
UNREACHABLE = {-230: "user has not interacted recently (outside the reply window)",
               -213: "user does not follow the Official Account"}  # fmt: skip
RATE_LIMITED = -32
MAX_TEXT = 2000  # characters per OA text message
UNFOLLOWED_KEY = "zalo_oa.unfollowed."


class OutsideReplyWindow(FallbackError):
    """-230/-213: no retry on this channel; service.delivery uses another contact."""


def signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """Zalo's mac: plain SHA-256 of the concatenation (not an HMAC)."""
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()


def authenticate(headers: Mapping[str, str], body: bytes, app_id: str, secret: str,
                 window_seconds: int, now_ms: float) -> dict[str, Any] | None:  # fmt: skip
    """The event if its signature and timestamp hold; None otherwise (the caller answers 403)."""
    header = (headers.get("X-ZEvent-Signature") or "").strip()
    if not header.startswith("mac="):
        return None
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict):
        return None
    timestamp = str(event.get("timestamp") or "")
    if not timestamp.isdigit():
        return None
    expected = signature(app_id, body, timestamp, secret)
    if not hmac.compare_digest(expected, header[4:].strip().lower()):
        return None
    if abs(now_ms - int(timestamp)) > window_seconds * 1000:
        return None  # a replay of an old, correctly signed event
    if str(event.get("app_id") or app_id) != app_id:
        return None
    return event


def external_id(event: dict[str, Any]) -> str | None:
    """msg_id for messages; follow/unfollow carry none, so name + sender + timestamp."""
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    msg_id = message.get("msg_id")  # type: ignore[union-attr]
    if msg_id:
        return str(msg_id)[:255]
    sender = sender_id(event)
    if not sender:
        return None
    return f"{event.get('event_name')}:{sender}:{event.get('timestamp')}"[:255]


def sender_id(event: dict[str, Any]) -> str:
    sender = event.get("sender")
    return str(sender.get("id") or "") if isinstance(sender, dict) else ""


def attachments(event: dict[str, Any]) -> list[dict[str, Any]]:
    message = event.get("message")
    items = message.get("attachments") if isinstance(message, dict) else None
    return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def payload_of(item: dict[str, Any]) -> dict[str, Any]:
    payload = item.get("payload")
    return payload if isinstance(payload, dict) else {}


def location_of(event: dict[str, Any]) -> tuple[float, float] | None:
    """user_send_location: attachments[].payload.coordinates {latitude, longitude} (strings)."""
    for item in attachments(event):
        coords = payload_of(item).get("coordinates")
        if isinstance(coords, dict):
            try:
                return float(coords["latitude"]), float(coords["longitude"])
            except (KeyError, TypeError, ValueError):
                return None
    return None


def file_urls(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(url, filename) of images and files; Zalo hosts them, we fetch them in the worker."""
    found = []
    for index, item in enumerate(attachments(event)):
        payload = payload_of(item)
        url = payload.get("url")
        if (
            item.get("type") in ("image", "file")
            and isinstance(url, str)
            and url.startswith(("https://", "http://"))
        ):
            found.append((url, str(payload.get("name") or f"zalo-{index + 1}")))
    return found


def download(url: str, max_bytes: int, timeout: float) -> bytes | None:
    """The file's bytes, None when it is gone. Never reads past max_bytes + 1, so a file over
    the cap comes back one byte too long and the attachment check refuses it as too large."""
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code >= 500:
                raise TransientError(f"Zalo file host answered HTTP {response.status_code}")
            if response.status_code != 200:
                log.warning("Zalo attachment %s answered HTTP %s", url, response.status_code)
                return None
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data.extend(chunk)
                if len(data) > max_bytes:
                    return bytes(data[: max_bytes + 1])
            return bytes(data)
    except requests.RequestException as exc:
        raise TransientError(f"cannot fetch {url}: {exc}") from exc


def record_follow(session: Any, user_id: str, *, followed: bool) -> None:
    """Remember who unfollowed the OA (cleared when they follow again): notices for them then
    go straight to another contact of theirs instead of to Zalo, which would refuse them."""
    key = UNFOLLOWED_KEY + user_id
    session.execute(delete(Setting).where(Setting.key == key))
    if not followed:
        session.add(Setting(key=key, value=utcnow().isoformat(), updated_at=utcnow()))
    session.commit()


def has_unfollowed(engine: Any, user_id: str) -> bool:
    with Session(engine) as session:
        key = UNFOLLOWED_KEY + user_id
        return session.scalar(select(Setting.key).where(Setting.key == key)) is not None


@register
class ZaloOAChannel(Channel):
    name = "zalo_oa"
    webhook_path = "zalo-oa"

    def __init__(self, config: Mapping[str, Any], tokens: TokenStore | None = None) -> None:
        super().__init__(config)
        self._tokens = tokens

    @classmethod
    def enabled(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("ZALO_OA_APP_ID") and config.get("ZALO_OA_SECRET_KEY"))

    # -- webhook ---------------------------------------------------------------------------

    def handle_webhook(
        self, session: Any, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        from service.domain.intake import store_raw

        cfg = self.config
        event = authenticate(headers, body, cfg["ZALO_OA_APP_ID"], cfg["ZALO_OA_SECRET_KEY"],
                             cfg.get("ZALO_OA_REPLAY_WINDOW_SECONDS", 300), time.time() * 1000)  # fmt: skip
        if event is None:
            return WebhookResponse(403, {"error": "invalid signature"})
        if event.get("event_name") not in EVENTS:
            return WebhookResponse(200, {"ignored": True})  # seen/delivered receipts, OA echoes
        key = external_id(event)
        if key is None:
            return WebhookResponse(200, {"ignored": True})
        stored = store_raw(session, self.name, key, body.decode("utf-8"))
        return WebhookResponse(200, {"ok": True, "duplicate": stored is None})

    # -- worker side -----------------------------------------------------------------------

    def process(self, session: Any, message: Any) -> None:
        """One stored event through the shared conversation; its replies go back as OA text
        messages with numbered options. A redelivered event gets the same replies again (the
        conversation is idempotent per message id), so a retry after a failed send loses nothing."""
        from . import conversation

        event = json.loads(message.payload)
        user = sender_id(event)
        if not user:
            raise PermanentError("Zalo OA event without a sender")
        name = event.get("event_name")
        if name in ("follow", "unfollow"):
            record_follow(session, user, followed=name == "follow")
            if name == "unfollow":
                return  # nothing may be sent to a user who left
        inp = self.chat_input(event, message.external_id)
        replies = conversation.handle(session, inp, conversation.settings_from_config(self.config))
        for reply in replies:
            self.send_text(user, conversation.numbered(reply))

    def chat_input(self, event: dict[str, Any], message_id: str) -> Any:
        """The provider-neutral input: a follow says /start (the greeting); images and files are
        fetched from Zalo's CDN within the attachment size cap."""
        from .conversation import ChatInput

        user = sender_id(event)
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        text = message.get("text") if isinstance(message.get("text"), str) else None  # type: ignore[union-attr]
        if event.get("event_name") == "follow":
            text = "/start"
        cap = int(self.config.get("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
        timeout = float(self.config.get("ZALO_OA_TIMEOUT", 10))
        photos = []
        for url, filename in file_urls(event):
            data = download(url, cap, timeout)
            if data is not None:  # checked (type, size) by the conversation, which answers
                photos.append(IncomingFile(filename, data))
        return ChatInput(channel=self.name, user_id=user, chat_id=user, text=text,
                         location=location_of(event), photos=photos, message_id=message_id)  # fmt: skip

    # -- sending ---------------------------------------------------------------------------

    def tokens(self) -> TokenStore:
        if self._tokens is None:
            from service.extensions import db

            cfg = self.config
            timeout = float(cfg.get("ZALO_OA_TIMEOUT", 10))
            refresher = oauth_refresher(
                cfg.get("ZALO_OA_OAUTH_BASE") or "https://oauth.zaloapp.com",
                cfg["ZALO_OA_APP_ID"],
                cfg.get("ZALO_OA_APP_SECRET") or cfg["ZALO_OA_SECRET_KEY"],
                timeout,
            )
            self._tokens = TokenStore(
                db.engine, redis_client(cfg["REDIS_URL"]), refresher,
                seed=(cfg.get("ZALO_OA_ACCESS_TOKEN") or "", cfg.get("ZALO_OA_REFRESH_TOKEN") or ""),
                lock_timeout=timeout * 3 + 10,
            )  # fmt: skip
        return self._tokens

    def send(self, message: OutboundMessage) -> str:
        if has_unfollowed(self.tokens().engine, message.recipient):
            raise OutsideReplyWindow("the user unfollowed the Official Account")
        return self.send_text(message.recipient, message.text)

    def send_text(self, user_id: str, text: str) -> str:
        """Text as OA messages of at most 2000 characters; returns the last Zalo message id."""
        message_id = ""
        for chunk in split_text(text, MAX_TEXT):
            message_id = self._send_one(user_id, chunk)
        return message_id

    def _send_one(self, user_id: str, text: str) -> str:
        store = self.tokens()
        pair = store.current()
        result = self._post(pair.access_token, user_id, text)
        if result.get("error") == TOKEN_EXPIRED:
            pair = store.refresh(pair.access_token)
            result = self._post(pair.access_token, user_id, text)  # once, never in a loop
        return self._message_id(result)

    def _post(self, access_token: str, user_id: str, text: str) -> dict[str, Any]:
        base = (self.config.get("ZALO_OA_API_BASE") or "https://openapi.zalo.me").rstrip("/")
        try:
            response = requests.post(
                f"{base}/v3.0/oa/message/cs",
                headers={"access_token": access_token},
                json={"recipient": {"user_id": user_id}, "message": {"text": text}},
                timeout=float(self.config.get("ZALO_OA_TIMEOUT", 10)),
            )
        except requests.RequestException as exc:
            raise TransientError(f"Zalo OA unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"Zalo OA answered HTTP {response.status_code}")
        try:
            result = response.json()
        except ValueError as exc:
            raise TransientError(
                f"Zalo OA answered non-JSON (HTTP {response.status_code})"
            ) from exc
        if not isinstance(result, dict):
            raise TransientError(f"Zalo OA answered {result!r}")
        return result

    @staticmethod
    def _message_id(result: dict[str, Any]) -> str:
        error = result.get("error")
        detail = f"Zalo OA error {error}: {result.get('message', '')}"
        if error == 0:
            data = result.get("data") if isinstance(result.get("data"), dict) else {}
            return str(data.get("message_id") or "")  # type: ignore[union-attr]
        if error in UNREACHABLE:
            raise OutsideReplyWindow(f"{detail} ({UNREACHABLE[error]})")
        if error in (TOKEN_EXPIRED, RATE_LIMITED):
            raise TransientError(detail)
        raise PermanentError(detail)
