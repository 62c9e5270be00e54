"""Worker side of chat and mail intake: hand one stored raw message to its channel, once."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

import channels

from .models import InboundMessage

log = logging.getLogger(__name__)


def process_inbound(session: Session, inbound_id: int) -> str:
    message = session.scalars(
        select(InboundMessage).where(InboundMessage.id == inbound_id).with_for_update()
    ).first()
    if message is None or message.state != "new":
        session.rollback()
        return "skipped"
    try:
        channels.get(message.channel, current_app.config).process(session, message)
    except channels.PermanentError as exc:
        session.rollback()
        message = session.get(InboundMessage, inbound_id)
        message.state, message.error = "failed", str(exc)[:2000]  # type: ignore[union-attr]
        session.commit()
        log.warning("inbound %s could not be processed: %s", inbound_id, exc)
        return "failed"
    message = session.get(InboundMessage, inbound_id)
    if message is not None and message.state == "new":
        message.state = "processed"
    session.commit()
    return "processed"
