"""Supervisor dashboard: overview with charts, drill-down lists, exports and the yearly report.

Supervisors read their agency's subtree, leads their own agency's subtree, administrators all.
Every figure links to /dashboard/tickets with the same filters, built by the same condition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

import click
from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

from .. import charts, exports
from ..domain import lifecycle, refdata, report_durations, reports, rollup
from ..domain.intake import CHANNELS
from ..domain.reports import NULL_KEY, FilterError, Filters, Period
from ..domain.routing import descendants
from ..domain.validation import KINDS
from ..extensions import db
from ..models import Agency, Category, Ticket
from .auth import roles_required
from .common import agency_name, category_name, scope_agency_ids, today_local
from .messages import KIND_LABELS

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
DASHBOARD_ROLES = ("supervisor", "lead", "admin")
PAGE = 50
AGE_KEYS = {f"{lo}-{hi if hi is not None else ''}": (lo, hi) for lo, hi in reports.AGE_BUCKETS}
PRESET_LABELS = {
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_quarter": _l("This quarter"),
    "this_year": _l("This year"),
    "reporting_year": _l("Reporting year (26 Nov – 25 Nov)"),
}
METRIC_LABELS = {
    "received": _l("Received"),
    "resolved": _l("Resolved"),
    "on_time": _l("Resolved on time"),
    "late": _l("Resolved late"),
    "open": _l("Still open"),
    "overdue": _l("Overdue now"),
    "responded": _l("First answered"),
    "backlog": _l("Open now, by age"),
}
# The domain's refusals, in the reader's language.
PERIOD_ERRORS = {
    "the period ends before it starts": _l("The period ends before it starts."),
    "the period is longer than three years": _l("The period is longer than three years."),
}


_quoted = lru_cache(maxsize=4096)(quote_plus)


@dataclasses.dataclass
class Query:
    """The request's filters, parsed once and echoed back into every link."""

    filters: Filters
    agency: int | None  # chosen root; None: all agencies (administrators)
    exact: bool
    preset: str | None
    metric: str
    age: tuple[int, int | None] | None
    args: dict[str, str]
    _paths: dict[tuple[str, str | None], str] = dataclasses.field(default_factory=dict)
    _quoted: dict[str, str] = dataclasses.field(default_factory=dict)

    def link(self, endpoint: str, period: Period | None = None, **extra: Any) -> str:
        # The overview holds over a thousand links: the path per endpoint and the quoted
        # arguments are built once, and only the extra arguments are quoted per link.
        if not self._quoted:
            self._quoted.update({k: _quoted(v) for k, v in self.args.items()})
        args = dict(self._quoted)
        if period is not None:
            args.update({"from": period.start.isoformat(), "to": period.end.isoformat()})
        args.update({k: _quoted(str(v)) for k, v in extra.items() if v is not None})
        what = args.pop("what", None)
        key = (endpoint, what)
        if key not in self._paths:
            self._paths[key] = url_for(endpoint, **({"what": what} if what else {}))
        query = "&".join(f"{k}={v}" for k, v in args.items() if v != "")  # names are plain words
        return f"{self._paths[key]}?{query}" if query else self._paths[key]


def _scope() -> set[int] | None:
    return scope_agency_ids(current_user)


def _choose_agency(raw: str, scope: set[int] | None) -> int | None:
    if raw == "":
        return None if scope is None else current_user.agency_id
    if raw == "none" and scope is None:
        return NULL_KEY
    if not raw.isdigit():
        raise FilterError(_("Choose an agency from the list."))
    agency_id = int(raw)
    if db.session.get(Agency, agency_id) is None:
        raise FilterError(_("Choose an agency from the list."))
    if scope is not None and agency_id not in scope:
        abort(403)
    return agency_id


