"""Supervisor dashboard figures as SQLAlchemy Core queries over the ticket table (no Flask).

Definitions (the overview page shows the same text):
- received: tickets whose receipt (received_at) falls in the period.
- resolved: tickets whose handling ended in the period (resolved_at: resolved with a result, or
  refused with a reason). Duplicates and withdrawals are not counted as resolved.
- on time: a resolved ticket whose local resolution date is on or before its resolution deadline,
  or, when it was never accepted (refused or resolved at the acceptance stage), its acceptance
  deadline. Tickets without any deadline are left out: rate = on time / resolved with a deadline.
- open / overdue now: of the tickets received in the period, those still open today / whose
  running clock has passed today (acceptance_due while awaiting acceptance, resolution_due while
  handled). A ticket waiting for the citizen is never overdue: its clock is paused.
- first response / resolution time: working days (holiday calendar) from the day of receipt to the
  day of the first public answer / of the resolution; the day of receipt is not counted (Civil
  Code art. 147) and working days spent waiting for the citizen are subtracted. Medians and 90th
  percentiles interpolate linearly (PostgreSQL percentile_cont): first response over tickets first
  answered in the period, resolution over tickets resolved in the period.
- backlog by age: every ticket open today (whatever the period), by working days since receipt.
- agency: the ticket's current agency (after transfers); tickets not yet routed have none.

Durations are stamped on the ticket when they happen (report_durations) so that aggregating a
million tickets reads integers instead of walking a calendar per row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Subquery, case, func, select, tuple_
from sqlalchemy.orm import Session

from ..models import Ticket
from . import rollup
from .calendar import WorkCalendar
from .report_filters import (
    AGE_BUCKETS,
    DIM_COLUMNS,
    DIMENSIONS,
    HANDLING,
    LOCAL_TZ,
    METRICS,
    NULL_KEY,
    PRESETS,
    FilterError,
    Filters,
    Period,
    age_condition,
    age_cutoff,
    base_conditions,
    is_open,
    local_date,
    local_day_sql,
    local_midnight_utc,
    metric_condition,
    overdue_on,
    preset_period,
    received_in,
    reporting_year,
    resolved_in,
    responded_in,
    ticket_conditions,
    within,
)

__all__ = [
    "AGE_BUCKETS", "DIM_COLUMNS", "DIMENSIONS", "HANDLING", "LOCAL_TZ", "METRICS", "NULL_KEY",
    "PRESETS", "FilterError", "Figures", "Filters", "Overview", "Period", "Week",
    "age_condition", "age_cutoff", "agencies_in_order", "backlog", "base_conditions", "is_open",
    "local_date", "local_midnight_utc", "metric_condition", "overdue_on", "overview",
    "overviews", "percentile", "percentile_of_counts", "preset_period", "ranking",
    "received_in", "reporting_year", "resolved_in", "responded_in", "ticket_conditions",
    "weekly", "weeks_of",
]  # fmt: skip


# --- figures --------------------------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    received: int = 0
    resolved: int = 0
    on_time: int = 0
    rated: int = 0
    open: int = 0
    overdue: int = 0
    responded: int = 0
    first_response_median: float | None = None
    first_response_p90: float | None = None
    resolution_median: float | None = None
    resolution_p90: float | None = None

    @property
    def late(self) -> int:
        return self.rated - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.rated if self.rated else None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "late": self.late, "on_time_rate": self.on_time_rate}


@dataclasses.dataclass
class Overview:
    period: Period
    total: Figures
    # dimension → key (agency id, category id, channel, kind; None when unset) → figures
    by: dict[str, dict[Any, Figures]]


def percentile_of_counts(counts: Mapping[int, int], p: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont) over a
    histogram value → number of tickets; durations are whole days, so this is exact."""
    n = sum(counts.values())
    if n == 0:
        return None
    pos = p * (n - 1)
    low = math.floor(pos)
    ranked = sorted(counts.items())

    def value_at(rank: int) -> int:
        seen = 0
        for value, count in ranked:
            seen += count
            if rank < seen:
                return value
        return ranked[-1][0]

    below, above = value_at(low), value_at(min(low + 1, n - 1))
    return float(below + (above - below) * (pos - low))


def percentile(values: Sequence[int], p: float) -> float | None:
    return percentile_of_counts(Counter(values), p)


