"""Periodic work: `python -m workers.scheduler` (run exactly one).

Every RELAY_INTERVAL_MS it hands new tickets to the route job (workers.relay); every
SWEEP_INTERVAL_SECONDS it re-enqueues lost work; every DEADLINE_CHECK_INTERVAL_SECONDS it
enqueues the deadline check; every ROLLUP_FOLD_SECONDS the dashboard rollup fold; every
IMAP_POLL_SECONDS (when IMAP is configured) a mailbox poll.
It keeps going through database or Redis outages.
"""

from __future__ import annotations

import logging
import time

from channels.email.poll import enabled as mail_poll_enabled

from . import jobs
from .queues import enqueue_safely
from .relay import Relay, run_once

log = logging.getLogger("workers.scheduler")


def sweep(last: float, interval: int) -> float:
    """Run the sweeper when `interval` seconds have passed since it last ran."""
    now = time.monotonic()
    if now - last < interval:
        return last
    try:
        jobs.sweep()
    except Exception:  # noqa: BLE001  (a database outage must not stop the loop)
        log.exception("sweep failed; will try again")
    return now


def every(job: str, last: float, interval: int) -> float:
    """Enqueue `job` when `interval` seconds have passed since it was last enqueued."""
    now = time.monotonic()
    if now - last >= interval and enqueue_safely(job, ()):
        return now
    return last


def main(argv: list[str] | None = None) -> int:
    args, app = jobs.start_loop("PAKN scheduler (relay, sweeper, periodic jobs)", argv)
    sweep_every = app.config["SWEEP_INTERVAL_SECONDS"]
    deadline_every = app.config["DEADLINE_CHECK_INTERVAL_SECONDS"]
    mail_every = app.config["IMAP_POLL_SECONDS"] if mail_poll_enabled(app.config) else None
    fold_every = app.config["ROLLUP_FOLD_SECONDS"]
    relay = Relay(app.config["RELAY_BATCH"])
    pause = app.config["RELAY_INTERVAL_MS"] / 1000
    last_sweep = last_deadline = last_mail = last_fold = float("-inf")
    while True:
        run_once(relay)
        with app.app_context():
            last_sweep = sweep(last_sweep, sweep_every)
            last_deadline = every("check_deadlines", last_deadline, deadline_every)
            last_fold = every("fold_rollup", last_fold, fold_every)
            if mail_every is not None:
                last_mail = every("poll_mailboxes", last_mail, mail_every)
        if args.once:
            return 0
        time.sleep(pause)


if __name__ == "__main__":
    raise SystemExit(main())
