"""The intake relay: hands newly filed tickets to RQ in batches, reading them from the database.

Filing a ticket writes rows and nothing else: no Redis call on the request, so intake answers the
same whether Redis is up or down, and one `route_batch` job carries up to RELAY_BATCH tickets
instead of one job each. Every RELAY_INTERVAL_MS the relay reads the tickets still `received`
above a floor that trails the newest id by LAG_SECONDS (an id is taken at INSERT and visible at
COMMIT, so a later id can appear first), enqueues the ones it has not sent yet and remembers
them. A ticket it never sent — Redis down, relay restarted, a commit slower than the lag — is
re-enqueued by the sweeper once it is SWEEP_STALE_SECONDS old; routing is idempotent, so a
ticket sent twice is routed once.

Exactly one relay should run: the scheduler runs it (`python -m workers.scheduler`);
`python -m workers.relay [--once]` runs it alone.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.domain.lifecycle import RECEIVED
from service.models import Ticket

from . import jobs
from .queues import enqueue_safely

log = logging.getLogger("workers.relay")

LAG_SECONDS = 3.0


class Relay:
    def __init__(self, batch: int = 100) -> None:
        self.batch = max(1, batch)
        self.floor: int | None = None  # every id at or below it was committed (or never will be)
        self.newest: deque[tuple[float, int]] = deque()  # (when, newest id then)
        self.sent: set[int] = set()  # ids above the floor already enqueued

    def _advance(self, session: Session, now: float) -> None:
        newest = session.scalar(select(func.max(Ticket.id)))
        if newest is not None:
            self.newest.append((now, newest))
        while self.newest and self.newest[0][0] <= now - LAG_SECONDS:
            self.floor = max(self.floor or 0, self.newest.popleft()[1])
        if self.floor is not None:
            self.sent = {i for i in self.sent if i > self.floor}

    def poll(self, session: Session, limit: int = 10_000) -> int:
        """One round: enqueue the tickets not sent yet; returns how many were enqueued."""
        self._advance(session, time.monotonic())
        query = select(Ticket.id).where(Ticket.status == RECEIVED)
        if self.floor is not None:  # before the first lag has passed: every received ticket
            query = query.where(Ticket.id > self.floor)
        ids = session.scalars(query.order_by(Ticket.id).limit(limit)).all()
        session.rollback()  # read-only: no transaction left open while talking to Redis
        fresh = [i for i in ids if i not in self.sent]
        sent = 0
        for start in range(0, len(fresh), self.batch):
            chunk = fresh[start : start + self.batch]
            if not enqueue_safely("route_batch", (chunk,)):
                break  # Redis is down: the same tickets are tried next round
            self.sent.update(chunk)
            sent += len(chunk)
        return sent


def run_once(relay: Relay) -> int:
    """One guarded round inside an app context: a database outage must not stop the caller."""
    try:
        return jobs.relay_round(relay)
    except Exception:  # noqa: BLE001
        log.exception("relay round failed; will try again")
        return 0


def main(argv: list[str] | None = None) -> int:
    args, app = jobs.start_loop("PAKN intake relay (tickets → route jobs)", argv)
    relay = Relay(app.config["RELAY_BATCH"])
    pause = app.config["RELAY_INTERVAL_MS"] / 1000
    while True:
        run_once(relay)
        if args.once:
            return 0
        time.sleep(pause)


if __name__ == "__main__":
    raise SystemExit(main())
