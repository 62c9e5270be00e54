"""Email out over SMTP: multipart text + HTML, signed Message-IDs and threading headers."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from .base import Channel, OutboundMessage, PermanentError, TransientError, register


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


@register
class EmailChannel(Channel):
    name = "email"

    @classmethod
    def enabled(cls, config: Any) -> bool:
        return bool(config.get("SMTP_HOST"))

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
