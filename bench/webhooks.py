"""Chat webhooks under load: `python -m bench.webhooks` (a benchmark, not a test).

Usage::

    .venv/bin/python -m bench.webhooks [--rate 200] [--duration 15] [--workers 3]
                                       [--tickets-rate 20] [--tickets-duration 10]

1. Acknowledgement: gunicorn (sync workers) serves `service:create_app()` with Telegram and Zalo
   Bot switched on against local fake provider servers; an open-loop generator POSTs realistic
   updates (unique update_id / message_id, the secret header) at a fixed `--rate` per second
   to /webhooks/telegram, then /webhooks/zalo-bot. Latency is counted from each request's
   scheduled time to the end of its answer (no coordinated omission). Target: p99 < 50 ms.
   No RQ worker runs in this part: it measures the webhook's own path (authenticate, INSERT the
   raw update, COMMIT, enqueue, answer).
2. Webhook → receipt: `--tickets-rate` citizens per second press "Send" on a prepared
   conversation (state "confirm"), with 2 worker processes and the scheduler running at
   Telegram's real rate limits (1/s per chat with bursts of 3, 30/s overall). Measured: from the
   POST of the "Send" press to the chat's confirmation (the ticket code) arriving at the fake Bot
   API (target p95 < 2 s), and to the routed receipt notice arriving.

Prints the figures and writes them, with the machine and date, to bench/webhooks-results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from bench.run import (
    PG_ADMIN_URL,
    BenchError,
    Children,
    free_port,
    machine_info,
    print_machine,
    say,
    section,
    tail,
    wait_for_http_ok,
    wait_for_port,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot

ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = ROOT / "bench" / "webhooks-results.md"
DB_NAME = "pakn_bench_webhooks"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/13"
TG_TOKEN, TG_SECRET = "7000000001:AAH-bench-token", "bench-telegram-secret"
ZB_TOKEN, ZB_SECRET = "2233445566:zalo-bench", "bench-zalo-bot-secret"
ACK_TARGET_P99_MS, RECEIPT_TARGET_P95_S = 50.0, 2.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


# -- a small open-loop HTTP load generator ------------------------------------------------


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)  # key → wall-clock send time

    def summary(self) -> str:
        lat = self.latencies_ms
        return (f"{len(lat)} answers, p50 {percentile(lat, 50):.1f} ms, p99 "
                f"{percentile(lat, 99):.1f} ms, max {max(lat, default=0):.1f} ms, statuses "
                f"{dict(sorted(self.statuses.items()))}, connection errors {self.errors}")  # fmt: skip


async def post_once(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(body)}\r\n{head}Connection: close"
                 "\r\n\r\n".encode() + body)  # fmt: skip
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()  # gunicorn sync workers close after each answer
    writer.close()
    return int(status_line.split()[1])


async def fixed_rate(port: int, path: str, requests: list[tuple[str, bytes, dict[str, str]]],
                     rate: float) -> LoadResult:  # fmt: skip
    """Send request i at start + i/rate whatever the answers do (open loop)."""
    result = LoadResult()
    start = time.perf_counter() + 0.2

    async def one(index: int, key: str, body: bytes, headers: dict[str, str]) -> None:
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        result.sent_at[key] = time.time()
        try:
            status = await post_once(port, path, body, headers)
        except OSError:
            result.errors += 1
            return
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1

    await asyncio.gather(*(one(i, *r) for i, r in enumerate(requests)))
    return result


# -- payloads -----------------------------------------------------------------------------

_ids = itertools.count(10_000_000)


def telegram_message(chat: int) -> dict:
    update_id = next(_ids)
    user = {"id": chat, "is_bot": False, "first_name": "Nguyễn", "language_code": "vi"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": user, "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": "Nguyễn"},
        "text": "Đèn đường trước số 12 Lê Lợi không sáng đã một tuần."}}  # fmt: skip


def telegram_send_press(chat: int) -> dict:
    update_id = next(_ids)
    user = {"id": chat, "is_bot": False, "first_name": "Nguyễn", "language_code": "vi"}
    return {"update_id": update_id, "callback_query": {
        "id": str(update_id), "from": user, "chat_instance": str(-chat), "data": "send",
        "message": {"message_id": 1, "date": int(time.time()), "text": "…",
                    "chat": {"id": chat, "type": "private"}}}}  # fmt: skip


def zalo_bot_message(user: str) -> dict:
    return {"ok": True, "result": {"event_name": "message.text.received", "message": {
        "from": {"id": user, "display_name": "Trần Bình"}, "chat": {"id": user, "chat_type": "PRIVATE"},
        "message_id": f"zb{next(_ids)}", "date": int(time.time() * 1000),
        "text": "Ống nước vỡ trên đường Hoàng Diệu."}}}  # fmt: skip


# -- setup --------------------------------------------------------------------------------


def env_for(tg: FakeTelegram, zb: FakeZaloBot) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)
    env.update(DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, SECRET_KEY="bench",
               PUBLIC_BASE_URL="http://pakn.bench", API_RATE_LIMIT="", PYTHONUNBUFFERED="1",
               TELEGRAM_BOT_TOKEN=TG_TOKEN, TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
               TELEGRAM_API_BASE=tg.url, ZALO_BOT_TOKEN=ZB_TOKEN, ZALO_BOT_WEBHOOK_SECRET=ZB_SECRET,
               ZALO_BOT_API_BASE=zb.url, PYTHONPATH=str(ROOT))  # fmt: skip
    return env


def prepare_database(env: dict[str, str]) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    for step in (["db", "upgrade", "heads"], ["demo-data"]):
        out = subprocess.run([sys.executable, "-m", "flask", "--app", "service", *step], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        if out.returncode:
            raise BenchError(
                f"flask {' '.join(step)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
            )


def clear_work() -> None:
    """Forget part 1's stored updates and queued jobs before part 2."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("TRUNCATE ticket_event, delivery, attachment, inbound_message, ticket, "
                     "citizen_contact, citizen, conversation RESTART IDENTITY CASCADE")  # fmt: skip
    redis.Redis.from_url(REDIS_URL).flushdb()


