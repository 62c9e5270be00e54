"""``make bench``: POST /api/v1/tickets under gunicorn, service vs. a bare baseline.

Usage::

    .venv/bin/python -m bench.run [--duration 8] [--connections 16] [--threads 2]
                                  [--workers 3] [--rounds 6] [--warmup 3]
                                  [--route-tickets 2000] [--route-workers 2]
                                  [--skip-api] [--skip-worker]

What it does, in one run:

1. prints the machine (CPUs, kernel, CPU model, date UTC, PostgreSQL/Redis/wrk versions);
2. installs ``wrk`` with apt-get if it is missing;
3. creates a fresh PostgreSQL database ``pakn_bench`` and flushes Redis db 15, runs
   ``flask --app service db upgrade`` and ``flask --app service demo-data``;
4. starts two gunicorns (sync workers): the baseline (``bench.baseline_app:app``: one
   INSERT+COMMIT and one RQ enqueue) and the service (``service:create_app()``, with its intake
   relay ``python -m workers.relay`` running throughout, as the scheduler runs it in
   production), warms each up, then runs wrk against them in alternation (baseline, service,
   baseline, service, ...) so both see the same machine state; prints req/s, p50, p99 and the service/baseline ratio with
   PASS/FAIL against the targets (ratio >= 0.8, p99 < 100 ms, no non-2xx or socket errors);
5. worker throughput: on a fresh database, creates ``--route-tickets`` tickets through the
   service's own API code (Flask test client), hands them to RQ with one round of the relay
   (``route_batch`` jobs), starts ``--route-workers`` ``python -m workers.worker --burst``
   processes and times until no ticket is left in status ``received``; then, with one idle
   worker and the relay running, files 40 tickets one at a time and times each until routed;
6. writes a Markdown snippet of the results to ``bench/last-results.md``.

Exit status: 0 when every measured part passes, 1 when a target is missed or the run had
errors (non-2xx, socket errors, failed jobs), 2 when the benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
LUA_SCRIPT = BENCH_DIR / "post_ticket.lua"
RESULTS_MD = BENCH_DIR / "last-results.md"

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "pakn_bench"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
PG_BENCH_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/15"
API_PATH = "/api/v1/tickets"

TARGET_RATIO = 0.8
TARGET_P99_MS = 100.0
SEQ_MARKER = "__SEQ__"  # replaced per request by post_ticket.lua

DEFAULT_CATEGORY = "env"
DEFAULT_AREA = "DN-HAICHAU"
SERVICE_ANSWER_KEYS = ("code", "tracking_token", "status", "tracking_url")


class BenchError(Exception):
    """The benchmark cannot go on (setup failed)."""


# --------------------------------------------------------------------------------------------
# Output helpers


def say(msg: str = "") -> None:
    print(msg, flush=True)


def section(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(0, 76 - len(title)))


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------------------------
# Machine


def _cmd_output(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip()


def machine_info() -> dict[str, str]:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        nproc = str(os.cpu_count())
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": nproc,
        "uname": _cmd_output(["uname", "-srm"]),
        "cpu": cpu_model,
        "python": platform.python_version(),
    }
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        info["postgresql"] = f"unreachable ({exc})"
    try:
        info["redis"] = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    except redis.RedisError as exc:
        info["redis"] = f"unreachable ({exc})"
    try:
        import gunicorn

        info["gunicorn"] = gunicorn.__version__
    except ImportError:
        info["gunicorn"] = "missing"
    return info


def print_machine(info: dict[str, str]) -> None:
    section("Machine")
    say(f"date        {info['date']}")
    say(f"nproc       {info['nproc']}")
    say(f"uname -srm  {info['uname']}")
    say(f"CPU         {info['cpu']}")
    say(
        f"software    Python {info['python']}, PostgreSQL {info['postgresql']}, "
        f"Redis {info['redis']}, gunicorn {info['gunicorn']}"
    )


# --------------------------------------------------------------------------------------------
# wrk


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    section("Installing wrk")
    say("wrk not found on PATH: installing the Debian package with apt-get.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        say("$ " + " ".join(cmd))
        rc = subprocess.run(cmd, env=env).returncode
        if rc != 0:
            raise BenchError(f"{' '.join(cmd)} failed with exit status {rc}")
    path = shutil.which("wrk")
    if not path:
        raise BenchError("apt-get installed wrk but it is still not on PATH")
    say(f"wrk installed at {path}")
    return path


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: dict[str, int]
    raw: str

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    def error_text(self) -> str:
        parts = []
        if self.non2xx:
            parts.append(f"{self.non2xx} non-2xx")
        parts += [f"{n} {kind}" for kind, n in self.socket_errors.items() if n]
        return ", ".join(parts) or "none"


def parse_wrk(output: str) -> WrkResult:
    m_rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    lat = {
        pct: re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
        for pct in ("50", "99")
    }
    if not m_rps or not lat["50"] or not lat["99"]:
        raise BenchError("could not parse wrk output (was --latency given?):\n" + output)
    m_req = re.search(r"^\s*(\d+) requests in", output, re.M)
    m_non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    m_sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if m_sock:
        socket_errors = dict(zip(socket_errors, map(int, m_sock.groups()), strict=True))
    return WrkResult(
        rps=float(m_rps.group(1)),
        p50_ms=_to_ms(*lat["50"].groups()),
        p99_ms=_to_ms(*lat["99"].groups()),
        requests=int(m_req.group(1)) if m_req else 0,
        non2xx=int(m_non2xx.group(1)) if m_non2xx else 0,
        socket_errors=socket_errors,
        raw=output,
    )


def run_wrk(wrk: str, url: str, body: str, args: argparse.Namespace, duration: float) -> WrkResult:
    cmd = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",  # slow answers land in the latency figures instead of being dropped as timeouts
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    env = dict(os.environ, PAKN_BENCH_BODY=body)
    try:
        out = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from exc
    if out.returncode != 0:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    return parse_wrk(out.stdout)


# --------------------------------------------------------------------------------------------
# Child processes


class Children:
    """Every process we start, each in its own process group, so cleanup can kill whole trees."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def spawn(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(5)
        # Reap anything left in the group (e.g. gunicorn workers or RQ work-horses).
        self._signal(proc, signal.SIGKILL)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in list(self.procs):
            try:
                self.stop(proc)
            except Exception as exc:  # cleanup must go on
                say(f"warning: could not stop pid {proc.pid}: {exc}")

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"process exited ({proc.returncode}) before listening:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"nothing listening on port {port} after {timeout:.0f}s:\n{tail(log)}")


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for_http_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"process exited ({proc.returncode}) before answering:\n{tail(log)}")
        try:
            status, content = http("GET", url)
            if status == 200:
                return
            last = f"HTTP {status}: {content[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {timeout:.0f}s ({last}):\n{tail(log)}")


