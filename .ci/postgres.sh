#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, without systemd.
#
# Installs Debian's postgresql if its binaries are missing, initialises a data folder
# (default /tmp/digest-pg, or $DIGEST_PG_DIR), starts the server on 127.0.0.1 on a free port
# and creates the role and database the tests use. Idempotent: a server already running from
# that folder is reused. Prints the SQLAlchemy URL and writes it to $DIGEST_PG_DIR/url, e.g.
#
#   export DIGEST_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"
#
# Stop it with: runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D /tmp/digest-pg/data stop
# (as a non-root user, drop the "runuser -u postgres --").
set -euo pipefail

PGDIR="${DIGEST_PG_DIR:-/tmp/digest-pg}"
DATA="$PGDIR/data"
ROLE=digest
PASSWORD=digest
DBNAME=digest_test

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; fi
}

BIN="$(find_bin)"
if [[ -z "$BIN" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        log "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
        exit 1
    fi
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
    [[ -n "$BIN" ]] || { log "postgresql installed but no initdb under /usr/lib/postgresql"; exit 1; }
fi

# The server refuses to run as root: as root, run it as the postgres user Debian's package made.
if [[ "$(id -u)" == 0 ]]; then
    RUNAS=(runuser -u postgres --)
    OWNER=postgres
else
    RUNAS=()
    OWNER="$(id -un)"
fi
pg() { "${RUNAS[@]}" "$@"; }

mkdir -p "$PGDIR"
chown "$OWNER" "$PGDIR"
chmod 700 "$PGDIR"

# Reuse only a server that answers (a killed one can leave a pid file, even a zombie pid).
if [[ -f "$PGDIR/port" ]] \
        && "$BIN/pg_isready" -q -h "$PGDIR" -p "$(cat "$PGDIR/port")" -t 5 >/dev/null 2>&1; then
    PORT="$(cat "$PGDIR/port")"
    log "reusing the server running from $DATA on port $PORT"
else
    init() {
        rm -rf "$DATA"
        pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 \
            || { cat "$PGDIR/initdb.log" >&2; exit 1; }
    }
    start() {
        # A free port, chosen by the kernel (a small race with other programs is acceptable).
        PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        # Test settings: durability is worthless for a throwaway server, speed is not.
        pg "$BIN/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 \
            -o "-k $PGDIR -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >&2
    }
    [[ -f "$DATA/PG_VERSION" ]] || init
    if ! start; then
        # A data folder left by a killed server (stale lock, another version...): the data is
        # throwaway, so start again from a new one.
        tail -n 20 "$PGDIR/server.log" >&2 || true
        log "could not start from $DATA; initialising a new data folder"
        init
        start || { tail -n 30 "$PGDIR/server.log" >&2; exit 1; }
    fi
    echo "$PORT" >"$PGDIR/port"
fi

psql() { pg "$BIN/psql" -h "$PGDIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# The tests create a database per test from a template, so the role may create databases.
if [[ "$(psql -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]]; then
    psql -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
# DROP DATABASE ... WITH (FORCE) ends the connections left by a killed test; an autovacuum
# worker in that database belongs to no role, and only pg_signal_backend may end it.
psql -c "GRANT pg_signal_backend TO $ROLE"
if [[ "$(psql -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]]; then
    psql -c "CREATE DATABASE $DBNAME OWNER $ROLE"
fi

URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DBNAME"
echo "$URL" >"$PGDIR/url"
chmod 644 "$PGDIR/url"
echo "$URL"
