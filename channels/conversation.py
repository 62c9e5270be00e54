"""The chat conversation, written once for Telegram, Zalo Bot and Zalo Official Account.

A channel turns a provider update into a `ChatInput`, calls `handle(session, input, settings)` and
renders the returned `ChatReply`s (inline keyboards on Telegram; numbered options on Zalo, see
`numbered`). Texts are Vietnamese, English when the user's language starts with "en".

Commands (in any step): /start (greeting and help), /new (a new filing), /status [code] (own
tickets only; the latest without a code), /list (own tickets), /cancel (drop the filing in
progress), /help.

Guided filing: kind → category (active categories) → description → full name (only when the law
requires identity: complaints, denunciations, categories marked so) → location (shared location,
a typed address, or skip) → photos (optional; "xong"/"done" finishes) → confirm. Confirming files
the ticket through `service.domain.intake.receive` with the chat as the reply contact, and answers
with the code and the tracking link.

Free text rule: when no filing is in progress, text (and photos or a location) from a chat is
added to the chat's open ticket via `handling.add_citizen_info` — a ticket waiting for the
citizen's information first, else the most recently active open ticket filed on this channel,
as long as its last activity (any timeline event) is within 7 days (`chat_tickets.
FOLLOW_UP_DAYS`). Otherwise, or after /new, a new filing starts and the text becomes its draft
description.

Buttons as numbers: the options of the last reply are kept with the conversation, so a user who
answers "2" (or the option's label) chose the second option — how Zalo users answer.

State lives in the `conversation` table (one row per channel and chat, locked while a message is
handled), so any worker may take the next message; a filing untouched for 24 hours expires.
Handling is idempotent per `message_id`: a redelivered message gets the same replies again
without advancing the conversation twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain.attachments import IncomingFile, check_file
from service.domain.intake import Settings
from service.domain.text import clean_text
from service.models import Conversation, utcnow
from service.web.messages import describe

from . import chat_tickets as tickets
from .chat_steps import FilingSteps, normal

EXPIRE_AFTER = dt.timedelta(hours=24)


@dataclass
class ChatInput:
    """One message from a chat user, provider-neutral."""

    channel: str
    user_id: str
    chat_id: str
    text: str | None = None
    callback: str | None = None
    location: tuple[float, float] | None = None
    photos: list[IncomingFile] = field(default_factory=list)
    language: str = "vi"
    display_name: str | None = None
    message_id: str = ""


@dataclass
class ChatReply:
    """A message to send back; buttons are rows of (label, callback data)."""

    text: str
    buttons: list[list[tuple[str, str]]] | None = None


def numbered(reply: ChatReply) -> str:
    """The reply as plain text with numbered options, for channels without buttons (Zalo)."""
    options = [label for row in reply.buttons or [] for label, _data in row]
    if not options:
        return reply.text
    lines = [reply.text, ""] + [f"{n}. {label}" for n, label in enumerate(options, 1)]
    return "\n".join(lines)


def settings_from_config(config: Any) -> Settings:
    """Intake settings from the app config (what channels pass to `handle`)."""
    return Settings(
        code_prefix=config.get("TICKET_CODE_PREFIX", "PA"),
        upload_folder=config.get("UPLOAD_FOLDER", "uploads"),
        max_attachment_bytes=config.get("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        max_attachments=config.get("MAX_ATTACHMENTS", 5),
    )


def language_of(code: str | None) -> str:
    return "en" if (code or "").lower().startswith("en") else "vi"


def handle(session: Session, inp: ChatInput, settings: Settings,
           now: dt.datetime | None = None) -> list[ChatReply]:  # fmt: skip
    """Advance the chat's conversation by one message; commits; returns the replies to send."""
    now = now or utcnow()
    lang = language_of(inp.language)
    conv = _load(session, inp.channel, inp.chat_id, now)
    data = dict(conv.data or {})
    last = data.get("last") or {}
    if inp.message_id and last.get("id") == inp.message_id:
        session.commit()  # a redelivery: same answer, no second step
        return [ChatReply(r["text"], _buttons(r.get("buttons"))) for r in last.get("replies", [])]
    with force_locale(lang):
        flow = _Flow(session, conv, inp, settings, lang, now)
        replies = flow.run()
    conv = flow.conv
    data = dict(conv.data or {})
    data["options"] = [list(o) for r in replies[-1:] for row in r.buttons or [] for o in row]
    if inp.message_id:
        data["last"] = {"id": inp.message_id, "replies": [asdict(r) for r in replies]}
    conv.data, conv.language, conv.updated_at = data, lang, now
    session.commit()
    return replies