def _span(periods: Sequence[Period]) -> tuple[Period, Period]:
    """The whole span and the later period, for one period or two that touch."""
    ordered = sorted(periods, key=lambda p: p.start)
    if len(ordered) > 2 or (
        len(ordered) == 2 and ordered[0].end + dt.timedelta(days=1) != ordered[1].start
    ):
        raise ValueError("give one period, or a period and the one just before it")
    return Period(ordered[0].start, ordered[-1].end), ordered[-1]


def grouping_parts(grouping: str) -> tuple[str, ...]:
    """ "agency" → ("agency",); "agency+kind" → ("agency", "kind") (a two-level breakdown)."""
    return tuple(grouping.split("+"))


def _grouped(
    session: Session,
    inner: Subquery,
    measures: dict[str, Any],
    groupings: Sequence[str],
    with_wd: bool,
) -> Iterator[tuple[Any, str | None, Any, int | None, Any]]:
    """Aggregate `inner` per period, overall and per grouping (and per duration when with_wd);
    yields (period flag, grouping or None, key, duration, row). A key is the dimension's value,
    or a tuple of values for a two-level grouping."""
    names = list(dict.fromkeys(d for g in groupings for d in grouping_parts(g)))
    cols = [inner.c[d] for d in names]
    tail = [inner.c.wd] if with_wd else []
    labelled = [m.label(name) for name, m in measures.items()]
    if session.get_bind().dialect.name == "postgresql" and cols:
        # One pass for every breakdown; GROUPING() sets a bit for each column rolled up.
        bits = {}
        for g in groupings:
            kept = {names.index(d) for d in grouping_parts(g)}
            bits[sum(1 << (len(names) - 1 - i) for i in range(len(names)) if i not in kept)] = g
        sets = [tuple_(inner.c.p, *tail)] + [
            tuple_(inner.c.p, *(inner.c[d] for d in grouping_parts(g)), *tail) for g in groupings
        ]
        stmt = select(func.grouping(*cols).label("g"), inner.c.p, *cols, *tail, *labelled)
        for row in session.execute(stmt.group_by(func.grouping_sets(*sets))):
            grouping = bits.get(row.g)
            yield row.p, grouping, _key(row, grouping, names, 2), row.wd if with_wd else None, row
        return
    for grouping in (None, *groupings):
        keys = [inner.c[d] for d in grouping_parts(grouping)] if grouping else []
        stmt = select(inner.c.p, *keys, *tail, *labelled).group_by(inner.c.p, *keys, *tail)
        for row in session.execute(stmt):
            key = _key(row, grouping, list(grouping_parts(grouping)) if grouping else [], 1)
            yield row.p, grouping, key, row.wd if with_wd else None, row


def _key(row: Any, grouping: str | None, names: list[str], offset: int) -> Any:
    if grouping is None:
        return None
    values = tuple(row[offset + names.index(d)] for d in grouping_parts(grouping))
    return values[0] if len(values) == 1 else values


def overviews(
    session: Session,
    f: Filters,
    periods: Sequence[Period],
    today: dt.date,
    dims: Sequence[str] = DIMENSIONS,
    use_rollup: bool = True,
) -> list[Overview]:
    """Totals and breakdowns for each period (e.g. this one and the one before); `dims` names
    the breakdowns: a dimension, or two joined by "+" (e.g. "agency+kind"). With two periods the
    breakdowns of the earlier one carry counts only (no medians, no overdue now). Three grouped
    queries — by receipt, by first answer, by resolution — each reading its own date index;
    percentiles come from per-duration counts, so no row is sorted or sent to Python.
    Without kind, category or channel filters the pre-summed rollup answers instead (same
    figures: tests compare the two)."""
    if use_rollup:
        with rollup.snapshot(session) as snap:
            found = rollup.plan(snap, f, dims)
            if found is not None:
                return _overviews_rollup(snap, f, periods, today, dims, *found)
    with _hashed_aggregates(session):
        return _overviews(session, f, periods, today, dims)


# Planner settings for the grouped counts, restored afterwards (PostgreSQL; transaction-local):
# room to hash a few thousand groups rather than sort, and no just-in-time compilation, which
# costs these short queries more than it saves.
_ANALYTIC_SETTINGS = {"work_mem": "16MB", "jit": "off"}


