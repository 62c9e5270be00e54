"""The one place HTML from outside is cleaned (bleach allowlist); swapping to nh3 is this file only.

Citizen text is stored as plain text and escaped on output; only HTML that must be shown as HTML
(an inbound email's HTML body) goes through `clean_html`.
"""

from __future__ import annotations

import re

import bleach

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "td": ["colspan", "rowspan"],
                      "th": ["colspan", "rowspan"], "abbr": ["title"]}  # fmt: skip
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
# bleach's strip=True keeps the text inside removed elements; these elements' text is code, not
# content, so they go entirely before bleach parses the rest.
_DROP_WITH_CONTENT = re.compile(
    r"<(script|style|template|noscript|iframe|object|title|head)\b.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)


def clean_html(html: str) -> str:
    """Allowlisted, well-formed HTML: no scripts, styles, event handlers, images or forms."""
    if not html:
        return ""
    html = _DROP_WITH_CONTENT.sub("", html)
    cleaned = bleach.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
    )
    return cleaned.strip()
