"""Strip quoted history from a reply: mail-parser-reply plus a Vietnamese entry of our own.

mail-parser-reply finds where the quoted part starts (Gmail "On … wrote:", Outlook "From: … Sent:"
blocks, "-----Original Message-----"); it has no Vietnamese, so `vi` is added to its language
table here ("Vào … đã viết:", Outlook's "Từ: … Đã gửi: …", "-----Thư gốc-----"). Lines quoted
with ">" that it leaves (inline answers) are dropped afterwards.
"""

from __future__ import annotations

import re
import unicodedata

from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE
from mailparser_reply.parser import EmailMessage as ReplyText

LANGUAGES = ["vi", "en"]

MAIL_LANGUAGES.setdefault(
    "vi",
    {
        # Gmail: "Vào Th 5, 20 thg 11, 2025 vào lúc 10:15 Tên <a@b> đã viết:" (may wrap once);
        # Thunderbird: "Vào 20/11/2025 10:15, Tên viết:".
        "wrote_header": r"^("
        + QUOTED_MATCH_INCLUDE
        + r"V[àa]o\s(?:.+?\s?.+?)\s?(?:đã\s)?vi[ếe]t\s?:)$",
        # Outlook in Vietnamese: "Từ:/Đã gửi:/Đến:/Chủ đề:" blocks, optionally after "Thư gốc".
        "from_header": r"((?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + r")?-{3,} ?Th(?:ư|u) g(?:ố|o)c ?-{3,}\n)?(?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + r")[* ]*(?:Từ|Đã gửi|Gửi|Đến|Tới|Chủ đề|Tiêu đề|Ngày|Cc|Bcc):[ *]*(?:\s{,2}).*){2,}"
        r"(?:\n.*){,1})",
        "disclaimers": ["Lưu ý:", "Cảnh báo:", "Bảo mật:"],
        "signatures": ["Trân trọng", "Thân ái", "Cảm ơn,", "Xin cảm ơn,"],
        "sent_from": "Gửi từ|Được gửi từ",
    },
)

_QUOTED_LINE = re.compile(r"^\s*>")


def strip_quotes(text: str) -> str:
    """The new part of a reply: text above the first quote header, without "> " lines."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n")
    if not text.strip():
        return ""
    parsed = ReplyText(text=text, languages=list(LANGUAGES)).read()
    if not parsed.replies:
        return ""
    first = parsed.replies[0]
    # The library skips an empty part before the first header: then nothing new was written.
    if first.headers:
        return ""
    lines = [line for line in first.content.split("\n") if not _QUOTED_LINE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
