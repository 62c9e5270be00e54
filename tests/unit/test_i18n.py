"""The Vietnamese catalog: complete, placeholder-safe, in sync with the sources and compiled.

No database or other service is needed. To fix a failure: `scripts/i18n.sh extract`, `update`,
translate the new entries in service/translations/vi/LC_MESSAGES/messages.po, `compile`.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask_babel import Babel
from flask_babel import gettext as flask_gettext
from jinja2 import Environment
from jinja2.ext import extract_from_ast

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service"
TRANSLATIONS = SERVICE / "translations"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# Same keywords as scripts/i18n.sh (Babel's defaults already include _ and gettext).
EXTRA_KEYWORDS = ("_l", "lazy_gettext")
GETTEXT_NAMES = {"_", "gettext", "ngettext", "pgettext", "npgettext", *EXTRA_KEYWORDS}
GETTEXT_NAMES |= {"lazy_ngettext", "lazy_pgettext"}

PLACEHOLDER = re.compile(r"%\((\w+)\)[a-z]")


def msgids(message_id: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


def msgstrs(string: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if string is None:
        return ("",)
    return string if isinstance(string, tuple) else (string,)


def show(ids: list[str]) -> str:
    return "\n  " + "\n  ".join(repr(i) for i in ids)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="vi")


@pytest.fixture(scope="module")
def messages(catalog: Catalog) -> list:
    return [m for m in catalog if m.id]


def test_catalog_is_vietnamese(catalog: Catalog) -> None:
    assert str(catalog.locale) == "vi"
    assert catalog.plural_forms == "nplurals=1; plural=0;"


def test_every_message_translated_and_not_fuzzy(messages: list) -> None:
    assert messages, "the catalog is empty"
    untranslated = [m.id for m in messages if not all(s.strip() for s in msgstrs(m.string))]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not untranslated, "untranslated msgids:" + show(untranslated)
    assert not fuzzy, "fuzzy msgids (review, then drop the fuzzy flag):" + show(fuzzy)


def test_placeholders_match(messages: list) -> None:
    bad = []
    for m in messages:
        wanted = {p for i in msgids(m.id) for p in PLACEHOLDER.findall(i)}
        for s in msgstrs(m.string):
            if set(PLACEHOLDER.findall(s)) != wanted:
                bad.append(f"{m.id!r} -> {s!r}")
    assert not bad, "placeholders differ between msgid and msgstr:" + show(bad)


def stray_percents(text: str) -> int:
    return PLACEHOLDER.sub("", text).replace("%%", "").count("%")


def test_no_stray_percent_signs(messages: list) -> None:
    # Jinja's new-style gettext always applies `msgstr % variables`, so a lone % that the msgid
    # does not have (e.g. "100%" in a translation) can break a page that works in English.
    bad = []
    for m in messages:
        allowed = max(stray_percents(i) for i in msgids(m.id))
        for s in msgstrs(m.string):
            if stray_percents(s) != allowed:
                bad.append(f"{m.id!r} -> {s!r}")
    assert not bad, "a literal % in a msgstr must be written %%:" + show(bad)


def test_babel_checks_pass(catalog: Catalog) -> None:
    problems = [f"{m.id!r}: {[str(e) for e in errors]}" for m, errors in catalog.check()]
    assert not problems, "babel catalog checks failed:" + show(problems)


def test_gettext_calls_use_literal_strings() -> None:
    # Babel silently skips _(variable) or _(f"..."): such text can never be translated.
    bad = []
    for path in sorted(SERVICE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in GETTEXT_NAMES or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    env = Environment(extensions=["jinja2.ext.i18n"])
    for path in sorted((SERVICE / "templates").rglob("*")):
        if path.suffix not in (".html", ".txt"):
            continue
        tree = env.parse(path.read_text(encoding="utf-8"))
        for lineno, func, strings in extract_from_ast(tree, babel_style=True):
            first = strings[0] if isinstance(strings, tuple) else strings
            if first is None:
                bad.append(f"{path.relative_to(ROOT)}:{lineno}: {func}(<not a literal>)")
    assert not bad, "gettext calls whose text cannot be extracted:" + show(bad)


def test_catalog_covers_every_source_string(catalog: Catalog, tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    keywords = [arg for k in EXTRA_KEYWORDS for arg in ("-k", k)]
    cmd = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg"]
    cmd += [*keywords, "-o", str(pot), "."]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    with pot.open("rb") as f:
        template = read_po(f)
    extracted = [m.id for m in template if m.id]
    assert len(extracted) > 50, "extraction found too few messages; is babel.cfg right?"
    missing = [i for i in extracted if i not in catalog]
    assert not missing, (
        "msgids in the sources but not in the vi catalog "
        "(run scripts/i18n.sh, then translate them):" + show([str(i) for i in missing])
    )
    stale = [str(m.id) for m in catalog if m.id and m.id not in template]
    assert not stale, "msgids in the vi catalog no longer in the sources:" + show(stale)


def test_compiled_mo_matches_po(messages: list) -> None:
    assert MO.exists(), "run scripts/i18n.sh compile"
    with MO.open("rb") as f:
        mo = gettext.GNUTranslations(f)
    entries = {k: v for k, v in mo._catalog.items() if k != ""}  # type: ignore[attr-defined]
    expected = sum(len(msgstrs(m.string)) if m.pluralizable else 1 for m in messages)
    assert len(entries) == expected, "the .mo differs from the .po; run scripts/i18n.sh compile"
    singular = [m for m in messages if not m.pluralizable]
    stale = [m.id for m in singular if mo.gettext(m.id) != m.string]
    assert not stale, "the .mo is out of date for:" + show(stale)
    assert mo.gettext("Send feedback") == "Gửi phản ánh"
    assert mo.gettext("Staff login") == "Cán bộ đăng nhập"
    assert mo.gettext("Denunciation") == "Tố cáo"


def test_flask_babel_loads_the_catalog() -> None:
    # Same setup as create_app: translations/ relative to the service package, vi by default.
    app = Flask("service", root_path=str(SERVICE))
    Babel(app, default_locale="vi", default_translation_directories="translations")
    with app.test_request_context("/"):
        assert flask_gettext("Send") == "Gửi"
        assert flask_gettext("Ticket %(code)s was filed.", code="PA-1") == (
            "Đã tiếp nhận hồ sơ PA-1."
        )
        rendered = render_template_string('{{ _("extended %(n)s×", n=2) }} {{ _("Send") }}')
        assert rendered == "đã gia hạn 2 lần Gửi"
