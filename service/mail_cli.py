"""Flask CLI for email intake: `flask mail-poll` (one poll now) and `flask mail-replay`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select

from .extensions import db
from .models import InboundMessage


def _failed_ids() -> list[int]:
    return list(db.session.scalars(
        select(InboundMessage.id)
        .where(InboundMessage.channel == "email", InboundMessage.state == "failed")
        .order_by(InboundMessage.id)
    ))  # fmt: skip


def replay(inbound_id: int) -> str:
    """Run a failed mail through processing again (after a fix); other states are left alone."""
    from .inbound import process_inbound

    message = db.session.get(InboundMessage, inbound_id)
    if message is None or message.channel != "email":
        return "not found"
    if message.state != "failed":
        return f"not failed (state {message.state})"
    message.state, message.error = "new", None
    db.session.commit()
    result = process_inbound(db.session, inbound_id)
    if result == "failed":
        error = db.session.get(InboundMessage, inbound_id).error  # type: ignore[union-attr]
        return f"failed again: {error}"
    return result


def register(app: Flask) -> None:
    @app.cli.command("mail-poll")
    def mail_poll() -> None:
        """Poll the configured IMAP mailboxes once (the scheduler does it every IMAP_POLL_SECONDS)."""
        from channels.email.poll import enabled, poll_all

        if not enabled(current_app.config):
            click.echo("Email intake is off: set IMAP_HOST or IMAP_MAILBOXES.")
            return
        failed = False
        for result in poll_all(db.session, current_app.config):
            click.echo(f"{result.mailbox}: fetched {result.fetched}, stored {result.stored}, "
                       f"already known {result.known}, flagged {result.flagged}")  # fmt: skip
            for error in result.errors:
                failed = True
                click.echo(f"  error: {error}", err=True)
        if failed:
            raise SystemExit(1)

    @app.cli.command("mail-replay")
    @click.option("--id", "inbound_id", type=int, help="the inbound message id to replay")
    @click.option("--all-failed", is_flag=True, help="replay every failed mail")
    def mail_replay(inbound_id: int | None, all_failed: bool) -> None:
        """Process failed mail again; without options, list the failed mail."""
        if inbound_id is None and not all_failed:
            rows = db.session.execute(
                select(InboundMessage.id, InboundMessage.received_at, InboundMessage.error)
                .where(InboundMessage.id.in_(_failed_ids()))
                .order_by(InboundMessage.id)
            ).all()
            for row in rows:
                click.echo(f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.error}")
            click.echo(f"{len(rows)} failed mail(s); replay with --id N or --all-failed.")
            return
        for item in [inbound_id] if inbound_id is not None else _failed_ids():
            click.echo(f"{item}: {replay(item)}")
