"""Test fixtures on real services: PostgreSQL, Redis, an aiosmtpd SMTP server, RQ worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from redis import Redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class Mailbox:
    """Messages received by the aiosmtpd server, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"pakn_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    Redis.from_url(REDIS_BASE).flushdb()
    return REDIS_BASE


@pytest.fixture(scope="session")
def service_env(database_url: str, redis_url: str, smtp_server: tuple[int, Mailbox],
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # fmt: skip
    """Environment shared by the app under test and the worker processes it talks to."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server[0]),
        "SMTP_TIMEOUT": "5",
        "MAIL_FROM": "PAKN <pakn@test.localhost>",
        "PUBLIC_BASE_URL": "http://pakn.test",
        "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        "JOB_RETRY_INTERVALS": "1,1,2",
        "SWEEP_STALE_SECONDS": "0",
        "API_RATE_LIMIT": "",
        "PUBLIC_FORM_RATE_LIMIT": "1000/minute",
        # Demo admins and supervisors sign in with a password; the 2FA tests switch the gate on.
        "TOTP_REQUIRED_ROLES": "",
    }


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production: tests hold one open for db.session,
    which would otherwise share `g` (logged-in user, CSRF token, locale) between requests."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(service_env: dict[str, str]) -> Iterator[Any]:
    old = {k: os.environ.get(k) for k in service_env}
    os.environ.update(service_env)
    from flask_migrate import upgrade

    from service import create_app
    from service.cli import load_demo_data

    application = create_app({"TESTING": True})
    application.test_client_class = FreshContextClient
    with application.app_context():
        upgrade(revision="heads")
        load_demo_data()
    import workers.jobs

    workers.jobs._app = application  # jobs run in-process in some tests use this app
    yield application
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def db(app: Any) -> Iterator[Any]:
    """A clean slate of tickets for each test (reference data stays)."""
    from service.domain import refdata
    from service.extensions import db as _db

    with app.app_context():
        _db.session.execute(
            _db.text(
                "TRUNCATE ticket_event, delivery, attachment, inbound_message, ticket, "
                "citizen_contact, citizen, report_rollup, report_rollup_ticket, "
                "report_rollup_state RESTART IDENTITY CASCADE"
            )
        )
        _db.session.commit()
        refdata.clear()
        Redis.from_url(app.config["REDIS_URL"]).flushdb()
        yield _db
        _db.session.remove()


@pytest.fixture
def client(app: Any, db: Any) -> Any:
    return app.test_client()


@pytest.fixture
def mailbox(smtp_server: tuple[int, Mailbox]) -> Mailbox:
    smtp_server[1].clear()
    return smtp_server[1]


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> None:
        """`count` workers, and the intake relay that hands them new tickets (one per fixture,
        as in production, where the scheduler runs it)."""
        commands = [["workers.worker"]] * count
        if not any(p.args[2:] == ["workers.relay"] for p in self.procs):
            commands.append(["workers.relay"])
        for command in commands:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", *command],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            )

    def burst(self) -> None:
        """Hand the tickets filed so far to the route job, then run every queued job."""
        for command in (["workers.relay", "--once"], ["workers.worker", "--burst"]):
            subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=self.env, check=True,
                           capture_output=True, timeout=120)  # fmt: skip

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()


@pytest.fixture
def worker(service_env: dict[str, str], db: Any) -> Iterator[WorkerProcess]:
    """Real RQ worker processes on the test Redis and database."""
    w = WorkerProcess(service_env)
    yield w
    w.stop()


@pytest.fixture
def login(client: Any) -> Callable[[str], None]:
    from tests.helpers import csrf_token

    def _login(username: str, password: str = "pakn-demo-2026") -> None:
        token = csrf_token(client.get("/login"))
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": token})  # fmt: skip
        assert response.status_code == 302, response.data[:500]

    return _login
