"""Sending one outbox row: claim it, render it in the citizen's language, hand it to its channel."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import channels
from channels.base import FallbackError, OutboundMessage, PermanentError, TransientError

from .domain import jobs
from .domain.handling import _append
from .links import console_link, tracking_link
from .models import Agency, Delivery, Ticket, TicketEvent, utcnow

log = logging.getLogger(__name__)

SUBJECTS = {
    "receipt": _l("Your submission %(code)s has been received"),
    "accepted": _l("Your submission %(code)s has been accepted for handling"),
    "info_requested": _l("More information is needed for %(code)s"),
    "reply": _l("A reply to your submission %(code)s"),
    "transferred": _l("Your submission %(code)s was transferred"),
    "resolved": _l("Your submission %(code)s has been resolved"),
    "rejected": _l("Your submission %(code)s was not accepted"),
    "closed": _l("Your submission %(code)s is closed"),
    "duplicate": _l("Your submission %(code)s is linked to an earlier one"),
    "reopened": _l("Your submission %(code)s was reopened"),
    "extended": _l("The deadline for %(code)s was extended"),
    "agency_due_soon": _l("Due soon: %(code)s"),
    "agency_overdue": _l("Overdue: %(code)s"),
    "agency_transfer": _l("Transferred to your agency: %(code)s"),
}
# Officer replies are written by a person; everything else is an automatic notice.
HUMAN_TEMPLATES = {"reply", "resolved", "info_requested", "rejected"}


def _claim(session: Session, delivery_id: int, now: dt.datetime, stale: dt.datetime) -> bool:
    """Atomically take the row: a second run of the same job finds nothing to do."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(
                Delivery.state.in_(("pending", "retry")),
                (Delivery.state == "sending") & (Delivery.claimed_at < stale),
            ),
        )
        .values(state="sending", claimed_at=now, attempts=Delivery.attempts + 1)
    )
    session.commit()
    return result.rowcount == 1


def render(session: Session, delivery: Delivery) -> OutboundMessage:
    ticket = session.get(Ticket, delivery.ticket_id)
    event = session.get(TicketEvent, delivery.event_id) if delivery.event_id else None
    assert ticket is not None
    to_agency = delivery.template.startswith("agency_")
    lang = "vi" if to_agency or ticket.citizen is None else ticket.citizen.language
    agency = session.get(Agency, ticket.agency_id) if ticket.agency_id else None
    context: dict[str, Any] = {
        "ticket": ticket,
        "event": event,
        "agency": agency,
        "template": delivery.template,
        "tracking_url": tracking_link(ticket.tracking_token),
        "console_url": console_link(ticket),
        "to_agency": to_agency,
        "channel": delivery.channel,
    }
    with force_locale(lang):
        subject = f"[{ticket.code}] " + str(SUBJECTS[delivery.template] % {"code": ticket.code})
        context["subject"] = subject
        text = render_template("notices/notice.txt", **context)
        html = render_template("notices/notice.html", **context)
    thread = session.scalars(
        select(Delivery.provider_message_id)
        .where(
            Delivery.ticket_id == ticket.id,
            Delivery.recipient == delivery.recipient,
            Delivery.state == "sent",
            Delivery.id != delivery.id,
        )
        .order_by(Delivery.id)
    ).all()
    return OutboundMessage(
        recipient=delivery.recipient,
        subject=subject,
        text=text,
        html=html,
        ticket_code=ticket.code,
        automatic=delivery.template not in HUMAN_TEMPLATES,
        thread=[m for m in thread if m],
        delivery_id=delivery.id,
    )


