"""IMAP intake: fetch unseen mail without marking it, store it raw, flag or move it after commit.

A crash between the database commit and the flag only means the next poll fetches the message
again; the unique (mailbox, UIDVALIDITY, UID) receipt and the unique Message-ID key (the raw
inbound row) make that a no-op, and the message is flagged then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain.intake import store_raw
from service.models import EmailReceipt, InboundMessage, utcnow

from .mime import encode_raw, message_key

log = logging.getLogger(__name__)
CHANNEL = "email"
# One name → a lock held while that mailbox is polled (a Redis lock in the worker), or None.
LockFactory = Callable[[str], AbstractContextManager[bool]]


class RawMailMessage(MailMessage):
    """imap-tools' message that also keeps the exact bytes the server sent."""

    def __init__(self, fetch_data: list[Any]) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    user: str
    password: str
    port: int = 993
    ssl: bool = True
    starttls: bool = False
    folder: str = "INBOX"
    processed_folder: str | None = None
    timeout: int = 30

    @property
    def key(self) -> str:
        return f"{self.user}@{self.host.lower()}:{self.port}/{self.folder}"[:255]


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    stored: int = 0
    known: int = 0
    flagged: int = 0
    errors: list[str] = field(default_factory=list)


def _truthy(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _one(entry: Mapping[str, Any], config: Mapping[str, Any]) -> MailboxSettings:
    """Keys as in the environment (IMAP_HOST…) or bare (host…); missing ones from the config."""

    def get(name: str) -> Any:
        for key in (name, name.upper(), f"IMAP_{name.upper()}"):
            if entry.get(key) not in (None, ""):
                return entry[key]
        return None

    ssl = _truthy(get("ssl"), True)
    host, user = get("host"), get("user")
    if not host or not user:
        raise ValueError("every IMAP mailbox needs host and user")
    return MailboxSettings(
        host=str(host),
        user=str(user),
        password=str(get("password") or ""),
        port=int(get("port") or (993 if ssl else 143)),
        ssl=ssl,
        starttls=_truthy(get("starttls"), False),
        folder=str(get("folder") or "INBOX"),
        processed_folder=get("processed_folder") or None,
        timeout=int(config.get("IMAP_TIMEOUT") or 30),
    )


def mailbox_settings(config: Mapping[str, Any]) -> list[MailboxSettings]:
    """IMAP_MAILBOXES (a JSON list, or a list in tests) or the single IMAP_* mailbox; [] = off."""
    boxes = config.get("IMAP_MAILBOXES")
    if isinstance(boxes, str):
        try:
            boxes = json.loads(boxes)
        except json.JSONDecodeError as exc:
            raise ValueError(f"IMAP_MAILBOXES is not valid JSON: {exc}") from exc
    if boxes:
        if not isinstance(boxes, list) or not all(isinstance(b, Mapping) for b in boxes):
            raise ValueError("IMAP_MAILBOXES must be a JSON list of objects")
        return [_one(b, config) for b in boxes]
    if not config.get("IMAP_HOST"):
        return []
    single = {k[5:].lower(): v for k, v in config.items() if k.startswith("IMAP_")}
    return [_one(single, config)]


def enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("IMAP_HOST") or config.get("IMAP_MAILBOXES"))


def connect(settings: MailboxSettings) -> BaseMailBox:
    box: BaseMailBox
    if settings.ssl:
        box = MailBox(settings.host, settings.port, timeout=settings.timeout)
    elif settings.starttls:
        box = MailBoxStartTls(settings.host, settings.port, timeout=settings.timeout)
    else:
        box = MailBoxUnencrypted(settings.host, settings.port, timeout=settings.timeout)
    box.email_message_class = RawMailMessage
    return box.login(settings.user, settings.password, initial_folder=settings.folder)


def store_fetched(
    session: Session, mailbox: str, uidvalidity: int | None, uid: int | None, raw: bytes
) -> bool:
    """Keep one fetched copy; True if it was new. Safe to repeat and to run concurrently."""
    if uid is not None:
        seen = session.scalar(
            select(EmailReceipt.id).where(
                EmailReceipt.mailbox == mailbox,
                EmailReceipt.uidvalidity == uidvalidity,
                EmailReceipt.uid == uid,
            )
        )
        if seen is not None:
            session.rollback()
            return False
    key, _ = message_key(raw)
    inbound = store_raw(session, CHANNEL, key, encode_raw(raw))
    created = inbound is not None
    if inbound is None:  # the same Message-ID was stored before (another mailbox, a re-poll)
        inbound_id = session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.channel == CHANNEL, InboundMessage.external_id == key
            )
        )
    else:
        inbound_id = inbound.id
    if (
        uid is None
        and not created
        and session.scalar(
            select(EmailReceipt.id).where(
                EmailReceipt.mailbox == mailbox, EmailReceipt.message_key == key
            )
        )
    ):
        session.rollback()  # a UID-less copy is fetched on every poll: record it once
        return False
    session.add(EmailReceipt(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
                             message_key=key, inbound_id=inbound_id))  # fmt: skip
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent poll of the same mailbox recorded this copy
    return created


