#!/usr/bin/env bash
# A private PostgreSQL server for the test suite: no Docker, no system service, its own port.
#
#   scripts/postgres.sh start    install PostgreSQL if missing, create the cluster if absent, start
#                                it, create role and database "continuum", print the URL on stdout
#   scripts/postgres.sh stop     stop it (the cluster stays on disk for the next start)
#   scripts/postgres.sh status   say whether it is running
#
# Environment: PGDATA_DIR (default /tmp/continuum-pg), PGPORT (default 55432).
# Only the URL goes to stdout, so `url=$(scripts/postgres.sh start)` works; progress goes to stderr.
# Both commands are idempotent.
set -euo pipefail

data_dir="${PGDATA_DIR:-/tmp/continuum-pg}"
port="${PGPORT:-55432}"
host=127.0.0.1
socket_dir=/tmp
role=continuum
database=continuum
ready_wait_seconds_max=60

log() { echo "postgres.sh: $*" >&2; }
fail() { log "error: $*"; exit 1; }

# The newest installed server version, e.g. /usr/lib/postgresql/15/bin; empty when none is installed.
find_bin_dir() {
  local candidate found=""
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [[ -x "$candidate/initdb" ]] && found="$candidate"
  done
  echo "$found"
}

install_postgres() {
  [[ $(id -u) -eq 0 ]] || fail "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  log "installing PostgreSQL from Debian packages"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
}

# PostgreSQL refuses to run as root, so as root every server command runs as the postgres user.
# The directory change avoids "could not change directory" warnings when the caller's working
# directory is not readable by postgres.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

is_running() {
  [[ -f "$data_dir/PG_VERSION" ]] && as_owner "$bin_dir/pg_ctl" -D "$data_dir" status >/dev/null 2>&1
}

init_cluster() {
  if [[ -f "$data_dir/PG_VERSION" ]]; then return; fi
  log "initialising a cluster in $data_dir"
  mkdir -p "$data_dir"
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$data_dir"
  chmod 700 "$data_dir"
  # Trust authentication is acceptable because the server listens on 127.0.0.1 and a socket only,
  # and holds throw-away test data. C.UTF-8 exists on every Debian, unlike the caller's locale.
  as_owner "$bin_dir/initdb" -D "$data_dir" --auth=trust --username=postgres \
    --encoding=UTF8 --locale=C.UTF-8 >&2
}

start_server() {
  if is_running; then
    log "already running (data in $data_dir)"
    return
  fi
  log "starting on $host:$port (log: $data_dir/server.log)"
  if ! as_owner "$bin_dir/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w -t "$ready_wait_seconds_max" \
    -o "-p $port -k $socket_dir -c listen_addresses=$host" start >&2; then
    tail -n 20 "$data_dir/server.log" >&2 || true
    fail "the server did not start (is port $port already taken?)"
  fi
}

wait_until_ready() {
  local waited_seconds=0
  until "$bin_dir/pg_isready" -q -h "$host" -p "$port"; do
    ((waited_seconds += 1))
    if ((waited_seconds > ready_wait_seconds_max)); then
      tail -n 20 "$data_dir/server.log" >&2 || true
      fail "not ready on $host:$port after ${ready_wait_seconds_max}s"
    fi
    sleep 1
  done
}

run_sql() {
  "$bin_dir/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres -d postgres -tAc "$1"
}

create_role_and_database() {
  if [[ -z $(run_sql "select 1 from pg_roles where rolname = '$role'") ]]; then
    log "creating role $role"
    run_sql "create role $role with login superuser" >&2
  fi
  if [[ -z $(run_sql "select 1 from pg_database where datname = '$database'") ]]; then
    log "creating database $database"
    run_sql "create database $database owner $role" >&2
  fi
}

command="${1:-}"
bin_dir="$(find_bin_dir)"

case "$command" in
  start)
    if [[ -z "$bin_dir" ]]; then
      install_postgres
      bin_dir="$(find_bin_dir)"
      [[ -n "$bin_dir" ]] || fail "initdb still missing after installing PostgreSQL"
    fi
    init_cluster
    start_server
    wait_until_ready
    create_role_and_database
    echo "postgres://$role@$host:$port/$database"
    ;;
  stop)
    if [[ -z "$bin_dir" ]] || ! is_running; then
      log "not running"
      exit 0
    fi
    as_owner "$bin_dir/pg_ctl" -D "$data_dir" -m fast -w stop >&2
    ;;
  status)
    if [[ -n "$bin_dir" ]] && is_running; then
      log "running on $host:$port (data in $data_dir)"
    else
      log "not running"
      exit 3
    fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
