"""Zalo Official Account end to end: signed webhooks, the shared conversation, the OA message API
(the fake on 127.0.0.1), token refresh under a Redis lock, and the email fallback on -230."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from typing import Any

from sqlalchemy import func, select

from service.extensions import db as _db
from service.models import Delivery, InboundMessage, Setting, Ticket
from tests.channels_zalo.conftest import post_event, sign, zalo_event
from tests.conftest import wait_for
from tests.fakes.zalo_oa_api import FakeZaloOA

USER = "8412345678901234567"


def _count(app: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        value = _db.session.scalar(select(func.count()).select_from(model).where(*where))
        _db.session.remove()
        return int(value or 0)


def _stored_tokens(app: Any) -> dict[str, Any]:
    with app.app_context():
        raw = _db.session.scalar(select(Setting.value).where(Setting.key == "zalo_oa.tokens"))
        _db.session.remove()
        return json.loads(raw) if raw else {}


def _file_ticket(app: Any, user_id: str, email: str | None = None) -> str:
    """A ticket as the conversation files it: channel zalo_oa, answered on the user's chat."""
    from service.domain.intake import InboundTicket, Settings, receive

    with app.app_context():
        received = receive(_db.session, InboundTicket(
            channel="zalo_oa", kind="feedback", category_code="env",
            title="Rác thải ùn ứ trước chợ", description="Rác tồn đọng ba ngày, bốc mùi.",
            area_code="DN-HAICHAU", email=email, chat_contact=("zalo_oa", user_id),
        ), Settings(upload_folder=app.config["UPLOAD_FOLDER"]))  # fmt: skip
        code = received.ticket.code
        _db.session.remove()
        return code  # type: ignore[return-value]


def _sweep(app: Any) -> None:
    """One scheduler round: deliveries waiting for their retry time are queued again."""
    from workers.sweeper import sweep

    with app.app_context():
        sweep(_db.session)
        _db.session.remove()


def _deliveries(app: Any, code: str) -> list[tuple[str, str, str, str, int]]:
    with app.app_context():
        rows = _db.session.execute(
            select(Delivery.channel, Delivery.recipient, Delivery.template, Delivery.state,
                   Delivery.attempts)
            .join(Ticket, Ticket.id == Delivery.ticket_id)
            .where(Ticket.code == code)
            .order_by(Delivery.id)
        ).all()  # fmt: skip
        _db.session.remove()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _settled(app: Any, code: str) -> list[tuple[str, str, str, str, int]]:
    """The ticket's deliveries once none is still being sent (the provider may see a message a
    moment before the worker commits its state)."""

    def done() -> list[tuple[str, str, str, str, int]]:
        rows = _deliveries(app, code)
        return rows if rows and all(r[3] in ("sent", "failed") for r in rows) else []

    return wait_for(done)


def _event_kinds(app: Any, code: str) -> list[tuple[str, dict[str, Any] | None]]:
    with app.app_context():
        ticket = _db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        kinds = [(e.kind, e.data) for e in ticket.events]
        _db.session.remove()
        return kinds


# --- webhook: authentication, replay window, deduplication --------------------------------


def test_webhook_is_404_when_the_channel_has_no_settings(client):
    response = post_event(client, zalo_event("user_send_text", USER, msg_id="m-1", text="Chào"))
    assert response.status_code == 404
    assert _count(client.application, InboundMessage) == 0


