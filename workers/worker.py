"""Worker entry point: `python -m workers.worker [--burst] [--queues default notify]`.

The app is built once before the first job; SimpleWorker runs jobs in-process, so each job
costs no fork and no app start-up. Run as many of these as you like, on any host.
"""

from __future__ import annotations

import argparse
import logging

from rq import SimpleWorker

from . import jobs
from .queues import connection, queue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PAKN RQ worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", nargs="*", help="queue names (default: all)")
    parser.add_argument("--name", help="worker name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = jobs.app()
    with app.app_context():
        url = app.config["REDIS_URL"]
        names = args.queues or app.config["RQ_QUEUES"]
        worker = SimpleWorker([queue(n, url) for n in names], connection=connection(url),
                              name=args.name)  # fmt: skip
    # with_scheduler: retries with intervals are moved back to their queue by RQ's scheduler.
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
