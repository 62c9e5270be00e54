"""Thin RQ jobs: open an app context, call one domain function, nothing else."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

T = TypeVar("T")
_app: Flask | None = None


def app() -> Flask:
    """One app per worker process, built before the first job (or preloaded by workers.worker)."""
    global _app
    if _app is None:
        from service import create_app

        _app = create_app()
    return _app


def start_loop(description: str, argv: list[str] | None) -> tuple[argparse.Namespace, Flask]:
    """Command line (`--once`), logging and the app of a long-running loop (scheduler, relay)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return args, app()


def _in_app(fn: Callable[..., T], *args: Any) -> T:
    from service.extensions import db

    with app().app_context():
        try:
            return fn(db.session, *args)
        finally:
            db.session.remove()


def route_ticket(ticket_id: int) -> bool:
    from service.domain.handling import route_ticket as route

    return _in_app(route, ticket_id)


def route_batch(ticket_ids: list[int]) -> int:
    from service.domain.handling import route_tickets

    return _in_app(route_tickets, ticket_ids)


def relay_round(relay: Any) -> int:
    return _in_app(relay.poll)


def deliver(delivery_id: int) -> str:
    from service.delivery import deliver as send

    return _in_app(send, delivery_id)


def process_inbound(inbound_id: int) -> str:
    from service.inbound import process_inbound as process

    return _in_app(process, inbound_id)


def check_deadlines() -> dict[str, int]:
    from service.domain.handling import check_deadlines as check

    return _in_app(check)


def sweep() -> dict[str, int]:
    from workers.sweeper import sweep as run

    return _in_app(run)


def poll_mailboxes() -> list[Any]:
    from channels.email.poll import poll_all, redis_lock

    from .queues import connection

    return _in_app(lambda session: poll_all(session, app().config, redis_lock(connection())))


def yearly_report(report_id: int) -> str:
    from service.exports import build_yearly_report as build

    return _in_app(build, report_id)


def fold_rollup() -> dict[str, int]:
    from service.domain.rollup import fold

    return _in_app(fold)
