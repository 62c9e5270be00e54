"""The one funnel: every channel's ticket or citizen message enters through `receive`."""

from __future__ import annotations

import datetime as dt
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import String, bindparam, cast, func, insert, literal_column, or_, select
from sqlalchemy import case as sa_case
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, scoped_session

from ..models import (
    Attachment,
    Citizen,
    CitizenContact,
    InboundMessage,
    Ticket,
    TicketEvent,
    utcnow,
)
from . import jobs, refdata
from .attachments import IncomingFile, check_file, store
from .text import clean_text
from .validation import (
    EMAIL_RE,
    IDENTITY_REQUIRED_KINDS,
    KINDS,
    LEGAL_FORMS,
    PHONE_RE,
    Errors,
    IntakeError,
    check_coordinates,
    check_length,
    normalise_phone,
)

CHANNELS = ("web", "hotline", "api", "email", "telegram", "zalo_oa", "zalo_bot")


@dataclass
class InboundTicket:
    """A new ticket as any channel hands it over, before validation."""

    channel: str
    kind: str
    title: str
    description: str
    category_code: str | None = None
    area_code: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    citizen_name: str | None = None
    email: str | None = None
    phone: str | None = None
    citizen_address: str | None = None
    legal_form: str = "electronic"
    language: str = "vi"
    # The provider's message id or a client idempotency key: a repeat returns the same ticket.
    external_id: str | None = None
    payload: str | None = None
    # A chat identity (telegram chat id, zalo user id) to answer on, for chat channels.
    chat_contact: tuple[str, str] | None = None
    attachments: list[IncomingFile] = field(default_factory=list)
    filed_by_id: int | None = None
    extra: dict[str, Any] | None = None


@dataclass
class Settings:
    code_prefix: str = "PA"
    upload_folder: str = "uploads"
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 5


class Received:
    """What intake answers: enough for the API without loading the ticket back."""

    def __init__(self, session: Session, ticket_id: int, code: str | None, tracking_token: str,
                 status: str, created: bool) -> None:  # fmt: skip
        self.session, self.ticket_id, self.code = session, ticket_id, code
        self.tracking_token, self.status, self.created = tracking_token, status, created
        self._ticket: Ticket | None = None

    @classmethod
    def of(cls, session: Session, ticket: Ticket, created: bool) -> Received:
        result = cls(session, ticket.id, ticket.code, ticket.tracking_token, ticket.status, created)
        result._ticket = ticket
        return result

    @property
    def ticket(self) -> Ticket:
        if self._ticket is None:
            self._ticket = self.session.get(Ticket, self.ticket_id)
        assert self._ticket is not None
        return self._ticket


def _clean(inbound: InboundTicket) -> InboundTicket:
    inbound.title = clean_text(inbound.title, multiline=False)
    inbound.description = clean_text(inbound.description)
    inbound.address = clean_text(inbound.address, multiline=False) or None
    inbound.citizen_name = clean_text(inbound.citizen_name, multiline=False) or None
    inbound.citizen_address = clean_text(inbound.citizen_address, multiline=False) or None
    inbound.email = (clean_text(inbound.email, multiline=False) or "").lower() or None
    inbound.phone = normalise_phone(clean_text(inbound.phone, multiline=False)) or None
    return inbound


