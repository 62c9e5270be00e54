"""Dashboard figures pre-summed per day, Monday week and month (no Flask).

One row of `report_rollup` holds the counts and working-day histograms of the tickets of one
bucket (grain d/w/m of the local calendar, by the day each thing happened), one agency node and
one dimension value. A node is an agency itself (scope e; -1: not routed yet) or a whole subtree
(scope s, kept for agencies with sub-agencies; node 0: every ticket). A period is read as a few
whole months, weeks and days (`decompose`), so a province's year is a few thousand rows instead
of a million tickets.

Freshness: `fold` (a periodic job) adds what changed since the last fold, using what each ticket
last contributed (`report_rollup_ticket`) to take the old contribution back. Reading corrects the
rows by the tickets updated since the last fold (less MARGIN), so figures are always current; a
fold that stops running only makes reading slower. A changed agency tree makes the rollup
unusable (the dashboard reads the tickets) until the next fold rebuilds it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import zip_longest
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..models import Agency, RollupRow, RollupState, RollupTicket, Ticket, utcnow
from . import lifecycle
from .report_filters import (
    DIMENSIONS,
    HANDLING,
    NULL_KEY,
    Filters,
    Period,
    local_date,
    local_day_sql,
)
from .routing import descendants

GRAINS = ("d", "w", "m", "q")  # day, Monday week, month, calendar quarter
EXACT, SUBTREE = "e", "s"
EVERYTHING = 0  # the subtree node holding every ticket, routed or not
# A transaction that stamped updated_at before a fold started but committed after it is still
# read by the next fold and by readers: changes are re-read this far back (idempotent).
MARGIN = dt.timedelta(minutes=3)
STATE_ID = 1
# Cell layout: counts, then first-answer and resolution histograms (working days → tickets),
# then the open tickets' running-clock deadlines (ISO date → tickets: overdue is read per day).
RECEIVED, RESPONDED, RESOLVED, ON_TIME, RATED, OPEN, FIRST, RESOLUTION, DUES = range(9)
N_COUNTS = 6
Key = tuple[str, dt.date, str, int, str, str]  # grain, start, scope, node, dim, key
Bucket = tuple[str, dt.date]


# --- buckets --------------------------------------------------------------------------------


def bucket_start(grain: str, day: dt.date) -> dt.date:
    if grain == "d":
        return day
    if grain == "w":
        return day - dt.timedelta(days=day.weekday())
    if grain == "q":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _quarter_end(day: dt.date) -> dt.date:
    return _month_end(dt.date(day.year, day.month + 2, 1))


def decompose(period: Period) -> list[Bucket]:
    """Whole quarters, months and Monday weeks, then single days, covering the period exactly."""
    out: list[Bucket] = []
    day = period.start
    while day <= period.end:
        if day.day == 1 and day.month % 3 == 1 and _quarter_end(day) <= period.end:
            out.append(("q", day))
            day = _quarter_end(day) + dt.timedelta(days=1)
            continue
        if day.day == 1 and _month_end(day) <= period.end:
            out.append(("m", day))
            day = _month_end(day) + dt.timedelta(days=1)
            continue
        week_end = day + dt.timedelta(days=6)
        if day.weekday() == 0 and week_end <= period.end:
            next_month = _month_end(day) + dt.timedelta(days=1)
            # A week must not swallow the first days of a month that fits whole.
            if not (next_month <= week_end and _month_end(next_month) <= period.end):
                out.append(("w", day))
                day = week_end + dt.timedelta(days=1)
                continue
        out.append(("d", day))
        day += dt.timedelta(days=1)
    return out


# --- what a ticket contributes --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fact:
    received_on: dt.date
    agency_id: int | None
    category_id: int | None
    channel: str
    kind: str
    responded_on: dt.date | None
    first_wd: int | None
    resolved_on: dt.date | None
    resolution_wd: int | None
    on_time: bool | None
    is_open: bool
    clock_due: dt.date | None  # the running clock's deadline while open (none while paused)


FACT_FIELDS = tuple(f.name for f in dataclasses.fields(Fact))
TICKET_COLUMNS = (
    Ticket.id, Ticket.received_at, Ticket.agency_id, Ticket.category_id, Ticket.channel,
    Ticket.kind, Ticket.first_response_at, Ticket.first_response_wd, Ticket.resolved_at,
    Ticket.resolution_wd, Ticket.resolved_on_time, Ticket.status, Ticket.acceptance_due,
    Ticket.resolution_due,
)  # fmt: skip


def clock_due(status: str, acceptance_due: dt.date | None,
              resolution_due: dt.date | None) -> dt.date | None:  # fmt: skip
    """The deadline "overdue now" compares with (report_filters.overdue_on)."""
    if status in lifecycle.AWAITING_ACCEPTANCE:
        return acceptance_due
    return resolution_due if status in HANDLING else None


def fact_of(row: Any) -> Fact:
    """A ticket row (TICKET_COLUMNS) as the facts the dashboard counts."""
    return Fact(
        local_date(row.received_at), row.agency_id, row.category_id, row.channel, row.kind,
        local_date(row.first_response_at) if row.first_response_at is not None else None,
        row.first_response_wd,
        local_date(row.resolved_at) if row.resolved_at is not None else None,
        row.resolution_wd, row.resolved_on_time, row.status in lifecycle.OPEN_STATUSES,
        clock_due(row.status, row.acceptance_due, row.resolution_due),
    )  # fmt: skip


class Tree:
    """The agency tree as the rollup sees it: which nodes a ticket of an agency counts in."""

    def __init__(self, parents: Mapping[int, int | None]) -> None:
        self.parents = dict(parents)
        self.inner = {p for p in self.parents.values() if p is not None}
        self._nodes: dict[int | None, tuple[tuple[str, int], ...]] = {}

    @classmethod
    def load(cls, session: Session) -> Tree:
        return cls({a: p for a, p in session.execute(select(Agency.id, Agency.parent_id))})

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.parents.items())).encode()).hexdigest()

    def nodes(self, agency_id: int | None) -> tuple[tuple[str, int], ...]:
        found = self._nodes.get(agency_id)
        if found is not None:
            return found
        if agency_id is None:
            out = [(EXACT, NULL_KEY), (SUBTREE, EVERYTHING)]
        else:
            out = [(EXACT, agency_id), (SUBTREE, EVERYTHING)]
            seen: set[int] = set()
            node: int | None = agency_id
            while node is not None and node not in seen:
                seen.add(node)
                if node in self.inner:
                    out.append((SUBTREE, node))
                node = self.parents.get(node)
        self._nodes[agency_id] = found = tuple(out)
        return found

    def target(self, agency_ids: frozenset[int] | None) -> tuple[str, int] | None:
        """The node holding exactly these agencies' tickets, if there is one."""
        if agency_ids is None:
            return SUBTREE, EVERYTHING
        if len(agency_ids) == 1:
            return EXACT, next(iter(agency_ids))
        roots = [a for a in agency_ids if self.parents.get(a) not in agency_ids]
        if NULL_KEY in agency_ids or len(roots) != 1 or roots[0] not in self.inner:
            return None
        return (SUBTREE, roots[0]) if descendants(roots[0], self.parents) == agency_ids else None


