"""A send-rate limit shared by every worker process through Redis (GCRA, one Lua call).

Two budgets are checked and spent together: one per chat (Telegram: about 1 message per second,
with short bursts tolerated — `chat_burst` messages may go at once, the average stays 1/s) and one
for the whole bot (about 30 per second, strictly spaced). `acquire` sleeps briefly when the wait is short
and raises TransientError(retry_after) when it is longer, so an outbox delivery is rescheduled
instead of holding a worker. With Redis unreachable it lets the message through (logged): a
delayed limit is better than a lost notice, and the provider's own 429 still maps to a retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from .base import TransientError

log = logging.getLogger(__name__)

# KEYS: per-chat key, global key. ARGV: now_ms (negative: use Redis TIME), chat interval ms,
# global interval ms, chat tolerance ms (burst). Returns 0 (granted, both spent) or the wait in ms.
_GCRA = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local chat_interval, global_interval = tonumber(ARGV[2]), tonumber(ARGV[3])
local tolerance = tonumber(ARGV[4])
local chat_tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local global_tat = math.max(tonumber(redis.call('GET', KEYS[2]) or now), now)
local wait = math.max(chat_tat - now - tolerance, global_tat - now)
if wait > 0 then
  return string.format('%.3f', wait)
end
local ttl = math.ceil(math.max(chat_interval + tolerance, global_interval)) + 1000
redis.call('SET', KEYS[1], string.format('%.3f', chat_tat + chat_interval), 'PX', ttl)
redis.call('SET', KEYS[2], string.format('%.3f', global_tat + global_interval), 'PX', ttl)
return '0'
"""


class RateLimiter:
    """`per_chat` and `overall` are messages per second (0: unlimited); a chat may send
    `chat_burst` messages at once before the per-chat spacing applies."""

    def __init__(self, redis: Redis, name: str, per_chat: float, overall: float,
                 chat_burst: int = 1) -> None:  # fmt: skip
        self.redis, self.name = redis, name
        self.chat_interval_ms = 1000.0 / per_chat if per_chat > 0 else 0.0
        self.global_interval_ms = 1000.0 / overall if overall > 0 else 0.0
        self.tolerance_ms = max(0, chat_burst - 1) * self.chat_interval_ms
        self._script = redis.register_script(_GCRA)

    def try_acquire(self, chat_id: str, now_ms: float | None = None) -> float:
        """Spend one message for `chat_id` if both budgets allow: 0.0, else seconds to wait."""
        keys = [f"ratelimit:{self.name}:chat:{chat_id}", f"ratelimit:{self.name}:all"]
        args = [-1 if now_ms is None else now_ms, self.chat_interval_ms, self.global_interval_ms,
                self.tolerance_ms]  # fmt: skip
        try:
            wait_ms = float(self._script(keys=keys, args=args))
        except RedisError as exc:
            log.warning("rate limiter unavailable (%s); sending without it", exc)
            return 0.0
        return wait_ms / 1000.0

    def acquire(self, chat_id: str, max_wait: float = 2.0,
                sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        """Block until a message may go to `chat_id`, at most `max_wait` seconds in total;
        beyond that raise TransientError with the time to wait."""
        waited = 0.0
        while True:
            wait = self.try_acquire(chat_id)
            if wait <= 0:
                return
            if waited + wait > max_wait:
                raise TransientError(f"rate limit for chat {chat_id}", retry_after=max(wait, 0.5))
            sleep(wait)
            waited += wait