def _parse_date(raw: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise FilterError(_("%(field)s is not a date (YYYY-MM-DD).", field=label)) from None


def _period(args: Any, today: dt.date) -> tuple[Period, str | None]:
    preset = args.get("preset", "")
    if preset:
        if preset not in reports.PRESETS:
            raise FilterError(_("Unknown period."))
        return reports.preset_period(preset, today), preset
    start, end = args.get("from", ""), args.get("to", "")
    if not start and not end:
        return reports.preset_period("this_month", today), "this_month"
    if not start or not end:
        raise FilterError(_("Give both the first and the last day of the period."))
    try:
        return Period(_parse_date(start, _("From")), _parse_date(end, _("To"))), None
    except FilterError as exc:
        raise FilterError(str(PERIOD_ERRORS.get(str(exc), exc))) from None


def parse_query(args: Any, default_metric: str = "received") -> Query:
    """Read and check the filters; FilterError carries a message for the person, 403 on scope."""
    today = today_local()
    scope = _scope()
    agency = _choose_agency(args.get("agency", "").strip(), scope)
    exact = args.get("exact") == "1" and agency is not None
    if agency is None:
        ids = None if scope is None else frozenset(scope)
    elif agency == NULL_KEY or exact:
        ids = frozenset({agency})
    else:
        parents = dict(db.session.execute(select(Agency.id, Agency.parent_id)).all())
        subtree = descendants(agency, parents)
        ids = frozenset(subtree if scope is None else subtree & scope)
    period, preset = _period(args, today)
    kind = args.get("kind", "")
    if kind and kind not in KINDS:
        raise FilterError(_("Unknown type."))
    channel = args.get("channel", "")
    if channel and channel not in CHANNELS:
        raise FilterError(_("Unknown channel."))
    category_code = args.get("category", "")
    category_id = None
    if category_code == "none":
        category_id = NULL_KEY
    elif category_code:
        category_id = db.session.scalar(select(Category.id).where(Category.code == category_code))
        if category_id is None:
            raise FilterError(_("Unknown category."))
    metric = args.get("metric", default_metric)
    if metric not in reports.METRICS:
        raise FilterError(_("Unknown figure."))
    age_raw = args.get("age", "")
    if age_raw and age_raw not in AGE_KEYS:
        raise FilterError(_("Unknown age group."))
    filters = Filters(period, ids, kind or None, category_id, channel or None)
    canonical = {
        "agency": "none" if agency == NULL_KEY else ("" if agency is None else str(agency)),
        "exact": "1" if exact else "",
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "kind": kind,
        "category": category_code,
        "channel": channel,
    }
    return Query(filters, agency, exact, preset, metric, AGE_KEYS.get(age_raw), canonical)


def _agency_choices(scope: set[int] | None) -> list[tuple[int, str]]:
    rows = db.session.execute(select(Agency.id, Agency.parent_id, Agency.name)).all()
    agencies = {a.id: a for a in db.session.scalars(select(Agency))}
    return [
        (agency_id, "— " * depth + (agency_name(agencies[agency_id]) or ""))
        for agency_id, depth in reports.agencies_in_order(rows, scope)
    ]


def _labels() -> dict[str, dict[Any, str]]:
    """Display names for the breakdown keys."""
    agencies = {a.id: agency_name(a) or a.code for a in db.session.scalars(select(Agency))}
    categories = db.session.scalars(select(Category)).all()
    return {
        "agency": {**agencies, None: _("Not yet routed")},
        "category": {
            **{c.id: category_name(c) or c.code for c in categories},
            None: _("No category"),
        },  # fmt: skip
        "category_code": {c.id: c.code for c in categories},
        "channel": {k: str(v) for k, v in exports.CHANNEL_LABELS.items()},
        "kind": {k: str(v) for k, v in KIND_LABELS.items()},
    }


def breakdown_args(dim: str, key: Any, labels: dict[str, dict[Any, str]]) -> dict[str, str]:
    """Filter arguments selecting one row of a breakdown."""
    if dim == "agency":
        return {"agency": "none" if key is None else str(key), "exact": "1"}
    if dim == "category":
        return {"category": "none" if key is None else labels["category_code"].get(key, "")}
    return {dim: key}


def _fig(text: Any, href: str | None) -> Markup:
    """A figure linked to its tickets (a Python helper: the overview calls it a thousand times,
    and a template macro costs several times more per call)."""
    if href:
        return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')
    return escape(text)


def _row_maker(q: Query, labels: dict[str, dict[Any, str]]) -> Any:
    """One breakdown row as HTML, every figure linked to its tickets. Built in Python: a
    province's overview has a hundred rows of eight cells, too slow as template calls."""

    def row(dim: str, key: Any, f: reports.Figures | None, b: reports.Figures | None) -> Markup:
        a = breakdown_args(dim, key, labels)
        name = escape(labels[dim].get(key, key))
        if dim == "agency" and key is not None:
            name = Markup(
                f'<a href="{escape(q.link("dashboard.overview", agency=key, exact=""))}">{name}</a>'
            )

        def cell(text: Any, metric: str, before: Any = None) -> str:
            link = _fig(text, q.link("dashboard.tickets", metric=metric, **a))
            prev = "" if before is None else f'<small class="prev">{escape(before)}</small>'
            return f"<td>{link}{prev}</td>"

        pair = lambda m, p: f"{_days(m)} / {_days(p)}" if f else "—"  # noqa: E731
        cells = [
            cell(f.received if f else 0, "received", b.received if b else 0),
            cell(f.resolved if f else 0, "resolved", b.resolved if b else 0),
            cell(_pct(f.on_time_rate) if f else "—", "on_time", _pct(b.on_time_rate) if b else "—"),
            cell(f.open if f else 0, "open"),
            cell(f.overdue if f else 0, "overdue"),
            cell(pair(f and f.first_response_median, f and f.first_response_p90), "responded"),
            cell(pair(f and f.resolution_median, f and f.resolution_p90), "resolved"),
        ]  # fmt: skip
        return Markup(
            f'<tr data-key="{escape(key)}">\n      <td>{name}</td>{"".join(cells)}\n    </tr>\n'
        )

    return row


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")


def _delta(current: float | None, previous: float | None, rate: bool = False) -> str:
    """Change from the previous period: counts in units, rates in percentage points."""
    if current is None or previous is None:
        return ""
    diff = (current - previous) * (100 if rate else 1)
    if abs(diff) < 1e-9:
        return "±0"
    text = f"{diff:+.1f}" if rate or diff != int(diff) else f"{int(diff):+d}"
    return text.replace("-", "−") + (" " + _("pts") if rate else "")


def _render_error(exc: FilterError, status: int = 400) -> Any:
    return render_template("dashboard/error.html", message=str(exc)), status


@bp.get("/")
@roles_required(*DASHBOARD_ROLES)
def overview() -> Any:
    try:
        q = parse_query(request.args)
    except FilterError as exc:
        return _render_error(exc)
    today = today_local()
    cal = refdata.work_calendar(db.session)
    period = q.filters.period
    with rollup.snapshot(db.session) as session:  # the three read one moment
        current, previous = reports.overviews(
            session, q.filters, [period, period.previous()], today
        )
        weeks = reports.weekly(session, q.filters)
        backlog = reports.backlog(session, q.filters, today, cal)
    labels = _labels()
    ranked = reports.ranking(current.by.get("agency", {}))
    ordered_keys = {
        dim: sorted({*current.by[dim], *previous.by[dim]},
                    key=lambda k, d=dim: str(labels[d].get(k, k)).lower())
        for dim in reports.DIMENSIONS
    }  # fmt: skip
    return render_template(
        "dashboard/overview.html", q=q, current=current, previous=previous,
        ranked=ranked, labels=labels, weeks=weeks, backlog=backlog, ordered_keys=ordered_keys,
        charts=_charts(q, weeks, ranked, backlog, labels), presets=PRESET_LABELS,
        agencies=_agency_choices(_scope()), all_allowed=_scope() is None,
        kinds=KINDS, channels=CHANNELS, categories=_category_choices(),
        dims=reports.DIMENSIONS, breakdown_args=breakdown_args, pct=_pct, days=_days, delta=_delta,
        fig=_fig, breakdown_row=_row_maker(q, labels),
        age_keys=list(AGE_KEYS), reports_list=dashboard_reports.visible_reports(limit=5),
    )  # fmt: skip


def _category_choices() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(Category).order_by(Category.code)).all()
    return [(c.code, category_name(c) or c.code) for c in rows]