def _new_cell() -> list[Any]:
    return [0, 0, 0, 0, 0, 0, Counter(), Counter(), Counter()]


class Cells(dict[Key, list[Any]]):
    """Cells being summed, laid out as RECEIVED … DUES."""

    def add(self, measure: int, day: dt.date, nodes: Iterable[tuple[str, int]],
            dims: tuple[tuple[str, str], ...], wd: int | None, ok: bool | None, sign: int,
            grains: Sequence[str] = GRAINS, keep: set[Bucket] | None = None,
            is_open: bool = False, due: dt.date | None = None) -> None:  # fmt: skip
        for grain in grains:
            start = bucket_start(grain, day)
            if keep is not None and (grain, start) not in keep:
                continue
            for scope, node in nodes:
                for dim, key in dims:
                    cell = self.get((grain, start, scope, node, dim, key))
                    if cell is None:
                        cell = self[(grain, start, scope, node, dim, key)] = _new_cell()
                    cell[measure] += sign
                    if measure == RESOLVED and ok is not None:
                        cell[RATED] += sign
                        cell[ON_TIME] += sign if ok else 0
                    if wd is not None and measure != RECEIVED:
                        cell[FIRST if measure == RESPONDED else RESOLUTION][wd] += sign
                    if is_open:
                        cell[OPEN] += sign
                        if due is not None:
                            cell[DUES][due.isoformat()] += sign

    def merge(self, key: Key, cell: list[Any]) -> None:
        """Add a whole cell (counts and histograms) into the cell at `key`."""
        mine = self.get(key)
        if mine is None:
            mine = self[key] = _new_cell()
        for j in range(N_COUNTS):
            mine[j] += cell[j]
        for j in (FIRST, RESOLUTION, DUES):
            if cell[j]:
                mine[j].update(cell[j])

    def add_fact(self, fact: Fact, tree: Tree, sign: int, keep: set[Bucket] | None = None) -> None:
        nodes = tree.nodes(fact.agency_id)
        dims = _dim_keys(fact.category_id, fact.channel, fact.kind)
        self.add(RECEIVED, fact.received_on, nodes, dims, None, None, sign, keep=keep,
                 is_open=fact.is_open, due=fact.clock_due)  # fmt: skip
        if fact.responded_on is not None:
            self.add(RESPONDED, fact.responded_on, nodes, dims, fact.first_wd, None, sign,
                     keep=keep)  # fmt: skip
        if fact.resolved_on is not None:
            self.add(RESOLVED, fact.resolved_on, nodes, dims, fact.resolution_wd, fact.on_time,
                     sign, keep=keep)  # fmt: skip