def validate(session: Session, inbound: InboundTicket, settings: Settings) -> dict[str, Any]:
    """Check every field; return resolved references or raise IntakeError with field codes."""
    errors = Errors()
    if inbound.channel not in CHANNELS:
        errors.add("channel", "invalid")
    if inbound.kind not in KINDS:
        errors.add("kind", "invalid" if inbound.kind else "required")
    if inbound.legal_form not in LEGAL_FORMS:
        errors.add("legal_form", "invalid")
    check_length(errors, "title", inbound.title)
    check_length(errors, "description", inbound.description)
    if inbound.address:
        check_length(errors, "address", inbound.address)
    check_coordinates(errors, inbound.latitude, inbound.longitude)
    category = None
    if inbound.category_code:
        category = refdata.category_by_code(session, inbound.category_code)
        if category is None:
            errors.add("category", "unknown")
    elif inbound.channel in ("web", "hotline", "api"):
        errors.add("category", "required")
    area_id = None
    if inbound.area_code:
        area_id = refdata.agency_id_by_code(session, inbound.area_code)
        if area_id is None:
            errors.add("area", "unknown")
    if inbound.citizen_name:
        check_length(errors, "name", inbound.citizen_name)
    if inbound.email and not EMAIL_RE.match(inbound.email):
        errors.add("email", "invalid")
    if inbound.phone and not PHONE_RE.match(inbound.phone):
        errors.add("phone", "invalid")
    identity_needed = inbound.kind in IDENTITY_REQUIRED_KINDS or bool(
        category and category.requires_identity
    )
    if identity_needed:
        if not inbound.citizen_name:
            errors.add("name", "required_for_kind")
        if not (inbound.email or inbound.phone or inbound.chat_contact):
            errors.add("contact", "required_for_kind")
    if len(inbound.attachments) > settings.max_attachments:
        errors.add("attachments", "too_many")
    checked = []
    for item in inbound.attachments:
        ok, code = check_file(item, settings.max_attachment_bytes)
        if code:
            errors.add("attachments", code)
        else:
            checked.append(ok)
    if errors:
        raise IntakeError(errors)
    return {"category_id": category.id if category else None, "area_id": area_id, "files": checked}


def _existing(session: Session, channel: str, external_id: str) -> Ticket | None:
    ticket_id = session.execute(
        select(InboundMessage.ticket_id).where(
            InboundMessage.channel == channel, InboundMessage.external_id == external_id
        )
    ).scalar()
    return session.get(Ticket, ticket_id) if ticket_id else None


def contact_snapshot(inbound: InboundTicket) -> dict[str, Any]:
    """Who to find or create as the citizen, as plain data (kept on the ticket until resolved)."""
    return {
        "name": inbound.citizen_name,
        "email": inbound.email,
        "phone": inbound.phone,
        "address": inbound.citizen_address,
        "language": inbound.language if inbound.language in ("vi", "en") else "vi",
        "chat": list(inbound.chat_contact) if inbound.chat_contact else None,
    }


def resolve_citizen(
    session: Session, snapshot: dict[str, Any], channel: str
) -> tuple[Citizen | None, CitizenContact | None]:
    """Find the citizen by any contact given, or create one; add missing contacts; return the
    citizen and the contact to answer on (the filing channel's, else email, else any)."""
    wanted: list[tuple[str, str, str | None]] = []
    if snapshot.get("chat"):
        wanted.append((snapshot["chat"][0], snapshot["chat"][1], snapshot.get("name")))
    if snapshot.get("email"):
        wanted.append(("email", snapshot["email"], snapshot["email"]))
    if snapshot.get("phone"):
        wanted.append(("phone", snapshot["phone"], snapshot["phone"]))
    if not wanted and not snapshot.get("name"):
        return None, None
    found: dict[tuple[str, str], CitizenContact] = {}
    if wanted:
        rows = session.scalars(
            select(CitizenContact).where(
                or_(
                    *(
                        (CitizenContact.channel == ch) & (CitizenContact.external_id == ext)
                        for ch, ext, _ in wanted
                    )
                )
            )
        ).all()
        found = {(c.channel, c.external_id): c for c in rows}
    citizen = next(iter(found.values())).citizen if found else None
    if citizen is None:
        citizen = Citizen(
            full_name=snapshot.get("name"),
            address=snapshot.get("address"),
            language=snapshot.get("language") or "vi",
        )
        session.add(citizen)
    elif snapshot.get("name") and not citizen.full_name:
        citizen.full_name = snapshot["name"]  # a known name is never overwritten
    contacts: dict[str, CitizenContact] = {}
    for ch, ext, display in wanted:
        contact = found.get((ch, ext))
        if contact is None:
            contact = CitizenContact(citizen=citizen, channel=ch, external_id=ext, display=display)
            session.add(contact)
        contacts[ch] = contact
    reply = contacts.get(channel) or contacts.get("email") or next(iter(contacts.values()), None)
    return citizen, reply


