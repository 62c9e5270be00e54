"""The embedded SQLite install: the same figures without percentile_cont or GROUPING SETS."""

from __future__ import annotations

from service import create_app
from service.domain import refdata, reports, rollup
from service.domain.reports import Filters
from tests.dashboard.conftest import APRIL_WEEKS, PP, TODAY, P, ensure_org, scope_of, seed_tickets
from tests.dashboard.test_rollup import same_figures
from tests.helpers import csrf_token


def test_sqlite_figures_and_pages(tmp_path, service_env):
    url = f"sqlite:///{tmp_path}/dash.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(tmp_path),
                      "TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"})  # fmt: skip
    from service.cli import create_user, seed_reference_data
    from service.extensions import db

    with app.app_context():
        db.create_all()
        seed_reference_data()  # the holiday calendar
        org = ensure_org(db.session)
        create_user("dash.admin", "Quản trị", "admin", None, "pw-sqlite-1")
        seed_tickets(db.session, org)
        scope = scope_of(org, "DSH-A", "DSH-A1", "DSH-A2")
        t = reports.overview(db.session, Filters(P, scope), TODAY).total
        assert (t.received, t.resolved, t.on_time, t.rated, t.open, t.overdue) == (8, 5, 2, 5, 3, 1)
        assert (t.first_response_median, t.resolution_median) == (1.0, 6.0)
        assert round(t.resolution_p90, 6) == 16.0
        pairs = reports.overview(db.session, Filters(P, scope), TODAY, ("agency+kind",))
        assert pairs.by["agency+kind"][(org["DSH-A1"], "feedback")].resolution_median == 4.5
        weeks = reports.weekly(db.session, Filters(P, scope))
        assert [(w.start.isoformat(), w.received, w.resolved) for w in weeks] == APRIL_WEEKS
        cal = refdata.work_calendar(db.session)
        assert sum(reports.backlog(db.session, Filters(P, scope), TODAY, cal)) == 4
        rollup.rebuild(db.session)  # the pre-summed figures agree on SQLite too
        for ids in (scope, None, scope_of(org, "DSH-A1")):
            same_figures(db.session, Filters(P, ids), [P, PP], TODAY)
        db.session.remove()

    client = app.test_client()
    token = csrf_token(client.get("/login"))
    client.post("/login", data={"username": "dash.admin", "password": "pw-sqlite-1",
                                "csrf_token": token})  # fmt: skip
    page = client.get(f"/dashboard/?agency={org['DSH-A']}&from=2026-04-01&to=2026-04-30")
    assert page.status_code == 200, page.get_data(as_text=True)[:1000]
    assert '<tr data-figure="received"><th scope="row">' in page.get_data(as_text=True)
    exported = client.get(
        f"/dashboard/export/tickets.csv?agency={org['DSH-A']}&from=2026-04-01&to=2026-04-30"
    )
    assert exported.status_code == 200 and len(exported.get_data(as_text=True).splitlines()) == 9
