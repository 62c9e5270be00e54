"""Exports of tickets and events (CSV streamed, XLSX) and the yearly report built by a worker.

What never leaves the system in an export: the citizen's identity (name, address, contacts) of
any ticket — the columns do not exist, so a denouncer can never appear; the bodies of internal
notes; anything a citizen wrote; and every event body of a confidential ticket. Event bodies
are exported only for public events written by staff on non-confidential tickets.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .domain import lifecycle, reports
from .domain.reports import Filters, Period, local_date
from .domain.routing import descendants
from .models import Agency, Category, Report, Ticket, TicketEvent, User, utcnow

CHANNEL_LABELS = {
    "web": _l("Web form"),
    "hotline": _l("Hotline"),
    "api": _l("API"),
    "email": _l("Email"),
    "telegram": _l("Telegram"),
    "zalo_oa": _l("Zalo OA"),
    "zalo_bot": _l("Zalo bot"),
}
XLSX_MAX_ROWS = 200_000
AGENCIES_PER_PASS = 12
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    """Citizen text that a spreadsheet would run as a formula is prefixed with a quote."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    # Spreadsheets have no time zones: local wall-clock time, to the minute.
    if moment is None:
        return None
    return moment.astimezone(reports.LOCAL_TZ).replace(tzinfo=None, second=0, microsecond=0)


def _labels() -> tuple[dict[str, Any], dict[str, Any]]:
    from .web.messages import KIND_LABELS, STATUS_LABELS

    return KIND_LABELS, STATUS_LABELS


class Names:
    """Agency and category codes and names, loaded once per export."""

    def __init__(self, session: Session, english: bool) -> None:
        self.agencies = {
            a.id: (a.code, (a.name_en or a.name) if english else a.name)
            for a in session.scalars(select(Agency))
        }
        self.categories = {
            c.id: (c.code, c.name_en if english else c.name_vi)
            for c in session.scalars(select(Category))
        }

    def agency(self, agency_id: int | None) -> tuple[str, str]:
        return self.agencies.get(agency_id, ("", "")) if agency_id else ("", "")

    def category(self, category_id: int | None) -> tuple[str, str]:
        return self.categories.get(category_id, ("", "")) if category_id else ("", "")


def _overdue(row: Any, today: dt.date) -> bool:
    if row.status in lifecycle.AWAITING_ACCEPTANCE:
        return row.acceptance_due is not None and row.acceptance_due < today
    if row.status in reports.HANDLING:
        return row.resolution_due is not None and row.resolution_due < today
    return False


def _yes_no(value: bool | None) -> str:
    return "" if value is None else (_("yes") if value else _("no"))


def ticket_header() -> list[str]:
    return [
        _("Code"), _("Received"), _("Type"), _("Legal form"), _("Channel"),
        _("Category code"), _("Category"), _("Agency code"), _("Agency"), _("Status"),
        _("Priority"), _("Confidential"), _("Title"), _("Acceptance due"), _("Accepted"),
        _("Resolution due"), _("Extensions"), _("First response"), _("Resolved"), _("Closed"),
        _("First response (working days)"), _("Resolution (working days)"), _("On time"),
        _("Overdue now"),
    ]  # fmt: skip


def ticket_rows(session: Session, conditions: Sequence[ColumnElement[bool]], names: Names,
                today: dt.date) -> Iterator[list[Any]]:  # fmt: skip
    """One row per ticket, oldest first; no citizen identity column exists."""
    kind_labels, status_labels = _labels()
    columns = (
        Ticket.code, Ticket.received_at, Ticket.kind, Ticket.legal_form, Ticket.channel,
        Ticket.category_id, Ticket.agency_id, Ticket.status, Ticket.priority, Ticket.confidential,
        Ticket.title, Ticket.acceptance_due, Ticket.accepted_at, Ticket.resolution_due,
        Ticket.extensions, Ticket.first_response_at, Ticket.resolved_at, Ticket.closed_at,
        Ticket.first_response_wd, Ticket.resolution_wd, Ticket.resolved_on_time,  # type: ignore[attr-defined]
    )  # fmt: skip
    query = select(*columns).where(*conditions).order_by(Ticket.received_at, Ticket.id)
    for row in session.execute(query.execution_options(yield_per=2000)):
        yield [
            row.code, _local(row.received_at), str(kind_labels.get(row.kind, row.kind)),
            row.legal_form, str(CHANNEL_LABELS.get(row.channel, row.channel)),
            *names.category(row.category_id), *names.agency(row.agency_id),
            str(status_labels.get(row.status, row.status)), row.priority,
            _yes_no(row.confidential), safe_text(row.title), row.acceptance_due,
            _local(row.accepted_at), row.resolution_due, row.extensions,
            _local(row.first_response_at), _local(row.resolved_at), _local(row.closed_at),
            row.first_response_wd, row.resolution_wd, _yes_no(row.resolved_on_time),
            _yes_no(_overdue(row, today)),
        ]  # fmt: skip


