"""Each mail makes one ticket, whatever happens: re-polls, a crash between the commit and the
\\Seen flag, the same mail in two mailboxes, a repeated job, no Message-ID, no UID."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, select, update

from channels.email.poll import poll_all, store_fetched
from service.inbound import process_inbound
from service.models import EmailReceipt, InboundEmail, InboundMessage, Ticket
from tests.channels_email.conftest import SECOND, mailbox_entry
from tests.channels_email.mails import mail


def _count(app: Any, db: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        value = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return int(value or 0)


def _raw_count(app: Any, db: Any) -> int:
    # Raw rows only: receive() also keeps a "…|ticket" row for its own idempotency.
    return _count(app, db, InboundMessage, InboundMessage.channel == "email",
                  InboundMessage.payload.is_not(None))  # fmt: skip


def test_crash_between_commit_and_flag_then_repoll(app, db, imap, intake):
    imap.append(mail())
    # The poller stored and committed, then died before flagging: the mail is still unseen.
    intake(flag=False)
    assert [flags for _, flags in imap.messages()] == [""]
    assert _count(app, db, Ticket) == 1

    intake()  # fetched again: recognised by (mailbox, UIDVALIDITY, UID), only flagged now
    intake()  # and nothing left to fetch
    assert [flags for _, flags in imap.messages()] == ["\\Seen"]
    assert _count(app, db, Ticket) == 1 and _raw_count(app, db) == 1
    with app.app_context():
        receipts = db.session.scalars(select(EmailReceipt)).all()
        assert len(receipts) == 1
        assert receipts[0].uid == imap.messages()[0][0] and receipts[0].uidvalidity
        assert receipts[0].flagged_at is not None and receipts[0].inbound_id is not None
        db.session.remove()


def test_processing_the_same_mail_again_makes_nothing_new(app, db, imap, intake):
    imap.append(mail())
    intake()
    with app.app_context():
        raw_id = db.session.scalar(
            select(InboundMessage.id).where(InboundMessage.payload.is_not(None))
        )
        # A retried job after the outcome was recorded…
        db.session.execute(update(InboundMessage).where(InboundMessage.id == raw_id)
                           .values(state="new"))  # fmt: skip
        db.session.commit()
        assert process_inbound(db.session, raw_id) == "processed"
        # …and one that died after the ticket's commit but before recording the outcome.
        db.session.execute(delete(InboundEmail))
        db.session.execute(update(InboundMessage).where(InboundMessage.id == raw_id)
                           .values(state="new"))  # fmt: skip
        db.session.commit()
        assert process_inbound(db.session, raw_id) == "processed"
        outcome = db.session.scalars(select(InboundEmail)).one()
        assert outcome.outcome == "ticket" and outcome.ticket_id is not None
        db.session.remove()
    assert _count(app, db, Ticket) == 1


def test_the_same_mail_in_two_mailboxes_is_one_ticket(app, db, imap, intake, mail_config):
    raw = mail()
    imap.append(raw)
    imap.append(raw, user=SECOND)
    config = {**mail_config, "IMAP_MAILBOXES": [mailbox_entry(imap), mailbox_entry(imap, SECOND)]}
    intake(config)

    assert _count(app, db, Ticket) == 1 and _raw_count(app, db) == 1
    assert _count(app, db, EmailReceipt) == 2  # one copy per mailbox, both flagged
    assert [f for _, f in imap.messages()] == [f for _, f in imap.messages(SECOND)] == ["\\Seen"]


def test_mail_without_message_id(app, db, imap, intake, mail_config):
    raw = mail(message_id=None)
    imap.append(raw)
    imap.append(raw, user=SECOND)
    intake(flag=False)
    config = {**mail_config, "IMAP_MAILBOXES": [mailbox_entry(imap), mailbox_entry(imap, SECOND)]}
    intake(config)  # a re-poll of the first copy and a second copy with other trace headers

    assert _count(app, db, Ticket) == 1 and _raw_count(app, db) == 1
    with app.app_context():
        key = db.session.scalar(select(InboundMessage.external_id).where(
            InboundMessage.payload.is_not(None)))  # fmt: skip
        db.session.remove()
    assert key.startswith("sha256:")


def test_uid_none_falls_back_to_the_message_key(app, db):
    with app.app_context():
        with_id, without_id = mail(), mail(message_id=None)
        for raw in (with_id, without_id):
            assert store_fetched(db.session, "box", 7, None, raw) is True
            assert store_fetched(db.session, "box", 7, None, raw) is False
        db.session.remove()
    assert _raw_count(app, db) == 2
    assert _count(app, db, EmailReceipt, EmailReceipt.uid.is_(None)) == 2  # one per mail


def test_processed_folder_mode_moves_mail(app, db, imap, intake, mail_config):
    imap.append(mail())
    config = {**mail_config,
              "IMAP_MAILBOXES": [mailbox_entry(imap, processed_folder="PAKN-Processed")]}  # fmt: skip
    intake(config)
    intake(config)
    assert imap.messages() == []
    assert len(imap.messages(folder="PAKN-Processed")) == 1
    assert _count(app, db, Ticket) == 1


def test_a_mailbox_polled_elsewhere_is_skipped(app, db, imap, mail_config):
    @contextmanager
    def busy(name: str) -> Any:
        yield False

    imap.append(mail())
    with app.app_context():
        [result] = poll_all(db.session, mail_config, lock=busy)
        db.session.remove()
    assert result.errors == ["busy: polled elsewhere"] and result.fetched == 0
    assert [f for _, f in imap.messages()] == [""]


def test_an_unreachable_mailbox_does_not_stop_the_others(app, db, imap, mail_config):
    from tests.conftest import free_port

    imap.append(mail())
    dead = {"host": "127.0.0.1", "port": free_port(), "ssl": False, "user": "x@y.z",
            "password": "p"}  # fmt: skip
    config = {**mail_config, "IMAP_TIMEOUT": 2,
              "IMAP_MAILBOXES": [dead, mailbox_entry(imap)]}  # fmt: skip
    with app.app_context():
        first, second = poll_all(db.session, config)
        db.session.remove()
    assert first.errors and second.stored == 1 and not second.errors
