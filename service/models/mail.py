"""Email intake bookkeeping: which IMAP copies were stored, and what became of each mail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class EmailReceipt(Base):
    """One copy of a mail seen in one mailbox folder; (mailbox, UIDVALIDITY, UID) is unique, so a
    re-poll after a crash between the commit and the \\Seen flag stores nothing twice."""

    __tablename__ = "email_receipt"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # "user@host:port/folder": the same account polled under another name is another mailbox.
    mailbox: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    # NULL when the server sent no UID: then only the Message-ID key deduplicates.
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_key: Mapped[str] = mapped_column(String(255), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    stored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    flagged_at: Mapped[dt.datetime | None]


class InboundEmail(Base):
    """The outcome of processing one stored mail (unique Message-ID key): a ticket, a reply on a
    ticket, a bounce on a delivery, or ignored with a reason. Also the threading index."""

    __tablename__ = "inbound_email"
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id"), unique=True)
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ticket, reply, bounce, ignored
    reason: Mapped[str | None] = mapped_column(String(255))
    sender: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id"))
    # The mail's HTML body after the allowlist sanitizer (service.sanitize); never the raw HTML.
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
