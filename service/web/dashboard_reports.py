"""The yearly report per agency (routes on the dashboard blueprint): ask for it, watch a worker
build it (the page polls a JSON status), download the XLSX or print the page."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import exports
from ..domain import jobs, reports
from ..domain.reports import FilterError
from ..extensions import db
from ..models import Agency, Report, utcnow
from .auth import roles_required
from .common import agency_name, today_local
from .dashboard import DASHBOARD_ROLES, _agency_choices, _scope, bp, parse_query
from .messages import KIND_LABELS

# A report still queued or running after this long is offered a new run (worker lost).
STALE_REPORT = dt.timedelta(minutes=15)


def _may_read(report: Report) -> bool:
    scope = _scope()
    if scope is None or report.requested_by_id == current_user.id:
        return True
    root = report.params.get("agency_id")
    return root is not None and root in scope


def _report_or_404(report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    if report is None or not _may_read(report):
        abort(404)
    return report


def visible_reports(limit: int = 20) -> list[Report]:
    rows = db.session.scalars(select(Report).order_by(Report.id.desc()).limit(200)).all()
    return [r for r in rows if _may_read(r)][:limit]


@bp.get("/reports")
@roles_required(*DASHBOARD_ROLES)
def report_list() -> Any:
    year = reports.reporting_year(today_local())
    return render_template(
        "dashboard/reports.html", reports_list=visible_reports(), year=year,
        agencies=_agency_choices(_scope()), all_allowed=_scope() is None,
        default_agency=current_user.agency_id if _scope() is not None else None,
    )  # fmt: skip


@bp.post("/reports")
@roles_required(*DASHBOARD_ROLES)
def report_create() -> Any:
    form = request.form
    try:
        q = parse_query({"agency": form.get("agency", ""), "from": form.get("from", ""),
                         "to": form.get("to", "")})  # fmt: skip
    except FilterError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.report_list"))
    params = {
        "agency_id": q.agency, "from": q.filters.period.start.isoformat(),
        "to": q.filters.period.end.isoformat(), "lang": str(get_locale()),
    }  # fmt: skip
    report = Report(kind="yearly", requested_by_id=current_user.id, params=params)
    db.session.add(report)
    db.session.flush()
    jobs.defer(db.session, "yearly_report", report.id)
    db.session.commit()
    return redirect(url_for("dashboard.report_page", report_id=report.id))


def _status(report: Report) -> dict[str, Any]:
    done = report.state == "done"
    return {
        "id": report.id,
        "state": report.state,
        "progress": report.progress,
        "error": report.error,
        "download_url": url_for("dashboard.report_download", report_id=report.id) if done else None,
        "print_url": url_for("dashboard.report_print", report_id=report.id) if done else None,
    }


def _can_rerun(report: Report) -> bool:
    if report.state == "failed":
        return True
    started = report.started_at or report.created_at
    return report.state in ("queued", "running") and utcnow() - started > STALE_REPORT


@bp.get("/reports/<int:report_id>")
@roles_required(*DASHBOARD_ROLES)
def report_page(report_id: int) -> Any:
    report = _report_or_404(report_id)
    return render_template("dashboard/report.html", report=report, status=_status(report),
                           can_rerun=_can_rerun(report), agency_label=_report_agency(report))  # fmt: skip


def _report_agency(report: Report) -> str:
    root = report.params.get("agency_id")
    agency = db.session.get(Agency, root) if root else None
    return agency_name(agency) if agency else _("All agencies")


@bp.get("/reports/<int:report_id>/status")
@roles_required(*DASHBOARD_ROLES)
def report_status(report_id: int) -> Any:
    return jsonify(_status(_report_or_404(report_id)))


@bp.post("/reports/<int:report_id>/rerun")
@roles_required(*DASHBOARD_ROLES)
def report_rerun(report_id: int) -> Any:
    report = _report_or_404(report_id)
    if _can_rerun(report):
        report.state, report.progress, report.error = "queued", 0, None
        report.started_at = None
        jobs.defer(db.session, "yearly_report", report.id)
        db.session.commit()
    return redirect(url_for("dashboard.report_page", report_id=report.id))


@bp.get("/reports/<int:report_id>/download")
@roles_required(*DASHBOARD_ROLES)
def report_download(report_id: int) -> Any:
    report = _report_or_404(report_id)
    if report.state != "done" or not report.file_path or not os.path.exists(report.file_path):
        abort(404)
    name = f"pakn-yearly-report-{report.params['from']}-{report.params['to']}.xlsx"
    return send_file(report.file_path, as_attachment=True, download_name=name)


@bp.get("/reports/<int:report_id>/print")
@roles_required(*DASHBOARD_ROLES)
def report_print(report_id: int) -> Any:
    report = _report_or_404(report_id)
    if report.state != "done" or not report.result:
        abort(404)
    return render_template(
        "dashboard/report_print.html", report=report, result=report.result,
        figure_header=exports.figure_header(), figure_cells=exports.figure_cells,
        kind_labels={k: str(v) for k, v in KIND_LABELS.items()},
    )  # fmt: skip