@contextlib.contextmanager
def _hashed_aggregates(session: Session) -> Iterator[None]:
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    names = list(_ANALYTIC_SETTINGS)
    before = session.execute(
        select(*(func.current_setting(n) for n in names))
    ).one()  # fmt: skip
    session.execute(select(*(func.set_config(n, v, True) for n, v in _ANALYTIC_SETTINGS.items())))
    yield  # on an error the transaction is rolled back, and the local settings with it
    session.execute(
        select(*(func.set_config(n, v, True) for n, v in zip(names, before, strict=True)))
    )


def _overviews(
    session: Session, f: Filters, periods: Sequence[Period], today: dt.date, dims: Sequence[str]
) -> list[Overview]:
    base = base_conditions(f)
    names = dict.fromkeys(d for g in dims for d in grouping_parts(g))
    dim_cols = [DIM_COLUMNS[d].label(d) for d in names]
    results = [Overview(period, Figures(), {d: {} for d in dims}) for period in periods]
    firsts: dict[tuple[bool, str | None, Any], Counter[int]] = {}
    resolutions: dict[tuple[bool, str | None, Any], Counter[int]] = {}

    span, later = _span(periods)
    # A boolean tells the two periods apart: the planner knows it has two values and hashes.
    index_of = {True: periods.index(later), False: 1 - periods.index(later)}

    def figures(p: Any, dim: str | None, key: Any) -> Figures:
        i = index_of[bool(p)]
        return results[i].total if dim is None else results[i].by[dim].setdefault(key, Figures())

    def inner(column: Any, *extra: Any, wd: Any = None) -> Subquery:
        flag = column >= local_midnight_utc(later.start)
        if wd is not None:
            extra = (*extra, wd.label("wd"))
        stmt = select(flag.label("p"), *dim_cols, *extra)
        return stmt.where(*base, within(column, span)).subquery()

    received = inner(Ticket.received_at, is_open().label("is_open"),
                     overdue_on(today).label("is_overdue"))  # fmt: skip
    measures = {
        "n": func.count(),
        "open": func.count().filter(received.c.is_open),
        "overdue": func.count().filter(received.c.is_overdue),
    }
    for p, dim, key, _wd, row in _grouped(session, received, measures, dims, False):
        fig = figures(p, dim, key)
        fig.received, fig.open, fig.overdue = row.n, row.open, row.overdue
    responded = inner(Ticket.first_response_at, wd=Ticket.first_response_wd)  # type: ignore[attr-defined]
    for p, dim, key, wd, row in _grouped(session, responded, {"n": func.count()}, dims, True):
        figures(p, dim, key).responded += row.n
        if wd is not None:
            firsts.setdefault((bool(p), dim, key), Counter())[wd] += row.n
    resolved = inner(Ticket.resolved_at, Ticket.resolved_on_time.label("ok"),  # type: ignore[attr-defined]
                     wd=Ticket.resolution_wd)  # type: ignore[attr-defined]  # fmt: skip
    measures = {
        "n": func.count(),
        "on_time": func.count().filter(resolved.c.ok.is_(True)),
        "rated": func.count(resolved.c.ok),
    }
    for p, dim, key, wd, row in _grouped(session, resolved, measures, dims, True):
        fig = figures(p, dim, key)
        fig.resolved, fig.on_time, fig.rated = (
            fig.resolved + row.n,
            fig.on_time + row.on_time,
            fig.rated + row.rated,
        )
        if wd is not None:
            resolutions.setdefault((bool(p), dim, key), Counter())[wd] += row.n
    if len(periods) == 2:  # the earlier period's breakdowns carry counts only
        for stats in (firsts, resolutions):
            for stat_key in [k for k in stats if not k[0] and k[1] is not None]:
                del stats[stat_key]
        for rows in results[index_of[False]].by.values():
            for fig in rows.values():
                fig.overdue = 0
    for (p, dim, key), counts in firsts.items():
        fig = figures(p, dim, key)
        fig.first_response_median = percentile_of_counts(counts, 0.5)
        fig.first_response_p90 = percentile_of_counts(counts, 0.9)
    for (p, dim, key), counts in resolutions.items():
        fig = figures(p, dim, key)
        fig.resolution_median = percentile_of_counts(counts, 0.5)
        fig.resolution_p90 = percentile_of_counts(counts, 0.9)
    return results


