"""Small helpers for tests: CSRF tokens from pages, polling the database."""

from __future__ import annotations

import re
from typing import Any

TICKET = {
    "kind": "feedback",
    "category": "env",
    "title": "Rác thải ùn ứ trên đường Nguyễn Văn Linh",
    "description": "Rác thải sinh hoạt tồn đọng nhiều ngày trước số 120, gây mùi hôi.",
    "location": {
        "address": "120 Nguyễn Văn Linh",
        "area": "DN-HAICHAU",
        "lat": 16.06,
        "lng": 108.21,
    },
    "citizen": {"name": "Nguyễn Văn A", "email": "a@example.com", "phone": "0905123456"},
}


def csrf_token(response: Any) -> str:
    match = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)
    )
    if match is None:
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def ticket_status(app: Any, code: str) -> str | None:
    from sqlalchemy import select

    from service.extensions import db
    from service.models import Ticket

    with app.app_context():
        status = db.session.scalar(select(Ticket.status).where(Ticket.code == code))
        db.session.remove()
        return status
