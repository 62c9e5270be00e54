"""Extensions created unbound and bound in create_app (the Flask tutorial pattern)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits import parse_many
from redis.exceptions import RedisError

from .models import Base

log = logging.getLogger(__name__)

db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, minus the per-request work for requests that neither
    carry nor set a session cookie (every API call): no signing serializer, no cookie settings."""

    def open_session(self, app: Any, request: Any) -> Any:
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()  # no cookies at all: nothing to parse or verify
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        if not session and not session.modified:  # nothing to store or delete
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def select_locale() -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie; Vietnamese by default.
    The JSON API also honours Accept-Language, since programs cannot click a language switch."""
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang in ("vi", "en"):
        return lang
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(["vi", "en"], default="vi") or "vi"
    return "vi"


babel = Babel()


# One round trip for every window: count, start the window's expiry on its first hit, read what
# is left of it, and stop at the first window over its amount (later ones are not charged).
_WINDOWS_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local amount, expiry = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, expiry)
    ttl = expiry
  end
  out[#out + 1] = count
  out[#out + 1] = ttl
  if count > amount then break end
end
return out
"""


class ApiRateLimiter:
    """Fixed-window limits per client address and endpoint for the JSON API, counted in Redis
    with one script call per request (Flask-Limiter's keys and window semantics); while Redis is
    unreachable each process counts on its own, as Flask-Limiter's in-memory fallback does."""

    RETRY_STORAGE_SECONDS = 5.0  # after a Redis error, count in memory this long before retrying

    def __init__(self, app: Any, redis_for: Any) -> None:
        spec = (
            (app.config["API_RATE_LIMIT"] or "").strip() if app.config["RATELIMIT_ENABLED"] else ""
        )
        self.items = parse_many(spec) if spec else []
        self.headers = bool(app.config["RATELIMIT_HEADERS_ENABLED"])
        self.redis: Any = None
        uri = app.config["RATELIMIT_STORAGE_URI"] or "memory://"
        if uri.startswith(("redis://", "rediss://", "unix://")):
            self.redis = redis_for(uri)
            self._script = self.redis.register_script(_WINDOWS_LUA)
        elif not uri.startswith("memory://"):
            raise ValueError(f"API rate limit storage must be redis:// or memory://, not {uri}")
        self._storage_down_until = 0.0
        self._memory: dict[str, tuple[int, float]] = {}
        self._memory_lock = threading.Lock()

    def hit(self, client: str, scope: str) -> tuple[Any, int, int, bool]:
        """Count one request; return the limit to report, its remaining count, the window's
        reset time (epoch seconds) and whether the request is over a limit."""
        keys = [item.key_for(client, scope) for item in self.items]
        now = time.time()
        if self.redis is not None and now >= self._storage_down_until:
            args = [x for item in self.items for x in (item.amount, item.get_expiry())]
            try:
                out = self._script(keys=["LIMITS:" + k for k in keys], args=args)
                pairs = zip(out[::2], out[1::2], strict=True)  # (count, seconds left) per window
                return self._verdict([(int(count), now + int(ttl)) for count, ttl in pairs])
            except RedisError as exc:
                log.warning("rate limit storage unreachable (%s); counting in memory", exc)
                self._storage_down_until = now + self.RETRY_STORAGE_SECONDS
        with self._memory_lock:
            return self._verdict(self._hit_memory(keys, now))

    def _hit_memory(self, keys: list[str], now: float) -> list[tuple[int, float]]:
        windows = []
        for item, key in zip(self.items, keys, strict=True):
            count, reset = self._memory.get(key, (0, 0.0))
            if reset <= now:
                count, reset = 0, now + item.get_expiry()
            self._memory[key] = (count + 1, reset)
            windows.append((count + 1, reset))
            if count + 1 > item.amount:
                break
        if len(self._memory) > 100_000:  # expired windows of departed clients
            self._memory = {k: v for k, v in self._memory.items() if v[1] > now}
        return windows

    def _verdict(self, windows: list[tuple[int, float]]) -> tuple[Any, int, int, bool]:
        index = len(windows) - 1 if windows[-1][0] > self.items[len(windows) - 1].amount else 0
        item, (count, reset) = self.items[index], windows[index]
        return item, max(0, item.amount - count), int(reset), count > item.amount