def _dim_keys(category_id: int | None, channel: str, kind: str) -> tuple[tuple[str, str], ...]:
    category = "" if category_id is None else str(category_id)
    return (("all", ""), ("category", category), ("channel", channel), ("kind", kind))


def is_empty(cell: list[Any]) -> bool:
    """No ticket left in the cell (histograms as mappings or dense lists)."""
    if any(cell[:N_COUNTS]):
        return False
    hists = [h.values() if isinstance(h, Mapping) else h for h in cell[N_COUNTS:]]
    return not any(any(h) for h in hists)


def overdue(dues: Mapping[str, int], today: dt.date) -> int:
    """Open tickets of a cell whose running clock ran out before today."""
    day = today.isoformat()
    return sum(n for due, n in dues.items() if due < day)


def _dues_out(dues: Counter[str]) -> dict[str, int] | None:
    return {k: v for k, v in sorted(dues.items()) if v} or None


def _dues_in(raw: Any) -> dict[str, int]:
    if not raw:
        return {}
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _hist_out(hist: Counter[int]) -> list[int] | None:
    """Stored dense: index = working days (a JSON list parses much faster than an object)."""
    top = max((k for k, v in hist.items() if v), default=None)
    return None if top is None else [hist.get(i, 0) for i in range(top + 1)]


def hist_list(raw: Any) -> list[int]:
    if not raw:
        return []
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def add_into(total: list[int], part: Iterable[int] | Mapping[int, int]) -> None:
    """total += part, elementwise; part is a dense list or a mapping days → count."""
    items = part.items() if isinstance(part, Mapping) else enumerate(part)
    for i, n in items:
        if n:
            if i >= len(total):
                total.extend([0] * (i + 1 - len(total)))
            total[i] += n


def merged(lists: Sequence[list[int]]) -> dict[int, int]:
    """Dense histograms summed column by column (in C), as days → count."""
    if len(lists) == 1:
        return {d: n for d, n in enumerate(lists[0]) if n}
    return {d: n for d, n in enumerate(map(sum, zip_longest(*lists, fillvalue=0))) if n}


def _hist_counter(raw: Any) -> Counter[int]:
    return Counter({i: n for i, n in enumerate(hist_list(raw)) if n})


# --- state ----------------------------------------------------------------------------------


def usable(session: Session, tree: Tree) -> RollupState | None:
    """The rollup's state when it can be read for this agency tree."""
    state = session.get(RollupState, STATE_ID)
    if state is None or not state.ready or state.folded_at is None:
        return None
    return state if state.tree_hash == tree.hash() else None


def invalidate(session: Session) -> None:
    """After a change the fold cannot see (durations recomputed): rebuild at the next fold."""
    state = session.get(RollupState, STATE_ID)
    if state is not None:
        state.ready = False


