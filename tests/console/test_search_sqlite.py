"""The search fallback without PostgreSQL: a small app on SQLite, migrated from scratch (with a
ticket filed before the console migration, which must be back-filled), searched over HTTP."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from flask_migrate import upgrade

from service import create_app
from service.cli import DEMO_PASSWORD, load_demo_data
from service.domain import queue as queue_rules
from service.domain.handling import route_ticket
from service.domain.intake import InboundTicket, Settings, receive
from service.extensions import db
from service.models import Agency, TicketSearch
from tests.helpers import csrf_token


def _old_ticket(connection: sa.Connection) -> None:
    """A ticket as the schema of revision 0001 stores it (before the console existed)."""
    now = dt.datetime.now(dt.UTC)
    ticket = sa.table("ticket", *(sa.column(c) for c in (
        "code", "tracking_token", "kind", "legal_form", "channel", "status", "priority", "title",
        "description", "address", "confidential", "is_complex", "is_remote", "received_at",
        "extensions", "paused_days", "due_state", "updated_at")))  # fmt: skip
    connection.execute(ticket.insert().values(
        code="PA-2025-000077", tracking_token="old-token", kind="feedback", legal_form="electronic",
        channel="web", status="received", priority="normal", title="Cống thoát nước bị tắc",
        description="Nước tràn lên mặt đường khi mưa.", address="3 Hùng Vương",
        confidential=False, is_complex=False, is_remote=False, received_at=now, extensions=0,
        paused_days=0, due_state="none", updated_at=now,
    ))  # fmt: skip


def test_sqlite_fallback_search(app, tmp_path):
    sqlite = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/console.sqlite3",
                         "UPLOAD_FOLDER": str(tmp_path), "TESTING": True})  # fmt: skip
    with sqlite.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as connection:
            _old_ticket(connection)
        upgrade(revision="heads")
        load_demo_data()
        # The migration folded the old ticket; intake folds new ones.
        assert db.session.get(TicketSearch, 1).text == (
            " pa 2025 000077 cong thoat nuoc bi tac nuoc tran len mat duong khi mua 3 hung vuong "
        )
        settings = Settings(code_prefix="PA", upload_folder=str(tmp_path))
        codes = {}
        for key, title, description in (
            ("road", "Đường hỏng nặng ở Hải Châu", "Ổ gà sâu 50% mặt đường, nước đọng."),
            ("lamp", "Đèn đường không sáng", "Cột đèn số 4 tắt; tên tôi là Phạm Văn Kín."),
        ):
            result = receive(db.session, InboundTicket(
                channel="web", kind="feedback", category_code="env", area_code="DN-HAICHAU",
                title=title, description=description, citizen_name="Hoàng Thị Ẩn Danh",
                email="an.danh@example.com"), settings)  # fmt: skip
            route_ticket(db.session, result.ticket_id)
            codes[key] = result.code
        haichau = db.session.scalars(sa.select(Agency.id).where(Agency.code == "DN-HAICHAU")).one()
        db.session.execute(sa.text("UPDATE ticket SET agency_id = :a, status = 'routed' "
                                   "WHERE code = 'PA-2025-000077'"), {"a": haichau})  # fmt: skip
        db.session.commit()

        def found(q: str) -> list[str]:
            page = queue_rules.page(db.session, {haichau}, queue_rules.QueueFilter(q=q), None)
            return [t.code for t in page.tickets]

        assert found("duong hong") == [codes["road"]]
        assert found("ĐƯỜNG   Hỏng") == [codes["road"]]
        assert found("o ga") == [codes["road"]]
        assert found("50%") == [codes["road"]]  # LIKE wildcards are literal
        assert found("_") == []
        assert found("thoat nuoc") == ["PA-2025-000077"]  # back-filled by the migration
        assert found(codes["lamp"]) == [codes["lamp"]]
        assert found("an danh") == [] and found("an.danh@example.com") == []  # no identity
        db.session.remove()

    client = sqlite.test_client()
    page = client.get("/login")
    client.post("/login", data={"username": "canbo.haichau", "password": DEMO_PASSWORD,
                                "csrf_token": csrf_token(page)})  # fmt: skip
    listing = client.get("/console/?q=den duong").get_data(as_text=True)
    assert re.findall(r'data-code="([^"]+)"', listing) == [codes["lamp"]]
