"""In Chromium: the supervisor (after enrolling two-factor login with an authenticator code) reads
the dashboard of a generated dataset, sees the figures the database holds and the charts, and
downloads an XLSX export that openpyxl opens with the right rows; an admin screen renders."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pyotp
import pytest
from sqlalchemy import func, select, update

from service.gendata import generate
from service.models import Agency, Ticket, User
from tests.browser.conftest import shot, sign_in

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
START, END = dt.date(2025, 7, 1), dt.date(2026, 6, 30)


def _bounds() -> tuple[dt.datetime, dt.datetime]:
    first = dt.datetime.combine(START, dt.time(), LOCAL)
    return first, dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), LOCAL)


@pytest.fixture
def dataset(app: Any, db: Any) -> Iterator[dict[str, Any]]:
    """400 generated tickets over two years; the figures the dashboard must show for START–END."""
    with app.app_context():
        generate(db.session, 400, seed=7, batch=200, extra_areas=0)
        first, after = _bounds()
        count = lambda *where: db.session.scalar(select(func.count(Ticket.id)).where(*where))  # noqa: E731
        figures = {
            "province": db.session.scalar(select(Agency.id).where(Agency.code == "DN")),
            "received": count(Ticket.received_at >= first, Ticket.received_at < after),
            "resolved": count(Ticket.resolved_at >= first, Ticket.resolved_at < after),
            "on_time": count(
                Ticket.resolved_at >= first,
                Ticket.resolved_at < after,
                Ticket.resolved_on_time.is_(True),
            ),  # type: ignore[attr-defined]  # fmt: skip
            "hotline": sorted(
                db.session.scalars(
                    select(Ticket.code).where(
                        Ticket.received_at >= first,
                        Ticket.received_at < after,
                        Ticket.channel == "hotline",
                    )
                )
            ),  # fmt: skip
        }
        db.session.remove()
    yield figures
    with app.app_context():  # users outlive the test: leave giamsat as the other tests expect it
        db.session.execute(update(User).where(User.username == "giamsat").values(
            totp_enabled=False, totp_secret=None, totp_last_step=None))  # fmt: skip
        db.session.commit()
        db.session.remove()


def _enrol_and_sign_in_again(page: Any) -> None:
    sign_in(page, "giamsat")
    page.goto("/account/2fa")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#totp-enrol input[name=code]", pyotp.TOTP(secret).now())
    page.click("#totp-enrol button[type=submit]")
    page.wait_for_load_state()
    page.goto("/account/2fa")
    assert page.locator("#totp-status").get_attribute("data-enabled") == "1"
    page.click("form[action$='/logout'] button")
    page.wait_for_load_state()
    sign_in(page, "giamsat", second_factor=True)
    # The enrolment used the current time step; a code is accepted once, so take the next one.
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("#totp-verify button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


def _figure(page: Any, key: str) -> str:
    return page.locator(f"#summary tr[data-figure={key}] td.current").inner_text().split()[0]


def test_supervisor_dashboard_figures_charts_and_xlsx(app, db, dataset, new_page):
    page = new_page()
    _enrol_and_sign_in_again(page)
    query = f"agency={dataset['province']}&from={START.isoformat()}&to={END.isoformat()}"
    page.goto(f"/dashboard/?{query}")
    assert page.locator("#summary").count() == 1, page.content()[:3000]
    for key in ("received", "resolved", "on_time"):
        assert int(_figure(page, key).replace(".", "").replace(",", "")) == dataset[key], key
    for chart in ("#chart-weekly", "#chart-on-time", "#chart-backlog"):
        marks = page.locator(f"{chart} svg rect, {chart} svg path, {chart} svg polyline")
        assert marks.count() > 0, chart
    assert page.locator("#by-agency tbody tr").count() > 1
    shot(page, "05-dashboard")

    # The XLSX of the hotline tickets received in the period, downloaded through the browser.
    page.goto(f"/dashboard/tickets?{query}&channel=hotline&metric=received")
    assert int(page.locator("#total").inner_text()) == len(dataset["hotline"])
    with page.expect_download() as download_info:
        page.click("p.exports a[href*='.xlsx'][href*='tickets']")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(header) > 5 and body, rows[:2]
    # The first column is the ticket code; the rows are exactly the tickets behind the figure.
    assert sorted(str(row[0]) for row in body) == dataset["hotline"]


def test_admin_screen_renders(app, db, new_page):
    page = new_page()
    sign_in(page, "admin")
    page.goto("/admin/agencies")
    assert page.locator("body", has_text="UBND phường Hải Châu").count() == 1
    shot(page, "06-admin-agencies")