def plan(session: Session, f: Filters, dims: Sequence[str]) -> tuple[RollupState, Tree,
                                                                      tuple[str, int]] | None:  # fmt: skip
    """Whether the rollup can answer these filters and breakdowns: no kind, category or channel
    filter (those read the tickets), single-dimension breakdowns, a scope that is one node."""
    if f.kind or f.category_id is not None or f.channel or not set(dims) <= set(DIMENSIONS):
        return None
    # Within one snapshot the tree and the state cannot change: load them once.
    cached = session.info.get("rollup_tree_state") if session.info.get(_SNAPSHOT) else None
    if cached is None:
        tree = Tree.load(session)
        cached = (tree, usable(session, tree))
        if session.info.get(_SNAPSHOT):
            session.info["rollup_tree_state"] = cached
    tree, state = cached
    target = tree.target(f.agency_ids)
    if target is None or state is None:
        return None
    return state, tree, target


def changed(session: Session, since: dt.datetime) -> list[tuple[int, Fact, Fact | None]]:
    """Tickets updated since `since`: (id, facts now, facts last folded or None). Within one
    snapshot the answer cannot change: a page's figures, weeks and backlog share one query."""
    key = ("rollup_changed", since)
    if session.info.get(_SNAPSHOT) and key in session.info:
        return session.info[key]  # type: ignore[no-any-return]
    old_cols = [getattr(RollupTicket, name).label(f"old_{name}") for name in FACT_FIELDS]
    stmt = (
        select(*TICKET_COLUMNS, *old_cols)
        .outerjoin(RollupTicket, RollupTicket.ticket_id == Ticket.id)
        .where(Ticket.updated_at > since)
    )
    out = []
    for row in session.execute(stmt):
        old = None
        if row.old_received_on is not None:
            old = Fact(*(getattr(row, f"old_{name}") for name in FACT_FIELDS))
        out.append((row.id, fact_of(row), old))
    if session.info.get(_SNAPSHOT):
        session.info[key] = out
    return out


# --- reading --------------------------------------------------------------------------------

_SNAPSHOT = "rollup_snapshot"


