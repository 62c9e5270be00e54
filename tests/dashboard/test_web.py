"""The dashboard pages: figures and charts as shown, scope per role, drill-down lists."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard.conftest import DENOUNCER, DENOUNCER_EMAIL

APRIL = "from=2026-04-01&to=2026-04-30"


def _cell(page: str, figure: str, column: str = "current") -> tuple[str, str | None]:
    """(text, drill-down link) of one figure of the summary table."""
    row = re.search(rf'<tr data-figure="{figure}">(.*?)</tr>', page, re.S)
    assert row, figure
    cell = re.search(rf'<td class="{column}">(.*?)</td>', row.group(1), re.S).group(1)
    link = re.search(r'href="([^"]+)"', cell)
    text = re.sub(r"<small>.*?</small>", "", cell)
    return re.sub(r"<[^>]+>", "", text).strip(), html.unescape(link.group(1)) if link else None


def _get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:1500]
    return response.get_data(as_text=True)


def test_supervisor_overview_figures_and_previous_period(seeded, client, login):
    login("dash.sup")
    page = _get(client, f"/dashboard/?{APRIL}")
    assert _cell(page, "received")[0] == "8"
    assert _cell(page, "resolved")[0] == "5"
    assert _cell(page, "on_time_rate")[0] == "40.0%"
    assert _cell(page, "open")[0] == "3" and _cell(page, "overdue")[0] == "1"
    assert _cell(page, "first_response_p90")[0] == "2.6"
    assert _cell(page, "resolution_median")[0] == "6"
    assert _cell(page, "received", "previous")[0] == "4"
    assert _cell(page, "on_time_rate", "previous")[0] == "50.0%"
    assert _cell(page, "resolution_p90", "previous")[0] == "12"
    assert "02/03/2026 – 31/03/2026" in page
    # The ranking: A2 (1 of 2 on time) before A1 (1 of 3); B is outside this supervisor's tree.
    ranking = re.search(r'<table class="breakdown" id="ranking">(.*?)</table>', page, re.S).group(1)
    assert ranking.index("Phòng A2") < ranking.index("Phòng A1")
    assert "Ban Thử nghiệm B" not in page


def test_every_summary_figure_drills_down_to_as_many_tickets(seeded, client, login):
    login("dash.sup")
    page = _get(client, f"/dashboard/?{APRIL}")
    for figure, column in [(f, c) for f in ("received", "resolved", "on_time", "late", "open",
                                            "overdue") for c in ("current", "previous")]:  # fmt: skip
        text, link = _cell(page, figure, column)
        assert link and link.startswith("/dashboard/tickets?"), figure
        listing = _get(client, link)
        assert re.search(r'<span id="total">(\d+)</span>', listing).group(1) == text, (
            figure,
            column,
        )
        assert listing.count('<tr><td><a href="/console/tickets/') == int(text)


def test_breakdown_and_chart_links_drill_down(seeded, client, login):
    login("dash.sup")
    page = _get(client, f"/dashboard/?{APRIL}")
    table = re.search(r'<table class="breakdown" id="by-channel">(.*?)</table>', page, re.S).group(
        1
    )
    web_row = re.search(r'<tr data-key="web">(.*?)</tr>', table, re.S).group(1)
    link = html.unescape(re.search(r'href="([^"]+)"', web_row).group(1))
    assert parse_qs(urlsplit(link).query)["channel"] == ["web"]
    assert re.search(r'<span id="total">(\d+)</span>', _get(client, link)).group(1) == "4"
    # Each bar of the backlog chart links to the list it counts.
    chart = re.search(r'<div class="chart-box" id="chart-backlog">(.*?)</svg>', page, re.S).group(1)
    bars = re.findall(r'<a href="([^"]+)"><rect class="bar backlog"[^>]*data-value="(\d+)"', chart)
    assert len(bars) == 5 and sum(int(v) for _, v in bars) == 4  # T5, T6, T7, P3 open now
    for href, value in bars:
        total = re.search(r'<span id="total">(\d+)</span>', _get(client, html.unescape(href)))
        assert total.group(1) == value


def test_charts_are_inline_svg_with_labels(seeded, client, login):
    login("dash.sup")
    page = _get(client, f"/dashboard/?{APRIL}")
    assert "<script" not in page.split("<main>")[1]  # no chart library
    weekly = re.search(r'id="chart-weekly">(.*?)</svg>', page, re.S).group(1)
    assert "<title" in weekly and "<desc" in weekly and 'role="img"' in weekly
    bar = r'<rect class="bar {}"[^>]*data-label="([^"]+)" data-value="(\d+)"'
    received = re.findall(bar.format("received"), weekly)
    resolved = re.findall(bar.format("resolved"), weekly)
    assert received == [
        ("01/04", "2"),
        ("06/04", "4"),
        ("13/04", "1"),
        ("20/04", "1"),
        ("27/04", "0"),
    ]
    assert [v for _, v in resolved] == ["1", "2", "0", "1", "1"]
    on_time = re.search(r'id="chart-on-time">(.*?)</svg>', page, re.S).group(1)
    bars = re.findall(r'data-label="([^"]+)" data-value="([\d.]+)"', on_time)
    assert bars == [("Phòng A2", "50"), ("Phòng A1", "33.3")]
    assert ">50.0% (1/2)</text>" in on_time and ">Phòng A1</text>" in on_time


@pytest.mark.parametrize(
    ("username", "received"), [("dash.lead", "4"), ("giamsat", "10"), ("admin", "10")]
)
def test_scope_per_role(seeded, client, login, username, received):
    login(username)
    page = _get(client, f"/dashboard/?{APRIL}")
    assert _cell(page, "received")[0] == received


def test_outside_scope_is_refused(seeded, client, login):
    assert client.get("/dashboard/").status_code == 302  # not logged in: to the login page
    login("dash.sup")
    b = seeded["DSH-B"]
    for url in (f"/dashboard/?agency={b}", f"/dashboard/tickets?agency={b}&{APRIL}",
                f"/dashboard/export/tickets.csv?agency={b}", f"/dashboard/export/events.xlsx?agency={b}"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    # The supervisor's own sub-agency is fine, and "this agency only" narrows it.
    page = _get(client, f"/dashboard/?agency={seeded['DSH-A2']}&exact=1&{APRIL}")
    assert _cell(page, "received")[0] == "4"


@pytest.mark.parametrize("username", ["dash.officer", "dash.operator"])
def test_officers_and_operators_get_403(seeded, client, login, username):
    login(username)
    for url in ("/dashboard/", f"/dashboard/tickets?{APRIL}", "/dashboard/export/tickets.csv",
                "/dashboard/export/events.xlsx", "/dashboard/reports", "/dashboard/reports/1"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert "/dashboard/" not in _get(client, "/")  # no nav link either


def test_bad_filters_get_a_message_not_a_500(seeded, client, login):
    login("dash.sup")
    for query in ("from=2026-13-01&to=2026-04-30", "from=2026-05-01&to=2026-04-01",
                  "from=2026-04-01", "agency=abc", "kind=nope", "category=nope", "channel=fax",
                  "preset=decade", "metric=nope"):  # fmt: skip
        response = client.get(f"/dashboard/tickets?{query}")
        assert response.status_code == 400, query
        assert 'class="flash error"' in response.get_data(as_text=True)
    assert client.get(f"/dashboard/tickets?{APRIL}&page=x").status_code == 400
    assert client.get("/dashboard/?preset=reporting_year").status_code == 200


def test_lists_never_show_the_denouncer(seeded, client, login):
    login("admin")
    page = _get(client, f"/dashboard/tickets?{APRIL}&kind=denunciation&metric=resolved")
    assert "DSH-T4" in page
    assert DENOUNCER not in page and DENOUNCER_EMAIL not in page
