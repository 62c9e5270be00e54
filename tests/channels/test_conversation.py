"""The shared chat conversation, driven in-process with provider-neutral inputs: guided filing,
numbered answers, own-ticket queries, the free-text rule, expiry and idempotency."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from channels.conversation import ChatInput, ChatReply, handle, numbered, settings_from_config
from service.domain import handling
from service.domain.attachments import IncomingFile
from service.domain.intake import InboundTicket, receive
from service.models import Category, Conversation, Ticket, User, utcnow
from tests.channels.conftest import png_bytes

_ids = itertools.count(1)


class Talk:
    """One chat user; each say() is one message through the conversation."""

    def __init__(self, app: Any, db: Any, channel: str = "telegram", chat: str = "501",
                 lang: str = "vi", name: str | None = "Nguyễn Văn An") -> None:  # fmt: skip
        self.app, self.db, self.channel, self.chat, self.lang, self.name = (
            app, db, channel, chat, lang, name)  # fmt: skip

    def say(self, text: str | None = None, *, callback: str | None = None,
            location: tuple[float, float] | None = None, photos: list[IncomingFile] | None = None,
            message_id: str | None = None, now: dt.datetime | None = None) -> list[ChatReply]:  # fmt: skip
        inp = ChatInput(channel=self.channel, user_id=self.chat, chat_id=self.chat, text=text,
                        callback=callback, location=location, photos=photos or [],
                        language=self.lang, display_name=self.name,
                        message_id=message_id or f"m{next(_ids)}")  # fmt: skip
        with self.app.test_request_context():
            replies = handle(self.db.session, inp, settings_from_config(self.app.config), now=now)
            self.db.session.remove()
        return replies

    def state(self) -> str:
        with self.app.app_context():
            conv = self.db.session.scalars(select(Conversation).where(
                Conversation.channel == self.channel, Conversation.chat_id == self.chat)).first()  # fmt: skip
            state = conv.state if conv else "none"
            self.db.session.remove()
        return state


def button(replies: list[ChatReply], data_prefix: str, label: str | None = None) -> str:
    """The callback data of a button in the last reply (by label when given)."""
    options = [o for row in replies[-1].buttons or [] for o in row]
    found = [
        d for lab, d in options if d.startswith(data_prefix) and (label is None or lab == label)
    ]
    assert found, f"no {data_prefix!r} button in {options}"
    return found[0]


def category_id(app: Any, db: Any, code: str) -> int:
    with app.app_context():
        value = db.session.scalar(select(Category.id).where(Category.code == code))
        db.session.remove()
        return int(value)


def tickets(app: Any, db: Any) -> list[Ticket]:
    with app.app_context():
        rows = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        for t in rows:  # load what the assertions read before the session goes
            _ = (t.reply_contact, t.citizen, t.attachments, t.category, t.events)
        db.session.expunge_all()
        db.session.remove()
        return list(rows)


def file_via_chat(talk: Talk, category: str = "env") -> str:
    """A complete filing with buttons; returns the code given in the last reply."""
    talk.say("/new")
    talk.say(callback="k:feedback")
    talk.say(callback=f"c:{category_id(talk.app, talk.db, category)}")
    talk.say("Đèn đường hỏng\nĐèn đường trước số 12 Lê Lợi không sáng đã một tuần.")
    talk.say(callback="skip")
    talk.say(callback="done")
    final = talk.say(callback="send")
    code = tickets(talk.app, talk.db)[-1].code or ""
    assert code and code in final[-1].text
    return code


def test_guided_filing_with_buttons_creates_a_ticket_answered_on_the_chat(
    app: Any, conversations: Any
) -> None:
    talk = Talk(app, conversations)
    start = talk.say("/start")
    assert "/status" in start[0].text and start[0].buttons
    kinds = talk.say(callback=button(start, "new"))
    assert [d for row in kinds[-1].buttons for _l, d in row] == [
        "k:feedback", "k:recommendation", "k:complaint", "k:denunciation"]  # fmt: skip
    categories = talk.say(callback="k:feedback")
    env = category_id(app, conversations, "env")
    assert f"c:{env}" in [d for row in categories[-1].buttons for _l, d in row]
    talk.say(callback=f"c:{env}")
    assert talk.state() == "describe"
    location = talk.say("Rác thải ùn ứ trước chợ Hàn\nRác tồn đọng ba ngày, bốc mùi nặng.")
    assert button(location, "skip") == "skip"
    talk.say(location=(16.0678, 108.2208))
    kept = talk.say(photos=[IncomingFile("a.png", png_bytes(1))])
    assert "1" in kept[-1].text and talk.state() == "photos"
    summary = talk.say("xong")
    assert talk.state() == "confirm" and "16.067800" in summary[-1].text
    done = talk.say(callback=button(summary, "send"))
    [ticket] = tickets(app, conversations)
    assert ticket.code in done[-1].text and "http://pakn.test/track/" in done[-1].text
    assert (ticket.channel, ticket.kind, ticket.category.code) == ("telegram", "feedback", "env")
    assert ticket.title == "Rác thải ùn ứ trước chợ Hàn"
    assert ticket.description.endswith("bốc mùi nặng.")
    assert (ticket.latitude, ticket.longitude) == (16.0678, 108.2208)
    assert [a.content_type for a in ticket.attachments] == ["image/png"]
    assert (ticket.reply_contact.channel, ticket.reply_contact.external_id) == ("telegram", "501")
    assert ticket.citizen.full_name == "Nguyễn Văn An"
    assert talk.state() == "idle"


def test_numbers_and_labels_answer_the_options_as_on_zalo(app: Any, conversations: Any) -> None:
    talk = Talk(app, conversations, channel="zalo_bot", chat="zb-77", name=None)
    kinds = talk.say("/new")
    text = numbered(kinds[-1])
    assert "1. " in text and "4. " in text
    categories = talk.say("2")  # recommendation
    labels = [lab for row in categories[-1].buttons for lab, _d in row]
    talk.say(labels[1].upper())  # a label typed instead of its number
    talk.say("Đề nghị lắp thêm đèn chiếu sáng ở hẻm 45 Trần Phú, buổi tối rất tối.")
    talk.say("Hẻm 45 Trần Phú, phường Hải Châu")
    talk.say("xong")
    talk.say("1")  # Send
    [ticket] = tickets(app, conversations)
    assert ticket.kind == "recommendation" and ticket.channel == "zalo_bot"
    assert ticket.address == "Hẻm 45 Trần Phú, phường Hải Châu"
    with app.app_context():
        second_category = conversations.session.scalars(
            select(Category).where(Category.active.is_(True)).order_by(Category.id)
        ).all()[1]
        assert ticket.category_id == second_category.id
        conversations.session.remove()
    assert ticket.citizen.full_name is None  # no display name given: nothing invented


def test_status_and_list_show_only_the_chats_own_tickets(app: Any, conversations: Any) -> None:
    mine, other = Talk(app, conversations, chat="601"), Talk(app, conversations, chat="602")
    my_code = file_via_chat(mine)
    other_code = file_via_chat(other, "traffic")
    assert other_code != my_code
    refused = mine.say(f"/status {other_code.lower()}")
    assert other_code in refused[0].text and "Lê Lợi" not in refused[0].text
    latest = mine.say("/status")
    assert my_code in latest[0].text and "http://pakn.test/track/" in latest[0].text
    listed = mine.say("/list")
    assert my_code in listed[0].text and other_code not in listed[0].text
    shown = mine.say(callback=f"s:{my_code}")
    assert shown[0].text.startswith(my_code)


def test_free_text_goes_to_the_open_ticket_within_seven_days_then_starts_a_new_filing(
    app: Any, conversations: Any
) -> None:
    talk = Talk(app, conversations, chat="701")
    code = file_via_chat(talk)
    added = talk.say("Bổ sung: đèn số 2 cũng hỏng.")
    assert code in added[0].text and talk.state() == "idle"
    [ticket] = tickets(app, conversations)
    assert [(e.kind, e.body) for e in ticket.events][-1] == (
        "info_added",
        "Bổ sung: đèn số 2 cũng hỏng.",
    )
    photo = talk.say(photos=[IncomingFile("b.png", png_bytes(2))])
    assert code in photo[0].text
    [ticket] = tickets(app, conversations)
    assert len(ticket.attachments) == 1 and ticket.attachments[0].event_id is not None
    later = utcnow() + dt.timedelta(days=8)
    fresh = talk.say("Cống thoát nước bị tắc ở đường Hùng Vương, nước tràn lên.", now=later)
    assert talk.state() == "kind" and fresh[-1].buttons
    talk.say("/cancel")
    talk.say("/new")  # /new starts a filing even while a ticket is open
    assert talk.state() == "kind"


def test_a_ticket_waiting_for_information_takes_the_text_and_resumes(
    app: Any, conversations: Any
) -> None:
    talk = Talk(app, conversations, chat="702")
    code = file_via_chat(talk)
    with app.app_context():
        session = conversations.session
        ticket = session.scalars(select(Ticket).where(Ticket.code == code)).one()
        handling.route_ticket(session, ticket.id)
        officer = session.scalars(select(User).where(User.username == "canbo.haichau")).one()
        handling.apply_action(session, ticket, "accept", actor=officer)
        handling.apply_action(session, ticket, "request_info", actor=officer,
                              body="Xin cho biết số cột đèn.")  # fmt: skip
        session.remove()
    talk.say("Cột số 14.", now=utcnow() + dt.timedelta(days=20))  # waiting tickets have no limit
    [ticket] = tickets(app, conversations)
    assert ticket.status == "accepted"
    assert ticket.events[-1].kind == "info_provided" and ticket.events[-1].body == "Cột số 14."


def test_a_redelivered_message_gets_the_same_replies_without_a_second_step(
    app: Any, conversations: Any
) -> None:
    talk = Talk(app, conversations, chat="801")
    talk.say("/new")
    first = talk.say(callback="k:complaint", message_id="dup-1")
    again = talk.say(callback="k:complaint", message_id="dup-1")
    assert first == again and talk.state() == "category"


def test_complaints_ask_for_the_full_name_and_explain_the_legal_form(
    app: Any, conversations: Any
) -> None:
    talk = Talk(app, conversations, chat="802", name="Lê Thị Hoa")
    talk.say("/new")
    talk.say(callback="k:complaint")
    talk.say(callback=f"c:{category_id(app, conversations, 'land')}")
    asked = talk.say("Khiếu nại quyết định thu hồi đất số 123 của UBND phường.")
    assert talk.state() == "name" and asked[-1].buttons == [[("Lê Thị Hoa", "n:me")]]
    talk.say("A")  # too short: asked again
    assert talk.state() == "name"
    talk.say(callback="n:me")
    talk.say(callback="skip")
    summary = talk.say(callback="done")
    assert "Lê Thị Hoa" in summary[-1].text
    talk.say(callback="send")
    [ticket] = tickets(app, conversations)
    assert ticket.kind == "complaint" and ticket.citizen.full_name == "Lê Thị Hoa"


def test_english_users_get_english_and_can_cancel(app: Any, conversations: Any) -> None:
    talk = Talk(app, conversations, chat="803", lang="en-US")
    asked = talk.say("/new")
    assert asked[-1].text == "What would you like to send?"
    cancelled = talk.say("/cancel")
    assert cancelled[0].text == "Cancelled. Nothing was sent." and talk.state() == "idle"
    assert talk.say("/cancel")[0].text == "Nothing to cancel."


def test_an_unfinished_filing_expires_after_a_day(app: Any, conversations: Any) -> None:
    talk = Talk(app, conversations, chat="804", lang="en")
    talk.say("/new")
    talk.say(callback="k:feedback")
    replies = talk.say(callback="c:1", now=utcnow() + dt.timedelta(hours=25))
    assert "expired" in replies[0].text
    assert talk.state() == "idle"


def test_pressing_send_twice_files_one_ticket(app: Any, conversations: Any) -> None:
    talk = Talk(app, conversations, chat="805", lang="en")
    code = file_via_chat(talk)
    again = talk.say(callback="send")
    assert code in again[0].text and len(tickets(app, conversations)) == 1


@pytest.mark.parametrize("text", ["ngắn", "/unknown"])
def test_bad_answers_are_explained_and_the_question_repeated(
    app: Any, conversations: Any, text: str
) -> None:
    talk = Talk(app, conversations, chat="806", lang="en")
    talk.say("/new")
    talk.say(callback="k:feedback")
    talk.say(callback=f"c:{category_id(app, conversations, 'env')}")
    replies = talk.say(text)
    assert talk.state() == "describe" and len(replies) >= 1
    assert len(replies) == 1  # the explanation and the question again, in one message
    assert replies[0].text.startswith(("Please write at least a sentence", "Unknown command"))
    assert "Please describe the problem" in replies[0].text


def test_a_ticket_filed_on_another_channel_is_listed_but_not_a_follow_up_target(
    app: Any, conversations: Any
) -> None:
    """The hotline operator recorded the chat id: /status shows it, free text does not join it."""
    with app.app_context():
        code = receive(conversations.session, InboundTicket(
            channel="hotline", kind="feedback", category_code="env", title="Phản ánh qua 1022",
            description="Cuộc gọi tới tổng đài về rác thải.", citizen_name="Võ Văn Tư",
            chat_contact=("telegram", "901")), settings_from_config(app.config)).code  # fmt: skip
        conversations.session.remove()
    talk = Talk(app, conversations, chat="901")
    assert code in talk.say("/status")[0].text
    talk.say("Nội dung mới về một việc khác hoàn toàn.")
    assert talk.state() == "kind"