def _ticket_values(
    inbound: InboundTicket, refs: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """Every ticket column intake sets; both the ORM and the single-statement path use it."""
    return {
        "tracking_token": secrets.token_urlsafe(24),
        "kind": inbound.kind,
        "legal_form": inbound.legal_form,
        "channel": inbound.channel,
        "category_id": refs["category_id"],
        "status": "received",
        "priority": "normal",
        "title": inbound.title,
        "description": inbound.description,
        "extra": inbound.extra or None,
        "address": inbound.address,
        "latitude": inbound.latitude,
        "longitude": inbound.longitude,
        "area_agency_id": refs["area_id"],
        "filed_by_id": inbound.filed_by_id,
        # Denouncer identity is sealed (Law on Denunciation art. 47).
        "confidential": inbound.kind == "denunciation",
        "is_complex": False,
        "is_remote": False,
        "received_at": now,
        "extensions": 0,
        "paused_days": 0,
        "due_state": "none",
        "updated_at": now,
    }


def _event_values(inbound: InboundTicket, now: dt.datetime) -> dict[str, Any]:
    return {
        "created_at": now,
        "kind": "received",
        "public": True,
        "actor_id": inbound.filed_by_id,
        "actor_label": "operator" if inbound.filed_by_id else "citizen",
        "to_status": "received",
        "data": {"channel": inbound.channel, "legal_form": inbound.legal_form},
    }


def ticket_code(prefix: str, year: int, ticket_id: int) -> str:
    return f"{prefix}-{year}-{ticket_id:06d}"


# Columns that always get the same value as another one (one `now`, one channel): they share
# its parameter, which the driver then converts and sends once.
_SHARED_PARAMS = {"t_updated_at": "t_received_at", "e_created_at": "t_received_at",
                  "r_received_at": "t_received_at", "r_channel": "t_channel"}  # fmt: skip


@lru_cache(maxsize=16)
def _one_statement_insert(ticket_cols: tuple[str, ...], event_cols: tuple[str, ...],
                          raw_cols: tuple[str, ...]) -> Any:  # fmt: skip
    """Built once per column set: ticket, first event and raw message as data-modifying CTEs,
    every value a bound parameter (t_*, e_*, r_*) so SQLAlchemy reuses the compiled SQL."""
    tickets, events, raw = Ticket.__table__, TicketEvent.__table__, InboundMessage.__table__

    def param(table: Any, prefix: str, col: str) -> Any:
        name = f"{prefix}_{col}"
        return bindparam(_SHARED_PARAMS.get(name, name), type_=table.c[col].type)

    # Constants as SQL literals: fewer parameters to convert and send on every execute.
    seq = select(
        func.nextval(
            func.pg_get_serial_sequence(literal_column("'ticket'"), literal_column("'id'"))
        ).label("id")
    ).cte("n")
    digits = sa_case(
        (
            seq.c.id < literal_column("1000000"),
            func.lpad(cast(seq.c.id, String), literal_column("6"), literal_column("'0'")),
        ),
        else_=cast(seq.c.id, String),
    )
    code = bindparam("code_prefix", type_=String) + digits
    new_ticket = (
        insert(tickets)
        .from_select(
            ["id", "code", *ticket_cols],
            select(seq.c.id, code, *(param(tickets, "t", c) for c in ticket_cols)),
        )
        .returning(tickets.c.id, tickets.c.code, tickets.c.tracking_token)
        .cte("t")
    )

    def child(table: Any, prefix: str, cols: tuple[str, ...]) -> Any:
        params = (param(table, prefix, c) for c in cols)
        return insert(table).from_select(["ticket_id", *cols], select(new_ticket.c.id, *params))

    return select(new_ticket.c.id, new_ticket.c.code, new_ticket.c.tracking_token).add_cte(
        child(events, "e", event_cols).cte("e"), child(raw, "r", raw_cols).cte("i")
    )


@lru_cache(maxsize=16)
def _one_statement_sql(ticket_cols: tuple[str, ...], event_cols: tuple[str, ...],
                       raw_cols: tuple[str, ...], dialect: Any) -> tuple[str, dict[str, Any], tuple[tuple[str, Callable[[Any], Any]], ...]]:  # fmt: skip
    """The statement compiled once per dialect: its SQL, its constant parameters and the driver
    conversion of each parameter that has one. Executing this text skips what SQLAlchemy does
    per execute for a statement object (a cache key over the whole CTE) and costs the same SQL."""
    compiled = _one_statement_insert(ticket_cols, event_cols, raw_cols).compile(dialect=dialect)
    constants = {name: b.value for b, name in compiled.bind_names.items() if b.value is not None}
    converters = tuple(
        {
            name: convert
            for b, name in compiled.bind_names.items()
            if (convert := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }.items()
    )  # one entry per name: shared parameters appear several times in the statement
    return str(compiled), constants, converters


class _AnswerLost(Exception):
    """The retry after a dropped connection hit a unique key: maybe its own first attempt's."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__(str(error))
        self.error = error


# engine -> an engine on the same database whose connections are always in autocommit mode
# (set up by the app; without one, a pooled connection is switched for the statement).
AUTOCOMMIT_ENGINES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _run_on_driver(engine: Any, sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """The statement on the driver's own cursor: text and parameters are final already, so
    SQLAlchemy's execution context and result objects would only add CPU. Driver errors are
    raised as SQLAlchemy's (IntegrityError, disconnects), as Connection.execute does."""
    dialect = engine.dialect
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, conn.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
            engine.dispose()  # as SQLAlchemy does: connections opened before are suspect too
        raise DBAPIError.instance(
            sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost,
            dialect=dialect,
        ) from exc  # fmt: skip
    finally:
        conn.close()


def _run_switched(bind: Any, sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    with bind.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        return tuple(conn.exec_driver_sql(sql, params).one())


def _execute_autocommit(bind: Any, sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """One statement on an autocommit connection is a transaction of its own: no BEGIN and
    COMMIT round trips, and the rows are committed once execute returns."""
    autocommit = AUTOCOMMIT_ENGINES.get(bind)

    def run() -> tuple[Any, ...]:
        if autocommit is not None:
            return _run_on_driver(autocommit, sql, params)
        return _run_switched(bind, sql, params)

    try:
        return run()
    except DBAPIError as exc:
        # The autocommit pool does not ping before use, so a server restart shows up here. The
        # unique (channel, external id) makes one retry safe: see _AnswerLost.
        if isinstance(exc, IntegrityError) or not exc.connection_invalidated:
            raise
    try:
        return run()
    except IntegrityError as exc:
        raise _AnswerLost(exc) from exc


def _insert_in_one_statement(
    session: Session, bind: Any, inbound: InboundTicket, refs: dict[str, Any],
    settings: Settings, now: dt.datetime, external_id: str,
) -> Received:  # fmt: skip
    """PostgreSQL hot path: ticket, first event and raw message in one round trip. The citizen is
    resolved by the route job from the snapshot kept on the ticket."""
    values = _ticket_values(inbound, refs, now) | {"pending_contact": contact_snapshot(inbound)}
    event = _event_values(inbound, now)
    raw_row = {"channel": inbound.channel, "external_id": external_id, "received_at": now,
               "payload": inbound.payload, "state": "processed"}  # fmt: skip
    sql, constants, converters = _one_statement_sql(
        tuple(values), tuple(event), tuple(raw_row), bind.dialect
    )
    params = {**constants, "code_prefix": f"{settings.code_prefix}-{now.year}-"}
    for prefix, row in (("t", values), ("e", event), ("r", raw_row)):
        params.update({f"{prefix}_{k}": v for k, v in row.items()})
    for name in _SHARED_PARAMS:
        params.pop(name, None)
    for name, convert in converters:
        params[name] = convert(params[name])
    plain = session() if isinstance(session, scoped_session) else session
    if plain.in_transaction():
        # The caller has work open in this session: join its transaction and commit with it.
        row = tuple(session.connection().exec_driver_sql(sql, params).one())
        session.commit()
    else:
        try:
            row = _execute_autocommit(bind, sql, params)
        except _AnswerLost as lost:
            # The first attempt committed but its answer was lost: this external id is ours.
            existing = _existing(session, inbound.channel, external_id)
            if existing is None:
                raise lost.error from None
            return Received.of(session, existing, created=inbound.external_id is None)
    ticket_id, code, tracking_token = row
    return Received(session, ticket_id, code, tracking_token, "received", created=True)


def _insert_with_orm(
    session: Session, inbound: InboundTicket, refs: dict[str, Any], settings: Settings,
    now: dt.datetime, external_id: str,
) -> Received:  # fmt: skip
    citizen, reply = resolve_citizen(session, contact_snapshot(inbound), inbound.channel)
    ticket = Ticket(**_ticket_values(inbound, refs, now), citizen=citizen, reply_contact=reply)
    session.add(ticket)
    session.flush()
    ticket.code = ticket_code(settings.code_prefix, now.year, ticket.id)
    session.add(TicketEvent(ticket_id=ticket.id, **_event_values(inbound, now)))
    session.add(
        InboundMessage(
            channel=inbound.channel,
            external_id=external_id,
            received_at=now,
            payload=inbound.payload,
            ticket_id=ticket.id,
        )  # fmt: skip
    )
    for checked in refs["files"]:
        store(settings.upload_folder, checked)
        session.add(
            Attachment(
                ticket_id=ticket.id,
                filename=checked.filename,
                created_at=now,
                content_type=checked.content_type,
                size=len(checked.data),
                sha256=checked.sha256,
            )  # fmt: skip
        )
    result = Received(session, ticket.id, ticket.code, ticket.tracking_token, "received", True)
    result._ticket = ticket
    session.commit()
    return result


def receive(
    session: Session,
    inbound: InboundTicket,
    settings: Settings,
    now: dt.datetime | None = None,
    _retry: bool = True,
) -> Received:
    """Validate, store ticket + raw message + first event in one commit. Nothing is enqueued
    here: the intake relay (workers.relay) hands new tickets to the route job in batches.
    A repeated (channel, external id) returns the first ticket and creates nothing."""
    now = now or utcnow()
    inbound = _clean(inbound)
    if inbound.external_id:
        existing = _existing(session, inbound.channel, inbound.external_id)
        if existing is not None:
            return Received.of(session, existing, created=False)
    refs = validate(session, inbound, settings)
    external_id = inbound.external_id or secrets.token_hex(16)
    # Plain web/API/hotline filings on PostgreSQL take the one-round-trip path; attachments and
    # chat identities (needed at once by the conversation) take the ORM path.
    bind = session.get_bind()
    fast = bind.dialect.name == "postgresql" and not refs["files"] and inbound.chat_contact is None
    try:
        if fast:
            return _insert_in_one_statement(
                session, bind, inbound, refs, settings, now, external_id
            )
        return _insert_with_orm(session, inbound, refs, settings, now, external_id)
    except IntegrityError:
        # A concurrent twin won the unique (channel, external id) or contact race: use its result.
        session.rollback()
        if inbound.external_id:
            existing = _existing(session, inbound.channel, inbound.external_id)
            if existing is not None:
                return Received.of(session, existing, created=False)
        if _retry:  # a new contact inserted by a concurrent request: now it will be found
            return receive(session, inbound, settings, now, _retry=False)
        raise


def store_raw(
    session: Session, channel: str, external_id: str, payload: str, now: dt.datetime | None = None
) -> InboundMessage | None:
    """Keep a provider's raw message once (unique channel + id) and queue its processing.
    Returns None for a redelivery, which the webhook acknowledges and drops."""
    message = InboundMessage(
        channel=channel, external_id=external_id, payload=payload, state="new",
        received_at=now or utcnow(),
    )  # fmt: skip
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    jobs.defer(session, "process_inbound", message.id)
    session.commit()
    return message
