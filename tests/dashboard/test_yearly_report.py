"""The yearly report: requested on the page, built by a real RQ worker process, downloaded."""

from __future__ import annotations

import io
import os
import re

from openpyxl import load_workbook

from service.models import Report
from tests.conftest import wait_for
from tests.helpers import csrf_token

# received, resolved, on time, late, rate %, open, overdue, 1st response median/p90, resolution
EXPECTED = {
    "DSH-A": (0, 0, 0, 0, None, 0, 0, None, None, None, None),
    "DSH-A1": (4, 3, 1, 2, 33.3, 2, 1, 2.0, 2.8, 6.0, 15.6),
    "DSH-A2": (4, 2, 1, 1, 50.0, 1, 0, 0.0, 0.0, 8.5, 12.1),
    "total": (8, 5, 2, 3, 40.0, 3, 1, 1.0, 2.6, 6.0, 16.0),
}


def test_yearly_report_built_by_a_worker(app, db, seeded, client, login, worker, tmp_path):
    login("dash.sup")
    page = client.get("/dashboard/reports")
    assert page.status_code == 200
    response = client.post("/dashboard/reports", data={
        "csrf_token": csrf_token(page), "agency": str(seeded["DSH-A"]),
        "from": "2026-04-01", "to": "2026-04-30",
    })  # fmt: skip
    assert response.status_code == 302
    report_id = int(response.location.rstrip("/").split("/")[-1])
    status_url = f"/dashboard/reports/{report_id}/status"
    waiting = client.get(f"/dashboard/reports/{report_id}").get_data(as_text=True)
    assert f'data-status-url="{status_url}"' in waiting and "<progress" in waiting
    assert "report-progress.js" in waiting

    worker.env["REPORT_FOLDER"] = str(tmp_path)
    worker.start(1)
    seen: list[int] = []

    def finished() -> bool:
        status = client.get(status_url).get_json()
        seen.append(status["progress"])
        return status["state"] == "done"

    wait_for(finished, timeout=60)
    assert seen[-1] == 100 and seen == sorted(seen)
    status = client.get(status_url).get_json()
    assert status["download_url"] and status["print_url"]

    download = client.get(status["download_url"])
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.get_data()))
    summary = book.worksheets[0]
    rows = [r for r in summary.iter_rows(values_only=True)]
    by_code = {r[0]: r[2:13] for r in rows if r[0] in EXPECTED}
    assert by_code == {k: v for k, v in EXPECTED.items() if k != "total"}
    assert rows[-1][2:13] == EXPECTED["total"]
    assert [r[0] for r in rows if r[0] in EXPECTED] == ["DSH-A", "DSH-A1", "DSH-A2"]
    assert len(book.worksheets) == 3  # summary, by type, by category
    by_kind = list(book.worksheets[1].iter_rows(values_only=True))
    # By type: A2 had one ticket of each of four types; the total rows add up to 8 received.
    assert sorted(r[3] for r in by_kind if r[0] == "DSH-A2") == [1, 1, 1, 1]
    assert sum(r[3] for r in by_kind[1:] if r[0] is None) == 8
    printable = client.get(status["print_url"]).get_data(as_text=True)
    assert "@media print" in printable
    total_row = re.search(r'<tr class="total">(.*?)</tr>', printable, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", total_row)[2:13] == [
        "8", "5", "2", "3", "40.0", "3", "1", "1.0", "2.6", "6.0", "16.0",
    ]  # fmt: skip

    # Running the job again leaves the finished report alone; a failed one is rebuilt the same.
    from workers import jobs

    path = tmp_path / f"yearly-report-{report_id}.xlsx"
    before = os.stat(path).st_mtime_ns
    assert jobs.yearly_report(report_id) == "done"
    assert os.stat(path).st_mtime_ns == before
    with app.app_context():
        report = db.session.get(Report, report_id)
        report.state = "failed"
        db.session.commit()
        app.config["REPORT_FOLDER"] = str(tmp_path)
        try:
            assert jobs.yearly_report(report_id) == "done"
        finally:
            app.config.pop("REPORT_FOLDER")
        again = db.session.get(Report, report_id)
        assert again.state == "done" and again.progress == 100 and again.file_path == str(path)
        rebuilt = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
        assert rebuilt[6:] == rows[6:]  # everything but the "generated at" line
        db.session.remove()


def test_reports_are_private_to_their_scope(app, db, seeded, client, login):
    with app.app_context():
        from sqlalchemy import select

        from service.models import User

        sup = db.session.scalar(select(User.id).where(User.username == "dash.sup"))
        report = Report(requested_by_id=sup, state="queued",
                        params={"agency_id": seeded["DSH-A"], "from": "2026-04-01",
                                "to": "2026-04-30", "lang": "vi"})  # fmt: skip
        db.session.add(report)
        db.session.commit()
        report_id = report.id
        db.session.remove()
    login("dash.lead")  # lead of DSH-A1: the report covers DSH-A, outside the lead's subtree
    assert client.get(f"/dashboard/reports/{report_id}").status_code == 404
    assert client.get(f"/dashboard/reports/{report_id}/status").status_code == 404
    assert client.get(f"/dashboard/reports/{report_id}/download").status_code == 404