def _charts(q: Query, weeks: list[reports.Week], ranked: list[tuple[Any, reports.Figures]],
            backlog: list[int], labels: dict[str, dict[Any, str]]) -> dict[str, Any]:  # fmt: skip
    week_labels = [w.start.strftime("%d/%m") for w in weeks]

    def week_bars(attr: str) -> list[charts.Bar]:
        return [
            charts.Bar(w.start.strftime("%d/%m"), getattr(w, attr), str(getattr(w, attr)),
                       q.link("dashboard.tickets", Period(w.start, w.end), metric=attr))
            for w in weeks
        ]  # fmt: skip

    weekly = charts.column_chart(
        _("Received and resolved per week"),
        _("Tickets received and resolved in each week of the period, %(start)s to %(end)s.",
          start=q.filters.period.start.strftime("%d/%m/%Y"),
          end=q.filters.period.end.strftime("%d/%m/%Y")),
        [charts.Series(_("Received"), "received", week_bars("received")),
         charts.Series(_("Resolved"), "resolved", week_bars("resolved"))],
        week_labels,
    )  # fmt: skip
    on_time = charts.hbar_chart(
        _("On-time rate per agency"),
        _("Share of tickets resolved by their deadline, per agency, best first."),
        [charts.Bar(labels["agency"].get(key, str(key)), round(100 * (f.on_time_rate or 0), 1),
                    f"{_pct(f.on_time_rate)} ({f.on_time}/{f.rated})",
                    q.link("dashboard.tickets", metric="on_time", **breakdown_args("agency", key, labels)))
         for key, f in ranked],
        100,
    )  # fmt: skip
    bucket_names = [_age_label(lo, hi) for lo, hi in reports.AGE_BUCKETS]
    ages = charts.column_chart(
        _("Open tickets by age"),
        _("Tickets open today, by working days since receipt."),
        [charts.Series(_("Open"), "backlog", [
            charts.Bar(name, n, str(n), q.link("dashboard.tickets", metric="backlog", age=key))
            for name, n, key in zip(bucket_names, backlog, AGE_KEYS, strict=True)])],
        bucket_names,
    )  # fmt: skip
    return {"weekly": weekly, "on_time": on_time, "backlog": ages}


