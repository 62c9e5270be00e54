"""Dashboard data: per-ticket working-day durations (columns on `ticket`) and built reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
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
# Tickets changed since the rollup was last folded (service.domain.rollup).
Index("ix_ticket_updated_at", Ticket.updated_at)


class RollupRow(Base):
    """Dashboard figures summed per bucket (day, Monday week or month of the local calendar),
    per agency node (exact agency, or a whole subtree) and per dimension value; kept by
    service.domain.rollup. Histograms map working days → tickets, for medians and percentiles."""

    __tablename__ = "report_rollup"
    id: Mapped[int] = mapped_column(primary_key=True)
    grain: Mapped[str] = mapped_column(String(1))  # d, w, m
    start: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(1))  # e: the agency itself, s: its subtree
    node: Mapped[int]  # agency id; -1 with scope e: not routed; 0 with scope s: every ticket
    dim: Mapped[str] = mapped_column(String(16))  # all, category, channel, kind
    key: Mapped[str] = mapped_column(String(40))  # the dimension's value; "" for all / unset
    received: Mapped[int] = mapped_column(default=0)
    responded: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    rated: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)  # of the tickets received: still open
    first_hist: Mapped[list[Any] | None] = mapped_column(JSON)
    resolution_hist: Mapped[list[Any] | None] = mapped_column(JSON)
    # Open tickets by the deadline of their running clock (ISO date → tickets).
    open_dues: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (
        UniqueConstraint("scope", "dim", "grain", "start", "node", "key",
                         name="uq_report_rollup_cell"),
    )  # fmt: skip


class RollupTicket(Base):
    """What each ticket last contributed to report_rollup, so a change can be taken back."""

    __tablename__ = "report_rollup_ticket"
    ticket_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    received_on: Mapped[dt.date] = mapped_column(Date)
    agency_id: Mapped[int | None]
    category_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    responded_on: Mapped[dt.date | None] = mapped_column(Date)
    first_wd: Mapped[int | None]
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    resolution_wd: Mapped[int | None]
    on_time: Mapped[bool | None]
    is_open: Mapped[bool] = mapped_column(default=False)
    clock_due: Mapped[dt.date | None] = mapped_column(Date)


class RollupState(Base):
    """One row: whether report_rollup is whole, for which agency tree, folded up to when."""

    __tablename__ = "report_rollup_state"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ready: Mapped[bool] = mapped_column(default=False)
    tree_hash: Mapped[str | None] = mapped_column(String(64))
    folded_at: Mapped[dt.datetime | None]
    rebuilt_at: Mapped[dt.datetime | None]


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
