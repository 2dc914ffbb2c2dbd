#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the server tests and print the URL to use.
#
#   eval "$(bash scripts/ci-postgres.sh)"     # exports GENOMA_TEST_DATABASE_URL
#   pytest tests/server                        # runs every service test on SQLite and PostgreSQL
#   "$GENOMA_TEST_PG_CTL" -D "$GENOMA_TEST_PG_DIR/data" stop   # (as the cluster's owner) when done
#
# Installs Debian's `postgresql` when no initdb is found (needs root and apt-get). The
# cluster lives under /tmp, listens on 127.0.0.1 on a free port with trust authentication
# on loopback only, and runs as the `postgres` user when started by root. Only `export`
# lines go to stdout; everything else goes to stderr.
set -euo pipefail

log() { echo "ci-postgres: $*" >&2; }

find_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
}

BIN=$(find_bin)
if [[ -z "${BIN:-}" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "PostgreSQL is not installed and we are not root: install the Debian package 'postgresql'"
    exit 1
  fi
  log "installing Debian postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(find_bin)
fi
[[ -n "${BIN:-}" ]] || { log "initdb not found after installation"; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/genoma-pg.XXXXXX)
chmod 755 "$DIR"

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
  chown postgres "$DIR"
fi

log "initdb in $DIR/data (PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'))"
as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=trust \
  --encoding=UTF8 --no-sync >&2
# loopback only; durability is not needed for a test cluster
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >&2
as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres genoma_test >&2
log "PostgreSQL running on 127.0.0.1:$PORT (log: $DIR/server.log)"

echo "export GENOMA_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/genoma_test"
echo "export GENOMA_TEST_PG_DIR=$DIR"
echo "export GENOMA_TEST_PG_CTL=$BIN/pg_ctl"
