"""The access matrix: EVERY route of app.url_map × every role × every method, checked against one
declarative table (ACCESS). A new route that no entry covers fails with "add <rule> to the access
table"; a route parameter without a sample value fails too. Nothing is skipped.

It runs on its own database (destructive POSTs of the walk harm nobody else), with CSRF off (the
walk tests access, not forms: CSRF has its own tests) and the rate limits off.
Every response is also searched for the planted denouncer identity: none may contain it.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from werkzeug.routing import Rule

from service.cli import DEMO_PASSWORD
from tests.access.matrix_data import build_samples
from tests.access.support import planted_leaks
from tests.conftest import PG_ADMIN

ROLES = ("anonymous", "operator", "officer_a", "officer_b", "lead", "supervisor", "admin")
LOGINS = {
    "operator": "hotline",
    "officer_a": "canbo.xaydung",  # officer of DN-SXD (agency A)
    "officer_b": "canbo.haichau",  # officer of DN-HAICHAU (agency B)
    "lead": "lanhdao.xaydung",  # lead of DN-SXD and its sub-agencies
    "supervisor": "giamsat",  # supervisor of the whole city; may reveal identities (demo data)
    "admin": "admin",
}
# Which sample labels (matrix_data.py) each role's agency scope contains.
SCOPE = {
    "anonymous": set(),
    "operator": set(),
    "officer_a": {"A", "D"},
    "officer_b": {"B"},
    "lead": {"A", "D"},
    "supervisor": {"A", "B", "D"},
    "admin": {"A", "B", "D"},
}
STAFF = ("officer_a", "officer_b", "lead", "supervisor", "admin")
ACTING = ("officer_a", "officer_b", "lead", "admin")  # handle tickets; supervisors only read
SIGNED_IN = ("operator", *STAFF)
DASHBOARD = ("lead", "supervisor", "admin")


@dataclass(frozen=True)
class Access:
    """Who gets in. roles=None: no login needed, and then the answer must be the same for every
    role (a session changes nothing); `refusals_ok` lets that answer be a 4xx (tokens, providers).
    scoped: allowed roles get in only with objects of their scope, others get 403 or 404."""

    roles: tuple[str, ...] | None
    scoped: bool = False
    refusals_ok: bool = False
    ends_session: bool = False  # run on a throwaway logged-in client
    query: tuple[str, ...] = ()  # sample names sent as query-string parameters
    form: tuple[str, ...] = ()  # sample names sent as form fields (POST)
    headers: tuple[tuple[str, str], ...] = ()  # (header, sample name)


PUBLIC = Access(None)
OWN_RULES = Access(None, refusals_ok=True)

# Rule → access. "prefix*" covers every rule starting with prefix; the longest key wins.
ACCESS: dict[str, Access] = {
    "/": PUBLIC,
    "/submit": PUBLIC,
    "/submitted/*": PUBLIC,
    "/track/*": PUBLIC,
    "/static/*": PUBLIC,
    "/healthz": PUBLIC,
    "/readyz": PUBLIC,
    "/login": Access(None, refusals_ok=True),  # a failed (here: empty) login answers 401
    "/login/2fa": PUBLIC,  # without a password step pending, everyone is sent back to /login
    "/api/*": Access(None, refusals_ok=True, headers=(("X-Tracking-Token", "token"),)),
    "/webhooks/*": OWN_RULES,  # providers sign their calls; a disabled channel is 404
    "/logout": Access(SIGNED_IN, ends_session=True),
    "/account/*": Access(SIGNED_IN),
    "/operator/*": Access(("operator", "admin")),
    "/console/*": Access(STAFF, scoped=True),
    "/console/tickets/<code>/act": Access(ACTING, scoped=True),
    "/console/tickets/<code>/templates/*": Access(ACTING, scoped=True),
    "/console/bulk": Access(ACTING),
    "/console/auto-assign": Access(ACTING, scoped=True, form=("agency_id",)),
    "/console/assignment": Access(("lead", "admin"), scoped=True, form=("agency_id",)),
    # Only users given can_reveal_identity (the demo supervisor); everyone else 403 / 404.
    "/console/tickets/<code>/identity": Access(("supervisor",), scoped=True),
    "/dashboard/*": Access(DASHBOARD, scoped=True, query=("agency",)),
    "/dashboard/reports": Access(DASHBOARD, scoped=True, form=("agency",)),
    "/dashboard/reports/*": Access(DASHBOARD, scoped=True),
    "/admin/*": Access(("admin",)),
    "/admin/audit/*": Access(("admin", "supervisor")),
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REDIRECTS = (301, 302, 303, 307, 308)


def access_key(rule: str) -> str | None:
    """The table entry for a rule: an exact key, else the longest matching "prefix*"."""
    matches = [k for k in ACCESS if (rule.startswith(k[:-1]) if k.endswith("*") else rule == k)]
    return max(matches, key=len) if matches else None


@dataclass(frozen=True)
class Call:
    rule: str
    method: str
    url: str
    label: str | None  # the scope label of the objects in the call, None if unscoped
    form: tuple[tuple[str, Any], ...]
    headers: tuple[tuple[str, str], ...]


def _choices(name: str, samples: dict[str, Any]) -> list[tuple[str | None, Any]]:
    value = samples[name]
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return [(None, v) for v in value]
    return [(None, value)]


def calls_for(rule: Rule, access: Access, samples: dict[str, Any]) -> list[Call]:
    """Every request to try for a rule: per method, one per scope label (and listed value)."""
    calls = []
    for method in sorted(set(METHODS) & rule.methods):
        form_names = access.form if method != "GET" else ()
        names = [*sorted(rule.arguments), *access.query, *form_names]
        names += [n for _, n in access.headers]
        missing = [n for n in names if n not in samples]
        assert not missing, (
            f"no sample value for {missing} in {rule.rule}: add it to tests/access/matrix_data.py"
        )
        for combo in itertools.product(*(_choices(n, samples) for n in names)):
            labels = {label for label, _ in combo if label is not None}
            if len(labels) > 1:
                continue  # mixing A's ticket with B's agency tests nothing useful
            values = dict(zip(names, (v for _, v in combo), strict=True))
            built = rule.build({n: values[n] for n in rule.arguments}, append_unknown=False)
            assert built is not None, f"cannot build {rule.rule} from {values}"
            query = {n: values[n] for n in access.query}
            url = built[1] + (f"?{urlencode(query)}" if query else "")
            calls.append(Call(
                rule.rule, method, url, next(iter(labels), None),
                tuple((n, values[n]) for n in form_names),
                tuple((h, str(values[n])) for h, n in access.headers),
            ))  # fmt: skip
        assert any(c.method == method for c in calls), f"no request built for {method} {rule.rule}"
    return calls


def body_text(response: Any) -> str:
    """The response as text for the identity search; spreadsheets are opened cell by cell."""
    data = response.get_data()
    if "spreadsheetml" in (response.mimetype or ""):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
            for cell in row if cell is not None
        )  # fmt: skip
    return data.decode("utf-8", errors="ignore")


def verdict(access: Access, role: str, call: Call, response: Any) -> str | None:
    """What is wrong with this answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if access.roles is None:
        return None  # compared across roles afterwards
    to_login = status in REDIRECTS and "/login" in (response.location or "")
    if role == "anonymous":
        return None if (to_login or status == 401) else f"anonymous got {status}, not /login"
    in_scope = call.label is None or call.label in SCOPE[role]
    allowed = role in access.roles and (in_scope or not access.scoped)
    refused = status in (401, 403, 404) or to_login
    if allowed and refused:
        return f"{role} must be let in, got {status} {response.location or ''}".strip()
    if not allowed and status not in (403, 404):
        return f"{role} must get 403 or 404, got {status}"
    return None