# --------------------------------------------------------------------------------------------
# Database, Redis and the service


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)
    env.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench",
        API_RATE_LIMIT="",  # empty disables the API rate limit
        PAKN_ENV="bench",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def reset_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (DB_NAME,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def service_present() -> bool:
    return (ROOT / "service" / "__init__.py").exists()


def worker_present() -> bool:
    return (ROOT / "workers" / "worker.py").exists()


def relay_present() -> bool:
    return (ROOT / "workers" / "relay.py").exists()


def queued_jobs() -> dict[str, int]:
    """Jobs waiting in the RQ queues, by function name."""
    from rq import Queue

    counts: dict[str, int] = {}
    for q in Queue.all(connection=redis.Redis.from_url(REDIS_URL)):
        for job in q.get_jobs():
            counts[job.func_name] = counts.get(job.func_name, 0) + 1
    return counts


def run_step(cmd: list[str], env: dict[str, str], timeout: float = 300) -> None:
    say("$ " + " ".join(cmd[2:] if cmd[:2] == [sys.executable, "-m"] else cmd))
    out = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if out.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-3000:]}{out.stderr[-3000:]}"
        )


def prepare_service(env: dict[str, str]) -> None:
    run_step([sys.executable, "-m", "flask", "--app", "service", "db", "upgrade"], env)
    run_step([sys.executable, "-m", "flask", "--app", "service", "demo-data"], env)