def _age_label(low: int, high: int | None) -> str:
    if high is None:
        return _("over %(n)s working days", n=low - 1)
    return _("%(low)s–%(high)s working days", low=low, high=high)


@bp.get("/tickets")
@roles_required(*DASHBOARD_ROLES)
def tickets() -> Any:
    """The tickets behind a figure: code, title, type, category, agency, status, dates only."""
    try:
        q = parse_query(request.args)
        page = max(1, int(request.args.get("page", "1")))
    except FilterError as exc:
        return _render_error(exc)
    except ValueError:
        return _render_error(FilterError(_("Unknown page.")))
    cal = refdata.work_calendar(db.session)
    conditions = reports.ticket_conditions(q.filters, q.metric, today_local(), cal, q.age)
    total = db.session.scalar(select(func.count(Ticket.id)).where(*conditions))
    columns = (
        Ticket.code, Ticket.title, Ticket.kind, Ticket.category_id, Ticket.agency_id,
        Ticket.status, Ticket.received_at, Ticket.first_response_at, Ticket.resolved_at,
        Ticket.acceptance_due, Ticket.resolution_due, Ticket.first_response_wd,  # type: ignore[attr-defined]
        Ticket.resolution_wd, Ticket.resolved_on_time,  # type: ignore[attr-defined]
    )  # fmt: skip
    order = {
        "resolved": Ticket.resolved_at.desc(),
        "on_time": Ticket.resolved_at.desc(),
        "late": Ticket.resolved_at.desc(),
        "responded": Ticket.first_response_at.desc(),
        "backlog": Ticket.received_at.asc(),
    }.get(q.metric, Ticket.received_at.desc())
    rows = db.session.execute(
        select(*columns).where(*conditions).order_by(order, Ticket.id.desc())
        .limit(PAGE).offset((page - 1) * PAGE)
    ).all()  # fmt: skip
    return render_template(
        "dashboard/tickets.html", q=q, rows=rows, total=total, page=page, page_size=PAGE,
        labels=_labels(), metric_label=METRIC_LABELS[q.metric],
        age_label=_age_label(*q.age) if q.age else None, awaiting=lifecycle.AWAITING_ACCEPTANCE,
    )  # fmt: skip