@pytest.fixture(scope="module")
def matrix_app(app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second app on a fresh database (the session's env supplies Redis, SMTP, uploads)."""
    from flask_migrate import upgrade

    from service import create_app
    from service.cli import load_demo_data
    from service.extensions import db

    name = f"pakn_matrix_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    matrix = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "TOTP_REQUIRED_ROLES": "",
        "REPORT_FOLDER": str(tmp_path_factory.mktemp("matrix-reports")),
    })  # fmt: skip
    with matrix.app_context():
        upgrade(revision="heads")
        load_demo_data()
        matrix.config["MATRIX_SAMPLES"] = build_samples(matrix.config["UPLOAD_FOLDER"])
        db.session.remove()
    yield matrix
    with matrix.app_context():
        db.engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _client(app: Any, role: str) -> Any:
    client = app.test_client()
    if role != "anonymous":
        response = client.post("/login", data={"username": LOGINS[role], "password": DEMO_PASSWORD})
        assert response.status_code == 302, f"{role} cannot log in: {response.status_code}"
    return client


def collect_calls(app: Any, samples: dict[str, Any]) -> list[tuple[Access, Call]]:
    """The requests for every rule of the app; fails on a rule the table does not cover."""
    unknown, calls, used = [], [], set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        key = access_key(rule.rule)
        if key is None:
            unknown.append(f"add {rule.rule} ({rule.endpoint}) to the access table")
            continue
        used.add(key)
        calls += [(ACCESS[key], c) for c in calls_for(rule, ACCESS[key], samples)]
    assert not unknown, "\n".join(unknown)
    stale = sorted(k for k in set(ACCESS) - used if not k.endswith("*"))  # "prefix*" = area default
    assert not stale, f"access table entries that match no route: {stale}"
    return calls