def pick_codes() -> tuple[str, str]:
    """Category and area codes for the body: the contract's defaults when the demo data has them,
    otherwise whatever valid codes the database holds."""
    category, area = DEFAULT_CATEGORY, DEFAULT_AREA
    queries = {
        "category": "SELECT code FROM category ORDER BY code",
        "area": "SELECT code FROM agency WHERE kind IN ('ward', 'commune') ORDER BY code",
    }
    found: dict[str, list[str]] = {}
    with psycopg.connect(PG_BENCH_URL, autocommit=True) as conn:
        for key, sql in queries.items():
            try:
                found[key] = [row[0] for row in conn.execute(sql)]
            except psycopg.Error as exc:
                say(f"warning: cannot read {key} codes ({exc}); using the contract's default")
                found[key] = []
    if found["category"] and category not in found["category"]:
        say(f"note: category {category!r} not in demo data; using {found['category'][0]!r}")
        category = found["category"][0]
    if found["area"] and area not in found["area"]:
        say(f"note: area {area!r} not in demo data; using {found['area'][0]!r}")
        area = found["area"][0]
    return category, area


def ticket_body(category: str = DEFAULT_CATEGORY, area: str = DEFAULT_AREA) -> str:
    return json.dumps(
        {
            "kind": "feedback",
            "category": category,
            "title": f"Rác thải ùn ứ trên đường Nguyễn Văn Linh (#{SEQ_MARKER})",
            "description": (
                "Rác thải sinh hoạt tồn đọng nhiều ngày trước số 120, gây mùi hôi và mất vệ sinh."
            ),
            "location": {
                "address": "120 Nguyễn Văn Linh",
                "area": area,
                "lat": 16.06,
                "lng": 108.21,
            },
            "citizen": {"name": "Nguyễn Văn A", "email": "a@example.com", "phone": "0905123456"},
        },
        ensure_ascii=False,
    )


def count_received(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ticket WHERE status = 'received'").fetchone()[0]


# --------------------------------------------------------------------------------------------
# API phase


@dataclass
class Target:
    name: str
    app: str
    port: int = 0
    proc: subprocess.Popen | None = None
    log: Path | None = None
    rounds: list[WrkResult] = field(default_factory=list)
    note: str = ""  # what else ran for this target (the service's intake relay)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PATH}"

    @property
    def rps_mean(self) -> float:
        return statistics.fmean(r.rps for r in self.rounds)

    @property
    def rps_best(self) -> float:
        return max(r.rps for r in self.rounds)

    @property
    def p50_mean(self) -> float:
        return statistics.fmean(r.p50_ms for r in self.rounds)

    @property
    def p99_worst(self) -> float:
        return max(r.p99_ms for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rounds)


def start_gunicorn(
    target: Target, args: argparse.Namespace, env: dict, children: Children, tmp: Path
) -> None:
    target.port = free_port()
    target.log = tmp / f"gunicorn-{target.name}.log"
    empty_conf = tmp / "gunicorn.conf.py"
    empty_conf.touch()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        # An empty config file: a gunicorn.conf.py in the repository must not change the figures.
        "--config",
        str(empty_conf),
        "--worker-class",
        "sync",
        "--workers",
        str(args.workers),
        "--bind",
        f"127.0.0.1:{target.port}",
        # No --access-logfile: gunicorn then writes no access log at all.
        "--error-logfile",
        "-",
        "--log-level",
        "warning",
        target.app,
    ]
    say(f"starting {target.name}: gunicorn {target.app} on :{target.port}, {args.workers} workers")
    target.proc = children.spawn(f"gunicorn-{target.name}", cmd, env, target.log)


