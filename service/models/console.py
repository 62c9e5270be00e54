"""Officer console data: response templates, auto-assignment policies, referrals, followers of
an original ticket, split links and the folded search text of the SQLite fallback."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .org import Agency, Category, User
from .ticket import Ticket

ASSIGNMENT_MODES = ("none", "round_robin", "least_loaded")


class ResponseTemplate(Base):
    """A canned answer, per category or for all (category None); placeholders are filled on use."""

    __tablename__ = "response_template"
    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    body_vi: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    category: Mapped[Category | None] = relationship()


class AssignmentPolicy(Base):
    """How new tickets of an agency get an assignee. The row is also the per-agency mutex."""

    __tablename__ = "assignment_policy"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), default="none")
    # Open tickets one officer may hold before auto-assignment skips them; None: no cap.
    max_open_per_officer: Mapped[int | None]
    last_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    agency: Mapped[Agency] = relationship()


class TicketReferral(Base):
    """An agency that transferred a ticket away keeps a read-only view of it."""

    __tablename__ = "ticket_referral"
    __table_args__ = (UniqueConstraint("ticket_id", "from_agency_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    from_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    to_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    # The transfer event: the sender sees the internal timeline up to here.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ticket: Mapped[Ticket] = relationship()
    to_agency: Mapped[Agency] = relationship(foreign_keys=[to_agency_id])
    actor: Mapped[User | None] = relationship()


Index("ix_ticket_referral_from_agency", TicketReferral.from_agency_id, TicketReferral.created_at)


class TicketFollower(Base):
    """The citizen of `follower_ticket` (a duplicate) also hears the public news of `ticket`."""

    __tablename__ = "ticket_follower"
    __table_args__ = (UniqueConstraint("ticket_id", "follower_ticket_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    follower_ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TicketSplit(Base):
    """A child ticket made from one content of a multi-content parent."""

    __tablename__ = "ticket_split"
    child_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TicketSearch(Base):
    """Accent-folded code, title, description and location for LIKE search where there is no
    PostgreSQL full-text search (SQLite). Citizen identity is never indexed."""

    __tablename__ = "ticket_search"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")


# Queue: one agency's tickets by status in deadline order (the current clock: resolution once
# accepted, acceptance before); received-date order; an officer's open load.
Index(
    "ix_ticket_queue_due",
    Ticket.agency_id,
    Ticket.status,
    func.coalesce(Ticket.resolution_due, Ticket.acceptance_due),
    Ticket.id,
)
Index("ix_ticket_agency_received", Ticket.agency_id, Ticket.received_at)
Index("ix_ticket_assignee_status", Ticket.assignee_id, Ticket.status)
Index("ix_ticket_duplicate_of_id", Ticket.duplicate_of_id)
