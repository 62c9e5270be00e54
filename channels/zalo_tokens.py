"""Zalo OA access tokens shared by every process: one JSON `Setting` row, refreshed under a lock.

The refresh token is single-use: if two processes refreshed with the same one, the loser would
hold a dead token and the OA would be locked out until someone re-authorises it. So a refresh
takes a Redis lock, re-reads the stored pair and refreshes only if nobody else already did.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

import requests
from redis import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import Setting, utcnow

from .base import PermanentError, TransientError

log = logging.getLogger(__name__)

SETTING_KEY = "zalo_oa.tokens"
LOCK_NAME = "pakn:zalo_oa:token-refresh"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    # Epoch seconds; None when unknown (a pair seeded from the environment).
    expires_at: float | None = None
    # Fingerprint of the environment pair this chain of refreshes started from.
    seed: str = ""

    def expiring(self, now: float, margin: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at - margin


def fingerprint(access_token: str, refresh_token: str) -> str:
    return hashlib.sha256(f"{access_token}\n{refresh_token}".encode()).hexdigest()[:16]


Refresher = Callable[[str], TokenPair]


def oauth_refresher(oauth_base: str, app_id: str, app_secret: str, timeout: float) -> Refresher:
    """POST {oauth}/v4/oa/access_token: trade the (single-use) refresh token for a new pair."""

    def refresh(refresh_token: str) -> TokenPair:
        try:
            response = requests.post(
                f"{oauth_base.rstrip('/')}/v4/oa/access_token",
                headers={"secret_key": app_secret},
                data={"refresh_token": refresh_token, "app_id": app_id,
                      "grant_type": "refresh_token"},
                timeout=timeout,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise TransientError(f"Zalo OAuth unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise TransientError(f"Zalo OAuth answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError(
                f"Zalo OAuth answered non-JSON (HTTP {response.status_code})"
            ) from exc
        if not isinstance(data, dict) or not data.get("access_token"):
            # The stored refresh token is dead: only re-authorising the OA helps. Deliveries keep
            # retrying (with backoff) so that nothing is lost while an operator does that.
            log.error("Zalo OA token refresh refused: %s; re-authorise the OA and set "
                      "ZALO_OA_ACCESS_TOKEN / ZALO_OA_REFRESH_TOKEN", data)  # fmt: skip
            raise TransientError(f"Zalo OAuth refused the refresh token: {data}")
        return TokenPair(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or refresh_token),
            expires_at=time.time() + int(data.get("expires_in") or 90000),
        )

    return refresh


@lru_cache(maxsize=8)
def redis_client(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)


class TokenStore:
    """Read the current pair, refresh it proactively (near expiry) or reactively (-216)."""

    def __init__(self, engine: Engine, redis: Redis, refresher: Refresher,
                 seed: tuple[str, str] | None = None, margin: float = 600,
                 lock_timeout: float = 60, wait_timeout: float = 45) -> None:  # fmt: skip
        self.engine = engine
        self.redis = redis
        self.refresher = refresher
        self.seed = seed if seed and all(seed) else None
        self.margin = margin
        # The lock must outlive one refresh call (HTTP timeout) or two holders could overlap.
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout

    # -- storage ---------------------------------------------------------------------------

    def _row(self, session: Session) -> str | None:
        return session.scalar(select(Setting.value).where(Setting.key == SETTING_KEY))

    def _seed_pair(self) -> TokenPair | None:
        if self.seed is None:
            return None
        return TokenPair(self.seed[0], self.seed[1], None, fingerprint(*self.seed))

    def read(self) -> TokenPair:
        """The stored pair; seeded from the environment on first use, or when an operator put a
        new pair in the environment (its fingerprint differs from the stored chain's seed)."""
        for _ in range(3):
            with Session(self.engine) as session:
                raw = self._row(session)
                seed = self._seed_pair()
                if raw is not None:
                    stored = TokenPair(**json.loads(raw))
                    if seed is None or stored.seed == seed.seed:
                        return stored
                if seed is None:
                    raise PermanentError(
                        "no Zalo OA token: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN"
                    )
                if self._swap(session, raw, seed):
                    return seed
            # Another process seeded or refreshed in between: read again.
        raise TransientError("Zalo OA token row keeps changing; try again")

    def _swap(self, session: Session, old: str | None, new: TokenPair) -> bool:
        """Compare-and-set the row: only replace the exact value we read."""
        value = json.dumps(asdict(new))
        try:
            if old is None:
                session.execute(
                    insert(Setting).values(key=SETTING_KEY, value=value, updated_at=utcnow())
                )
                changed = 1
            else:
                changed = session.execute(
                    update(Setting)
                    .where(Setting.key == SETTING_KEY, Setting.value == old)
                    .values(value=value, updated_at=utcnow())
                ).rowcount
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return changed == 1

    def write(self, pair: TokenPair) -> None:
        """Store a freshly issued pair in one transaction (the old refresh token is now dead)."""
        with Session(self.engine) as session:
            session.execute(
                update(Setting)
                .where(Setting.key == SETTING_KEY)
                .values(value=json.dumps(asdict(pair)), updated_at=utcnow())
            )
            session.commit()

    # -- use -------------------------------------------------------------------------------

    def current(self, now: float | None = None) -> TokenPair:
        """A pair to use now: refreshed first if it expires within the margin."""
        pair = self.read()
        if pair.expiring(now if now is not None else time.time(), self.margin):
            return self.refresh(pair.access_token)
        return pair

    def refresh(self, stale_access_token: str) -> TokenPair:
        """Replace the pair whose access token the caller found expired; exactly one process
        talks to Zalo, the others wait for the lock and reuse what it stored."""
        lock = self.redis.lock(
            LOCK_NAME, timeout=self.lock_timeout, blocking_timeout=self.wait_timeout
        )
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise TransientError(f"cannot take the Zalo OA token lock: {exc}") from exc
        if not acquired:
            raise TransientError("timed out waiting for another process to refresh the token")
        try:
            stored = self.read()
            if stored.access_token != stale_access_token and not stored.expiring(
                time.time(), self.margin
            ):
                return stored  # someone refreshed while we waited
            fresh = self.refresher(stored.refresh_token)
            fresh = TokenPair(fresh.access_token, fresh.refresh_token, fresh.expires_at,
                              stored.seed)  # fmt: skip
            self.write(fresh)
            log.info("Zalo OA access token refreshed")
            return fresh
        finally:
            try:
                lock.release()
            except (LockError, RedisError) as exc:
                log.warning("Zalo OA token lock expired before release: %s", exc)
