"""Signed Message-IDs: our outbound mail carries an HMAC that a reply brings back."""

from __future__ import annotations

import hashlib
import hmac
from email.utils import make_msgid


def signed_message_id(
    secret: str, domain: str, ticket_code: str | None, delivery_id: int | None
) -> str:
    """<pakn.CODE.DELIVERY.SIG@domain>: replies quote it, and the HMAC proves we made it."""
    if not ticket_code:
        return make_msgid(domain=domain)
    local = f"pakn.{ticket_code}.{delivery_id or 0}"
    sig = hmac.new(secret.encode(), local.encode(), hashlib.sha256).hexdigest()[:16]
    return f"<{local}.{sig}@{domain}>"


def verify_message_id(secret: str, message_id: str) -> str | None:
    """The ticket code from one of our signed Message-IDs, or None."""
    local = message_id.strip().strip("<>").split("@", 1)[0]
    parts = local.split(".")
    if len(parts) != 4 or parts[0] != "pakn":
        return None
    expected = hmac.new(secret.encode(), ".".join(parts[:3]).encode(), hashlib.sha256).hexdigest()
    return parts[1] if hmac.compare_digest(expected[:16], parts[3]) else None
