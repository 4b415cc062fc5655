#!/usr/bin/env bash
# A private PostgreSQL server for sweep studies shared by many workers (and for the tests).
#
#   devops/postgres.sh start DIR    # prints postgresql://sweeper@127.0.0.1:PORT/sweeps
#   devops/postgres.sh url DIR      # the URL of the running server in DIR
#   devops/postgres.sh status DIR   # exit 0 when it runs
#   devops/postgres.sh stop DIR
#
# `start` installs Debian's `postgresql` package when no PostgreSQL binaries are found, creates
# a cluster in DIR/data owned by an unprivileged user (PostgreSQL refuses to run as root: as
# root it uses the `postgres` user, or creates `sweeper`; when that user cannot enter DIR, the
# cluster goes to a private directory under /tmp, recorded in DIR/datadir), listens on
# 127.0.0.1 only, on a free port, with trust authentication for loopback connections, and
# creates the database `sweeps`.
# It is idempotent: on a running server it only prints the URL. The URL is the only line on
# stdout; progress goes to stderr. Trust auth means: any local user can connect. Use it for a
# laptop, CI or a private node, not as the shared server of a multi-user cluster (there, ask
# for a database with a password and pass its URL to hydra.sweeper.storage).
set -euo pipefail

DB_USER=sweeper
DB_NAME=sweeps

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

pg_bin() {
    # Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/VERSION/bin.
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$found" && -x "$found/pg_ctl" ]]; then
        echo "$found"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    fi
}

install_postgres() {
    [[ "$(id -u)" -eq 0 ]] || die "PostgreSQL is not installed; run as root once, or: sudo apt-get install -y postgresql"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is missing; install PostgreSQL (pg_ctl, initdb) and rerun"
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
}

# The unprivileged OS user that owns and runs the cluster.
os_user() {
    if [[ "$(id -u)" -ne 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        id "$DB_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$DB_USER"
        echo "$DB_USER"
    fi
}

# Run a command as the cluster's user: directly when that is us, else through runuser or su.
as_user() {
    local user="$1"
    shift
    if [[ "$(id -un)" == "$user" ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port tries
    for tries in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! port_busy "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found on 127.0.0.1"
}

url() {
    echo "postgresql://$DB_USER@127.0.0.1:$(cat "$DIR/port")/$DB_NAME"
}

running() {
    [[ -f "$DIR/port" && -f "$DATA/postmaster.pid" ]] || return 1
    as_user "$USER_NAME" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
    say "creating a cluster in $DATA (owner: $USER_NAME)"
    as_user "$USER_NAME" "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust \
        --encoding=UTF8 --no-instructions >"$DIR/initdb.log" 2>&1 \
        || die "initdb failed; see $DIR/initdb.log"
    # Loopback only, trust for it (no password: see the header).
    cat >"$DATA/pg_hba.conf" <<'EOF'
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
EOF
    chown "$USER_NAME" "$DATA/pg_hba.conf"
}

# As root: the cluster goes in DIR/data, owned by USER_NAME. When a parent of DIR is closed to
# that user (a checkout under /root, say), it goes in a private directory under /tmp instead,
# and DIR/datadir records where.
place_cluster() {
    chown "$USER_NAME" "$DIR"
    chmod 700 "$DIR"
    if [[ -f "$DIR/datadir" ]]; then
        [[ -d "$(dirname "$DATA")" ]] && return 0
        rm -f "$DIR/datadir"  # its directory under /tmp is gone (a reboot): start afresh
        DATA="$DIR/data"
        LOG="$DIR/postgres.log"
    fi
    as_user "$USER_NAME" test -w "$DIR" && return 0
    local home
    home="$(mktemp -d /tmp/nested-sweeper-pg.XXXXXX)"
    chown "$USER_NAME" "$home"
    chmod 700 "$home"
    echo "$home/data" >"$DIR/datadir"
    DATA="$home/data"
    LOG="$home/postgres.log"
    say "$USER_NAME cannot reach $DIR: the cluster lives in $home"
}

start_server() {
    local port attempt
    for attempt in 1 2 3; do
        port="$(free_port)"
        echo "$port" >"$DIR/port"
        # TCP only (a socket path in a deep DIR can pass the 107-byte limit); many sweep
        # workers each hold a few connections (heartbeat thread, storage pool).
        if as_user "$USER_NAME" "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" \
            start >&2; then
            return 0
        fi
        say "start on port $port failed (attempt $attempt); see $LOG"
    done
    die "the server did not start; see $LOG"
}

create_db() {
    local port
    port="$(cat "$DIR/port")"
    if ! as_user "$USER_NAME" "$BIN/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_user "$USER_NAME" "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" >&2
    fi
}

cmd="${1:-}"
[[ $# -eq 2 ]] || usage
case "$cmd" in start | stop | url | status) ;; *) usage ;; esac
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"

BIN="$(pg_bin)"
if [[ -z "$BIN" ]]; then
    [[ "$cmd" == "start" ]] || die "PostgreSQL is not installed"
    install_postgres
    BIN="$(pg_bin)"
    [[ -n "$BIN" ]] || die "pg_ctl not found after installing postgresql"
fi
USER_NAME="$(os_user)"
if [[ -f "$DIR/datadir" ]]; then
    DATA="$(cat "$DIR/datadir")"
else
    DATA="$DIR/data"
fi
LOG="$(dirname "$DATA")/postgres.log"

case "$cmd" in
start)
    [[ "$(id -u)" -ne 0 ]] || place_cluster
    if running; then
        url
        exit 0
    fi
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    start_server
    create_db
    say "running: $(url) (stop: devops/postgres.sh stop $DIR)"
    url
    ;;
url)
    running || die "no server runs in $DIR (devops/postgres.sh start $DIR)"
    url
    ;;
status)
    running
    ;;
stop)
    if running; then
        as_user "$USER_NAME" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        say "no server runs in $DIR"
    fi
    ;;
esac
