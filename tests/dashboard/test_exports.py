"""CSV and XLSX exports of tickets and events: right rows, and no identity, notes or citizen text."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import update

from service.models import Ticket
from tests.dashboard.conftest import (
    CITIZEN_WORDS,
    DENOUNCER,
    DENOUNCER_EMAIL,
    NOTE,
    PUBLIC_REPLY,
    REJECT_REASON,
)

APRIL = "from=2026-04-01&to=2026-04-30"
SECRETS = (DENOUNCER, DENOUNCER_EMAIL, "12 Hẻm Kín", NOTE, CITIZEN_WORDS, REJECT_REASON)


def _csv(client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8 Vietnamese
    text = raw.decode("utf-8-sig")
    for secret in SECRETS:
        assert secret not in text
    return list(csv.reader(io.StringIO(text)))


def _xlsx(client, url: str) -> list[tuple]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    flat = " ".join(str(v) for row in rows for v in row if v is not None)
    for secret in SECRETS:
        assert secret not in flat
    return rows


def test_ticket_exports_have_the_filtered_rows_and_no_identity(seeded, db, client, login):
    login("dash.sup")
    expected = {f"DSH-{c}" for c in ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T12")}
    rows = _csv(client, f"/dashboard/export/tickets.csv?{APRIL}")
    header, body = rows[0], rows[1:]
    assert {r[0] for r in body} == expected and len(body) == 8
    t4 = next(r for r in body if r[0] == "DSH-T4")
    assert t4[12].startswith("Phản ánh T4")  # title column; no citizen column exists at all
    assert len(header) == 24
    sheet = _xlsx(client, f"/dashboard/export/tickets.xlsx?{APRIL}")
    assert {r[0] for r in sheet[1:]} == expected
    assert sheet[0] == tuple(header)
    # The list behind "resolved late" exports exactly those tickets.
    late = _csv(client, f"/dashboard/export/tickets.csv?{APRIL}&metric=late")
    assert {r[0] for r in late[1:]} == {"DSH-T2", "DSH-T4", "DSH-T10"}


def test_event_exports_keep_only_shareable_bodies(seeded, db, client, login):
    login("dash.sup")
    rows = _csv(client, f"/dashboard/export/events.csv?{APRIL}")
    body = rows[1:]
    # The events of T1 (reply, note), T3 (citizen message) and T4 (refusal), all received in April
    assert sorted(r[0] for r in body) == ["DSH-T1", "DSH-T1", "DSH-T3", "DSH-T4"]
    texts = [r[-1] for r in body]
    assert PUBLIC_REPLY in texts  # a public staff reply on an ordinary ticket is kept
    assert sum(1 for t in texts if t) == 1  # note, citizen text and the confidential refusal: empty
    sheet = _xlsx(client, f"/dashboard/export/events.xlsx?{APRIL}")
    assert len(sheet) == 5 and PUBLIC_REPLY in [r[-1] for r in sheet]


def test_formula_like_text_is_neutralised(seeded, db, app, client, login):
    with app.app_context():
        db.session.execute(
            update(Ticket).where(Ticket.code == "DSH-T1").values(title='=HYPERLINK("x","y")')
        )
        db.session.commit()
    login("dash.sup")
    rows = _csv(client, f"/dashboard/export/tickets.csv?{APRIL}&metric=responded")
    t1 = next(r for r in rows if r[0] == "DSH-T1")
    assert '\'=HYPERLINK("x","y")' in t1
    sheet = _xlsx(client, f"/dashboard/export/tickets.xlsx?{APRIL}&metric=responded")
    assert '\'=HYPERLINK("x","y")' in next(r for r in sheet if r[0] == "DSH-T1")


def test_exports_of_an_empty_selection_still_open(seeded, client, login):
    login("dash.sup")
    assert len(_csv(client, "/dashboard/export/tickets.csv?from=2020-01-01&to=2020-01-31")) == 1
    assert len(_xlsx(client, "/dashboard/export/events.xlsx?from=2020-01-01&to=2020-01-31")) == 1
    assert client.get("/dashboard/export/other.csv").status_code == 404