def test_forged_missing_and_stale_signatures_are_refused(zalo_oa_app, client):
    event = zalo_event("user_send_text", USER, msg_id="m-forged", text="Xin chào")
    body = json.dumps(event).encode()
    assert post_event(client, event, signature=None).status_code == 403
    assert post_event(client, event, signature="mac=" + "0" * 64).status_code == 403
    assert post_event(client, event, signature="sha256=" + sign(body, event["timestamp"])[4:]
                      ).status_code == 403  # fmt: skip
    wrong_key = sign(body, event["timestamp"], secret="not-the-oa-secret")
    assert post_event(client, event, signature=wrong_key).status_code == 403
    # A correctly signed body altered in transit.
    tampered = client.post("/webhooks/zalo-oa", data=body.replace(b"Xin", b"Xim"),
                           headers={"X-ZEvent-Signature": sign(body, event["timestamp"])})  # fmt: skip
    assert tampered.status_code == 403
    # A correctly signed event replayed after the window (10 minutes old).
    stale = zalo_event("user_send_text", USER, msg_id="m-stale", text="Xin chào",
                       timestamp_ms=int((time.time() - 600) * 1000))  # fmt: skip
    assert post_event(client, stale).status_code == 403
    future = zalo_event("user_send_text", USER, msg_id="m-future", text="Xin chào",
                        timestamp_ms=int((time.time() + 600) * 1000))  # fmt: skip
    assert post_event(client, future).status_code == 403
    garbage = client.post("/webhooks/zalo-oa", data=b"not json",
                          headers={"X-ZEvent-Signature": sign(b"not json", "1")})  # fmt: skip
    assert garbage.status_code == 403
    assert _count(zalo_oa_app, InboundMessage) == 0


