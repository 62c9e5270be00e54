"""The small interface every channel module implements, and the registry of channels."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class OutboundMessage:
    """A rendered notice ready for a provider: plain text always, HTML where the channel has it."""

    recipient: str
    subject: str
    text: str
    html: str | None = None
    ticket_code: str | None = None
    automatic: bool = True
    # Message ids already sent to this recipient for the ticket (email threading).
    thread: list[str] = field(default_factory=list)
    delivery_id: int | None = None


class PermanentError(Exception):
    """The provider refused for good (bad address, user blocked the bot): do not retry."""


class FallbackError(PermanentError):
    """This channel cannot reach the person now (e.g. outside a chat's reply window): the
    notice is sent on another of the citizen's contacts instead."""


class TransientError(Exception):
    """Try again later (timeouts, 5xx, rate limits)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class WebhookResponse:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class Channel:
    """A provider: webhook in (verify, store raw, enqueue), process in the worker, send out."""

    name: ClassVar[str]
    # POST /webhooks/<webhook_path> reaches handle_webhook; None: the channel has no webhook.
    webhook_path: ClassVar[str | None] = None

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    @classmethod
    def enabled(cls, config: Mapping[str, Any]) -> bool:
        """A channel whose settings are absent is off."""
        return True

    def send(self, message: OutboundMessage) -> str:
        """Send and return the provider's message id; raise PermanentError or TransientError."""
        raise NotImplementedError

    def handle_webhook(
        self, session: Any, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        """Authenticate first (403, nothing stored), then store the raw update and answer fast."""
        raise NotImplementedError

    def process(self, session: Any, message: Any) -> None:
        """Worker side: turn one stored raw message (InboundMessage) into intake calls."""
        raise NotImplementedError


def shared_secret_ok(headers: Mapping[str, str], header: str, secret: str | None) -> bool:
    """Constant-time check of a provider's shared-secret header; no secret set means refuse."""
    given = headers.get(header) or ""
    return bool(secret) and hmac.compare_digest(given.encode(), (secret or "").encode())


_REGISTRY: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type[Channel]]:
    return dict(_REGISTRY)


def by_webhook_path(path: str) -> type[Channel] | None:
    return next((c for c in _REGISTRY.values() if c.webhook_path == path), None)


def enabled_names(config: Mapping[str, Any]) -> set[str]:
    return {name for name, cls in _REGISTRY.items() if cls.enabled(config)}


def get(name: str, config: Mapping[str, Any]) -> Channel:
    cls = _REGISTRY.get(name)
    if cls is None or not cls.enabled(config):
        raise PermanentError(f"channel {name!r} is not configured")
    return cls(config)
