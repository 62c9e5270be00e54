"""Confidentiality of denouncers (Law on Denunciation 25/2018, art. 9, 47, 56).

A sealed ticket's citizen (name, address, every contact) is never shown to handlers, in lists,
exports, search results, the API or notices. Every place that shows or exports a citizen goes
through this module:

- `public_citizen_view(ticket, viewer_can_see)`: what a page may show. Sealed tickets are always
  redacted here, whatever `viewer_can_see` says; it only decides for ordinary tickets.
- `citizen_columns(ticket, viewer_can_see)`: the same as flat export columns (CSV/XLSX).
- `reveal_citizen(ticket)`: the identity itself, ONLY for service/web/identity.py after the
  permission check, a stated reason and an audit entry.
- `identity_terms` / `scrub_text`: mask the identity where it was typed into free text.
"""

from __future__ import annotations

import re
from typing import Any

from ..models import Ticket

SEALED_KINDS = frozenset({"denunciation"})
MASK = "█████"
EXPORT_COLUMNS = ("citizen_name", "citizen_email", "citizen_phone", "citizen_address")


def is_sealed(ticket: Ticket) -> bool:
    """Denunciations are sealed even if a kind change forgot to set `confidential`."""
    return bool(ticket.confidential) or ticket.kind in SEALED_KINDS


def _identity(ticket: Ticket) -> dict[str, Any]:
    """Name, address and contacts, from the citizen or (before routing) the intake snapshot."""
    citizen = ticket.citizen
    if citizen is not None:
        contacts = [
            {"channel": c.channel, "value": c.display or c.external_id} for c in citizen.contacts
        ]
        return {"name": citizen.full_name, "address": citizen.address, "contacts": contacts}
    snap = getattr(ticket, "pending_contact", None) or {}
    contacts = [{"channel": ch, "value": snap[ch]} for ch in ("email", "phone") if snap.get(ch)]
    if snap.get("chat"):
        contacts.append({"channel": snap["chat"][0], "value": snap["chat"][1]})
    return {"name": snap.get("name"), "address": snap.get("address"), "contacts": contacts}


def _has_identity(identity: dict[str, Any]) -> bool:
    return bool(identity["name"] or identity["address"] or identity["contacts"])


def redact_citizen(ticket: Ticket) -> dict[str, Any]:
    """The citizen block with every identifying field removed."""
    return {
        "redacted": True,
        "sealed": is_sealed(ticket),
        "revealed": False,
        "has_identity": _has_identity(_identity(ticket)),
        "name": None,
        "address": None,
        "contacts": [],
    }


def public_citizen_view(ticket: Ticket, viewer_can_see: bool) -> dict[str, Any]:
    """What may be shown: redacted if sealed or if the viewer may not see this ticket's citizen."""
    if is_sealed(ticket) or not viewer_can_see:
        return redact_citizen(ticket)
    identity = _identity(ticket)
    return {"redacted": False, "sealed": False, "revealed": False,
            "has_identity": _has_identity(identity), **identity}  # fmt: skip


def reveal_citizen(ticket: Ticket) -> dict[str, Any]:
    """The sealed identity. Call only after the permission check, reason and audit entry."""
    identity = _identity(ticket)
    return {"redacted": False, "sealed": is_sealed(ticket), "revealed": True,
            "has_identity": _has_identity(identity), **identity}  # fmt: skip


def citizen_columns(ticket: Ticket, viewer_can_see: bool) -> dict[str, str | None]:
    """Flat export columns; all None for a sealed ticket."""
    view = public_citizen_view(ticket, viewer_can_see)
    by_channel = {c["channel"]: c["value"] for c in view["contacts"]}
    return {
        "citizen_name": view["name"],
        "citizen_email": by_channel.get("email"),
        "citizen_phone": by_channel.get("phone"),
        "citizen_address": view["address"],
    }


def identity_terms(ticket: Ticket) -> list[str]:
    """Strings that identify the citizen (longest first), to find them in free text."""
    identity = _identity(ticket)
    terms: set[str] = set()
    for value in [
        identity["name"],
        identity["address"],
        *(c["value"] for c in identity["contacts"]),
    ]:
        value = (value or "").strip()
        if len(value) >= 3:
            terms.add(value)
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 8 and digits != value:  # a phone written with spaces or dots
                terms.add(digits)
    return sorted(terms, key=len, reverse=True)


def scrub_text(text: str | None, terms: list[str], mask: str = MASK) -> str | None:
    """Replace every occurrence of the terms (case-insensitive) with a mask."""
    if not text or not terms:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    return pattern.sub(mask, text)


def scrub_for_handlers(ticket: Ticket, text: str | None) -> str | None:
    """Free text of a sealed ticket (description, citizen messages) with the identity masked."""
    return scrub_text(text, identity_terms(ticket)) if is_sealed(ticket) else text