def test_redelivered_events_are_stored_once(zalo_oa_app, client):
    event = zalo_event("user_send_text", USER, msg_id="m-dup", text="Đèn đường hỏng")
    first, second = post_event(client, event), post_event(client, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["duplicate"] is True
    follow = zalo_event("follow", USER)
    assert post_event(client, follow).status_code == 200
    assert post_event(client, follow).get_json()["duplicate"] is True
    # Receipts Zalo also posts (seen, delivered) are acknowledged and not kept.
    seen = zalo_event("user_seen_message", USER, msg_id="m-seen")
    assert post_event(client, seen).get_json() == {"ignored": True}
    with zalo_oa_app.app_context():
        stored = _db.session.execute(
            select(InboundMessage.channel, InboundMessage.external_id).order_by(InboundMessage.id)
        ).all()
        _db.session.remove()
    assert [tuple(r) for r in stored] == [
        ("zalo_oa", "m-dup"),
        ("zalo_oa", f"follow:{USER}:{follow['timestamp']}"),
    ]


# --- the conversation, end to end -----------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200


def _option(text: str, *labels: str) -> str:
    """The number a Zalo user types to pick the option shown as 'N. label' (any translation)."""
    for label in labels:
        match = re.search(rf"^(\d+)\. {re.escape(label)}$", text, re.MULTILINE)
        if match:
            return match.group(1)
    raise AssertionError(f"no option {labels!r} in {text!r}")


class ZaloUser:
    """A citizen chatting with the OA: each event is a signed webhook POST, each answer is read
    from what the OA sent through the (fake) message API."""

    def __init__(self, client: Any, api: FakeZaloOA, user_id: str) -> None:
        self.client, self.api, self.user_id, self.count = client, api, user_id, 0

    def send(self, event_name: str, **fields: Any) -> str:
        self.count += 1
        seen = len(self.api.texts_to(self.user_id))
        msg_id = None if event_name == "follow" else f"{self.user_id}-{self.count}"
        event = zalo_event(event_name, self.user_id, msg_id=msg_id, **fields)
        self.last_event = event
        assert post_event(self.client, event).status_code == 200
        wait_for(lambda: len(self.api.texts_to(self.user_id)) > seen)
        return "\n\n".join(self.api.texts_to(self.user_id)[seen:])


def test_citizen_files_through_the_oa_and_gets_the_officer_reply(
    zalo_oa_app, zalo_oa_api, zalo_worker, client
):
    from service.domain.handling import apply_action
    from service.models import Category

    zalo_worker.start(1)
    with zalo_oa_app.app_context():
        env_name = _db.session.scalars(select(Category).where(Category.code == "env")).one().name_vi
        _db.session.remove()
    user = ZaloUser(client, zalo_oa_api, USER)

    greeting = user.send("follow")
    assert "/new" in greeting and "1. " in greeting
    asked_kind = user.send(
        "user_send_text", text="Rác thải ùn ứ ba ngày trước chợ Hàn, bốc mùi rất khó chịu."
    )
    asked_category = user.send("user_send_text", text=_option(asked_kind, "Phản ánh", "Feedback"))
    asked_location = user.send("user_send_text", text=_option(asked_category, env_name))
    assert "📎" in asked_location  # the description was kept from the first message
    location = [{"type": "location", "payload": {"coordinates": {"latitude": "16.0678",
                                                                 "longitude": "108.2208"}}}]  # fmt: skip
    asked_photos = user.send("user_send_location", text="", attachments=location)
    assert "xong" in asked_photos
    url = zalo_oa_api.host_file("rac-cho-han.jpg", JPEG)
    kept = user.send("user_send_image", text="",
                     attachments=[{"type": "image", "payload": {"url": url, "thumbnail": url}}])  # fmt: skip
    assert kept  # answered; the photo is checked on the ticket below
    summary = user.send("user_send_text", text="xong")
    assert "16.067800" in summary and env_name in summary
    filed = user.send("user_send_text", text=_option(summary, "Gửi", "Send"))
    code = re.search(r"PA-\d{4}-\d{6}", filed).group(0)

    # Zalo redelivers the confirming message: acknowledged, no second ticket.
    assert post_event(client, user.last_event).get_json()["duplicate"] is True
    assert _count(zalo_oa_app, Ticket) == 1

    # Routed by the worker; the receipt comes back on Zalo.
    wait_for(lambda: [t for t in zalo_oa_api.texts_to(USER)[-1:] if code in t and t != filed])
    with zalo_oa_app.app_context():
        ticket = _db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        assert (ticket.channel, ticket.status, ticket.kind) == ("zalo_oa", "routed", "feedback")
        assert ticket.agency_id is not None
        assert (round(ticket.latitude, 4), round(ticket.longitude, 4)) == (16.0678, 108.2208)
        assert [a.content_type for a in ticket.attachments] == ["image/jpeg"]
        assert ticket.reply_contact.channel == "zalo_oa"
        assert ticket.reply_contact.external_id == USER
        apply_action(_db.session, ticket, "accept", actor_label="officer")
        _db.session.commit()
        ticket = _db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        apply_action(_db.session, ticket, "reply", actor_label="officer",
                     body="Ban quản lý chợ đã thu gom rác sáng nay.")  # fmt: skip
        _db.session.commit()
        _db.session.remove()
    wait_for(lambda: [t for t in zalo_oa_api.texts_to(USER) if "thu gom rác sáng nay" in t])
    assert all(d[3] == "sent" for d in _settled(zalo_oa_app, code))


def test_unfollowed_user_gets_notices_by_email(zalo_oa_app, zalo_oa_api, zalo_worker, client,
                                               mailbox):  # fmt: skip
    zalo_worker.start(1)
    code = _file_ticket(zalo_oa_app, USER, email="roi-di@example.com")
    wait_for(lambda: zalo_oa_api.texts_to(USER))  # receipt on Zalo while following
    sent = len(zalo_oa_api.state.messages)
    assert post_event(client, zalo_event("unfollow", USER)).status_code == 200
    wait_for(lambda: _count(zalo_oa_app, InboundMessage, InboundMessage.state == "processed"))
    assert len(zalo_oa_api.state.messages) == sent  # nothing is said to a user who left

    from service.domain.handling import apply_action

    with zalo_oa_app.app_context():
        ticket = _db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        apply_action(_db.session, ticket, "accept", actor_label="officer")
        _db.session.commit()
        _db.session.remove()
    mail = wait_for(lambda: mailbox.to("roi-di@example.com"))[0]
    assert code in mail["Subject"]
    assert len(zalo_oa_api.state.messages) == sent
    assert "delivery_fallback" in [kind for kind, _ in _event_kinds(zalo_oa_app, code)]


# --- sending: outages, token expiry, reply window -----------------------------------------


def test_provider_outage_is_retried_and_nothing_is_lost(zalo_oa_app, zalo_oa_api, zalo_worker):
    zalo_oa_api.fail_next("500", "timeout", "500")
    zalo_worker.start(1)
    code = _file_ticket(zalo_oa_app, USER)

    def receipt_arrived() -> list[str]:
        _sweep(zalo_oa_app)
        return [t for t in zalo_oa_api.texts_to(USER) if code in t]

    wait_for(receipt_arrived, timeout=60, interval=0.5)
    ((channel, recipient, template, state, attempts),) = _settled(zalo_oa_app, code)
    assert (channel, recipient, template, state) == ("zalo_oa", USER, "receipt", "sent")
    assert attempts == 4  # three failures, then success
    assert len(zalo_oa_api.texts_to(USER)) == 1  # retried, never doubled


def test_expired_token_is_refreshed_and_the_send_retried_once(zalo_oa_app, zalo_oa_api,
                                                              zalo_worker):  # fmt: skip
    zalo_worker.start(1)
    code = _file_ticket(zalo_oa_app, USER)
    wait_for(lambda: zalo_oa_api.texts_to(USER))
    zalo_oa_api.expire_access_tokens()  # 25 hours later

    from service.domain.handling import apply_action

    with zalo_oa_app.app_context():
        ticket = _db.session.scalars(select(Ticket).where(Ticket.code == code)).one()
        apply_action(_db.session, ticket, "accept", actor_label="officer")
        _db.session.commit()
        _db.session.remove()
    wait_for(lambda: len(zalo_oa_api.texts_to(USER)) == 2)
    (new_access, new_refresh) = zalo_oa_api.state.issued[0]
    assert len(zalo_oa_api.state.issued) == 1
    assert zalo_oa_api.state.messages[-1].access_token == new_access
    stored = _stored_tokens(zalo_oa_app)
    assert (stored["access_token"], stored["refresh_token"]) == (new_access, new_refresh)
    assert zalo_oa_api.usable_refresh_tokens() == [new_refresh]
    assert [d[3] for d in _settled(zalo_oa_app, code)] == ["sent", "sent"]


def test_outside_reply_window_falls_back_to_email(zalo_oa_app, zalo_oa_api, zalo_worker,
                                                  mailbox):  # fmt: skip
    zalo_oa_api.close_window(USER)
    zalo_worker.start(1)
    code = _file_ticket(zalo_oa_app, USER, email="dan@example.com")
    mail = wait_for(lambda: mailbox.to("dan@example.com"))[0]
    assert code in mail["Subject"]
    assert zalo_oa_api.texts_to(USER) == []
    deliveries = _settled(zalo_oa_app, code)  # the email delivery exists once the mail came
    assert [(d[0], d[1], d[2], d[3]) for d in deliveries] == [
        ("zalo_oa", USER, "receipt", "failed"),
        ("email", "dan@example.com", "receipt", "sent"),
    ]
    assert deliveries[0][4] == 1  # -230 is not retried
    fallback = [data for kind, data in _event_kinds(zalo_oa_app, code)
                if kind == "delivery_fallback"]  # fmt: skip
    assert len(fallback) == 1
    assert fallback[0]["channel"] == "zalo_oa" and fallback[0]["fallback_channel"] == "email"
    assert "-230" in fallback[0]["error"]


def test_outside_reply_window_without_other_contact_is_recorded(zalo_oa_app, zalo_oa_api,
                                                                zalo_worker):  # fmt: skip
    zalo_oa_api.close_window(USER)
    zalo_worker.start(1)
    code = _file_ticket(zalo_oa_app, USER)
    wait_for(lambda: [d for d in _deliveries(zalo_oa_app, code) if d[3] == "failed"])
    kinds = [kind for kind, _ in _event_kinds(zalo_oa_app, code)]
    assert "delivery_failed" in kinds and "delivery_fallback" not in kinds
    assert len(_deliveries(zalo_oa_app, code)) == 1


def test_long_text_goes_out_as_several_messages(zalo_oa_app, zalo_oa_api):
    import channels

    text = "\n".join(f"Dòng {i}: " + "ý kiến " * 20 for i in range(40))  # about 6,000 chars
    with zalo_oa_app.app_context():
        channels.get("zalo_oa", zalo_oa_app.config).send_text(USER, text)
        _db.session.remove()
    parts = zalo_oa_api.texts_to(USER)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text


# --- token store ---------------------------------------------------------------------------


def test_token_is_seeded_then_refreshed_before_it_expires(zalo_oa_app, zalo_oa_api):
    import channels

    with zalo_oa_app.app_context():
        store = channels.get("zalo_oa", zalo_oa_app.config).tokens()
        seeded = store.current()
        assert (seeded.access_token, seeded.expires_at) == ("first-access-token", None)
        first = store.refresh(seeded.access_token)
        assert store.current() == first  # far from expiry: used as is
        assert zalo_oa_api.state.issued == [(first.access_token, first.refresh_token)]
        # Within the margin before expiry the next use refreshes first.
        renewed = store.current(now=first.expires_at - 60)
        assert renewed.access_token != first.access_token
        assert len(zalo_oa_api.state.issued) == 2
        # A caller holding an already replaced token does not refresh again.
        assert store.refresh(first.access_token) == renewed
        assert len(zalo_oa_api.state.issued) == 2
        assert zalo_oa_api.state.refused_refreshes == []
        _db.session.remove()


def _race(env: dict[str, str], barrier: Any, results: Any, index: int) -> None:
    """One worker-like process: its own app, database and Redis connections."""
    os.environ.update(env)
    import channels
    from service import create_app

    app = create_app()
    with app.app_context():
        channel = channels.get("zalo_oa", app.config)
        channel.tokens().read()  # the pair every process holds before the token expires
        barrier.wait(timeout=60)
        message_id = channel.send_text(USER, f"Tin số {index}")
        results.put((index, message_id, channel.tokens().read().access_token))


def test_several_workers_refreshing_at_once_leave_one_valid_token(
    zalo_oa_app, zalo_oa_api: FakeZaloOA, service_env, zalo_oa_env
):
    import channels

    with zalo_oa_app.app_context():
        channels.get("zalo_oa", zalo_oa_app.config).tokens().read()  # seeded
        _db.session.remove()
    zalo_oa_api.expire_access_tokens()
    zalo_oa_api.refresh_delay = 0.5  # the others queue on the lock meanwhile
    ctx = multiprocessing.get_context("spawn")
    processes = 4
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    env = {**service_env, **zalo_oa_env}
    procs = [ctx.Process(target=_race, args=(env, barrier, results, i)) for i in range(processes)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(processes)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(zalo_oa_api.state.issued) == 1  # exactly one refresh reached Zalo
    assert zalo_oa_api.state.refused_refreshes == []  # nobody reused a spent refresh token
    (new_access, new_refresh) = zalo_oa_api.state.issued[0]
    assert {token for _, _, token in outcomes} == {new_access}
    assert all(message_id for _, message_id, _ in outcomes)
    assert sorted(zalo_oa_api.texts_to(USER)) == [f"Tin số {i}" for i in range(processes)]
    assert {m.access_token for m in zalo_oa_api.state.messages} == {new_access}
    assert zalo_oa_api.valid_access_tokens() == [new_access]
    assert zalo_oa_api.usable_refresh_tokens() == [new_refresh]
    assert _stored_tokens(zalo_oa_app)["refresh_token"] == new_refresh