def _uid(message: MailMessage) -> int | None:
    return int(message.uid) if message.uid and message.uid.isdigit() else None


def _mark_done(box: BaseMailBox, settings: MailboxSettings, uids: list[int]) -> None:
    if not uids:
        return
    uid_set = ",".join(str(u) for u in uids)
    if settings.processed_folder:
        box.move(uid_set, settings.processed_folder)
    else:
        # A plain UID STORE: imap-tools' flag() also EXPUNGEs, which is not ours to do.
        status, data = box.client.uid("STORE", uid_set, "+FLAGS", r"(\Seen)")
        if status != "OK":
            raise OSError(f"IMAP STORE failed: {data!r}")


def _record_flags(session: Session, mailbox: str, uidvalidity: int | None,
                  uids: Iterable[int]) -> None:  # fmt: skip
    rows = session.scalars(
        select(EmailReceipt).where(
            EmailReceipt.mailbox == mailbox,
            EmailReceipt.uidvalidity == uidvalidity,
            EmailReceipt.uid.in_(list(uids)),
        )
    ).all()
    now = utcnow()
    for row in rows:
        row.flagged_at = row.flagged_at or now
    session.commit()


def poll_mailbox(
    session: Session, settings: MailboxSettings, limit: int = 200, flag: bool = True
) -> PollResult:
    """One pass over one folder. flag=False stores without flagging (a crash, for tests)."""
    result = PollResult(settings.key)
    with connect(settings) as box:
        if settings.processed_folder and not box.folder.exists(settings.processed_folder):
            box.folder.create(settings.processed_folder)
        uidvalidity = box.folder.status(settings.folder, ["UIDVALIDITY"]).get("UIDVALIDITY")
        # Moved mail leaves the folder, so everything there is to do; otherwise only unseen.
        criteria = "ALL" if settings.processed_folder else AND(seen=False)
        done: list[int] = []
        for message in box.fetch(criteria, mark_seen=False, limit=limit, bulk=20):
            result.fetched += 1
            uid = _uid(message)
            if store_fetched(session, settings.key, uidvalidity, uid, message.raw):
                result.stored += 1
            else:
                result.known += 1
            if uid is None:
                log.warning("%s: a message without UID cannot be flagged", settings.key)
            else:
                done.append(uid)
        if flag and done:
            _mark_done(box, settings, done)
            _record_flags(session, settings.key, uidvalidity, done)
            result.flagged = len(done)
    return result


def redis_lock(redis: Any, timeout: int = 600) -> LockFactory:
    """Locks shared by every worker, so one mailbox is polled by one of them at a time."""

    @contextmanager
    def factory(name: str) -> Iterator[bool]:
        lock = redis.lock(name, timeout=timeout, blocking=False)
        acquired = bool(lock.acquire())
        try:
            yield acquired
        finally:
            if acquired:
                with suppress(Exception):  # expired meanwhile: nothing left to release
                    lock.release()

    return factory


def poll_all(
    session: Session, config: Mapping[str, Any], lock: LockFactory | None = None,
    flag: bool = True,
) -> list[PollResult]:  # fmt: skip
    """Poll every configured mailbox; one failing mailbox does not stop the others."""
    try:
        boxes = mailbox_settings(config)
    except ValueError as exc:
        log.error("IMAP settings: %s", exc)
        return [PollResult("IMAP settings", errors=[str(exc)])]
    results = []
    for settings in boxes:
        guard = lock(f"pakn:mail-poll:{settings.key}") if lock else nullcontext(True)
        with guard as acquired:
            if not acquired:
                results.append(PollResult(settings.key, errors=["busy: polled elsewhere"]))
                continue
            try:
                results.append(
                    poll_mailbox(session, settings, int(config.get("IMAP_BATCH") or 200), flag)
                )
            except Exception as exc:  # noqa: BLE001  (network, login, server errors alike)
                session.rollback()
                log.warning("polling %s failed: %s", settings.key, exc)
                results.append(PollResult(settings.key, errors=[f"{type(exc).__name__}: {exc}"]))
    return results
