#!/usr/bin/env bash
# One command: set up and run the whole service on this machine (web, worker, scheduler).
# Embedded defaults: SQLite in instance/, a Redis started here when REDIS_URL is unset, and a
# local mail catcher (instance/mail/) when SMTP_HOST is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
mkdir -p instance
PORT="${PORT:-5000}"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${SECRET_KEY:-}" ]; then
  [ -s instance/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > instance/secret_key
  SECRET_KEY=$(cat instance/secret_key); export SECRET_KEY
fi
if [ -z "${REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null; then
    echo "==> installing redis-server (Debian package)"
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  REDIS_PORT="${PAKN_REDIS_PORT:-6390}"
  echo "==> starting a local Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir instance >instance/redis.log 2>&1 &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
if [ -z "${SMTP_HOST:-}" ]; then
  echo "==> mail goes to a local catcher on 127.0.0.1:8025 (instance/mail/)"
  .venv/bin/python -m aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Mailbox instance/mail >instance/smtp.log 2>&1 &
  pids+=($!)
  export SMTP_HOST=127.0.0.1 SMTP_PORT=8025
fi
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"

echo "==> database migrations"
.venv/bin/flask --app service db upgrade
if [ "${PAKN_DEMO:-1}" = "1" ]; then
  .venv/bin/flask --app service demo-data
fi
.venv/bin/python -m workers.worker >instance/worker.log 2>&1 &
pids+=($!)
.venv/bin/python -m workers.scheduler >instance/scheduler.log 2>&1 &
pids+=($!)
echo
echo "PAKN is running at $PUBLIC_BASE_URL  (citizen form: $PUBLIC_BASE_URL/submit, staff: $PUBLIC_BASE_URL/login)"
echo "Logs: instance/*.log — Ctrl+C stops everything."
.venv/bin/gunicorn --bind "127.0.0.1:$PORT" --workers "${WEB_CONCURRENCY:-2}" --access-logfile - "service:create_app()" &
pids+=($!)
wait -n "${pids[@]}"