@contextlib.contextmanager
def snapshot(session: Session) -> Iterator[Session]:
    """A session reading one snapshot (PostgreSQL REPEATABLE READ on a connection of its own):
    the rows and the tickets changed since the fold are then seen as of the same moment, even
    if a fold commits in between. SQLite transactions are already serial: the same session.
    Inside a snapshot, asking again gives the same one (a page reads several figures)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or session.info.get(_SNAPSHOT):
        yield session
        return
    with bind.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with Session(bind=conn, info={_SNAPSHOT: True}) as snap:
            yield snap


def read(session: Session, state: RollupState, tree: Tree, buckets: set[Bucket],
         target: tuple[str, int], dims: Sequence[str], agencies: frozenset[int] | None | bool,
         hists_from: dt.date | None = None) -> dict[Key, list[Any]]:  # fmt: skip
    """Cells of these buckets for the target node (totals and `dims`) and, unless `agencies` is
    False, the exact cells of those agencies (None: every agency), current to this moment.
    Histograms (dense lists) and open deadlines come with the target's totals and with buckets
    from `hists_from` on (None: all)."""
    wanted_dims = ["all", *(d for d in dims if d != "agency")]
    scope, node = target
    mine = and_(RollupRow.scope == scope, RollupRow.dim.in_(wanted_dims), RollupRow.node == node)
    parts = [mine]
    if agencies is not False:
        exact = and_(RollupRow.scope == EXACT, RollupRow.dim == "all")
        if agencies is not None and len(agencies) <= 30:
            # A long list costs one index probe per agency and bucket: filtered below instead.
            exact = and_(exact, RollupRow.node.in_(sorted(agencies)))
        parts.append(exact)
    # JSON comes back as text and is parsed in one call for all rows (per-value parsing was
    # the overview's largest cost).
    first, resolution, dues = (
        cast(c, Text)
        for c in (RollupRow.first_hist, RollupRow.resolution_hist, RollupRow.open_dues)
    )
    if hists_from is not None:
        with_hists = or_(RollupRow.start >= hists_from, and_(mine, RollupRow.dim == "all"))
        first, resolution, dues = (
            case((with_hists, c), else_=null()) for c in (first, resolution, dues)
        )
    cells: dict[Key, list[Any]] = {}
    pg = session.get_bind().dialect.name == "postgresql"
    for part in parts:  # one query each: both follow the (scope, dim, grain, start) index
        stmt = select(
            RollupRow.grain, RollupRow.start, RollupRow.scope, RollupRow.node, RollupRow.dim,
            RollupRow.key, RollupRow.received, RollupRow.responded, RollupRow.resolved,
            RollupRow.on_time, RollupRow.rated, RollupRow.open, first, resolution, dues,
        ).where(part)  # fmt: skip
        if pg:
            # Joined to the buckets (two arrays, unnested): one index probe per bucket, and one
            # cached statement. As IN or OR, PostgreSQL also scans every row of the scope.
            grains, starts = zip(*sorted(buckets), strict=True)
            listed = (
                func.unnest(
                    literal(list(grains), ARRAY(String)), literal(list(starts), ARRAY(Date))
                )
                .table_valued("g", "d")
                .render_derived(name="b")
            )
            stmt = stmt.join(
                listed, and_(RollupRow.grain == listed.c.g, RollupRow.start == listed.c.d)
            )
        else:
            stmt = stmt.where(tuple_(RollupRow.grain, RollupRow.start).in_(sorted(buckets)))
        rows = [
            r for r in session.execute(stmt)
            if not (r[2] == EXACT and agencies and r[3] not in agencies and (r[2], r[3]) != target)
        ]  # fmt: skip
        parsed = [
            json.loads("[" + ",".join(r[j] or "null" for r in rows) + "]") for j in (12, 13, 14)
        ]
        for r, first_h, resolution_h, dues_h in zip(rows, *parsed, strict=True):
            cells[(r[0], r[1], r[2], r[3], r[4], r[5])] = [
                r[6], r[7], r[8], r[9], r[10], r[11], first_h or [], resolution_h or [],
                dues_h or {},
            ]  # fmt: skip

    def wanted(key: Key) -> bool:
        if key[2:4] == target and key[4] in wanted_dims:
            return True
        if agencies is False or key[2] != EXACT or key[4] != "all":
            return False
        return agencies is None or key[3] in agencies

    delta = Cells()
    assert state.folded_at is not None
    for _tid, new, old in changed(session, state.folded_at - MARGIN):
        if new != old:
            delta.add_fact(new, tree, 1, keep=buckets)
            if old is not None:
                delta.add_fact(old, tree, -1, keep=buckets)
    for key, change in delta.items():
        if not wanted(key):
            continue
        cell = cells.setdefault(key, [0, 0, 0, 0, 0, 0, [], [], {}])
        for i in range(N_COUNTS):
            cell[i] += change[i]
        add_into(cell[FIRST], change[FIRST])
        add_into(cell[RESOLUTION], change[RESOLUTION])
        for due, n in change[DUES].items():
            cell[DUES][due] = cell[DUES].get(due, 0) + n
    return cells


def open_by_day(session: Session, state: RollupState, tree: Tree,
                target: tuple[str, int]) -> Counter[dt.date]:  # fmt: skip
    """Tickets of the target node open now, by local day of receipt (the backlog chart)."""
    scope, node = target
    rows = session.execute(
        select(RollupRow.start, RollupRow.open).where(
            RollupRow.grain == "d", RollupRow.scope == scope, RollupRow.dim == "all",
            RollupRow.node == node, RollupRow.open != 0,
        )
    )  # fmt: skip
    out: Counter[dt.date] = Counter({day: n for day, n in rows})
    assert state.folded_at is not None
    for _tid, new, old in changed(session, state.folded_at - MARGIN):
        if new == old:
            continue
        for fact, sign in ((new, 1), (old, -1)):
            if fact is not None and fact.is_open and target in tree.nodes(fact.agency_id):
                out[fact.received_on] += sign
    return out


# --- folding and rebuilding -----------------------------------------------------------------


def _lock_state(session: Session) -> RollupState:
    state = session.scalars(
        select(RollupState).where(RollupState.id == STATE_ID).with_for_update()
    ).first()
    if state is None:
        state = RollupState(id=STATE_ID, ready=False)
        session.add(state)
        session.flush()
    return state


def fold(session: Session) -> dict[str, int]:
    """Add the changes since the last fold (or rebuild when the rollup is not usable)."""
    state = _lock_state(session)
    tree = Tree.load(session)
    if not state.ready or state.folded_at is None or state.tree_hash != tree.hash():
        return rebuild(session)
    started = utcnow()
    cells = Cells()
    snapshots: dict[int, Fact] = {}
    for ticket_id, new, old in changed(session, state.folded_at - MARGIN):
        if new != old:
            cells.add_fact(new, tree, 1)
            if old is not None:
                cells.add_fact(old, tree, -1)
            snapshots[ticket_id] = new
    _apply(session, cells)
    ids = sorted(snapshots)
    for i in range(0, len(ids), 500):
        session.execute(delete(RollupTicket).where(RollupTicket.ticket_id.in_(ids[i : i + 500])))
    if ids:
        session.execute(insert(RollupTicket), [
            {"ticket_id": i, **dataclasses.asdict(snapshots[i])} for i in ids
        ])  # fmt: skip
    state.folded_at = started
    session.commit()
    return {"tickets": len(ids), "cells": len(cells)}


def _apply(session: Session, cells: Cells) -> None:
    keys = [k for k, c in cells.items() if not is_empty(c)]
    columns = (RollupRow.grain, RollupRow.start, RollupRow.scope, RollupRow.node,
               RollupRow.dim, RollupRow.key)  # fmt: skip
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        rows = session.scalars(select(RollupRow).where(tuple_(*columns).in_(chunk))).all()
        existing = {(r.grain, r.start, r.scope, r.node, r.dim, r.key): r for r in rows}
        for key in chunk:
            change = cells[key]
            row = existing.get(key)
            if row is None:
                session.add(RollupRow(**_row_values(key, change)))
                continue
            merged = [
                row.received, row.responded, row.resolved, row.on_time, row.rated, row.open,
                _hist_counter(row.first_hist), _hist_counter(row.resolution_hist),
                Counter(_dues_in(row.open_dues)),
            ]  # fmt: skip
            for j in range(N_COUNTS):
                merged[j] += change[j]
            for j in (FIRST, RESOLUTION, DUES):
                merged[j].update(change[j])
            if is_empty(merged):
                session.delete(row)
                continue
            for name, value in _row_values(key, merged).items():
                setattr(row, name, value)
    session.flush()


def _row_values(key: Key, cell: list[Any]) -> dict[str, Any]:
    grain, start, scope, node, dim, value = key
    return {
        "grain": grain, "start": start, "scope": scope, "node": node, "dim": dim, "key": value,
        "received": cell[RECEIVED], "responded": cell[RESPONDED], "resolved": cell[RESOLVED],
        "on_time": cell[ON_TIME], "rated": cell[RATED], "open": cell[OPEN],
        "first_hist": _hist_out(cell[FIRST]), "resolution_hist": _hist_out(cell[RESOLUTION]),
        "open_dues": _dues_out(cell[DUES]),
    }  # fmt: skip


ROW_COLUMNS = ("grain", "start", "scope", "node", "dim", "key", "received", "responded",
               "resolved", "on_time", "rated", "open", "first_hist", "resolution_hist",
               "open_dues")  # fmt: skip
JSON_COLUMNS = ("first_hist", "resolution_hist", "open_dues")


class _Writer:
    """Rows out in batches: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self, session: Session, size: int = 20_000) -> None:
        self.session, self.size, self.rows, self.count = session, size, [], 0
        self.pg = session.get_bind().dialect.name == "postgresql"

    def write(self, cells: Cells) -> None:
        for key, cell in cells.items():
            if not is_empty(cell):
                self.rows.append(_row_values(key, cell))
        cells.clear()
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        self.count += len(self.rows)
        if self.pg:
            raw = self.session.connection().connection.driver_connection
            columns = ", ".join(f'"{c}"' for c in ROW_COLUMNS)
            with raw.cursor() as cur, cur.copy(f"COPY report_rollup ({columns}) FROM STDIN") as cp:
                for row in self.rows:
                    cp.write_row([
                        json.dumps(row[c]) if c in JSON_COLUMNS and row[c] else row[c]
                        for c in ROW_COLUMNS
                    ])  # fmt: skip
        else:
            self.session.execute(insert(RollupRow), self.rows)
        self.rows = []