def prepare_conversations(chats: list[int]) -> None:
    """Citizens who answered every question and are about to press "Send"."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        category = conn.execute("SELECT id FROM category WHERE code = 'env'").fetchone()[0]
        rows = []
        for chat in chats:
            draft = {"nonce": secrets.token_hex(8), "photos": [], "photos_done": True,
                     "no_location": True, "kind": "feedback", "category_id": category,
                     "description": f"Rác thải ùn ứ trước số {chat % 500} Nguyễn Văn Linh, "
                                    "bốc mùi nhiều ngày."}  # fmt: skip
            data = {"draft": draft, "options": [["Gửi", "send"], ["Hủy", "cancel"]]}
            rows.append(("telegram", str(chat), "confirm", json.dumps(data, ensure_ascii=False)))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO conversation (channel, chat_id, state, data, language, created_at, "
                "updated_at) VALUES (%s, %s, %s, %s, 'vi', now(), now())", rows)  # fmt: skip


def start_gunicorn(children: Children, env: dict[str, str], workers: int, tmp: Path) -> int:
    port, log = free_port(), tmp / "gunicorn.log"
    (tmp / "gunicorn.conf.py").touch()
    proc = children.spawn("gunicorn", [
        sys.executable, "-m", "gunicorn", "--config", str(tmp / "gunicorn.conf.py"),
        "--worker-class", "sync", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
        "--error-logfile", "-", "--log-level", "warning", "service:create_app()"], env, log)  # fmt: skip
    wait_for_port(port, proc, log)
    for _ in range(workers * 4):  # every worker has loaded the app before timing starts
        wait_for_http_ok(f"http://127.0.0.1:{port}/healthz", proc, log)
    return port


# -- the two parts ------------------------------------------------------------------------


def ack_part(port: int, rate: float, duration: float) -> dict[str, LoadResult]:
    results = {}
    count = int(rate * duration)
    for name, path, make, header, secret in (
        ("telegram", "/webhooks/telegram", lambda i: telegram_message(900_000 + i % 5000),
         "X-Telegram-Bot-Api-Secret-Token", TG_SECRET),
        ("zalo_bot", "/webhooks/zalo-bot", lambda i: zalo_bot_message(f"zu{i % 5000}"),
         "X-Bot-Api-Secret-Token", ZB_SECRET),
    ):  # fmt: skip
        # Warm-up at a quarter of the rate (not counted): a full-rate warm-up that overran the
        # server would hand its queue to the measured run.
        warm = [(str(i), json.dumps(make(i)).encode(), {header: secret})
                for i in range(int(rate / 2))]  # fmt: skip
        asyncio.run(fixed_rate(port, path, warm, rate / 4))
        time.sleep(1)
        load = [(str(i), json.dumps(make(i), ensure_ascii=False).encode(), {header: secret})
                for i in range(count)]  # fmt: skip
        results[name] = asyncio.run(fixed_rate(port, path, load, rate))
        say(f"{name:9} {rate:g} req/s for {duration:g} s: {results[name].summary()}")
    return results


@dataclass
class ReceiptResult:
    posted: int
    ack: LoadResult
    confirmations_s: list[float]
    notices_s: list[float]
    missing_confirmations: int
    missing_notices: int


def receipt_part(port: int, fake: FakeTelegram, children: Children, env: dict[str, str],
                 rate: float, duration: float, tmp: Path) -> ReceiptResult:  # fmt: skip
    clear_work()
    warm_chats = list(range(1, 11))
    chats = list(range(100_000, 100_000 + int(rate * duration)))
    prepare_conversations(warm_chats + chats)
    for n in range(2):
        children.spawn(
            f"worker-{n}", [sys.executable, "-m", "workers.worker"], env, tmp / f"worker{n}.log"
        )
    children.spawn(
        "scheduler", [sys.executable, "-m", "workers.scheduler"], env, tmp / "scheduler.log"
    )
    header = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}

    def presses(ids: list[int]) -> list[tuple[str, bytes, dict[str, str]]]:
        return [(str(c), json.dumps(telegram_send_press(c)).encode(), header) for c in ids]

    asyncio.run(fixed_rate(port, "/webhooks/telegram", presses(warm_chats), 5))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(fake.sent_to(c) for c in warm_chats):
        time.sleep(0.2)
    if not all(fake.sent_to(c) for c in warm_chats):
        raise BenchError(
            "the workers did not answer the warm-up presses:\n" + tail(tmp / "worker0.log")
        )
    ack = asyncio.run(fixed_rate(port, "/webhooks/telegram", presses(chats), rate))
    say(f"'Send' presses at {rate:g}/s for {duration:g} s: {ack.summary()}")

    def arrivals(index: int) -> dict[int, float]:
        found = {}
        for chat in chats:
            coded = [s for s in fake.sent_to(chat) if "PA-" in s.text]
            if len(coded) > index:
                found[chat] = coded[index].at - ack.sent_at[str(chat)]
        return found

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(arrivals(1)) < len(chats):
        time.sleep(0.5)
    confirmations, notices = arrivals(0), arrivals(1)
    return ReceiptResult(len(chats), ack, list(confirmations.values()), list(notices.values()),
                         len(chats) - len(confirmations), len(chats) - len(notices))  # fmt: skip


# -- report -------------------------------------------------------------------------------


def stats_s(values: list[float]) -> str:
    if not values:
        return "none arrived"
    return (f"p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s, "
            f"max {max(values):.2f} s")  # fmt: skip


def report(info: dict[str, str], args: argparse.Namespace, acks: dict[str, LoadResult],
           receipt: ReceiptResult) -> str:  # fmt: skip
    lines = [f"### Chat webhooks benchmark, {info['date']}", "",
             f"- Machine: {info['nproc']} CPUs, {info['cpu']}, {info['uname']}; load average "
             f"{info['load']} at the start",
             f"- Software: Python {info['python']}, PostgreSQL {info['postgresql']}, Redis "
             f"{info['redis']}, gunicorn {info['gunicorn']} ({args.workers} sync workers)",
             "- Providers: local fake Telegram Bot API and Zalo Bot API servers (tests/fakes) in "
             "the benchmark process", "",
             f"Webhook acknowledgement, open loop at {args.rate:g} requests/s for "
             f"{args.duration:g} s (no RQ worker running):", "",
             "| webhook | answers | p50 ms | p99 ms | max ms | statuses | errors | p99 < 50 ms |",
             "|---|---:|---:|---:|---:|---|---:|---|"]  # fmt: skip
    for name, r in acks.items():
        p99 = percentile(r.latencies_ms, 99)
        lines.append(f"| {name} | {len(r.latencies_ms)} | {percentile(r.latencies_ms, 50):.1f} | "
                     f"{p99:.1f} | {max(r.latencies_ms, default=0):.1f} | {r.statuses} | "
                     f"{r.errors} | {'PASS' if p99 < ACK_TARGET_P99_MS else 'FAIL'} |")  # fmt: skip
    p95 = percentile(receipt.confirmations_s, 95)
    lines += ["",
              f"Webhook → receipt, {args.tickets_rate:g} new tickets/s for "
              f"{args.tickets_duration:g} s ({receipt.posted} 'Send' presses), 2 worker "
              "processes + scheduler, Telegram rate limits at their defaults:", "",
              f"- webhook answers: {receipt.ack.summary()}",
              f"- confirmation with the ticket code in the chat: {stats_s(receipt.confirmations_s)}"
              f" ({receipt.missing_confirmations} missing) — "
              f"{'PASS' if p95 < RECEIPT_TARGET_P95_S and not receipt.missing_confirmations else 'FAIL'}"
              f" (target p95 < {RECEIPT_TARGET_P95_S:g} s)",
              f"- routed receipt notice (the agency and deadline) in the chat: "
              f"{stats_s(receipt.notices_s)} ({receipt.missing_notices} missing)", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--tickets-rate", type=float, default=20)
    parser.add_argument("--tickets-duration", type=float, default=10)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fakes' access log
    info = machine_info()
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_machine(info)
    say(f"load avg    {info['load']} (other work on the machine skews the figures)")
    tg, zb = FakeTelegram(TG_TOKEN).start(), FakeZaloBot(ZB_TOKEN).start()
    env = env_for(tg, zb)
    children = Children()
    try:
        with tempfile.TemporaryDirectory(prefix="pakn-bench-webhooks-") as tmpdir:
            tmp = Path(tmpdir)
            section("Setup")
            prepare_database(env)
            port = start_gunicorn(children, env, args.workers, tmp)
            say(f"gunicorn service:create_app() on :{port}, {args.workers} sync workers")
            section("Webhook acknowledgement")
            acks = ack_part(port, args.rate, args.duration)
            section("Webhook to receipt")
            receipt = receipt_part(port, tg, children, env, args.tickets_rate,
                                   args.tickets_duration, tmp)  # fmt: skip
            text = report(info, args, acks, receipt)
    except BenchError as exc:
        say(f"benchmark could not run: {exc}")
        return 2
    finally:
        children.stop_all()
        tg.stop()
        zb.stop()
    section("Results")
    say(text)
    RESULTS_MD.write_text(text)
    say(f"written to {RESULTS_MD.relative_to(ROOT)}")
    passed = "FAIL" not in text
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
