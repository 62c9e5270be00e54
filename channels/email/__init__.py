"""Email: out over SMTP (multipart text + HTML, signed Message-IDs, threading headers) and in by
IMAP polling (poll.py stores raw mail; process.py turns it into tickets and replies)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from ..base import Channel, OutboundMessage, PermanentError, TransientError, register
from . import poll
from .sign import signed_message_id, verify_message_id

__all__ = ["EmailChannel", "signed_message_id", "verify_message_id"]


@register
class EmailChannel(Channel):
    name = "email"
    webhook_path = None  # mail arrives by IMAP polling (workers.jobs.poll_mailboxes)

    @classmethod
    def enabled(cls, config: Any) -> bool:
        return bool(config.get("SMTP_HOST")) or poll.enabled(config)

    def build(self, message: OutboundMessage) -> EmailMessage:
        cfg = self.config
        mail = EmailMessage()
        mail["From"] = cfg["MAIL_FROM"]
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = signed_message_id(
            cfg["SECRET_KEY"], cfg["MAIL_DOMAIN"], message.ticket_code, message.delivery_id
        )
        if message.thread:
            mail["In-Reply-To"] = message.thread[-1]
            mail["References"] = " ".join(message.thread[-10:])
        # RFC 3834: automatic notices must say so, so that auto-responders do not answer them.
        mail["Auto-Submitted"] = "auto-replied" if message.automatic else "no"
        if message.automatic:
            mail["X-Auto-Response-Suppress"] = "All"
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: OutboundMessage) -> str:
        cfg = self.config
        if not cfg.get("SMTP_HOST"):
            raise PermanentError("SMTP_HOST is not set: outgoing mail is off")
        mail = self.build(message)
        try:
            with smtplib.SMTP(
                cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"]
            ) as smtp:
                if cfg.get("SMTP_STARTTLS"):
                    smtp.starttls()
                if cfg.get("SMTP_USER"):
                    smtp.login(cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise TransientError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"SMTP unavailable: {exc}") from exc
        return str(mail["Message-ID"])

    def process(self, session: Any, message: Any) -> None:
        """Worker side: one stored raw mail → ticket, reply, bounce or ignored (process.py)."""
        from .process import process_mail  # imports the service domain: only in the worker

        process_mail(session, message, self.config)
