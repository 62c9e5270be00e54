"""Re-enqueue work whose queue message was lost (Redis down, worker killed): rows are the truth."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.models import Delivery, InboundMessage, Ticket, utcnow

from .queues import enqueue_safely

log = logging.getLogger(__name__)


def sweep(session: Session, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=current_app.config["SWEEP_STALE_SECONDS"])
    claim_expired = now - dt.timedelta(seconds=max(60, current_app.config["SMTP_TIMEOUT"] * 6))
    ticket_ids = session.scalars(
        select(Ticket.id)
        .where(Ticket.status == "received", Ticket.received_at < stale)
        .order_by(Ticket.id)
        .limit(limit)
    ).all()
    delivery_ids = session.scalars(
        select(Delivery.id)
        .where(
            or_(
                (Delivery.state == "pending") & (Delivery.created_at < stale),
                (Delivery.state == "retry") & (Delivery.next_attempt_at <= now),
                (Delivery.state == "sending") & (Delivery.claimed_at < claim_expired),
            )
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    inbound_ids = session.scalars(
        select(InboundMessage.id)
        .where(InboundMessage.state == "new", InboundMessage.received_at < stale)
        .order_by(InboundMessage.id)
        .limit(limit)
    ).all()
    session.rollback()  # read-only: end the transaction before talking to Redis
    counts = {"route": 0, "deliver": 0, "process_inbound": 0}
    size = current_app.config["RELAY_BATCH"]
    # Tickets go in batches, as the relay sends them; other work one job per row.
    work = [("route", "route_batch", (ticket_ids[i : i + size],))
            for i in range(0, len(ticket_ids), size)]  # fmt: skip
    work += [("deliver", "deliver", (i,)) for i in delivery_ids]
    work += [("process_inbound", "process_inbound", (i,)) for i in inbound_ids]
    for kind, job, args in work:
        if not enqueue_safely(job, args):
            return counts  # Redis is still down; try again next round
        counts[kind] += len(args[0]) if job == "route_batch" else 1
    if any(counts.values()):
        log.info("sweeper re-enqueued %s", counts)
    return counts