def _overviews_rollup(session: Session, f: Filters, periods: Sequence[Period], today: dt.date,
                      dims: Sequence[str], state: Any, tree: rollup.Tree,
                      target: tuple[str, int]) -> list[Overview]:  # fmt: skip
    results = [Overview(period, Figures(), {d: {} for d in dims}) for period in periods]
    _span_all, later = _span(periods)
    earlier = 1 - periods.index(later)
    period_of = {b: i for i, period in enumerate(periods) for b in rollup.decompose(period)}
    agencies: frozenset[int] | None | bool = f.agency_ids if "agency" in dims else False
    cells = rollup.read(session, state, tree, set(period_of), target, dims, agencies,
                        hists_from=later.start)  # fmt: skip
    # Per figure: summed counts, then the cells' histograms and open deadlines, merged at the end.
    sums: dict[tuple[int, str | None, Any], list[Any]] = {}

    def add(slot: tuple[int, str | None, Any], cell: list[Any]) -> None:
        acc = sums.get(slot)
        if acc is None:
            acc = sums[slot] = [0] * rollup.N_COUNTS + [[], [], []]
        for j in range(rollup.N_COUNTS):
            acc[j] += cell[j]
        for j in (rollup.FIRST, rollup.RESOLUTION, rollup.DUES):
            if cell[j]:
                acc[j].append(cell[j])

    for (grain, start, scope, node, dim, key), cell in cells.items():
        if rollup.is_empty(cell):
            continue
        i = period_of[(grain, start)]
        if (scope, node) == target:
            if dim == "all":
                add((i, None, None), cell)
            else:
                add((i, dim, int(key) if dim == "category" and key else (key or None)), cell)
        if scope == rollup.EXACT and dim == "all" and agencies is not False:
            add((i, "agency", None if node == NULL_KEY else node), cell)
    for (i, dim, key), acc in sums.items():
        fig = results[i].total if dim is None else results[i].by[dim].setdefault(key, Figures())
        (fig.received, fig.responded, fig.resolved, fig.on_time, fig.rated,
         fig.open) = acc[: rollup.N_COUNTS]  # fmt: skip
        if dim is not None and i == earlier and len(periods) == 2:
            continue  # the earlier period's breakdowns carry counts only
        fig.overdue = sum(rollup.overdue(dues, today) for dues in acc[rollup.DUES])
        first, resolution = (rollup.merged(acc[j]) for j in (rollup.FIRST, rollup.RESOLUTION))
        fig.first_response_median = percentile_of_counts(first, 0.5)
        fig.first_response_p90 = percentile_of_counts(first, 0.9)
        fig.resolution_median = percentile_of_counts(resolution, 0.5)
        fig.resolution_p90 = percentile_of_counts(resolution, 0.9)
    return results


def overview(
    session: Session, f: Filters, today: dt.date, dims: Sequence[str] = DIMENSIONS
) -> Overview:
    """Totals and breakdowns for the filters' period."""
    return overviews(session, f, [f.period], today, dims)[0]


def ranking(by_agency: dict[Any, Figures]) -> list[tuple[Any, Figures]]:
    """Agencies with at least one rated resolution, best on-time rate first."""
    rated = [(k, v) for k, v in by_agency.items() if v.rated and k is not None]
    return sorted(rated, key=lambda kv: (-(kv[1].on_time_rate or 0), -kv[1].rated, kv[0]))


# --- series for the charts ------------------------------------------------------------------


@dataclasses.dataclass
class Week:
    start: dt.date  # clipped to the period
    end: dt.date
    received: int = 0
    resolved: int = 0


def weeks_of(period: Period) -> list[Week]:
    """Monday-to-Sunday weeks covering the period, the first and last clipped to it."""
    weeks: list[Week] = []
    monday = period.start - dt.timedelta(days=period.start.weekday())
    while monday <= period.end:
        weeks.append(
            Week(max(monday, period.start), min(monday + dt.timedelta(days=6), period.end))
        )
        monday += dt.timedelta(days=7)
    return weeks


