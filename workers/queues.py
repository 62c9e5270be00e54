"""Redis connection and enqueueing that never fails the caller: the sweeper recovers lost work."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from flask import current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

log = logging.getLogger(__name__)

# job name → (dotted function, queue); job code lives in workers.jobs and stays thin.
JOBS: dict[str, tuple[str, str]] = {
    # Tickets are routed in batches (relay, sweeper); workers.jobs.route_ticket stays for jobs
    # queued by earlier releases.
    "route_batch": ("workers.jobs.route_batch", "default"),
    "deliver": ("workers.jobs.deliver", "notify"),
    "check_deadlines": ("workers.jobs.check_deadlines", "default"),
    "process_inbound": ("workers.jobs.process_inbound", "default"),
    "yearly_report": ("workers.jobs.yearly_report", "default"),
    "poll_mailboxes": ("workers.jobs.poll_mailboxes", "default"),
    "fold_rollup": ("workers.jobs.fold_rollup", "default"),
}


@lru_cache(maxsize=8)
def redis_for(url: str) -> Redis:
    # Short timeouts: with Redis down, intake must answer quickly and leave work to the sweeper.
    return Redis.from_url(
        url, socket_connect_timeout=0.5, socket_timeout=3, health_check_interval=30
    )


def connection(url: str | None = None) -> Redis:
    if url is None:
        url = current_app.config["REDIS_URL"]
    return redis_for(url)


def queue(name: str, url: str | None = None) -> Queue:
    return _queue(name, url or current_app.config["REDIS_URL"])


@lru_cache(maxsize=32)
def _queue(name: str, url: str) -> Queue:
    return Queue(name, connection=redis_for(url))


def retry_policy() -> Retry:
    intervals = (
        current_app.config["JOB_RETRY_INTERVALS"] if has_app_context() else [5, 30, 120, 600]
    )
    return Retry(max=len(intervals), interval=intervals)


def enqueue(job: str, *args: Any, url: str | None = None) -> None:
    func, qname = JOBS[job]
    q = queue(qname, url)
    # One MULTI/EXEC for the queue registration and the job instead of two round trips.
    with q.connection.pipeline() as pipe:
        q.enqueue(
            func, *args, retry=retry_policy(), failure_ttl=7 * 86400, result_ttl=600,
            pipeline=pipe,
        )  # fmt: skip
        pipe.execute()


def enqueue_safely(job: str, args: tuple[Any, ...]) -> bool:
    """Enqueue or log: a Redis outage delays work, the database row is the source of truth."""
    try:
        enqueue(job, *args)
        return True
    except (RedisError, OSError) as exc:
        log.warning("enqueue %s%r failed (%s); the sweeper will pick it up", job, args, exc)
        return False
