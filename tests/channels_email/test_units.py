"""Pure pieces of the email channel: quote stripping, MIME reading, the HTML sanitizer, settings,
the scheduler's poll and the `flask mail-poll` command."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue

import channels
from channels.email.mime import clean_subject, html_to_text, message_key, parse
from channels.email.poll import enabled, mailbox_settings
from channels.email.quotes import strip_quotes
from service.sanitize import clean_html
from tests.channels_email.conftest import mailbox_entry
from tests.channels_email.mails import mail

NEW = "Tôi bổ sung: rác vẫn chưa được thu gom."


@pytest.mark.parametrize(
    "quoted",
    [
        # Gmail in Vietnamese, attribution wrapped onto two lines.
        "Vào Th 5, 20 thg 11, 2025 vào lúc 10:15 PAKN <\npakn@test.localhost> đã viết:\n\n"
        "> Xin chào,\n> Hồ sơ PA-2025-000001 đã được tiếp nhận.",
        # Thunderbird in Vietnamese.
        "Vào 20/11/2025 10:15, PAKN viết:\n> Xin chào",
        # Outlook in Vietnamese.
        "Từ: PAKN <pakn@test.localhost>\nĐã gửi: Thứ Năm, 20 tháng 11, 2025 10:15\n"
        "Đến: dan@example.com\nChủ đề: [PA-2025-000001] Đã tiếp nhận\n\nXin chào",
        "-----Thư gốc-----\nTừ: PAKN <pakn@test.localhost>\nGửi: 20/11/2025\nChủ đề: x\n\nXin chào",
        # Gmail in English.
        "On Thu, Nov 20, 2025 at 10:15 AM PAKN <pakn@test.localhost> wrote:\n> Hello",
        # Outlook in English, with and without the separator line.
        "-----Original Message-----\nFrom: PAKN <pakn@test.localhost>\n"
        "Sent: Thursday, November 20, 2025 10:15 AM\nTo: dan@example.com\nSubject: x\n\nHello",
        "From: PAKN <pakn@test.localhost>\nSent: Thursday, November 20, 2025 10:15 AM\n"
        "To: dan@example.com\nSubject: x\n\nHello",
        # Bare "> " quoting.
        "> Xin chào,\n> hồ sơ đã được tiếp nhận.",
    ],
)
def test_quoted_history_is_stripped(quoted: str) -> None:
    assert strip_quotes(f"{NEW}\n\n{quoted}\n") == NEW


def test_quote_stripping_keeps_the_citizens_own_text() -> None:
    text = "Vào sáng nay tôi thấy rác.\n- Ở ngõ 5\n- Ở ngõ 7\nTrân trọng,\nDân"
    assert strip_quotes(text) == text
    assert strip_quotes("> câu hỏi?\ntrả lời một\n> câu nữa?\ntrả lời hai") == (
        "trả lời một\ntrả lời hai"
    )
    assert strip_quotes("On Mon, 1 Jan 2025 X <x@y.z> wrote:\n> only a quote") == ""
    # Mac clients may send decomposed Vietnamese letters.
    decomposed = "Vào 20/11/2025 10:15, PAKN viết:\n> Xin chào".replace("à", "a\u0300")
    assert strip_quotes(f"{NEW}\n\n{decomposed}") == NEW


def test_message_key_ignores_trace_headers_when_there_is_no_message_id() -> None:
    raw = mail(message_id=None)
    relayed = b"Received: from mx1 by mx2; Thu, 20 Nov 2025\r\nDelivered-To: x@y.z\r\n" + raw
    assert message_key(raw) == message_key(relayed)
    assert message_key(raw)[0].startswith("sha256:") and message_key(raw)[1] is None
    long_id = "<" + "x" * 300 + "@example.com>"
    key, message_id = message_key(mail(message_id=long_id))
    assert message_id == long_id and key.startswith("sha256:") and len(key) < 255


def test_parse_reads_names_subjects_and_threading_headers() -> None:
    parsed = parse(mail(subject="=?utf-8?b?VEw6IFJlOiDEkMOobiBoxY1uZw==?=", in_reply_to="<a@b>",
                        references=["<r1@b>", "<a@b>"]))  # fmt: skip
    assert parsed.sender == "dan@example.com" and parsed.sender_name == "Nguyễn Văn Dân"
    assert parsed.thread_ids() == ["<a@b>", "<r1@b>"]
    assert clean_subject("TL: Re: Fwd:  Đèn   hỏng") == "Đèn hỏng"
    assert html_to_text("<p>a<br>b</p><ul><li>c</li></ul><style>x</style>") == "a\nb\n\n- c"


def test_clean_html_allowlist() -> None:
    dirty = ('<div style="x" onmouseover="e()">Hi <b>b</b><SCRIPT>evil()</SCRIPT>'
             '<iframe src="https://x"></iframe><a href="javascript:x()">j</a>'
             '<a href="mailto:a@b.vn" onclick="x">m</a><form><input name=p></form></div>')  # fmt: skip
    cleaned = clean_html(dirty).replace("\n", "")
    assert cleaned == '<div>Hi <b>b</b><a>j</a><a href="mailto:a@b.vn">m</a></div>'
    assert clean_html("") == ""


def test_mailbox_settings() -> None:
    assert mailbox_settings({}) == [] and not enabled({})
    [single] = mailbox_settings({"IMAP_HOST": "imap.example.vn", "IMAP_USER": "pakn@example.vn",
                                 "IMAP_PASSWORD": "p", "IMAP_FOLDER": "INBOX"})  # fmt: skip
    assert (single.port, single.ssl, single.folder, single.processed_folder) == (
        993,
        True,
        "INBOX",
        None,
    )
    boxes = mailbox_settings({"IMAP_MAILBOXES": (
        '[{"host": "a.vn", "user": "u1", "password": "p", "ssl": false},'
        ' {"IMAP_HOST": "b.vn", "IMAP_USER": "u2", "IMAP_PORT": 1993,'
        '  "IMAP_PROCESSED_FOLDER": "Done"}]')})  # fmt: skip
    assert [(b.host, b.port, b.ssl, b.processed_folder) for b in boxes] == [
        ("a.vn", 143, False, None), ("b.vn", 1993, True, "Done"),
    ]  # fmt: skip
    assert boxes[0].key == "u1@a.vn:143/INBOX"
    with pytest.raises(ValueError, match="not valid JSON"):
        mailbox_settings({"IMAP_MAILBOXES": "[{"})
    with pytest.raises(ValueError, match="host and user"):
        mailbox_settings({"IMAP_MAILBOXES": '[{"host": "a.vn"}]'})


def test_email_has_no_webhook() -> None:
    assert channels.get("email", {"SMTP_HOST": "x"}).webhook_path is None
    assert channels.by_webhook_path("email") is None


def test_scheduler_enqueues_a_poll_per_interval(app, db) -> None:
    from workers.scheduler import every

    with app.app_context():
        first = every("poll_mailboxes", float("-inf"), 60)
        assert every("poll_mailboxes", first, 60) == first  # not due yet: nothing more enqueued
        queue = Queue("default", connection=Redis.from_url(app.config["REDIS_URL"]))
        jobs = [job.func_name for job in queue.get_jobs()]
    assert jobs == ["workers.jobs.poll_mailboxes"]


def test_mail_poll_command(app, db, imap, monkeypatch) -> None:
    runner = app.test_cli_runner()
    assert "Email intake is off" in runner.invoke(args=["mail-poll"]).output
    monkeypatch.setitem(app.config, "IMAP_MAILBOXES", [mailbox_entry(imap)])
    imap.append(mail())
    result = runner.invoke(args=["mail-poll"])
    assert result.exit_code == 0
    assert "fetched 1, stored 1, already known 0, flagged 1" in result.output
    monkeypatch.setitem(app.config, "IMAP_MAILBOXES", "[not json")
    result = runner.invoke(args=["mail-poll"])
    assert result.exit_code == 1 and "IMAP_MAILBOXES is not valid JSON" in result.output