def event_header() -> list[str]:
    return [
        _("Ticket"), _("Event"), _("Time"), _("Event type"), _("Public"), _("By"),
        _("Staff user"), _("From status"), _("To status"), _("Text"),
    ]  # fmt: skip


def event_rows(session: Session, conditions: Sequence[ColumnElement[bool]]
               ) -> Iterator[list[Any]]:  # fmt: skip
    """Every event of the selected tickets; bodies only where the module docstring allows."""
    from .web.messages import EVENT_LABELS

    tickets = select(Ticket.id).where(*conditions)
    query = (
        select(
            Ticket.code, Ticket.confidential, TicketEvent.id, TicketEvent.created_at,
            TicketEvent.kind, TicketEvent.public, TicketEvent.actor_label, TicketEvent.actor_id,
            TicketEvent.from_status, TicketEvent.to_status, TicketEvent.body, User.username,
        )
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .outerjoin(User, User.id == TicketEvent.actor_id)
        .where(TicketEvent.ticket_id.in_(tickets))
        .order_by(TicketEvent.ticket_id, TicketEvent.id)
    )  # fmt: skip
    for row in session.execute(query.execution_options(yield_per=2000)):
        shareable = row.public and row.actor_id is not None and not row.confidential
        yield [
            row.code, row.id, _local(row.created_at), str(EVENT_LABELS.get(row.kind, row.kind)),
            _yes_no(row.public), row.actor_label, row.username or "", row.from_status or "",
            row.to_status or "", safe_text(row.body) if shareable else "",
        ]  # fmt: skip


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """UTF-8 text with a byte-order mark so Excel reads Vietnamese correctly; 500 rows a chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_csv_cell(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class TooManyRows(ValueError):
    """More rows than an XLSX export allows; CSV streams any number."""


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]],
               max_rows: int = XLSX_MAX_ROWS) -> bytes:  # fmt: skip
    """A workbook written row by row (openpyxl write-only mode keeps memory flat)."""
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(_sheet_title(title))
        sheet.append(list(header))
        for n, row in enumerate(rows, 1):
            if n > max_rows:
                raise TooManyRows(str(max_rows))
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31]


# --- the yearly report ----------------------------------------------------------------------


def report_folder() -> str:
    folder = (
        current_app.config.get("REPORT_FOLDER")
        or os.environ.get("REPORT_FOLDER")
        or os.path.join(current_app.instance_path, "reports")
    )
    os.makedirs(folder, exist_ok=True)
    return folder


def build_yearly_report(session: Session, report_id: int) -> str:
    """Worker job body: compute the figures per agency, write the XLSX, record progress.
    Running it again rebuilds the same file and row; a finished report is left as it is."""
    report = session.get(Report, report_id)
    if report is None:
        return "missing"
    if report.state == "done" and report.file_path and os.path.exists(report.file_path):
        return "done"
    report.state, report.progress, report.error = "running", 0, None
    report.started_at, report.finished_at = utcnow(), None
    session.commit()
    try:
        lang = report.params.get("lang", "vi")
        with force_locale(lang):
            result = yearly_figures(
                session, report, lambda pct: _set_progress(session, report, pct)
            )
            path = write_yearly_xlsx(result, report_folder(), report.id)
        report.result, report.file_path = result, path
        report.state, report.progress, report.finished_at = "done", 100, utcnow()
        session.commit()
        return "done"
    except Exception as exc:
        session.rollback()
        failed = session.get(Report, report_id)
        if failed is not None:
            failed.state, failed.error, failed.finished_at = "failed", str(exc)[:2000], utcnow()
            session.commit()
        raise


def _set_progress(session: Session, report: Report, percent: int) -> None:
    report.progress = percent
    session.commit()


def yearly_figures(session: Session, report: Report,
                   progress: Callable[[int], None]) -> dict[str, Any]:  # fmt: skip
    """Figures for the root agency's subtree in total and for every agency of it, by kind and
    by category; progress is reported after each agency."""
    params = report.params
    english = params.get("lang") == "en"
    period = Period(dt.date.fromisoformat(params["from"]), dt.date.fromisoformat(params["to"]))
    today = local_date(utcnow())
    names = Names(session, english)
    tree = session.execute(select(Agency.id, Agency.parent_id, Agency.name)).all()
    root = params.get("agency_id")
    subtree = descendants(root, {a: p for a, p, _ in tree}) if root else {a for a, _, _ in tree}
    ordered = reports.agencies_in_order(tree, subtree)
    total = reports.overview(
        session, Filters(period, agency_ids=frozenset(subtree)), today, ("kind", "category")
    )
    progress(5)
    agencies = []
    # A batch of agencies per pass over the period's tickets: few scans, progress to show.
    for start in range(0, len(ordered), AGENCIES_PER_PASS):
        batch = ordered[start : start + AGENCIES_PER_PASS]
        both = reports.overview(
            session, Filters(period, agency_ids=frozenset(a for a, _ in batch)), today,
            ("agency", "agency+kind", "agency+category"),
        )  # fmt: skip
        for agency_id, depth in batch:
            code, name = names.agency(agency_id)
            figures = both.by["agency"].get(agency_id, reports.Figures())
            by_kind = {k: f for (a, k), f in both.by["agency+kind"].items() if a == agency_id}
            by_cat = {c: f for (a, c), f in both.by["agency+category"].items() if a == agency_id}
            agencies.append({"id": agency_id, "code": code, "name": name, "depth": depth,
                             **_serialise(figures, by_kind, by_cat, names)})  # fmt: skip
        progress(5 + int(90 * min(len(ordered), start + len(batch)) / max(1, len(ordered))))
    root_code, root_name = names.agency(root) if root else ("", _("All agencies"))
    return {
        "title": _("Yearly report on citizen feedback, complaints and denunciations"),
        "agency": {"id": root, "code": root_code, "name": root_name},
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "generated_at": _local(utcnow()).isoformat(),  # type: ignore[union-attr]
        "lang": params.get("lang", "vi"),
        "total": _serialise(total.total, total.by["kind"], total.by["category"], names),
        "agencies": agencies,
    }


def _serialise(figures: reports.Figures, by_kind: dict[Any, reports.Figures],
               by_category: dict[Any, reports.Figures], names: Names) -> dict[str, Any]:  # fmt: skip
    categories = {
        (names.category(key)[1] or _("No category")): f.as_dict() for key, f in by_category.items()
    }
    return {
        "figures": figures.as_dict(),
        "by_kind": {k: f.as_dict() for k, f in sorted(by_kind.items())},
        "by_category": dict(sorted(categories.items())),
    }


def figure_header() -> list[str]:
    return [
        _("Received"), _("Resolved"), _("On time"), _("Late"), _("On-time rate (%)"),
        _("Open"), _("Overdue now"), _("First response, median (working days)"),
        _("First response, 90th percentile"), _("Resolution, median (working days)"),
        _("Resolution, 90th percentile"),
    ]  # fmt: skip


def figure_cells(f: dict[str, Any]) -> list[Any]:
    rate = f["on_time_rate"]
    return [
        f["received"], f["resolved"], f["on_time"], f["late"],
        None if rate is None else round(100 * rate, 1), f["open"], f["overdue"],
        _round(f["first_response_median"]), _round(f["first_response_p90"]),
        _round(f["resolution_median"]), _round(f["resolution_p90"]),
    ]  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def write_yearly_xlsx(result: dict[str, Any], folder: str, report_id: int) -> str:
    """Summary sheet (one row per agency and a total) and detail sheets by kind and category;
    written to a temporary name and renamed, so a reader never sees half a file."""
    kind_labels, _status = _labels()
    book = Workbook()
    summary = book.active
    summary.title = _sheet_title(_("Summary"))
    bold = Font(bold=True)
    summary.append([result["title"]])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([_("Agency"), result["agency"]["name"]])
    summary.append([_("Period"), f"{result['from']} – {result['to']}"])
    summary.append([_("Generated"), result["generated_at"].replace("T", " ")[:16]])
    summary.append([])
    summary.append([_("Agency code"), _("Agency"), *figure_header()])
    for cell in summary[summary.max_row]:
        cell.font = bold
    for agency in result["agencies"]:
        name = "    " * agency["depth"] + agency["name"]
        summary.append([agency["code"], name, *figure_cells(agency["figures"])])
    summary.append(["", _("Total"), *figure_cells(result["total"]["figures"])])
    for cell in summary[summary.max_row]:
        cell.font = bold
    summary.column_dimensions["B"].width = 45
    for title, key, label in (
        (_("By type"), "by_kind", lambda k: str(kind_labels.get(k, k))),
        (_("By category"), "by_category", str),
    ):
        sheet = book.create_sheet(_sheet_title(title))
        sheet.append([_("Agency code"), _("Agency"), title, *figure_header()])
        for cell in sheet[1]:
            cell.font = bold
        for agency in result["agencies"]:
            for k, figures in agency[key].items():
                sheet.append([agency["code"], agency["name"], label(k), *figure_cells(figures)])
        for k, figures in result["total"][key].items():
            sheet.append(["", _("Total"), label(k), *figure_cells(figures)])
        sheet.column_dimensions["B"].width = 40
    path = os.path.join(folder, f"yearly-report-{report_id}.xlsx")
    book.save(path + ".tmp")
    os.replace(path + ".tmp", path)
    return path
