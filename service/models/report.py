"""Dashboard data: per-ticket working-day durations (columns on `ticket`) and built reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.lifecycle import OPEN_STATUSES
from .base import Base, utcnow
from .org import User
from .ticket import Ticket

# One index per date the overview filters on. On PostgreSQL each also carries the columns its
# query reads (INCLUDE), so a month of a million tickets is counted from the index alone.
DIMENSION_COLUMNS = ["agency_id", "category_id", "channel", "kind"]
REPORT_INDEXES = {
    "ix_ticket_report_received_at": (
        "received_at", [*DIMENSION_COLUMNS, "status", "acceptance_due", "resolution_due"],
    ),
    "ix_ticket_report_first_response_at": (
        "first_response_at", [*DIMENSION_COLUMNS, "first_response_wd"],
    ),
    "ix_ticket_report_resolved_at": (
        "resolved_at", [*DIMENSION_COLUMNS, "resolution_wd", "resolved_on_time"],
    ),
}  # fmt: skip
for _name, (_column, _include) in REPORT_INDEXES.items():
    Index(_name, Ticket.__table__.c[_column], postgresql_include=_include)
# Open tickets by age of receipt (backlog chart): a small partial index, read without the table.
Index(
    "ix_ticket_report_open",
    Ticket.received_at,
    postgresql_include=DIMENSION_COLUMNS,
    postgresql_where=Ticket.status.in_(sorted(OPEN_STATUSES)),
)

REPORT_STATES = ("queued", "running", "done", "failed")


class Report(Base):
    """A report built by a worker (the yearly report per agency); the page polls its progress."""

    __tablename__ = "report"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="yearly")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # agency_id (root of the subtree), from/to (ISO dates), lang.
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    file_path: Mapped[str | None] = mapped_column(String(500))
    # The figures, kept so the printable page renders without recomputing.
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    requested_by: Mapped[User | None] = relationship()