def check_answer(target: Target, body: str) -> None:
    status, content = http("POST", target.url, body.replace(SEQ_MARKER, "check").encode())
    say(f"{target.name}: POST {API_PATH} -> {status} {content[:300].decode(errors='replace')}")
    if status != 201:
        raise BenchError(f"{target.name} answered {status} instead of 201:\n{tail(target.log)}")
    if target.name == "service":
        try:
            answer = json.loads(content)
        except ValueError:
            answer = {}
        missing = [k for k in SERVICE_ANSWER_KEYS if k not in answer]
        if missing:
            say(f"warning: service answer lacks {', '.join(missing)} (see the API contract)")


def api_phase(
    args: argparse.Namespace,
    wrk: str,
    env: dict[str, str],
    children: Children,
    tmp: Path,
    with_service: bool,
) -> list[Target]:
    section("API: POST /api/v1/tickets")
    body = ticket_body()
    if with_service:
        category, area = pick_codes()
        body = ticket_body(category, area)
    targets = [Target("baseline", "bench.baseline_app:app")]
    if with_service:
        targets.append(Target("service", "service:create_app()"))
    for t in targets:
        start_gunicorn(t, args, env, children, tmp)
    if with_service and relay_present():
        # Part of the service's intake: filing writes rows, this process hands them to RQ.
        # It runs through every round, so its CPU counts against the service's throughput.
        say("starting the service's intake relay: python -m workers.relay")
        children.spawn("relay", [sys.executable, "-m", "workers.relay"], env, tmp / "relay.log")
    try:
        for t in targets:
            assert t.proc is not None and t.log is not None
            wait_for_port(t.port, t.proc, t.log)
            if t.name == "service":
                wait_for_http_ok(f"http://127.0.0.1:{t.port}/healthz", t.proc, t.log)
            check_answer(t, body)
        for t in targets:
            say(f"warm-up {t.name}: {args.warmup:g}s")
            run_wrk(wrk, t.url, body, args, args.warmup)
        say(
            f"measuring: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
            f"{args.rounds} rounds, targets in alternation"
        )
        for rnd in range(1, args.rounds + 1):
            for t in targets:
                res = run_wrk(wrk, t.url, body, args, args.duration)
                t.rounds.append(res)
                say(
                    f"  round {rnd} {t.name:<8} {res.rps:9.1f} req/s  p50 {res.p50_ms:7.2f} ms  "
                    f"p99 {res.p99_ms:7.2f} ms  requests {res.requests}  "
                    f"errors: {res.error_text()}"
                )
                if res.errors:
                    say(f"    wrk output:\n{res.raw}")
    finally:
        for t in targets:
            if t.proc is not None:
                children.stop(t.proc)
        for t in targets:
            text = tail(t.log, 15) if t.log else ""
            if text.strip():
                say(f"-- last lines of {t.name}'s gunicorn log --\n{text}")
    if with_service and relay_present():
        time.sleep(1)  # the relay's last rounds
        queued = ", ".join(f"{n} {name}" for name, n in queued_jobs().items()) or "none"
        say(f"jobs left in RQ (no worker runs in this phase): {queued}")
        targets[-1].note = (
            "the service's intake relay (`python -m workers.relay`) ran through every round; "
            f"jobs left in RQ: {queued}"
        )
    return targets


# --------------------------------------------------------------------------------------------
# Worker phase


@dataclass
class WorkerResult:
    tickets: int
    workers: int
    seconds: float
    steady_seconds: float
    routed: int
    failed_jobs: dict[str, int]
    note: str = ""
    latencies: list[float] = field(default_factory=list)  # filed → routed, seconds

    @property
    def latency_text(self) -> str:
        if not self.latencies:
            return "not measured"
        ms = sorted(x * 1000 for x in self.latencies)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return (
            f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms "
            f"({len(ms)} tickets filed one at a time, one idle worker, the relay running)"
        )

    @property
    def per_second(self) -> float:
        return self.routed / self.seconds if self.seconds else 0.0

    @property
    def steady_per_second(self) -> float:
        return self.routed / self.steady_seconds if self.steady_seconds else 0.0

    @property
    def complete(self) -> bool:
        return self.routed >= self.tickets

    @property
    def failed_text(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in self.failed_jobs.items()) or "none"


