"""Reading one inbound mail: headers, a plain-text body, attachments, loop guards and bounces.

Raw mail is stored as base64 text (`encode_raw`/`decode_raw`): the exact MIME bytes survive any
database (PostgreSQL text rejects NUL bytes, which 8bit/binary parts may contain).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from service.domain.attachments import IncomingFile

_MSGID = re.compile(r"<([^<>\s]+)>")
_MAX_KEY = 200
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_BULK = frozenset({"bulk", "junk", "list"})
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
# Reply/forward prefixes of English and Vietnamese clients (TL = trả lời, CT = chuyển tiếp).
_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|tl|tr|ct|sv)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)


class MailParseError(ValueError):
    """The bytes are not a mail we can read (no headers, no sender, a broken structure)."""


@dataclass
class Bounce:
    """A delivery report about one of our mails."""

    original_message_id: str | None
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str | None = None
    diagnostic: str | None = None
    recipient: str | None = None

    def reason(self) -> str:
        parts = [p for p in (self.status, self.diagnostic) if p]
        return "bounced: " + ("; ".join(parts) if parts else self.action)


@dataclass
class ParsedMail:
    key: str
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str
    html: str | None
    attachments: list[IncomingFile] = field(default_factory=list)
    loop_reason: str | None = None
    bounce: Bounce | None = None

    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, nearest first (In-Reply-To, then References backwards)."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def encode_raw(raw: bytes) -> str:
    return base64.encodebytes(raw).decode("ascii")


def decode_raw(payload: str) -> bytes:
    return base64.b64decode(payload.encode("ascii"))


def message_ids(value: str | None) -> list[str]:
    """Every <id> in a Message-ID, In-Reply-To or References header."""
    return [f"<{m}>" for m in _MSGID.findall(value or "")]


def _key_from_id(message_id: str) -> str:
    if len(message_id) <= _MAX_KEY:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()


def message_key(raw: bytes) -> tuple[str, str | None]:
    """(dedupe key, Message-ID). Without a Message-ID the key hashes the mail's own headers and
    body, not the trace headers, so the same mail in two mailboxes still gets one key."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        ids = message_ids(str(headers.get("Message-ID", "")))
    except Exception:  # noqa: BLE001  (garbage still gets a key: it is stored and reported)
        return "sha256:" + hashlib.sha256(raw).hexdigest(), None
    if ids:
        return _key_from_id(ids[0]), ids[0]
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update(f"{name}:{headers.get(name, '')}\n".encode("utf-8", "surrogateescape"))
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    digest.update(body[1] if len(body) > 1 else b"")
    return "sha256:" + digest.hexdigest(), None


