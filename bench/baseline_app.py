"""Bare baseline for ``make bench``.

The smallest honest version of "create a ticket": parse the JSON body, one
``INSERT ... RETURNING id`` + ``COMMIT`` through one psycopg connection per
gunicorn worker process, then one RQ enqueue (after the commit). The service's
``POST /api/v1/tickets`` is compared against this.

Served as ``gunicorn bench.baseline_app:app``. Reads ``DATABASE_URL`` (a
SQLAlchemy URL such as ``postgresql+psycopg://...``) and ``REDIS_URL``.
"""

from __future__ import annotations

import os

import psycopg
from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb
from redis import Redis
from rq import Queue

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pakn_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
QUEUE_NAME = "bench"
# Serialises CREATE TABLE IF NOT EXISTS between workers starting at the same time
# (concurrent CREATEs can otherwise fail on pg_type's unique index).
_DDL_LOCK_ID = 0x50414B4E  # "PAKN"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
_INSERT = "INSERT INTO bench_baseline(payload) VALUES (%s) RETURNING id"

app = Flask(__name__)

# Per-process state, created lazily after gunicorn has forked the worker.
_pid: int | None = None
_conn: psycopg.Connection | None = None
_queue: Queue | None = None


def noop(x):
    return x


def _psycopg_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) -> ``postgresql://...`` (libpq)."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


def _reset_if_forked() -> None:
    global _pid, _conn, _queue
    if _pid != os.getpid():
        _pid, _conn, _queue = os.getpid(), None, None


def _get_conn() -> psycopg.Connection:
    global _conn
    _reset_if_forked()
    if _conn is None or _conn.closed:
        url = _psycopg_url(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
        conn = psycopg.connect(url, autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_ID,))
            cur.execute(_CREATE_TABLE)
        conn.commit()
        _conn = conn
    return _conn


def _get_queue() -> Queue:
    global _queue
    _reset_if_forked()
    if _queue is None:
        redis = Redis.from_url(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
        _queue = Queue(QUEUE_NAME, connection=redis)
    return _queue


def _discard_conn() -> None:
    global _conn
    if _conn is not None:
        try:
            _conn.rollback()
        except psycopg.Error:
            _conn.close()
            _conn = None


@app.post("/api/v1/tickets")
def create_ticket():
    data = request.get_json()  # 400/415 on a missing or invalid body
    conn = _get_conn()
    try:
        with conn.cursor() as cur:
            cur.execute(_INSERT, (Jsonb(data),))
            (ticket_id,) = cur.fetchone()
        conn.commit()
    except Exception:
        _discard_conn()
        raise
    # Enqueue after the commit, never inside the transaction.
    _get_queue().enqueue("bench.baseline_app.noop", ticket_id)
    return jsonify(id=ticket_id), 201
