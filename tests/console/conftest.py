"""Fixtures for the officer console: a separate agency tree (root TCS, not under the demo city,
so other suites' figures are unaffected), its staff, and helpers to file tickets and act."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import g, request_started
from sqlalchemy import delete, select

from service.cli import DEMO_PASSWORD, create_user
from service.domain.handling import route_ticket
from service.domain.intake import InboundTicket, Settings, receive
from service.models import Agency, AssignmentPolicy, ResponseTemplate, Ticket
from tests.helpers import csrf_token

# code, name, kind, parent
AGENCIES = [
    ("TCS", "Tỉnh Thử nghiệm Console", "province", None),
    ("TCS-A", "UBND phường Thử A", "ward", "TCS"),
    ("TCS-A1", "Tổ dân phố A1", "village", "TCS-A"),
    ("TCS-B", "UBND phường Thử B", "ward", "TCS"),
    ("TCS-C", "UBND xã Thử C", "commune", "TCS"),
]
# username, role, agency
USERS = [
    ("tcs.a1", "officer", "TCS-A"),
    ("tcs.a2", "officer", "TCS-A"),
    ("tcs.a3", "officer", "TCS-A"),
    ("tcs.a1x", "officer", "TCS-A1"),
    ("tcs.b1", "officer", "TCS-B"),
    ("tcs.c1", "officer", "TCS-C"),
    ("tcs.c2", "officer", "TCS-C"),
    ("tcs.lead", "lead", "TCS-A"),
    ("tcs.sup", "supervisor", "TCS"),
    ("tcs.op", "operator", "TCS"),
]


@pytest.fixture(scope="session")
def console_org(app: Any) -> dict[str, Any]:
    """Agencies and users of the console tests (created once, idempotently)."""
    from service.extensions import db

    with app.app_context():
        known = {a.code: a for a in db.session.scalars(select(Agency))}
        for code, name, kind, parent in AGENCIES:
            if code not in known:
                known[code] = Agency(code=code, name=name, kind=kind, parent=known.get(parent),
                                     email=f"{code.lower()}@agency.test")  # fmt: skip
                db.session.add(known[code])
        db.session.commit()
        agencies = {code: known[code].id for code, *_ in AGENCIES}
        users = {}
        for username, role, agency in USERS:
            users[username] = create_user(username, f"Cán bộ {username}", role, agency,
                                          DEMO_PASSWORD).id  # fmt: skip
        db.session.remove()
    return {"agencies": agencies, "users": users}


@pytest.fixture(autouse=True)
def fresh_g_per_request(app: Any) -> Iterator[None]:
    """Each request gets a new `g` (the db fixture keeps one app context open for the test)."""

    def clear(sender: Any, **extra: Any) -> None:
        g.__dict__.clear()

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture
def org(console_org: dict[str, Any], db: Any) -> Iterator[dict[str, Any]]:
    """The console org, with assignment policies and response templates removed afterwards."""
    yield console_org
    db.session.rollback()
    db.session.execute(delete(AssignmentPolicy))
    db.session.execute(delete(ResponseTemplate))
    db.session.commit()


@pytest.fixture
def file(app: Any, db: Any, org: dict[str, Any]) -> Callable[..., Ticket]:
    """File a ticket the real way (intake, then routing) and return it."""

    def _file(title: str = "Đường hỏng trước chợ", *, area: str = "TCS-A", kind: str = "feedback",
              category: str = "env", channel: str = "web",
              description: str = "Mặt đường hư hỏng nặng, nhiều ổ gà gây nguy hiểm.",
              name: str = "Lê Văn Dân", email: str | None = "dan@example.com",
              phone: str | None = None, language: str = "vi", address: str = "12 Lê Lợi",
              agency: str | None = None) -> Ticket:  # fmt: skip
        result = receive(
            db.session,
            InboundTicket(channel=channel, kind=kind, category_code=category, area_code=area,
                          title=title, description=description, address=address,
                          citizen_name=name, email=email, phone=phone, language=language),
            Settings(code_prefix="PA", upload_folder=app.config["UPLOAD_FOLDER"]),
        )  # fmt: skip
        route_ticket(db.session, result.ticket_id)
        ticket = db.session.get(Ticket, result.ticket_id)
        if agency is not None:
            ticket.agency_id = org["agencies"][agency]
            db.session.commit()
        return ticket

    return _file


class Console:
    """A logged-in test client that posts console forms with their CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.token: str | None = None

    def login(self, username: str) -> Console:
        if self.token is not None:
            self.client.post("/logout", data={"csrf_token": self.token})
        page = self.client.get("/login?lang=en")  # English messages (the cookie is kept)
        response = self.client.post("/login", data={"username": username,
                                                    "password": DEMO_PASSWORD,
                                                    "csrf_token": csrf_token(page)})  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        self.token = csrf_token(self.client.get("/console/"))
        return self

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def act(self, code: str, action: str, **fields: Any) -> Any:
        data = {"csrf_token": self.token, "action": action, **fields}
        return self.client.post(f"/console/tickets/{code}/act", data=data)

    def post(self, url: str, **fields: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.token, **fields})


@pytest.fixture
def console(client: Any, org: dict[str, Any]) -> Console:
    return Console(client)


def reload(db: Any, ticket: Ticket) -> Ticket:
    db.session.expire_all()
    fresh = db.session.get(Ticket, ticket.id)
    assert fresh is not None
    return fresh


def flashes(response: Any) -> str:
    return response.get_data(as_text=True)