def make_tickets_main(count: int) -> int:
    """``--make-tickets N`` (internal): create N tickets through the service's own API code,
    in this process, with the Flask test client. They wait in status ``received`` for the
    intake relay (older services enqueued a ``route`` job per ticket here)."""
    from service import create_app  # noqa: PLC0415 - only this subcommand needs the service

    body = os.environ.get("PAKN_BENCH_BODY") or ticket_body()
    app = create_app()
    client = app.test_client()
    started = time.monotonic()
    for i in range(count):
        resp = client.post(
            API_PATH,
            data=body.replace(SEQ_MARKER, f"w-{i}").encode(),
            content_type="application/json",
        )
        if resp.status_code != 201:
            print(f"ticket {i}: HTTP {resp.status_code} {resp.get_data(as_text=True)[:500]}")
            return 1
    print(f"created {count} tickets in {time.monotonic() - started:.1f}s", flush=True)
    return 0


def latency_main(count: int) -> int:
    """``--latency N`` (internal): file N tickets one at a time through the service's API code
    and time each from its 201 until a worker has routed it (the relay and a worker run beside);
    prints the seconds as JSON."""
    from service import create_app  # noqa: PLC0415 - only this subcommand needs the service

    body = os.environ.get("PAKN_BENCH_BODY") or ticket_body()
    client = create_app().test_client()
    waits: list[float] = []
    with psycopg.connect(PG_BENCH_URL, autocommit=True) as conn:
        for i in range(count):
            resp = client.post(API_PATH, data=body.replace(SEQ_MARKER, f"l-{i}").encode(),
                               content_type="application/json")  # fmt: skip
            filed = time.monotonic()
            code = resp.get_json()["code"]
            while conn.execute("SELECT status FROM ticket WHERE code = %s", (code,)).fetchone() == (
                "received",
            ):
                if time.monotonic() - filed > 30:
                    print(f"ticket {code} not routed within 30 s", file=sys.stderr)
                    return 1
                time.sleep(0.005)
            waits.append(time.monotonic() - filed)
            time.sleep(0.1)
    print(json.dumps(waits))
    return 0


