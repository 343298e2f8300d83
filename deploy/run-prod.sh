#!/usr/bin/env bash
# Production: migrate, collect static files, then serve with N daphne processes that share one
# database (DATABASE_URL, PostgreSQL) and one Redis (REDIS_URL). docs/deployment.md explains it.
#
#   deploy/run-prod.sh [N]                N processes on $HOST:$PORT, $PORT+1, … (127.0.0.1:8001…)
#   SOCKET_DIR=/run/callkit deploy/run-prod.sh [N]
#                                         … on unix sockets $SOCKET_DIR/daphne-1.sock, -2.sock, …
#   deploy/run-prod.sh --prepare          only migrate and collectstatic (for a process manager)
#
# Runs in the foreground; SIGTERM or Ctrl-C stops every process. If one process exits, the others
# are stopped too and the script fails, so whatever runs it can restart the lot.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8001}
SOCKET_DIR=${SOCKET_DIR:-}
PREPARE_ONLY=0
if [ "${1:-}" = "--prepare" ]; then PREPARE_ONLY=1; shift; fi
N=${1:-${N:-2}}

die() { echo "run-prod: $*" >&2; exit 2; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a whole number of processes, not '$N'"
export DJANGO_DEBUG=0
[ -n "${DJANGO_SECRET_KEY:-}" ] || die "set DJANGO_SECRET_KEY (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
if [ "$PREPARE_ONLY" = 0 ] && [ "$N" -gt 1 ] && [ -z "${REDIS_URL:-}" ]; then
  die "$N processes need REDIS_URL: without it each process has its own in-memory channel layer"
fi
case "${DATABASE_URL:-}" in
  postgres://* | postgresql://*) ;;
  *) [ "$N" -gt 1 ] && echo "run-prod: warning: $N processes on SQLite; use PostgreSQL (DATABASE_URL) in production" >&2 ;;
esac

"$PY" manage.py migrate --noinput -v 1
"$PY" manage.py collectstatic --noinput -v 0
[ "$PREPARE_ONLY" = 1 ] && exit 0

# Every socket is a file descriptor: the usual soft limit of 1,024 is far too few for one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
stop() {
  trap - INT TERM
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap 'stop; exit 0' INT TERM

[ -z "$SOCKET_DIR" ] || mkdir -p "$SOCKET_DIR"
for i in $(seq 1 "$N"); do
  if [ -n "$SOCKET_DIR" ]; then
    rm -f "$SOCKET_DIR/daphne-$i.sock"  # a stale socket from a previous run would block the bind
    bind=(-u "$SOCKET_DIR/daphne-$i.sock")
    where="$SOCKET_DIR/daphne-$i.sock"
  else
    bind=(-b "$HOST" -p "$((PORT + i - 1))")
    where="$HOST:$((PORT + i - 1))"
  fi
  # The client address comes from the proxy's X-Real-IP (login throttling counts per address).
  "$PY" -m daphne "${bind[@]}" --proxy-headers --proxy-headers-host X-Real-IP callkit_web.asgi:application &
  pids+=($!)
  echo "run-prod: daphne $i of $N (pid $!) on $where" >&2
done

status=0
wait -n || status=$?
echo "run-prod: a daphne process exited (status $status); stopping the others" >&2
stop
exit $(( status == 0 ? 1 : status ))
