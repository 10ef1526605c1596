#!/usr/bin/env bash
# Makes sure the services the tests and the hub need are answering:
#   Redis      127.0.0.1:6379 (no persistence)
#   PostgreSQL 127.0.0.1:5432 (trust auth, database "test")
# Starts whichever is down, then waits for it. Used by .ci/run, the README and the tests.
set -euo pipefail

REDIS_HOST=127.0.0.1 REDIS_PORT=6379 PG_HOST=127.0.0.1 PG_PORT=5432

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT") 2>/dev/null
  fi
}
pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
  fi
}
wait_for() { # name check-function
  for _ in $(seq 1 60); do "$2" && { echo "services: $1 is up"; return 0; }; sleep 0.5; done
  echo "services: $1 did not come up" >&2; return 1
}

if ! redis_up; then
  echo "services: starting Redis"
  command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis redis_up

if ! pg_up; then
  echo "services: starting PostgreSQL"
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
wait_for PostgreSQL pg_up
