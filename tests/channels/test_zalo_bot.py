"""Zalo Bot platform end to end against the fake Bot API on 127.0.0.1 and real RQ workers:
secret check, dedup on message_id, the shared conversation answered with numbers, officer
replies back in the chat, 2000-character messages, outages and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from channels.base import OutboundMessage, PermanentError, TransientError
from channels.zalo_bot import ZaloBotChannel
from service.domain import handling
from service.domain.intake import InboundTicket, Settings, receive
from service.extensions import db as _db
from service.models import Delivery, InboundMessage, Ticket, User
from tests.channels.conftest import ZB_SECRET, Chat, png_bytes, post_zb, zb_update
from tests.conftest import wait_for

USER = "6d2f0c3a9b1e4d77"


def count(app: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        value = _db.session.scalar(select(func.count()).select_from(model).where(*where))
        _db.session.remove()
        return int(value or 0)


def the_ticket(app: Any) -> Ticket:
    with app.app_context():
        ticket = _db.session.scalars(select(Ticket)).one()
        _ = (ticket.reply_contact, ticket.attachments, ticket.category)
        _db.session.expunge_all()
        _db.session.remove()
        return ticket


def delivery_states(app: Any, ticket_id: int) -> list[str]:
    with app.app_context():
        states = _db.session.scalars(
            select(Delivery.state).where(Delivery.ticket_id == ticket_id).order_by(Delivery.id)
        ).all()
        _db.session.remove()
        return list(states)


@pytest.mark.parametrize("secret", [None, "", "not-the-secret", ZB_SECRET.upper()])
def test_a_forged_or_missing_secret_is_refused_and_nothing_stored(
    zalo_bot_app: Any, client: Any, secret: str | None
) -> None:
    assert post_zb(client, zb_update(USER, text="Xin chào"), secret=secret).status_code == 403
    assert count(zalo_bot_app, InboundMessage) == 0


def test_the_same_message_delivered_twice_is_stored_once(zalo_bot_app: Any, client: Any) -> None:
    update = zb_update(USER, text="Xin chào", message_id="zm-dup-1")
    assert post_zb(client, update).json == {"ok": True, "duplicate": False}
    assert post_zb(client, update).json == {"ok": True, "duplicate": True}
    assert count(zalo_bot_app, InboundMessage, InboundMessage.external_id == "zm-dup-1") == 1
    no_id = {"ok": True, "result": {"event_name": "message.text.received", "message": {}}}
    assert post_zb(client, no_id).json["ignored"] is True
    assert post_zb(client, {"ok": True, "result": "x"}).status_code == 400


def test_a_citizen_files_with_numbered_answers_and_the_reply_arrives_in_zalo(
    zalo_bot_app: Any, client: Any, zalo_bot_api: Any, zalo_bot_worker: Any
) -> None:
    zalo_bot_worker.start(2)
    chat = Chat(client, zalo_bot_api, USER, post_zb)  # type: ignore[arg-type]
    first = chat.send(
        zb_update(USER, text="Ống nước vỡ trên đường Hoàng Diệu, nước chảy lênh láng.")
    )
    assert first[0].text.startswith("Let's file a new submission")  # one message per answer
    assert "\n1. " in first[-1].text and "\n4. " in first[-1].text  # the kinds, numbered
    chat.send(zb_update(USER, text="1"))
    asked = chat.send(zb_update(USER, text="3"))  # third category
    assert "1. " in asked[-1].text  # "1. Skip"
    chat.send(zb_update(USER, text="Số 88 Hoàng Diệu, phường Hải Châu"))
    photo = zalo_bot_api.host_file("pipe.png", png_bytes(11))
    chat.send(zb_update(USER, photo_url=photo))
    summary = chat.send(zb_update(USER, text="xong"))
    assert "Số 88 Hoàng Diệu" in summary[-1].text and "1. " in summary[-1].text
    done = chat.send(zb_update(USER, text="1"))
    ticket = the_ticket(zalo_bot_app)
    assert ticket.code in done[-1].text
    assert (ticket.channel, ticket.kind, ticket.address) == ("zalo_bot", "feedback",
                                                             "Số 88 Hoàng Diệu, phường Hải Châu")  # fmt: skip
    assert ticket.title == "Ống nước vỡ trên đường Hoàng Diệu, nước chảy lênh láng."
    assert (ticket.reply_contact.channel, ticket.reply_contact.external_id) == ("zalo_bot", USER)
    assert len(ticket.attachments) == 1
    wait_for(lambda: delivery_states(zalo_bot_app, ticket.id) == ["sent"], timeout=30)
    with zalo_bot_app.app_context():
        session = _db.session
        officer = session.scalars(select(User).where(User.username == "canbo.vanphong")).one()
        row = session.get(Ticket, ticket.id)
        handling.apply_action(session, row, "accept", actor=officer)
        handling.apply_action(session, row, "reply", actor=officer,
                              body="Công ty cấp nước đã khóa van và sửa ống.")  # fmt: skip
        session.remove()
    wait_for(lambda: any("đã khóa van" in t for t in zalo_bot_api.texts_to(USER)), timeout=30)
    assert all(len(t) <= 2000 for t in zalo_bot_api.texts_to(USER))


def test_long_texts_go_as_several_messages_of_at_most_2000_characters(
    zalo_bot_app: Any, zalo_bot_api: Any
) -> None:
    text = "\n".join(f"Đoạn {i}: " + "nội dung trả lời " * 8 for i in range(30))
    assert len(text) > 2000
    ZaloBotChannel(zalo_bot_app.config).send(OutboundMessage(USER, "s", text))
    sent = zalo_bot_api.texts_to(USER)
    assert len(sent) == 3 and all(len(t) <= 2000 for t in sent)
    assert "\n".join(sent) == text


@pytest.mark.parametrize(("mode", "error"), [("500", TransientError), ("timeout", TransientError),
                                             ("400", PermanentError), ("403", PermanentError),
                                             ("refused", PermanentError)])  # fmt: skip
def test_errors_map_to_retry_or_give_up(zalo_bot_app: Any, zalo_bot_api: Any, mode: str,
                                        error: type[Exception]) -> None:  # fmt: skip
    zalo_bot_api.fail_next(mode)
    with pytest.raises(error):
        ZaloBotChannel(zalo_bot_app.config).send(OutboundMessage(USER, "s", "Xin chào"))


def test_an_outage_is_retried_until_the_notice_is_sent(
    zalo_bot_app: Any, zalo_bot_api: Any, zalo_bot_worker: Any
) -> None:
    from workers.sweeper import sweep

    zalo_bot_api.go_down("timeout")
    zalo_bot_worker.start(1)
    with zalo_bot_app.app_context():
        ticket_id = receive(_db.session, InboundTicket(
            channel="zalo_bot", kind="feedback", category_code="env", title="Rác thải ven sông",
            description="Rác thải đổ trộm ven sông Hàn.", chat_contact=("zalo_bot", USER),
        ), Settings(upload_folder=zalo_bot_app.config["UPLOAD_FOLDER"])).ticket_id  # fmt: skip
        _db.session.remove()
    wait_for(lambda: delivery_states(zalo_bot_app, ticket_id) == ["retry"], timeout=30)
    zalo_bot_api.go_down(None)

    def sent() -> bool:
        with zalo_bot_app.app_context():
            sweep(_db.session)
            _db.session.remove()
        return delivery_states(zalo_bot_app, ticket_id) == ["sent"]

    wait_for(sent, timeout=40, interval=0.5)
    assert len(zalo_bot_api.texts_to(USER)) == 1


def test_set_webhook_command_registers_url_and_secret(zalo_bot_app: Any, zalo_bot_api: Any) -> None:
    result = zalo_bot_app.test_cli_runner().invoke(
        args=["zalo-bot-set-webhook", "https://pakn.example.vn/webhooks/zalo-bot"]
    )
    assert result.exit_code == 0, result.output
    assert zalo_bot_api.state.webhook == {"url": "https://pakn.example.vn/webhooks/zalo-bot",
                                          "secret_token": ZB_SECRET}  # fmt: skip
