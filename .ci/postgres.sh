#!/usr/bin/env bash
# Starts (or reuses) this checkout's private PostgreSQL cluster for the
# integration tests and prints its DSN on stdout.
#
#   .ci/postgres.sh          start (or reuse) it, print the DSN
#   .ci/postgres.sh status   exit 0 when it is running
#   .ci/postgres.sh stop     stop it (only this checkout's cluster)
#
# One cluster per checkout: its directory is
# /tmp/homeregion-postgres-<checksum of the checkout's path> (outside the
# checkout: the postgres user must be able to reach it even when the clone sits
# under a private home directory such as /root), and its port is the first
# free one from a port derived from the same checksum (20000-39999), kept in
# <dir>.port so that later runs find the cluster again. Two checkouts never
# share, reuse or stop each other's cluster. PROCESSOR_TEST_POSTGRES_PORT and
# PROCESSOR_TEST_POSTGRES_DIR override the port and the directory.
#
# PostgreSQL comes from Debian's packages (installed with apt-get when
# missing). The cluster listens only on 127.0.0.1 with its socket in /tmp,
# trusts local connections and runs as the `postgres` system user when this
# script runs as root (postgres refuses to run as root). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUM=$(pwd -P | cksum | cut -d' ' -f1)
DIR=${PROCESSOR_TEST_POSTGRES_DIR:-${TMPDIR:-/tmp}/homeregion-postgres-$SUM}
LOG=$DIR.log
PORTFILE=$DIR.port
log() { echo ".ci/postgres.sh: $*" >&2; }

# in_use reports whether something listens on 127.0.0.1:$1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port prints the first free port from this checkout's own.
pick_port() {
  local p=$((20000 + SUM % 20000)) i
  for i in $(seq 0 99); do
    if ! in_use $((p + i)); then echo $((p + i)); return 0; fi
  done
  log "no free port in $p-$((p + 99))"; return 1
}

if [ -n "${PROCESSOR_TEST_POSTGRES_PORT:-}" ]; then
  PORT=$PROCESSOR_TEST_POSTGRES_PORT
elif [ -s "$PORTFILE" ]; then
  PORT=$(cat "$PORTFILE")
else
  PORT=
fi

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

running() { [ -f "$DIR/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; }

case "${1:-start}" in
  stop)
    if running; then log "stopping $DIR"; as_pg "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null; fi
    exit 0 ;;
  status) running; exit ;;
  start) ;;
  *) log "usage: .ci/postgres.sh [start|status|stop]"; exit 2 ;;
esac

if [ ! -f "$DIR/PG_VERSION" ]; then
  log "initdb $DIR"
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  chmod 700 "$DIR"
  as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust --no-locale --encoding=UTF8 >&2
fi

if running; then
  # The port it was started with (postmaster.pid line 4).
  PORT=$(sed -n 4p "$DIR/postmaster.pid")
else
  if [ -z "$PORT" ] || { [ -z "${PROCESSOR_TEST_POSTGRES_PORT:-}" ] && in_use "$PORT"; }; then
    PORT=$(pick_port)
  fi
  echo "$PORT" > "$PORTFILE"
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