def rebuild(session: Session, echo: Callable[[str], None] = lambda _m: None) -> dict[str, int]:
    """Recompute the whole rollup from the tickets, in one transaction (readers keep the old one
    until it commits)."""
    state = _lock_state(session)
    started = utcnow()
    tree = Tree.load(session)
    session.execute(delete(RollupRow))
    session.execute(delete(RollupTicket))
    day = lambda column: local_day_sql(session, column)  # noqa: E731
    status = Ticket.status
    due = case(
        (status.in_(sorted(lifecycle.AWAITING_ACCEPTANCE)), Ticket.acceptance_due),
        (status.in_(sorted(HANDLING)), Ticket.resolution_due),
        else_=null(),
    )
    session.execute(insert(RollupTicket).from_select(["ticket_id", *FACT_FIELDS], select(
        Ticket.id, day(Ticket.received_at), Ticket.agency_id, Ticket.category_id, Ticket.channel,
        Ticket.kind, day(Ticket.first_response_at), Ticket.first_response_wd,
        day(Ticket.resolved_at), Ticket.resolution_wd, Ticket.resolved_on_time,
        status.in_(sorted(lifecycle.OPEN_STATUSES)), due,
    )))  # fmt: skip
    t = RollupTicket
    common = (t.agency_id, t.category_id, t.channel, t.kind)
    no_int, no_bool, no_date = cast(null(), Integer), cast(null(), Boolean), cast(null(), Date)
    events = union_all(
        select(literal(RECEIVED).label("m"), t.received_on.label("day"), *common,
               no_int.label("wd"), no_bool.label("ok"), t.is_open, t.clock_due),
        select(literal(RESPONDED), t.responded_on, *common, t.first_wd, no_bool, no_bool,
               no_date).where(t.responded_on.isnot(None)),
        select(literal(RESOLVED), t.resolved_on, *common, t.resolution_wd, t.on_time, no_bool,
               no_date).where(t.resolved_on.isnot(None)),
    ).subquery()  # fmt: skip
    stream = session.execute(
        select(events).order_by(events.c.day), execution_options={"yield_per": 20_000}
    )
    writer = _Writer(session)
    # Events are added to day cells only; a finished day is summed into its week, month and
    # quarter (a few thousand cells a day instead of 36 updates per event).
    open_cells = {grain: Cells() for grain in GRAINS}
    current: dict[str, dt.date | None] = dict.fromkeys(GRAINS)
    tickets = 0

    def close_day() -> None:
        for (_g, day, *rest), cell in open_cells["d"].items():
            for grain in GRAINS[1:]:
                start = bucket_start(grain, day)
                if current[grain] != start:
                    writer.write(open_cells[grain])  # the stream is by day: that bucket is whole
                    current[grain] = start
                open_cells[grain].merge((grain, start, *rest), cell)  # type: ignore[arg-type]
        writer.write(open_cells["d"])

    for m, on, agency_id, category_id, channel, kind, wd, ok, is_open, due in stream:
        on = on if isinstance(on, dt.date) else dt.date.fromisoformat(on)
        if isinstance(due, str):
            due = dt.date.fromisoformat(due)
        if current["d"] != on:
            close_day()
            current["d"] = on
        open_cells["d"].add(m, on, tree.nodes(agency_id), _dim_keys(category_id, channel, kind),
                            wd, None if ok is None else bool(ok), 1, grains=("d",),
                            is_open=bool(is_open), due=due)  # fmt: skip
        tickets += m == RECEIVED
        if tickets and tickets % 100_000 == 0 and m == RECEIVED:
            echo(f"  {tickets:,} tickets")
    close_day()
    for grain in GRAINS[1:]:
        writer.write(open_cells[grain])
    writer.flush()
    state.ready, state.tree_hash = True, tree.hash()
    state.folded_at, state.rebuilt_at = started, utcnow()
    session.commit()
    if writer.pg:  # fresh statistics, or the planner reads whole buckets for a few rows
        session.execute(text("ANALYZE report_rollup, report_rollup_ticket"))
        session.commit()
    return {"tickets": tickets, "rows": writer.count}
