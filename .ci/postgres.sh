#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of PostgreSQL libraries, on a Unix socket in DIR
# (no TCP), run as the `postgres` user when started by root (PostgreSQL refuses to run as root),
# else as the current user.
#
#   export SDJOBS_TEST_POSTGRES=$(.ci/postgres.sh start /tmp/sdjobs-pg)   # prints the tests' URL
#   .ci/postgres.sh stop /tmp/sdjobs-pg                                   # stops it, removes DIR
#   .ci/postgres.sh bindir                                                # where initdb is, or fails
#
# DIR must be absent or empty (the socket's path must stay under 108 bytes: keep DIR short).
# The cluster trusts every local connection and runs without fsync: it is for tests only.
# start fails with one line on stderr and leaves nothing behind (no server, no DIR) when
# PostgreSQL is missing or does not start; stop removes only a folder that start made its own.
set -euo pipefail

ROLE=sdjobs DB=sdjobs PORT=5432 MARK=.sdjobs-test-postgres

bindir() {  # $PG_BINDIR, else Debian's newest /usr/lib/postgresql/N/bin, else initdb on the PATH
    local dir
    if [ -n "${PG_BINDIR:-}" ]; then dir=$PG_BINDIR
    else
        dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
            dir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
        fi
    fi
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ] && echo "$dir"
}

as_owner() {  # run "$@" as the cluster's owner, from DIR (postgres may not read every working directory)
    if [ "$(id -u)" = 0 ]; then (cd "$dir" && runuser -u postgres -- "$@"); else (cd "$dir" && "$@"); fi
}

fail() {
    echo "postgres.sh: PostgreSQL not started: $*; the tests that need it are skipped" >&2
    exit 1
}

give_up() {  # fail, leaving nothing behind
    stop || true
    fail "$@"
}

start() {
    mkdir -p "$dir" || fail "cannot create $dir"
    [ -z "$(ls -A "$dir")" ] || fail "$dir is not empty"
    touch "$dir/$MARK"  # from here on, a failure stops what was started and removes DIR
    local bin
    bin=$(bindir) || give_up "no initdb, pg_ctl and psql found (install the Debian package postgresql, or set PG_BINDIR)"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || give_up "running as root and there is no postgres user"
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1 || give_up "initdb failed: $(tail -n 1 "$dir/initdb.log")"
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1 \
        || give_up "the server did not start: $(tail -n 1 "$dir/server.log" 2>/dev/null)"
    echo "CREATE ROLE $ROLE LOGIN CREATEDB; CREATE DATABASE $DB OWNER $ROLE;" \
        | "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$PORT" -U postgres -d postgres >/dev/null 2>"$dir/psql.err" \
        || give_up "cannot create the role and database: $(head -n 1 "$dir/psql.err")"
    echo "postgresql://$ROLE@/$DB?host=$dir&port=$PORT"
}

stop() {  # a half-started cluster, or none, is fine; DIR goes only if start made it its own
    [ -e "$dir" ] || return 0
    [ -f "$dir/$MARK" ] || { echo "postgres.sh: $dir is not a cluster folder of postgres.sh; left alone" >&2; return 1; }
    local bin pid
    if [ -f "$dir/data/postmaster.pid" ] && bin=$(bindir); then
        pid=$(head -n 1 "$dir/data/postmaster.pid")
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done  # it removes its pid file, then exits
    fi
    rm -rf "$dir"
}

cmd=${1:-}
if [ "$cmd" = bindir ]; then bindir; exit; fi
[ $# = 2 ] && { [ "$cmd" = start ] || [ "$cmd" = stop ]; } || { echo "usage: $0 start|stop DIR | bindir" >&2; exit 2; }
dir=$(realpath -m "$2")
"$cmd"
