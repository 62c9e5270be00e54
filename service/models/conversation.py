"""Chat conversations (Telegram, Zalo): the state of a guided filing, kept in the database so that
any worker process can handle a chat's next message."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Conversation(Base):
    """One row per (channel, chat): the current step and the answers collected so far."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    # idle, kind, category, describe, name, location, photos, confirm (channels.conversation).
    state: Mapped[str] = mapped_column(String(32), default="idle")
    data: Mapped[dict[str, Any] | None]
    language: Mapped[str] = mapped_column(String(8), default="vi")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
