"""Helpers for access tests: a planted denouncer identity, filing tickets, logging in."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from service.cli import DEMO_PASSWORD
from service.domain.handling import route_ticket
from service.domain.intake import InboundTicket, Settings, receive
from service.models import Agency, AuditEntry, Ticket
from tests.helpers import csrf_token

# A denouncer whose identity must never leak; every test looks for these strings.
PLANTED = {
    "name": "Trịnh Bí Mật",
    "email": "bimat.tocao@example.com",
    "phone": "0912345678",
    "address": "17 Ngõ Kín Đáo",
}


def planted_leaks(text: str) -> list[str]:
    """Which planted identity strings appear in `text` (case-insensitive)."""
    low = text.lower()
    return [value for value in PLANTED.values() if value.lower() in low]


def file_ticket(session: Any, upload_folder: str, *, kind: str = "feedback",
                category: str = "env", agency: str = "DN-HAICHAU",
                identity: dict[str, str] | None = None, title: str | None = None) -> Ticket:  # fmt: skip
    """A ticket filed on the web form, routed, then placed in `agency` (by code)."""
    who = identity or {"name": "Người Dân Thường", "email": "nguoidan@example.com",
                       "phone": "0905111222", "address": "1 Đường Công Khai"}  # fmt: skip
    result = receive(
        session,
        InboundTicket(
            channel="web", kind=kind, category_code=category, area_code="DN-HAICHAU",
            title=title or f"Phản ánh {kind} cần xử lý", address="5 Trần Phú",
            description="Nội dung chi tiết của phản ánh, đủ dài để hợp lệ.",
            citizen_name=who["name"], email=who["email"], phone=who["phone"],
            citizen_address=who["address"],
        ),
        Settings(code_prefix="PA", upload_folder=upload_folder),
    )  # fmt: skip
    route_ticket(session, result.ticket_id)
    ticket = session.get(Ticket, result.ticket_id)
    ticket.agency_id = session.scalars(select(Agency.id).where(Agency.code == agency)).one()
    session.commit()
    return ticket


def post_login(client: Any, username: str, password: str = DEMO_PASSWORD, **query: str) -> Any:
    token = csrf_token(client.get("/login"))
    url = "/login" + (f"?next={quote(query['next'], safe='')}" if "next" in query else "")
    return client.post(url, data={"username": username, "password": password,
                                  "csrf_token": token})  # fmt: skip


def audit_actions(db: Any, target: str) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == target).order_by(AuditEntry.id)
        )
    )
