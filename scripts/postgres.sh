#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests, on 127.0.0.1 and a Unix socket in a
# temporary folder, and prints the line to export:
#
#   eval "$(scripts/postgres.sh start)"   # sets KYC_TEST_POSTGRES=postgres://...
#   scripts/postgres.sh stop              # stops it and removes the folder
#
# Debian's PostgreSQL server (package `postgresql`) is installed with apt-get when missing. The
# cluster runs as the `postgres` system user when this script runs as root (PostgreSQL refuses
# root), trusts local connections only (listen_addresses = 127.0.0.1, trust on loopback), and
# lives in $KYC_PG_DIR (default /tmp/kyc-pg): nothing outside 127.0.0.1 and that folder.
set -euo pipefail

DIR="${KYC_PG_DIR:-/tmp/kyc-pg}"
PORT="${KYC_PG_PORT:-55432}"

bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    echo "$found"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

install() {
    if [ -n "$(bin_dir)" ] && [ -x "$(bin_dir)/initdb" ]; then
        return
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql >&2
}

start() {
    install
    local bin
    bin=$(bin_dir)
    stop_quietly
    mkdir -p "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
    as_owner "'$bin/initdb' -D '$DIR/data' -U kyc --auth=trust -E UTF8 >/dev/null"
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PORT"
        echo "unix_socket_directories = '$DIR'"
        echo "max_connections = 100"
        echo "fsync = on"
    } >>"$DIR/data/postgresql.conf"
    as_owner "'$bin/pg_ctl' -D '$DIR/data' -l '$DIR/log' -w start >/dev/null"
    as_owner "'$bin/createdb' -h 127.0.0.1 -p $PORT -U kyc kyc_test"
    echo "export KYC_TEST_POSTGRES=postgres://kyc@127.0.0.1:$PORT/kyc_test"
}

stop_quietly() {
    local bin
    bin=$(bin_dir)
    if [ -n "$bin" ] && [ -d "$DIR/data" ]; then
        as_owner "'$bin/pg_ctl' -D '$DIR/data' -m immediate stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop_quietly ;;
    *)
        echo "usage: scripts/postgres.sh start|stop" >&2
        exit 2
        ;;
esac