def measure_latency(env: dict[str, str], children: Children, tmp: Path, body: str) -> list[float]:
    procs = [
        children.spawn("latency-worker", [sys.executable, "-m", "workers.worker"], env,
                       tmp / "latency-worker.log"),
        children.spawn("latency-relay", [sys.executable, "-m", "workers.relay"], env,
                       tmp / "latency-relay.log"),
    ]  # fmt: skip
    try:
        time.sleep(3)  # both up before the first ticket
        out = subprocess.run(
            [sys.executable, "-m", "bench.run", "--latency", "40"], cwd=ROOT,
            env=dict(env, PAKN_BENCH_BODY=body), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        for proc in procs:
            children.stop(proc)
    if out.returncode != 0:
        say(f"latency run failed: {out.stderr[-2000:]}")
        return []
    return json.loads(out.stdout.strip().splitlines()[-1])


def failed_jobs() -> dict[str, int]:
    """Jobs in the RQ failed registries, by function name."""
    from rq import Queue
    from rq.job import Job

    conn = redis.Redis.from_url(REDIS_URL)
    counts: dict[str, int] = {}
    for q in Queue.all(connection=conn):
        ids = q.failed_job_registry.get_job_ids()
        for job in Job.fetch_many(ids, connection=conn):
            name = job.func_name if job is not None else "?"
            counts[name] = counts.get(name, 0) + 1
    return counts


def worker_phase(
    args: argparse.Namespace, env: dict[str, str], children: Children, tmp: Path
) -> WorkerResult:
    section("Worker: routing throughput")
    count = args.route_tickets
    # A fresh database and queue so exactly `count` route jobs wait, whatever the API phase left.
    say(f"fresh database {DB_NAME} and Redis db 15 for the worker run")
    reset_database()
    flush_redis()
    prepare_service(env)
    category, area = pick_codes()
    body = ticket_body(category, area)
    with psycopg.connect(PG_BENCH_URL, autocommit=True) as conn:
        before = count_received(conn)
    say(f"creating {count} tickets through the API code (Flask test client)")
    run_step(
        [sys.executable, "-m", "bench.run", "--make-tickets", str(count)],
        dict(env, PAKN_BENCH_BODY=body),
        timeout=max(600, count),
    )
    with psycopg.connect(PG_BENCH_URL, autocommit=True) as conn:
        waiting = count_received(conn)
        created = waiting - before
        if created < count:
            raise BenchError(f"expected {count} new received tickets, found {created}")
        if before:
            say(f"note: {before} demo tickets were already in status received")
        target = waiting - count  # routed enough once at most this many remain received
        if relay_present():
            say("handing them to RQ: python -m workers.relay --once (route_batch jobs)")
            run_step([sys.executable, "-m", "workers.relay", "--once"], env)
        say(f"{waiting} tickets in status received; starting {args.route_workers} workers")
        logs = [tmp / f"worker-{i}.log" for i in range(args.route_workers)]
        started = time.monotonic()
        procs = [
            children.spawn(
                f"worker-{i}", [sys.executable, "-m", "workers.worker", "--burst"], env, log
            )
            for i, log in enumerate(logs)
        ]
        first_routed = None
        remaining = waiting
        deadline = started + max(300.0, count / 2)
        note = ""
        try:
            while True:
                remaining = count_received(conn)
                now = time.monotonic()
                if first_routed is None and remaining < waiting:
                    first_routed = now
                if remaining <= target:
                    break
                if all(p.poll() is not None for p in procs):
                    note = "workers exited before every ticket was routed"
                    break
                if now > deadline:
                    note = f"gave up after {now - started:.0f}s"
                    break
                time.sleep(0.05)
            finished = time.monotonic()
        finally:
            # Burst workers exit once the queues are empty; give them a moment, then stop them.
            for p in procs:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                children.stop(p)
    routed = waiting - remaining
    failed = failed_jobs()
    if note or failed:
        for log in logs:
            say(f"-- last lines of {log.name} --\n{tail(log)}")
    result = WorkerResult(
        tickets=count,
        workers=args.route_workers,
        seconds=finished - started,
        steady_seconds=finished - (first_routed or started),
        routed=min(routed, count),
        failed_jobs=failed,
        note=note,
    )
    say(
        f"routed {result.routed}/{count} tickets in {result.seconds:.2f}s "
        f"({result.per_second:.1f}/s including worker start-up, "
        f"{result.steady_per_second:.1f}/s from the first routed ticket); "
        f"failed jobs: {result.failed_text}"
    )
    if relay_present():
        say("filed → routed latency: one worker and the relay, 40 tickets one at a time")
        result.latencies = measure_latency(env, children, tmp, body)
        say(f"filed → routed: {result.latency_text}")
    return result


# --------------------------------------------------------------------------------------------
# Report


def verdicts(
    targets: list[Target], worker: WorkerResult | None
) -> tuple[list[str], float | None, bool]:
    lines: list[str] = []
    ok = True
    ratio = None
    by_name = {t.name: t for t in targets}
    for t in targets:
        if t.errors:
            ok = False
            lines.append(f"FAIL  {t.name}: {t.errors} non-2xx/socket errors during the run")
    if "service" in by_name and "baseline" in by_name:
        svc, base = by_name["service"], by_name["baseline"]
        ratio = svc.rps_mean / base.rps_mean
        good = ratio >= TARGET_RATIO
        ok &= good
        lines.append(
            f"{'PASS' if good else 'FAIL'}  throughput ratio service/baseline "
            f"{ratio:.2f} (target >= {TARGET_RATIO})"
        )
        good = svc.p99_worst < TARGET_P99_MS
        ok &= good
        lines.append(
            f"{'PASS' if good else 'FAIL'}  service p99 {svc.p99_worst:.1f} ms "
            f"(worst round; target < {TARGET_P99_MS:.0f} ms)"
        )
    if worker is not None:
        good = worker.complete
        ok &= good
        lines.append(
            f"{'PASS' if good else 'FAIL'}  worker routed {worker.routed}/{worker.tickets} "
            f"tickets (failed jobs: {worker.failed_text})"
            + (f" ({worker.note})" if worker.note else "")
        )
    return lines, ratio, ok


def results_table(targets: list[Target], ratio_of: Target | None) -> list[str]:
    rows = [
        "| target | req/s (mean) | req/s (best) | p50 ms (mean) | p99 ms (worst) "
        "| ratio to baseline | requests | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        ratio = "1.00" if t.name == "baseline" else "n/a"
        if ratio_of is not None and t is not ratio_of:
            ratio = f"{t.rps_mean / ratio_of.rps_mean:.2f}"
        rows.append(
            f"| {t.name} | {t.rps_mean:.0f} | {t.rps_best:.0f} | {t.p50_mean:.1f} "
            f"| {t.p99_worst:.1f} | {ratio} | {t.requests} | {t.errors} |"
        )
    return rows


def write_markdown(
    info: dict[str, str],
    args: argparse.Namespace,
    wrk_version: str,
    targets: list[Target],
    worker: WorkerResult | None,
    verdict_lines: list[str],
    notes: list[str],
) -> None:
    base = next((t for t in targets if t.name == "baseline"), None)
    md = [
        f"### Benchmark, {info['date']}",
        "",
        f"- Machine: {info['nproc']} CPUs, {info['cpu']}, {info['uname']}",
        f"- Software: Python {info['python']}, PostgreSQL {info['postgresql']}, "
        f"Redis {info['redis']}, gunicorn {info['gunicorn']} ({args.workers} sync workers), "
        f"{wrk_version}",
    ]
    if targets:
        md += [
            f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency`, "
            f"{args.rounds} rounds per target in alternation after a {args.warmup:g}s warm-up; "
            "baseline = one INSERT+COMMIT and one RQ enqueue (`bench/baseline_app.py`)",
            "",
            "`POST /api/v1/tickets`:",
            "",
            *results_table(targets, base),
            *[f"\nService: {t.note}." for t in targets if t.note],
        ]
    if worker is not None:
        md += [
            "",
            f"Routing: {worker.routed}/{worker.tickets} tickets by {worker.workers} "
            f"`workers.worker --burst` processes in {worker.seconds:.1f}s: "
            f"**{worker.per_second:.0f} tickets/s** ({worker.steady_per_second:.0f}/s from the "
            f"first routed ticket, i.e. without worker start-up); failed jobs: "
            f"{worker.failed_text}.",
            "",
            f"Filed → routed: {worker.latency_text}.",
        ]
    md += ["", *[f"- {line}" for line in verdict_lines + notes], ""]
    RESULTS_MD.write_text("\n".join(md))


def print_report(
    targets: list[Target], worker: WorkerResult | None, verdict_lines: list[str], notes: list[str]
) -> None:
    section("Results")
    if targets:
        base = next((t for t in targets if t.name == "baseline"), None)
        header = (
            f"{'target':<10}{'req/s mean':>12}{'req/s best':>12}{'p50 ms':>9}"
            f"{'p99 ms':>9}{'ratio':>8}{'requests':>10}{'errors':>8}"
        )
        say(header)
        say("-" * len(header))
        for t in targets:
            ratio = t.rps_mean / base.rps_mean if base else float("nan")
            say(
                f"{t.name:<10}{t.rps_mean:>12.1f}{t.rps_best:>12.1f}{t.p50_mean:>9.2f}"
                f"{t.p99_worst:>9.2f}{ratio:>8.2f}{t.requests:>10}{t.errors:>8}"
            )
        say("(p50: mean of rounds; p99: worst round; ratio: mean req/s over the baseline's)")
    if worker is not None:
        say(
            f"worker routing: {worker.per_second:.1f} tickets/s "
            f"({worker.steady_per_second:.1f}/s steady) with {worker.workers} workers, "
            f"{worker.routed}/{worker.tickets} routed, failed jobs: {worker.failed_text}"
        )
        say(f"filed → routed: {worker.latency_text}")
    say()
    for line in verdict_lines + notes:
        say(line)


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    # Many short rounds in alternation: the machine's speed drifts over a minute (shared host),
    # and alternating often makes the drift fall on both targets alike.
    p.add_argument("--duration", type=float, default=8, help="seconds per measured wrk round")
    p.add_argument("--connections", type=int, default=16, help="wrk concurrent connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=3, help="gunicorn sync workers per target")
    p.add_argument("--rounds", type=int, default=6, help="measured rounds per target")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds per target")
    p.add_argument("--route-tickets", type=int, default=2000, help="tickets for the worker run")
    p.add_argument("--route-workers", type=int, default=2, help="RQ worker processes")
    p.add_argument("--skip-api", action="store_true", help="skip the HTTP benchmark")
    p.add_argument("--skip-worker", action="store_true", help="skip the routing benchmark")
    p.add_argument("--make-tickets", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--latency", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _raise_exit(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.make_tickets is not None:
        return make_tickets_main(args.make_tickets)
    if args.latency is not None:
        return latency_main(args.latency)

    signal.signal(signal.SIGTERM, _raise_exit)
    info = machine_info()
    print_machine(info)
    children = Children()
    targets: list[Target] = []
    worker: WorkerResult | None = None
    notes: list[str] = []
    ok = True
    has_service = False
    try:
        wrk = ensure_wrk() if not args.skip_api else ""
        wrk_version = "wrk not used"
        if wrk:
            m = re.search(r"wrk\s+(\S+)", _cmd_output([wrk, "-v"]))
            wrk_version = f"wrk {m.group(1) if m else '?'}"
        if wrk:
            say(f"load tool   {wrk_version}")
        has_service = service_present()
        if not has_service:
            notes.append("NOTE  service/ not found: only the baseline was measured")

        section("Setup")
        say(f"fresh database {DB_NAME}; Redis {REDIS_URL} (FLUSHDB)")
        reset_database()
        flush_redis()
        env = child_env()
        if has_service:
            try:
                prepare_service(env)
            except (BenchError, subprocess.TimeoutExpired) as exc:
                say(f"service setup failed: {exc}")
                notes.append("FAIL  service setup failed (db upgrade / demo-data): not measured")
                has_service = False
                ok = False

        with tempfile.TemporaryDirectory(prefix="pakn-bench-") as tmpdir:
            tmp = Path(tmpdir)
            if not args.skip_api:
                targets = api_phase(args, wrk, env, children, tmp, with_service=has_service)
            if not args.skip_worker:
                if not has_service:
                    notes.append("NOTE  worker run skipped: the service is not available")
                elif not worker_present():
                    notes.append("NOTE  worker run skipped: workers/worker.py not found")
                else:
                    worker = worker_phase(args, env, children, tmp)
    except BenchError as exc:
        say(f"\nERROR: {exc}")
        return 2
    finally:
        children.stop_all()

    verdict_lines, _ratio, passed = verdicts(targets, worker)
    ok &= passed
    incomplete = not has_service and not (args.skip_api and args.skip_worker)
    overall = "FAIL" if not ok else "INCOMPLETE" if incomplete else "PASS"
    notes.append(f"OVERALL {overall}")
    print_report(targets, worker, verdict_lines, notes)
    write_markdown(info, args, wrk_version, targets, worker, verdict_lines, notes)
    say(f"\nMarkdown written to {RESULTS_MD.relative_to(ROOT)}")
    return 0 if overall == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
