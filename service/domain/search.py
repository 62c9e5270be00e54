"""Accent-insensitive ticket search: PostgreSQL full text (unaccent configuration, a tsvector
column, GIN), elsewhere LIKE over folded text kept in ticket_search. Only the ticket's code,
title, description and location are searchable — never the citizen's identity.

A ticket is indexed when it leaves `received` (routing, or an action on an unrouted ticket) and
when it is created already routed (splits): officers only ever search routed tickets, and the
filing itself stays one cheap INSERT. Its code is found at once either way."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from ..models import Ticket, TicketSearch
from .text import clean_text, fold

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
_CODE = re.compile(r"^[A-Za-z]{1,8}-\d{4}-\d{1,9}$")
_WORD = re.compile(r"[\w]+", re.UNICODE)
# The column exists only on PostgreSQL (migrations 0003, 0101); it is not mapped on purpose.
SEARCH_VECTOR = literal_column("ticket.search_vector")
# What PostgreSQL searches, over a ticket row: the same fields as the fallback's folded text.
PG_DOCUMENT_SQL = (
    "to_tsvector('pakn_vi'::regconfig, coalesce(code, '') || ' ' || title || ' ' || "
    "description || ' ' || coalesce(address, ''))"
)
_PG_INDEX = text(f"UPDATE ticket SET search_vector = {PG_DOCUMENT_SQL} WHERE id = :id")


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def normalise_query(raw: str | None) -> str:
    """Clean, trim and cap what a person typed; an empty string means no search."""
    return clean_text(raw, multiline=False)[:MAX_QUERY_CHARS]


def document_text(*parts: str | None) -> str:
    """Folded words between single spaces, with a space at each end, so that LIKE '% word %'
    matches whole words as PostgreSQL does ("hong" must not match "khong")."""
    return " " + " ".join(_WORD.findall(fold(" ".join(p for p in parts if p)))) + " "


def document(ticket: Any) -> str:
    """What the fallback searches: the same fields as the PostgreSQL vector."""
    return document_text(ticket.code, ticket.title, ticket.description, ticket.address)


def index_ticket(session: Session, ticket: Ticket) -> None:
    """Make the ticket findable by its words: its tsvector on PostgreSQL, folded text elsewhere.
    Idempotent; part of the caller's transaction."""
    if is_postgresql(session):
        session.flush()  # the row must hold its final code before the database reads it
        session.execute(_PG_INDEX, {"id": ticket.id})
        return
    row = session.get(TicketSearch, ticket.id)
    if row is None:
        session.add(TicketSearch(ticket_id=ticket.id, text=document(ticket)))
    else:
        row.text = document(ticket)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fallback_terms(query: str) -> list[str]:
    """Folded words of the query; quotes and operators of web search syntax are ignored."""
    return _WORD.findall(fold(query))[:MAX_TERMS]


def match(session: Session, query: str) -> ColumnElement[bool] | None:
    """A WHERE clause selecting tickets that match `query`, or None when there is nothing to
    match. A full ticket code also matches exactly."""
    query = normalise_query(query)
    if not query:
        return None
    by_code = Ticket.code == query.upper() if _CODE.match(query) else None
    if is_postgresql(session):
        text_match = SEARCH_VECTOR.op("@@")(
            func.websearch_to_tsquery(literal_column("'pakn_vi'::regconfig"), query)
        )
    else:
        terms = fallback_terms(query)
        if not terms:
            return by_code
        text_match = exists(
            select(TicketSearch.ticket_id).where(
                TicketSearch.ticket_id == Ticket.id,
                and_(
                    *(TicketSearch.text.like(f"% {_escape_like(t)} %", escape="\\") for t in terms)
                ),
            )
        )
    return or_(text_match, by_code) if by_code is not None else text_match