# --- exports --------------------------------------------------------------------------------


def _export_source(what: str) -> tuple[Any, Any]:
    q = parse_query(request.args)
    cal = refdata.work_calendar(db.session)
    today = today_local()
    conditions = reports.ticket_conditions(q.filters, q.metric, today, cal, q.age)
    if what == "tickets":
        names = exports.Names(db.session, str(get_locale()) == "en")
        return exports.ticket_header(), exports.ticket_rows(db.session, conditions, names, today)
    return exports.event_header(), exports.event_rows(db.session, conditions)


def _filename(what: str, ext: str) -> str:
    return f"pakn-{what}-{today_local().isoformat()}.{ext}"


@bp.get("/export/<what>.csv")
@roles_required(*DASHBOARD_ROLES)
def export_csv(what: str) -> Any:
    if what not in ("tickets", "events"):
        abort(404)
    try:
        header, rows = _export_source(what)
    except FilterError as exc:
        return _render_error(exc)
    return Response(
        stream_with_context(exports.csv_stream(header, rows)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(what, "csv")}"'},
    )


@bp.get("/export/<what>.xlsx")
@roles_required(*DASHBOARD_ROLES)
def export_xlsx(what: str) -> Any:
    if what not in ("tickets", "events"):
        abort(404)
    try:
        header, rows = _export_source(what)
        title = _("Tickets") if what == "tickets" else _("Events")
        data = exports.xlsx_bytes([(title, header, rows)])
    except FilterError as exc:
        return _render_error(exc)
    except exports.TooManyRows as exc:
        message = _("More than %(n)s rows: narrow the filter or export CSV.", n=str(exc))
        return _render_error(FilterError(message), 413)
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(what, "xlsx")}"'},
    )


# --- command line ---------------------------------------------------------------------------


@bp.cli.command("backfill")
@click.option("--all", "recompute", is_flag=True, help="Recompute every ticket, not only gaps.")
def backfill_command(recompute: bool) -> None:
    """Stamp working-day durations on tickets (after an import or a holiday calendar change)."""
    cal = refdata.work_calendar(db.session)
    count = report_durations.backfill_durations(
        db.session, cal, recompute=recompute, progress=lambda n: click.echo(f"  {n} tickets")
    )
    click.echo(f"Done: {count} tickets updated.")
    if count:
        click.echo("Rebuilding the dashboard rollup…")
        done = rollup.rebuild(db.session, echo=click.echo)
        click.echo(f"Done: {done['rows']} rollup rows.")


@bp.cli.command("rollup")
@click.option("--rebuild", "whole", is_flag=True, help="Recompute it all from the tickets.")
def rollup_command(whole: bool) -> None:
    """Fold ticket changes into the dashboard's pre-summed figures (the scheduler does this)."""
    if whole:
        done = rollup.rebuild(db.session, echo=click.echo)
        click.echo(f"Rebuilt: {done['tickets']} tickets, {done['rows']} rows.")
    else:
        done = rollup.fold(db.session)
        click.echo(f"Folded: {done}.")


from . import dashboard_reports  # noqa: E402  (the yearly report's routes, on this blueprint)
