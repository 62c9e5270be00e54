"""Redis stopped during intake: tickets are still accepted, later routed, none lost or doubled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from redis import Redis
from sqlalchemy import func, select

from service import create_app
from service.extensions import db as _db
from service.models import Delivery, Ticket, TicketEvent
from tests.conftest import ROOT, free_port, wait_for
from tests.helpers import TICKET
from workers.queues import redis_for


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port, self.proc = port, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._ping, timeout=10)

    def _ping(self) -> bool:
        try:
            return bool(Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except Exception:  # noqa: BLE001
            return False

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server binary needed")
def test_intake_survives_redis_outage(app, db, service_env, mailbox):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = RedisServer(port)
    server.start()
    outage_app = create_app(
        {"REDIS_URL": url, "RATELIMIT_STORAGE_URI": "memory://", "TESTING": True}
    )
    client = outage_app.test_client()
    try:
        codes = [client.post("/api/v1/tickets", json=TICKET).get_json()["code"]]
        server.stop()  # Redis goes away mid-intake
        for i in range(5):
            response = client.post(
                "/api/v1/tickets", json={**TICKET, "title": f"Phản ánh khi Redis tắt {i}"}
            )
            assert response.status_code == 201, response.get_data(as_text=True)
            codes.append(response.get_json()["code"])
        with outage_app.app_context():
            assert client.get("/readyz").status_code == 503
            assert _db.session.scalar(select(func.count()).select_from(Ticket)) == 6
            assert _db.session.scalar(select(func.count()).where(Ticket.status == "received")) == 6
        server.start()  # Redis is back (empty: the first job was lost with it)
        redis_for.cache_clear()
        env = {**os.environ, **service_env, "REDIS_URL": url}
        subprocess.run([sys.executable, "-m", "workers.scheduler", "--once"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        for _ in range(2):  # a second worker round finds nothing more to do
            subprocess.run([sys.executable, "-m", "workers.worker", "--burst"], cwd=ROOT, env=env,
                           check=True, capture_output=True, timeout=120)  # fmt: skip
        with outage_app.app_context():
            statuses = dict(_db.session.execute(select(Ticket.code, Ticket.status)).all())
            assert statuses == {code: "routed" for code in codes}
            routed = _db.session.scalar(select(func.count()).where(TicketEvent.kind == "routed"))
            assert routed == 6
            assert _db.session.scalar(select(func.count()).select_from(Delivery)) == 6
            assert set(_db.session.scalars(select(Delivery.state))) == {"sent"}
            _db.session.remove()
        time.sleep(0.2)
        assert len(mailbox.to("a@example.com")) == 6
    finally:
        server.stop()
        redis_for.cache_clear()