class _TextExtractor(HTMLParser):
    """HTML → readable plain text: block elements become line breaks, code is dropped."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    _BLOCK = frozenset({"p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul",
                        "ol", "blockquote", "pre", "section", "article", "header", "footer"})  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag == "br" or tag in self._BLOCK:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _text_of(part: Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError):
        data = part.get_payload(decode=True) or b""
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def _leaves(part: Message) -> Iterator[Message]:
    """Leaf parts; an attached message (message/*) is one leaf, not searched inside."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():  # type: ignore[union-attr]
            yield from _leaves(sub)
    else:
        yield part


def _attachment_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return inner.as_bytes() if isinstance(inner, Message) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _attachments(mail: EmailMessage, bodies: list[Message]) -> list[IncomingFile]:
    files = []
    for part in _leaves(mail):
        if any(part is b for b in bodies):
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        # Extra inline text parts (alternatives, signatures) are body, not files.
        if part.get_content_maintype() == "text" and not filename and disposition != "attachment":
            continue
        files.append(IncomingFile(filename=filename or "attachment", data=_attachment_bytes(part)))
    return files


def _header(mail: Message, name: str) -> str:
    value = mail.get(name)
    return str(value).strip() if value is not None else ""


def _loop_reason(mail: Message, sender: str | None, own: frozenset[str]) -> str | None:
    """RFC 3834 and common practice: never turn automatic or bulk mail into a ticket."""
    auto = _header(mail, "Auto-Submitted").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        return "auto_submitted"
    if _header(mail, "Precedence").lower() in _BULK:
        return "precedence"
    if any(mail.get(h) is not None for h in _AUTOREPLY_HEADERS):
        return "autoreply"
    if sender and sender in own:
        return "own_address"
    return None


def _dsn(mail: EmailMessage) -> Bounce | None:
    status = next((p for p in _leaves(mail) if p.get_content_type() == "message/delivery-status"),
                  None)  # fmt: skip
    if status is None:
        return None
    blocks = status.get_payload()
    fields: dict[str, str] = {}
    for block in blocks if isinstance(blocks, list) else []:
        if block.get("Action") is not None:  # the first per-recipient block
            fields = {k.lower(): str(v) for k, v in block.items()}
            break
    recipient = fields.get("final-recipient", "").split(";", 1)[-1].strip() or None
    return Bounce(
        original_message_id=_original_id(mail),
        action=fields.get("action", "failed").strip().lower(),
        status=fields.get("status", "").strip() or None,
        diagnostic=fields.get("diagnostic-code", "").split(";", 1)[-1].strip()[:500] or None,
        recipient=recipient,
    )


def _original_id(mail: EmailMessage) -> str | None:
    """The Message-ID of the mail a bounce reports on: the attached message or its headers."""
    own = message_ids(_header(mail, "Message-ID"))
    for part in _leaves(mail):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            ids = (
                message_ids(str(inner.get("Message-ID", ""))) if isinstance(inner, Message) else []
            )
        elif ctype == "text/rfc822-headers":
            ids = message_ids(str(HeaderParser().parsestr(_text_of(part)).get("Message-ID", "")))
        else:
            continue
        if ids:
            return ids[0]
    # A non-standard bounce quotes the original headers in its text.
    for part in _leaves(mail):
        if part.get_content_maintype() == "text":
            for found in re.findall(r"(?im)^\s*Message-ID:\s*(<[^<>\s]+>)", _text_of(part)):
                if found not in own:
                    return found
    return None


def _bounce(mail: EmailMessage, sender: str | None) -> Bounce | None:
    if mail.get_content_type() == "multipart/report" and (
        (mail.get_param("report-type") or "").lower() == "delivery-status"
    ):
        return _dsn(mail)
    if sender and sender.split("@", 1)[0] in _BOUNCE_SENDERS:
        return Bounce(original_message_id=_original_id(mail), action="failed",
                      diagnostic=_header(mail, "Subject")[:500] or None)  # fmt: skip
    return None


def _from_address(mail: EmailMessage) -> tuple[str, str]:
    header = mail.get("From")
    addresses = getattr(header, "addresses", None)
    if addresses:
        return addresses[0].display_name or "", addresses[0].addr_spec or ""
    return parseaddr(_header(mail, "From"))


def clean_subject(subject: str) -> str:
    return _SUBJECT_PREFIX.sub("", re.sub(r"\s+", " ", subject)).strip()


def parse(raw: bytes, own_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    """Read a mail; raise MailParseError when it has no headers or no sender address."""
    if not raw.strip():
        raise MailParseError("empty message")
    try:
        mail = message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        if not mail.keys():
            raise MailParseError("no header section")
        name, address = _from_address(mail)
        if "@" not in address:
            addresses = getaddresses([_header(mail, "Sender"), _header(mail, "Reply-To")])
            address = next((a for _, a in addresses if "@" in a), "")
        if "@" not in address:
            raise MailParseError("no sender address (From)")
        sender = address.strip().lower()
        key, message_id = message_key(raw)
        plain = mail.get_body(preferencelist=("plain",))
        html_part = mail.get_body(preferencelist=("html",))
        html = _text_of(html_part) if html_part is not None else None
        if plain is not None:
            text = _text_of(plain)
        else:
            text = html_to_text(html) if html else ""
        bodies = [p for p in (plain, html_part) if p is not None]
        bounce = _bounce(mail, sender)
        return ParsedMail(
            key=key,
            message_id=message_id,
            sender=sender,
            sender_name=name.strip() or None,
            subject=_header(mail, "Subject"),
            in_reply_to=message_ids(_header(mail, "In-Reply-To")),
            references=message_ids(_header(mail, "References")),
            text=text,
            html=html,
            attachments=[] if bounce else _attachments(mail, bodies),
            loop_reason=_loop_reason(mail, sender, own_addresses),
            bounce=bounce,
        )
    except MailParseError:
        raise
    except Exception as exc:  # noqa: BLE001  (the stdlib parser can fail in many ways)
        raise MailParseError(f"{type(exc).__name__}: {exc}") from exc
