"""Citizens, tickets, the append-only timeline, attachments, the outbox and raw inbound messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .org import Agency, Category, User


class Citizen(Base):
    __tablename__ = "citizen"
    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    contacts: Mapped[list[CitizenContact]] = relationship(back_populates="citizen")


class CitizenContact(Base):
    """One way to reach a citizen: (channel, external id) is unique — an email, a phone, a chat id."""

    __tablename__ = "citizen_contact"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizen.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    display: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    citizen: Mapped[Citizen] = relationship(back_populates="contacts")


class Ticket(Base):
    __tablename__ = "ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    legal_form: Mapped[str] = mapped_column(String(32), default="electronic")
    channel: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    status: Mapped[str] = mapped_column(String(32), default="received", index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any] | None]
    address: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    area_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    initial_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizen.id"), index=True)
    reply_contact_id: Mapped[int | None] = mapped_column(ForeignKey("citizen_contact.id"))
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Denouncer identity is sealed (Law on Denunciation art. 47): handlers see it redacted.
    confidential: Mapped[bool] = mapped_column(default=False)
    is_complex: Mapped[bool] = mapped_column(default=False)
    is_remote: Mapped[bool] = mapped_column(default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    routed_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    acceptance_due: Mapped[dt.date | None]
    resolution_due: Mapped[dt.date | None]
    extensions: Mapped[int] = mapped_column(default=0)
    paused_at: Mapped[dt.datetime | None]
    paused_from_status: Mapped[str | None] = mapped_column(String(32))
    paused_days: Mapped[int] = mapped_column(default=0)
    due_state: Mapped[str] = mapped_column(String(16), default="none")
    resolution: Mapped[str | None] = mapped_column(Text)
    # Working-day durations stamped when they happen (service.domain.report_durations), so the
    # dashboard aggregates one integer per ticket instead of walking a calendar per row.
    first_response_wd: Mapped[int | None]
    resolution_wd: Mapped[int | None]
    resolved_on_time: Mapped[bool | None]
    # Contact details waiting for the route job to find or create the citizen (fast intake path).
    pending_contact: Mapped[dict[str, Any] | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship()
    agency: Mapped[Agency | None] = relationship(foreign_keys=[agency_id])
    area: Mapped[Agency | None] = relationship(foreign_keys=[area_agency_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    citizen: Mapped[Citizen | None] = relationship()
    reply_contact: Mapped[CitizenContact | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(back_populates="ticket")


Index("ix_ticket_agency_status", Ticket.agency_id, Ticket.status)


class TicketEvent(Base):
    """Append-only timeline row; the source for tracking pages, notices, audit and reports."""

    __tablename__ = "ticket_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    public: Mapped[bool] = mapped_column(default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(32), default="system")
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _events_are_append_only(mapper: Any, connection: Any, target: TicketEvent) -> None:
    raise ValueError("ticket events are append-only")


class Attachment(Base):
    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="attachments")


class Delivery(Base):
    """Outbox row written with the event that causes it; a worker sends it exactly once."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("event_id", "channel", "recipient"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any] | None]
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    ticket: Mapped[Ticket | None] = relationship()


class InboundMessage(Base):
    """Raw inbound payload; the unique key makes a provider's redelivery a no-op."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    payload: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="processed")
    error: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