def deliver(session: Session, delivery_id: int, now: dt.datetime | None = None) -> str:
    """Send one delivery at most once; returns the resulting state."""
    cfg = current_app.config
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=max(60, cfg["SMTP_TIMEOUT"] * 6))
    if not _claim(session, delivery_id, now, stale):
        return "skipped"
    delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    try:
        message = render(session, delivery)
        provider_id = channels.get(delivery.channel, cfg).send(message)
    except PermanentError as exc:
        if isinstance(exc, FallbackError):  # e.g. Zalo OA -230: outside the reply window
            return _fall_back(session, delivery, str(exc), now)
        return _fail(session, delivery, str(exc), now)
    except TransientError as exc:
        return _retry_later(session, delivery, str(exc), now, exc.retry_after)
    delivery.state, delivery.sent_at, delivery.provider_message_id = "sent", utcnow(), provider_id
    delivery.last_error = None
    session.commit()
    return "sent"


def _fail(session: Session, delivery: Delivery, error: str, now: dt.datetime) -> str:
    delivery.state, delivery.last_error = "failed", error[:2000]
    if delivery.ticket_id:
        ticket = session.get(Ticket, delivery.ticket_id)
        _append(
            session, ticket, "delivery_failed", now=now, public=False,  # type: ignore[arg-type]
            data={"delivery_id": delivery.id, "channel": delivery.channel, "error": error[:500]},
        )  # fmt: skip
    session.commit()
    log.warning("delivery %s failed for good: %s", delivery.id, error)
    return "failed"


# --- Fallback: the channel cannot reach this person now, another contact of theirs may. ---
FALLBACK_ORDER = ("email",)  # preferred first; any other deliverable channel after these


def _other_contact(ticket: Ticket, failed_channel: str) -> tuple[str, str] | None:
    from .domain.notices import DELIVERABLE

    if ticket.citizen is None:
        return None
    contacts = [c for c in ticket.citizen.contacts
                if c.channel != failed_channel and c.channel in DELIVERABLE]  # fmt: skip
    contacts.sort(key=lambda c: (c.channel not in FALLBACK_ORDER, c.id))
    return (contacts[0].channel, contacts[0].external_id) if contacts else None


def _fall_back(session: Session, delivery: Delivery, error: str, now: dt.datetime) -> str:
    """Mark this delivery failed and queue the same notice on another contact of the citizen,
    noting it on the timeline; with no other contact it is an ordinary failure."""
    ticket = session.get(Ticket, delivery.ticket_id) if delivery.ticket_id else None
    target = _other_contact(ticket, delivery.channel) if ticket is not None else None
    if ticket is None or target is None or delivery.template not in SUBJECTS:
        return _fail(session, delivery, error, now)
    delivery.state, delivery.last_error = "failed", error[:2000]
    other = session.scalars(
        select(Delivery).where(Delivery.event_id == delivery.event_id,
                               Delivery.channel == target[0], Delivery.recipient == target[1])
    ).first() if delivery.event_id else None  # fmt: skip
    if other is None:
        other = Delivery(ticket_id=ticket.id, event_id=delivery.event_id, channel=target[0],
                         recipient=target[1], template=delivery.template, created_at=now)  # fmt: skip
        session.add(other)
        session.flush()
        jobs.defer(session, "deliver", other.id)
    _append(
        session, ticket, "delivery_fallback", now=now, public=False,
        data={"delivery_id": delivery.id, "channel": delivery.channel, "error": error[:500],
              "fallback_delivery_id": other.id, "fallback_channel": target[0]},
    )  # fmt: skip
    session.commit()
    log.info("delivery %s: %s; falling back to %s", delivery.id, error, target[0])
    return "fallback"


def _retry_later(session: Session, delivery: Delivery, error: str, now: dt.datetime,
                 retry_after: float | None) -> str:  # fmt: skip
    cfg = current_app.config
    if delivery.attempts >= cfg["DELIVERY_MAX_ATTEMPTS"]:
        return _fail(session, delivery, f"gave up after {delivery.attempts} attempts: {error}", now)
    intervals = cfg["JOB_RETRY_INTERVALS"]
    wait = retry_after or intervals[min(delivery.attempts - 1, len(intervals) - 1)]
    delivery.state, delivery.last_error = "retry", error[:2000]
    delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
    session.commit()
    # The sweeper sends it again once next_attempt_at has passed.
    log.info("delivery %s will be retried in %ss: %s", delivery.id, wait, error)
    return "retry"