def same_for_everyone(calls: list[tuple[Access, Call]],
                      answers: dict[Call, dict[str, int]]) -> list[str]:  # fmt: skip
    """Routes without login: a session must change nothing, and public pages must work."""
    problems = []
    for access, call in calls:
        if access.roles is not None:
            continue
        statuses = answers[call]
        if len(set(statuses.values())) != 1:
            problems.append(f"{call.method} {call.url}: the answer depends on the role {statuses}")
        status = statuses["anonymous"]
        refused = status in (401, 403) or (call.method == "GET" and status >= 400)
        if refused and not access.refusals_ok:
            problems.append(f"{call.method} {call.url}: public page answered {status}")
    return problems


def test_every_route_and_role(matrix_app: Any) -> None:
    samples = matrix_app.config["MATRIX_SAMPLES"]
    calls = collect_calls(matrix_app, samples)
    clients = {role: _client(matrix_app, role) for role in ROLES}
    problems: list[str] = []
    answers: dict[Call, dict[str, int]] = {}
    shown_d = 0  # responses that show the denunciation at all (so the leak search meant something)
    # Reads first, then writes: an administrator's POST must not change what later reads see.
    for access, call in sorted(calls, key=lambda ac: ac[1].method != "GET"):
        for role in ROLES:
            client = _client(matrix_app, role) if access.ends_session else clients[role]
            response = client.open(call.url, method=call.method, data=dict(call.form) or None,
                                   headers=dict(call.headers))  # fmt: skip
            answers.setdefault(call, {})[role] = response.status_code
            where = f"{call.method} {call.url} [{call.rule}] as {role}"
            problem = verdict(access, role, call, response)
            if problem:
                problems.append(f"{where}: {problem}")
            text = body_text(response)
            shown_d += samples["code"]["D"] in text
            if leaks := planted_leaks(text):
                problems.append(f"{where}: shows the denouncer's identity {leaks}")
    problems += same_for_everyone(calls, answers)
    assert not problems, f"{len(problems)} access problems:\n" + "\n".join(problems)
    assert len(calls) >= 40  # the walk really covered the application
    assert shown_d >= 10, "the denunciation was in too few responses for the identity search"


def test_new_routes_and_parameters_are_never_skipped() -> None:
    from flask import Flask

    app = Flask(__name__)
    app.add_url_rule("/brand-new", "new", lambda: "")
    with pytest.raises(AssertionError, match=r"add /brand-new \(new\) to the access table"):
        collect_calls(app, {"filename": "style.css"})
    odd = Flask(__name__)
    odd.add_url_rule("/console/widgets/<widget_id>", "widget", lambda widget_id: "")
    with pytest.raises(AssertionError, match=r"no sample value for \['widget_id'\]"):
        collect_calls(odd, {"filename": "style.css"})
