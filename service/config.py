"""Configuration from environment variables; every setting has a documented default (README)."""

from __future__ import annotations

import os
from typing import Any


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))  # type: ignore[arg-type]


def _bool(name: str, default: bool) -> bool:
    return (_env(name, "1" if default else "0") or "").lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str) -> dict[str, Any]:
    """Read settings from the environment. Defaults give the embedded single-machine setup."""
    sqlite_default = "sqlite:///" + os.path.join(instance_path, "pakn.sqlite3")
    return {
        "SECRET_KEY": _env("SECRET_KEY", "dev-insecure-change-me"),
        "SQLALCHEMY_DATABASE_URI": _env("DATABASE_URL", sqlite_default),
        # Pre-ping costs a round trip per request; without it a dropped connection fails one
        # request and the pool replaces it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": _bool("DB_POOL_PRE_PING", True)},
        # Empty REDIS_URL means "none configured": the run script then starts a local redis-server.
        "REDIS_URL": _env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RQ_QUEUES": ["default", "notify"],
        "PUBLIC_BASE_URL": _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "TIMEZONE": _env("PAKN_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "TICKET_CODE_PREFIX": _env("TICKET_CODE_PREFIX", "PA"),
        # Uploads: whole request cap, per-file cap, and count; types are checked by content.
        "MAX_CONTENT_LENGTH": _int("MAX_REQUEST_BYTES", 25 * 1024 * 1024),
        "MAX_ATTACHMENT_BYTES": _int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        "MAX_ATTACHMENTS": _int("MAX_ATTACHMENTS", 5),
        "UPLOAD_FOLDER": _env("UPLOAD_FOLDER", os.path.join(instance_path, "uploads")),
        # Mail out
        "SMTP_HOST": _env("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USER": _env("SMTP_USER"),
        "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", False),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 10),
        "MAIL_FROM": _env("MAIL_FROM", "PAKN <pakn@localhost>"),
        "MAIL_DOMAIN": _env("MAIL_DOMAIN", "pakn.localhost"),
        # Zalo Official Account: off unless the app id and the OA secret key are set.
        "ZALO_OA_APP_ID": _env("ZALO_OA_APP_ID"),
        "ZALO_OA_SECRET_KEY": _env("ZALO_OA_SECRET_KEY"),  # webhook mac key
        "ZALO_OA_APP_SECRET": _env("ZALO_OA_APP_SECRET"),  # token refresh; default the key above
        "ZALO_OA_API_BASE": _env("ZALO_OA_API_BASE", "https://openapi.zalo.me"),
        "ZALO_OA_OAUTH_BASE": _env("ZALO_OA_OAUTH_BASE", "https://oauth.zaloapp.com"),
        "ZALO_OA_ACCESS_TOKEN": _env("ZALO_OA_ACCESS_TOKEN"),  # first pair; then kept in the DB
        "ZALO_OA_REFRESH_TOKEN": _env("ZALO_OA_REFRESH_TOKEN"),
        "ZALO_OA_REPLAY_WINDOW_SECONDS": _int("ZALO_OA_REPLAY_WINDOW_SECONDS", 300),
        "ZALO_OA_TIMEOUT": _int("ZALO_OA_TIMEOUT", 10),
        # Telegram bot: off unless TELEGRAM_BOT_TOKEN is set (webhook secret: setWebhook's secret).
        "TELEGRAM_BOT_TOKEN": _env("TELEGRAM_BOT_TOKEN"),
        "TELEGRAM_WEBHOOK_SECRET": _env("TELEGRAM_WEBHOOK_SECRET"),
        "TELEGRAM_API_BASE": _env("TELEGRAM_API_BASE", "https://api.telegram.org"),
        "TELEGRAM_FILE_BASE": _env("TELEGRAM_FILE_BASE"),  # default {TELEGRAM_API_BASE}/file/bot
        "TELEGRAM_TIMEOUT": _int("TELEGRAM_TIMEOUT", 10),
        # Sends per second, shared by every worker through Redis (Telegram's published limits).
        "TELEGRAM_RATE_PER_CHAT": float(_env("TELEGRAM_RATE_PER_CHAT", "1")),  # type: ignore[arg-type]
        "TELEGRAM_RATE_GLOBAL": float(_env("TELEGRAM_RATE_GLOBAL", "30")),  # type: ignore[arg-type]
        # Messages one chat may get at once before the per-chat spacing applies.
        "TELEGRAM_RATE_CHAT_BURST": _int("TELEGRAM_RATE_CHAT_BURST", 3),
        # Zalo Bot platform: off unless ZALO_BOT_TOKEN is set.
        "ZALO_BOT_TOKEN": _env("ZALO_BOT_TOKEN"),
        "ZALO_BOT_WEBHOOK_SECRET": _env("ZALO_BOT_WEBHOOK_SECRET"),
        "ZALO_BOT_API_BASE": _env("ZALO_BOT_API_BASE", "https://bot-api.zaloplatforms.com"),
        "ZALO_BOT_TIMEOUT": _int("ZALO_BOT_TIMEOUT", 10),
        # Mail in (IMAP polling): off unless IMAP_HOST or IMAP_MAILBOXES is set (README).
        "IMAP_HOST": _env("IMAP_HOST"),
        "IMAP_PORT": _int("IMAP_PORT", 993 if _bool("IMAP_SSL", True) else 143),
        "IMAP_SSL": _bool("IMAP_SSL", True),
        "IMAP_STARTTLS": _bool("IMAP_STARTTLS", False),
        "IMAP_USER": _env("IMAP_USER"),
        "IMAP_PASSWORD": _env("IMAP_PASSWORD"),
        "IMAP_FOLDER": _env("IMAP_FOLDER", "INBOX"),
        "IMAP_PROCESSED_FOLDER": _env("IMAP_PROCESSED_FOLDER"),
        "IMAP_MAILBOXES": _env("IMAP_MAILBOXES"),  # JSON list; parsed by channels.email.poll
        "IMAP_POLL_SECONDS": _int("IMAP_POLL_SECONDS", 60),
        "IMAP_TIMEOUT": _int("IMAP_TIMEOUT", 30),
        "IMAP_BATCH": _int("IMAP_BATCH", 200),
        # Jobs: retries with backoff, and the sweeper's notion of "stuck".
        "JOB_RETRY_INTERVALS": [
            int(x) for x in (_env("JOB_RETRY_INTERVALS", "5,30,120,600")).split(",")
        ],  # type: ignore[union-attr]
        "DELIVERY_MAX_ATTEMPTS": _int("DELIVERY_MAX_ATTEMPTS", 8),
        "SWEEP_INTERVAL_SECONDS": _int("SWEEP_INTERVAL_SECONDS", 30),
        "SWEEP_STALE_SECONDS": _int("SWEEP_STALE_SECONDS", 20),
        # The intake relay (workers.relay): how often it looks for new tickets, tickets per job.
        "RELAY_INTERVAL_MS": _int("RELAY_INTERVAL_MS", 200),
        "RELAY_BATCH": _int("RELAY_BATCH", 100),
        "DEADLINE_CHECK_INTERVAL_SECONDS": _int("DEADLINE_CHECK_INTERVAL_SECONDS", 3600),
        "ROLLUP_FOLD_SECONDS": _int("ROLLUP_FOLD_SECONDS", 60),
        # Flask-Limiter: "" disables the API limit (benchmarks); storage shares counters across workers.
        "API_RATE_LIMIT": _env("API_RATE_LIMIT", "60/minute;1000/hour")
        if "API_RATE_LIMIT" not in os.environ
        else os.environ["API_RATE_LIMIT"],
        "PUBLIC_FORM_RATE_LIMIT": _env("PUBLIC_FORM_RATE_LIMIT", "20/minute"),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", _env("REDIS_URL", "memory://")),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "LANGUAGES": ["vi", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        # Staff login: lock an account for LOGIN_LOCK_MINUTES after LOGIN_MAX_FAILURES failures.
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCK_MINUTES": _int("LOGIN_LOCK_MINUTES", 15),
        # Roles that must use two-factor (TOTP) login, comma-separated; "" (set but empty) = none.
        "TOTP_REQUIRED_ROLES": os.environ.get("TOTP_REQUIRED_ROLES", "admin,supervisor"),
        "TOTP_ISSUER": _env("TOTP_ISSUER", "PAKN"),
        # Roles that may unseal a denouncer's identity, given the user's can_reveal_identity flag.
        "IDENTITY_REVEAL_ROLES": _env("IDENTITY_REVEAL_ROLES", "lead,supervisor,admin"),
        "WTF_CSRF_TIME_LIMIT": None,
    }
