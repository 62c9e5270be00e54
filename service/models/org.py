"""Organisation and configuration data: agencies, categories, rules, policies, holidays, users."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

agency_succession = Table(
    "agency_succession",
    Base.metadata,
    Column("predecessor_id", ForeignKey("agency.id"), primary_key=True),
    Column("successor_id", ForeignKey("agency.id"), primary_key=True),
)


class Agency(Base):
    """A node of the agency tree of any depth; kind is data (province, department, commune…)."""

    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(255))
    effective_from: Mapped[dt.date | None]
    effective_to: Mapped[dt.date | None]
    is_triage: Mapped[bool] = mapped_column(default=False)
    is_remote: Mapped[bool] = mapped_column(default=False)
    parent: Mapped[Agency | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Agency]] = relationship(back_populates="parent")
    successors: Mapped[list[Agency]] = relationship(
        secondary=agency_succession,
        primaryjoin=id == agency_succession.c.predecessor_id,
        secondaryjoin=id == agency_succession.c.successor_id,
    )

    def is_active_on(self, day: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


class Category(Base):
    __tablename__ = "category"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    group: Mapped[str | None] = mapped_column(String(64))
    # Feedback on administrative rules needs a name and contact (Decree 20/2008).
    requires_identity: Mapped[bool] = mapped_column(default=False)
    extra_fields: Mapped[list[Any] | None]
    active: Mapped[bool] = mapped_column(default=True)


class RoutingRule(Base):
    """Ordered rule: the first match with stop=True decides the agency."""

    __tablename__ = "routing_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(255))
    kinds: Mapped[list[Any] | None]
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    area_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    keywords: Mapped[list[Any] | None]
    channels: Mapped[list[Any] | None]
    target_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    # Send to the People's Committee of the commune/ward the citizen chose (local matters).
    route_to_area: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[str | None] = mapped_column(String(16))
    stop: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)


class DeadlinePolicy(Base):
    """Legal or local clock for a kind (and optionally one category); rows, not code."""

    __tablename__ = "deadline_policy"
    __table_args__ = (UniqueConstraint("kind", "category_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    acceptance_days: Mapped[int]
    acceptance_unit: Mapped[str] = mapped_column(String(16))
    resolution_days: Mapped[int]
    resolution_unit: Mapped[str] = mapped_column(String(16))
    complex_resolution_days: Mapped[int | None]
    remote_resolution_days: Mapped[int | None]
    remote_complex_resolution_days: Mapped[int | None]
    extension_days: Mapped[int] = mapped_column(default=0)
    max_extensions: Mapped[int] = mapped_column(default=0)
    max_total_resolution_days: Mapped[int | None]
    due_soon_days: Mapped[int] = mapped_column(default=2)


class Holiday(Base):
    """A day off on a weekday (kind=holiday) or a make-up working weekend day (kind=workday)."""

    __tablename__ = "holiday"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="holiday")


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # operator, officer, lead, supervisor, admin
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Two-factor login (TOTP, RFC 6238); the last accepted time step stops a code being replayed.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None]
    last_login_at: Mapped[dt.datetime | None]
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    # May unseal a denouncer's identity (with a reason, audited); see service/web/identity.py.
    can_reveal_identity: Mapped[bool] = mapped_column(default=False)
    agency: Mapped[Agency | None] = relationship()

    # Flask-Login protocol, kept here so the model needs no Flask import.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Setting(Base):
    """Small key/value store for runtime state shared by processes (e.g. provider tokens)."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


Index("ix_routing_rule_active_position", RoutingRule.active, RoutingRule.position)