def weekly(session: Session, f: Filters, use_rollup: bool = True) -> list[Week]:
    """Received and resolved per week of the period."""
    weeks = weeks_of(f.period)
    if use_rollup:
        with rollup.snapshot(session) as snap:
            found = rollup.plan(snap, f, ())
            if found is not None:
                return _weekly_rollup(snap, weeks, *found)
    first_monday = weeks[0].start - dt.timedelta(days=weeks[0].start.weekday())
    for attr, column, cond in (
        ("received", Ticket.received_at, received_in(f.period)),
        ("resolved", Ticket.resolved_at, resolved_in(f.period)),
    ):
        day = local_day_sql(session, column).label("day")
        with _hashed_aggregates(session):
            rows = session.execute(
                select(day, func.count()).where(*base_conditions(f), cond).group_by(day)
            ).all()
        for value, count in rows:
            index = (dt.date.fromisoformat(str(value)) - first_monday).days // 7
            if 0 <= index < len(weeks):
                setattr(weeks[index], attr, getattr(weeks[index], attr) + count)
    return weeks


def _weekly_rollup(session: Session, weeks: list[Week], state: Any, tree: rollup.Tree,
                   target: tuple[str, int]) -> list[Week]:  # fmt: skip
    week_of: dict[rollup.Bucket, Week] = {}
    for w in weeks:
        if (w.end - w.start).days == 6:
            week_of[("w", w.start)] = w
        else:
            days = (w.end - w.start).days + 1
            week_of.update({("d", w.start + dt.timedelta(days=i)): w for i in range(days)})
    cells = rollup.read(session, state, tree, set(week_of), target, (), False)
    for (grain, start, scope, node, dim, _key), cell in cells.items():
        if (scope, node) == target and dim == "all":
            week_of[(grain, start)].received += cell[rollup.RECEIVED]
            week_of[(grain, start)].resolved += cell[rollup.RESOLVED]
    return weeks


def backlog(session: Session, f: Filters, today: dt.date, cal: WorkCalendar,
            use_rollup: bool = True) -> list[int]:  # fmt: skip
    """Open tickets now, per AGE_BUCKETS (working days since receipt); the period is ignored."""
    if use_rollup:
        with rollup.snapshot(session) as snap:
            found = rollup.plan(snap, f, ())
            if found is not None:
                days = rollup.open_by_day(snap, *found)
                firsts = [age_cutoff(today, cal, hi) for _, hi in AGE_BUCKETS if hi is not None]
                counts = [0] * len(AGE_BUCKETS)
                for day, n in days.items():
                    counts[next((i for i, c in enumerate(firsts) if day >= c), len(firsts))] += n
                return counts
    cuts = [
        local_midnight_utc(age_cutoff(today, cal, hi)) for _, hi in AGE_BUCKETS if hi is not None
    ]
    bucket = case(*((Ticket.received_at >= cut, i) for i, cut in enumerate(cuts)), else_=len(cuts))
    inner = select(bucket.label("b")).where(*base_conditions(f), is_open()).subquery()
    with _hashed_aggregates(session):
        counts = dict(session.execute(select(inner.c.b, func.count()).group_by(inner.c.b)).all())
    return [int(counts.get(i, 0)) for i in range(len(AGE_BUCKETS))]


def agencies_in_order(
    rows: Sequence[tuple[int, int | None, str]], keep: set[int] | None
) -> list[tuple[int, int]]:
    """(agency id, depth) in tree order, siblings by name, limited to `keep` (None: all)."""
    parents = {agency_id: parent_id for agency_id, parent_id, _ in rows}
    children: dict[int | None, list[tuple[str, int]]] = {}
    for agency_id, parent_id, name in rows:
        # A parent outside the list makes the agency a root of what is shown.
        children.setdefault(parent_id if parent_id in parents else None, []).append(
            (name, agency_id)
        )
    out: list[tuple[int, int]] = []
    stack = [(agency_id, 0) for _, agency_id in sorted(children.get(None, []), reverse=True)]
    seen: set[int] = set()
    while stack:
        agency_id, depth = stack.pop()
        if agency_id in seen:
            continue
        seen.add(agency_id)
        if keep is None or agency_id in keep:
            out.append((agency_id, depth))
        kids = sorted(children.get(agency_id, []), reverse=True)
        stack.extend((kid, depth + 1) for _, kid in kids)
    return out