def expire_stale(session: Session, now: dt.datetime | None = None) -> int:
    """Reset filings untouched for EXPIRE_AFTER (also done lazily when the chat writes again)."""
    cutoff = (now or utcnow()) - EXPIRE_AFTER
    rows = session.scalars(
        select(Conversation).where(Conversation.state != "idle", Conversation.updated_at < cutoff)
    ).all()
    for conv in rows:
        conv.state, conv.data = "idle", {}
    session.commit()
    return len(rows)


def _buttons(raw: Any) -> list[list[tuple[str, str]]] | None:
    return [[(str(a), str(b)) for a, b in row] for row in raw] if raw else None


def _load(session: Session, channel: str, chat_id: str, now: dt.datetime) -> Conversation:
    """The chat's row, locked until commit (PostgreSQL) so two workers never interleave."""
    query = select(Conversation).where(
        Conversation.channel == channel, Conversation.chat_id == chat_id
    )
    conv = session.scalars(query.with_for_update()).first()
    if conv is not None:
        return conv
    try:
        with session.begin_nested():
            conv = Conversation(channel=channel, chat_id=chat_id, state="idle", data={},
                                created_at=now, updated_at=now)  # fmt: skip
            session.add(conv)
    except IntegrityError:  # a concurrent worker created it first
        conv = session.scalars(query.with_for_update()).one()
    return conv


