"""Probes, and the embedded default: migrations and intake on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys

from service import create_app
from tests.conftest import ROOT, free_port
from tests.helpers import TICKET


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {
        "database": "ok",
        "redis": "ok",
    }


def test_readyz_503_without_redis(service_env):
    app = create_app(
        {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "RATELIMIT_STORAGE_URI": "memory://"}
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")


def test_sqlite_upgrade_demo_and_route(tmp_path, service_env):
    url = f"sqlite:///{tmp_path}/pakn.sqlite3"
    env = {**os.environ, **service_env, "DATABASE_URL": url}
    for args in (["db", "upgrade"], ["demo-data"]):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "service", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(tmp_path)})
    response = app.test_client().post("/api/v1/tickets", json=TICKET)
    assert response.status_code == 201
    from service.domain.handling import route_ticket
    from service.extensions import db
    from service.models import Ticket

    with app.app_context():
        ticket = db.session.query(Ticket).one()
        assert route_ticket(db.session, ticket.id) is True
        assert db.session.get(Ticket, ticket.id).agency.code == "DN-HAICHAU"
        db.session.remove()
