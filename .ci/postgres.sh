#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL cluster for the integration tests and
# prints its DSN on stdout; `.ci/postgres.sh stop` stops it.
#
# PostgreSQL comes from Debian's packages (installed with apt-get when
# missing). The cluster lives in /tmp/homeregion-postgres-<port> (outside the
# checkout: the postgres user must be able to reach it even when the clone sits
# under a private home directory such as /root), listens only on
# 127.0.0.1:$PROCESSOR_TEST_POSTGRES_PORT (default 55432) with its socket in
# /tmp, trusts local connections and runs as the `postgres` system user when
# this script runs as root (postgres refuses to run as root). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PROCESSOR_TEST_POSTGRES_PORT:-55432}
DIR=${PROCESSOR_TEST_POSTGRES_DIR:-${TMPDIR:-/tmp}/homeregion-postgres-$PORT}
LOG=$DIR.log
log() { echo ".ci/postgres.sh: $*" >&2; }

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN=$(pgbin)
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  [ "$(id -u)" = 0 ] || { log "PostgreSQL missing: run apt-get install -y postgresql as root"; exit 1; }
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BIN=$(pgbin)
  [ -n "$BIN" ] || { log "apt-get install postgresql did not provide /usr/lib/postgresql/*/bin"; exit 1; }
fi

# as_pg runs a command as the cluster's owner.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

if [ "${1:-}" = stop ]; then
  if [ -f "$DIR/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >&2; fi
  exit 0
fi

if [ ! -f "$DIR/PG_VERSION" ]; then
  log "initdb $DIR"
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  chmod 700 "$DIR"
  as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust --no-locale --encoding=UTF8 >&2
fi

if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  touch "$LOG"
  [ "$(id -u)" = 0 ] && chown postgres: "$LOG"
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$LOG" -w -t 60 \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >&2 ||
    { log "pg_ctl start failed; log: $LOG"; tail -n 20 "$LOG" >&2; exit 1; }
fi

DSN="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
for _ in $(seq 1 50); do
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then echo "$DSN"; exit 0; fi
  sleep 0.2
done
log "PostgreSQL did not become ready on 127.0.0.1:$PORT; log: $LOG"
exit 1