class _Flow(FilingSteps):
    """One message's worth of conversation; call run() inside force_locale."""

    def __init__(self, session: Session, conv: Conversation, inp: ChatInput, settings: Settings,
                 lang: str, now: dt.datetime) -> None:  # fmt: skip
        self.session, self.conv, self.inp, self.settings = session, conv, inp, settings
        self.lang, self.now = lang, now
        self.data: dict[str, Any] = dict(conv.data or {})
        self.draft: dict[str, Any] = dict(self.data.get("draft") or {})
        self.replies: list[ChatReply] = []
        self.pending: list[str] = []  # notes that go at the top of the next reply

    # -- entry ---------------------------------------------------------------------------

    def run(self) -> list[ChatReply]:
        if self.conv.state != "idle" and self.now - self.conv.updated_at > EXPIRE_AFTER:
            self._reset()
            self.note(_("Your unfinished submission expired after 24 hours. Let's start again."))
        choice = self._choice()
        command, argument = self._command()
        if command is not None:
            self._on_command(command, argument)
        elif choice in ("new", "list") or (choice or "").startswith("s:"):
            self._on_command({"new": "/new", "list": "/list"}.get(choice or "", "/status"),
                             (choice or "")[2:] if (choice or "").startswith("s:") else "")  # fmt: skip
        elif self.conv.state == "idle":
            self._on_idle(choice)
        else:
            self._absorb_media()
            getattr(self, f"_step_{self.conv.state}")(choice)
        if self.pending:
            self.say(self.pending.pop())
        self._save()
        return self.replies or [self._help()]

    def say(self, text: str, buttons: list[list[tuple[str, str]]] | None = None) -> None:
        """A reply; pending notes go first in the same message (one message per answer)."""
        self.replies.append(ChatReply("\n\n".join([*self.pending, text]), buttons))
        self.pending = []

    def note(self, text: str) -> None:
        self.pending.append(text)

    def say_reply(self, reply: ChatReply) -> None:
        self.say(reply.text, reply.buttons)

    def _save(self) -> None:
        self.data["draft"] = self.draft if self.conv.state != "idle" else {}
        self.conv.data = self.data

    def _reset(self) -> None:
        self.conv.state, self.draft = "idle", {}

    def _choice(self) -> str | None:
        """Callback data, or the option a typed number or label stands for."""
        if self.inp.callback:
            return self.inp.callback
        typed = normal(self.inp.text)
        options = self.data.get("options") or []
        if typed.isdigit() and 1 <= int(typed) <= len(options):
            return str(options[int(typed) - 1][1])
        return next((str(o[1]) for o in options if normal(str(o[0])) == typed and typed), None)

    def _command(self) -> tuple[str | None, str]:
        text = (self.inp.text or "").strip()
        if not text.startswith("/") or self.inp.callback:
            return None, ""
        head, _sep, rest = text.partition(" ")
        return head.split("@", 1)[0].lower(), rest.strip()

    # -- commands ------------------------------------------------------------------------

    def _on_command(self, command: str, argument: str) -> None:
        if command == "/start":
            self._reset()
            self.say(_("Hello! This is the citizen feedback service of the People's Committee.")
                     + "\n\n" + self._help().text, self._help().buttons)  # fmt: skip
        elif command == "/new":
            self._begin()
        elif command == "/cancel":
            busy = self.conv.state != "idle"
            self._reset()
            self.say(_("Cancelled. Nothing was sent.") if busy else _("Nothing to cancel."))
        elif command == "/status":
            ticket = tickets.own_ticket(self.session, self.inp.channel, self.inp.chat_id, argument)
            if ticket is None:
                self.note(_("No submission with code %(code)s was filed from this chat.",
                           code=argument.upper()) if argument
                         else _("You have no submissions from this chat yet. Send /new to file one."))  # fmt: skip
            else:
                self.note(tickets.status_text(self.session, ticket, self.lang))
            self._reprompt()
        elif command == "/list":
            own = tickets.own_tickets(self.session, self.inp.channel, self.inp.chat_id)
            buttons = [[(t.code or "", f"s:{t.code}")] for t in own] or None
            self.say(tickets.list_text(own), buttons)
            self._reprompt()
        elif command == "/help":
            self.say_reply(self._help())
            self._reprompt()
        else:
            self.note(_("Unknown command."))
            if self.conv.state == "idle":
                self.say_reply(self._help())
            self._reprompt()

    def _help(self) -> ChatReply:
        return ChatReply(
            _("You can send feedback, recommendations, complaints and denunciations here.\n"
              "/new – file a new submission\n/status [code] – see the progress of a submission\n"
              "/list – your submissions\n/cancel – stop the submission you are writing\n"
              "While a submission of yours is open, any message you send here within %(days)d "
              "days of its last activity is added to it.", days=tickets.FOLLOW_UP_DAYS),
            [[(_("New submission"), "new"), (_("My submissions"), "list")]],
        )  # fmt: skip

    def _reprompt(self) -> None:
        """After a command in the middle of a filing, ask the pending question again."""
        if self.conv.state != "idle":
            self._ask(self.conv.state)

    # -- idle: follow-ups or a new filing ------------------------------------------------

    def _on_idle(self, choice: str | None) -> None:
        inp = self.inp
        if choice is not None and not (inp.text and not inp.callback):
            if choice == "send" and self.data.get("last_ticket"):
                self.say(_("Already sent, with code %(code)s.", code=self.data["last_ticket"]))
                return
            self.note(_("That choice is no longer open."))
            self.say_reply(self._help())
            return
        text = clean_text(inp.text or "") if inp.text else ""
        if not (text or inp.location or inp.photos):
            self.say_reply(self._help())
            return
        ticket = tickets.follow_up_ticket(self.session, inp.channel, inp.chat_id, self.now)
        if ticket is None and text and len(text) < 10 and not (inp.location or inp.photos):
            self.say_reply(self._help())  # "hi", "xin chào": greet rather than file
            return
        if ticket is None:
            self._begin(description=text)
            return
        conv_id, added = self.conv.id, 0
        if inp.location:
            lat, lng = inp.location
            tickets.add_text(self.session, ticket, _("Location: %(lat).6f, %(lng).6f",
                                                     lat=lat, lng=lng))  # fmt: skip
            added += 1
        for photo in inp.photos:
            checked, error = check_file(photo, self.settings.max_attachment_bytes)
            if checked is None:
                self.note(describe({"attachments": error or "invalid"})["attachments"])
                continue
            tickets.add_photo(self.session, ticket, checked, self.settings.upload_folder,
                              text or None)  # fmt: skip
            text, added = "", added + 1  # the caption went with the photo
        if text:
            tickets.add_text(self.session, ticket, text)
            added += 1
        self.conv = self.session.scalars(
            select(Conversation).where(Conversation.id == conv_id).with_for_update()
        ).one()  # the domain calls committed: take the row again
        if added:
            self.say(_("Added to your submission %(code)s. Send /new to start a new one instead.",
                       code=ticket.code))  # fmt: skip


__all__ = ["ChatInput", "ChatReply", "expire_stale", "handle", "numbered", "settings_from_config"]
