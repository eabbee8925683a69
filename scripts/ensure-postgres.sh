#!/usr/bin/env bash
# Make sure a PostgreSQL server answers at $TEST_POSTGRES_URL
# (default postgresql://onefile:onefile@127.0.0.1:5432/onefile_test) and lets its role in.
# Order: a server that already answers is used; else Debian's PostgreSQL (installed when
# missing and we are root) is started here without systemd: the cluster on the URL's port,
# created first when there is none. On a local cluster we manage, the role (with the URL's
# password) and the database are created when missing. Idempotent; never prints the password.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
url=${TEST_POSTGRES_URL:-postgresql://onefile:onefile@127.0.0.1:5432/onefile_test}
PY=${PYTHON:-python3}
shown=$(sed -E 's#(://[^:/@]+:)[^@]*@#\1***@#' <<<"$url")

# The URL's parts, one a line: user, password, host, port, database.
mapfile -t parts < <("$PY" - "$url" <<'EOF'
import sys
from urllib.parse import unquote, urlsplit

u = urlsplit(sys.argv[1])
if u.scheme not in ("postgresql", "postgres"):
    sys.exit(f"not a postgresql:// URL: {u.scheme}://...")
for part in (u.username or "postgres", u.password or "", u.hostname or "localhost",
             str(u.port or 5432), u.path.lstrip("/") or u.username or "postgres"):
    print(unquote(part))
EOF
)
[ "${#parts[@]}" = 5 ] || { echo "TEST_POSTGRES_URL is invalid: $shown" >&2; exit 2; }
user=${parts[0]} password=${parts[1]} host=${parts[2]} port=${parts[3]} database=${parts[4]}

fail() { echo "$*" >&2; exit 1; }
answers() { "$PY" "$here/port-open.py" "$url"; }
wait_for() {
  local deadline=$((SECONDS + ${1:-60}))
  until answers; do
    (( SECONDS > deadline )) && fail "PostgreSQL did not answer at $shown within ${1:-60}s"
    sleep 1
  done
}
is_local() { [[ $host == 127.* || $host == localhost || $host == ::1 ]]; }
is_root() { [ "$(id -u)" = 0 ]; }
# "version name" of the local Debian cluster on our port, if any.
local_cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p { print $1, $2; exit }'
}
newest_version() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1) || true
  if [ -n "$bin" ]; then basename "$(dirname "$(dirname "$bin")")"; fi
}
logs_in() {
  command -v psql >/dev/null 2>&1 || return 0  # no client to check with: the tests will tell
  PGHOST=$host PGPORT=$port PGUSER=$user PGPASSWORD=$password PGDATABASE=$database \
    PGCONNECT_TIMEOUT=5 psql -X -w -q -t -A -c 'SELECT 1' >/dev/null 2>&1
}
create_role_and_database() {
  # Peer authentication as the cluster's superuser over its Unix socket; psql reads the
  # password from the environment (\getenv) so it never shows in a process list.
  ONEFILE_PG_USER=$user ONEFILE_PG_PASSWORD=$password ONEFILE_PG_DATABASE=$database \
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >/dev/null <<'SQL'
\getenv role ONEFILE_PG_USER
\getenv password ONEFILE_PG_PASSWORD
\getenv db ONEFILE_PG_DATABASE
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
}

if ! answers; then
  is_local || fail "No PostgreSQL answers at $shown (not a local address: start it there)"
  is_root || fail "No PostgreSQL answers at $shown; run as root to install and start one"
  if [ -z "$(newest_version)" ]; then
    echo "Installing PostgreSQL..."
    "$here/apt-install.sh" postgresql
  fi
  cluster=$(local_cluster)
  if [ -z "$cluster" ]; then
    version=$(newest_version)
    name=main
    [ -d "/etc/postgresql/$version/main" ] && name=onefile
    echo "Creating PostgreSQL $version cluster '$name' on port $port..."
    pg_createcluster --port "$port" "$version" "$name" >/dev/null
    cluster="$version $name"
  fi
  echo "Starting PostgreSQL cluster $cluster..."
  # Without systemd, pg_ctlcluster runs pg_ctl itself as the cluster's owner.
  # shellcheck disable=SC2086  # "version name": two arguments
  if ! pg_ctlcluster $cluster start; then
    answers || fail "Could not start PostgreSQL cluster $cluster (see pg_lsclusters and its log)"
  fi
  wait_for 60
fi

if ! logs_in; then
  is_root && is_local && [ -n "$(local_cluster)" ] \
    || fail "PostgreSQL answers at $shown but does not let $user into $database"
  create_role_and_database
  logs_in || fail "PostgreSQL answers at $shown but does not let $user into $database"
fi
echo "PostgreSQL answers at $shown"
