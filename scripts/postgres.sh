#!/usr/bin/env bash
# A PostgreSQL server for the tests (Debian's `postgresql`): a cluster of its own,
# `nbrepro-test`, listening on 127.0.0.1:${NBREPRO_TEST_PG_PORT:-54329} only, with a
# role `nbrepro` (password `nbrepro`) that may create databases. Idempotent: a second
# run only starts the cluster if it is down. Prints the server's SQLAlchemy URL.
set -euo pipefail
port="${NBREPRO_TEST_PG_PORT:-54329}"
cluster="nbrepro-test"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if [[ -z "$version" ]]; then
  echo "postgres: Debian's postgresql is not installed (scripts/system-packages-test.txt)" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$cluster"; then
  # initdb runs as the postgres user (pg_createcluster sees to it, also as root)
  $SUDO pg_createcluster --port "$port" "$version" "$cluster" \
    -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  $SUDO tee "/etc/postgresql/$version/$cluster/conf.d/nbrepro.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
fi
if ! pg_lsclusters -h | awk -v c="$cluster" '$2 == c {print $4}' | grep -qx online; then
  $SUDO pg_ctlcluster "$version" "$cluster" start
fi
$SUDO runuser -u postgres -- psql -q -p "$port" -d postgres -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nbrepro') THEN
    CREATE ROLE nbrepro LOGIN CREATEDB PASSWORD 'nbrepro';
  END IF;
END $$;
SQL
echo "postgresql+psycopg://nbrepro:nbrepro@127.0.0.1:$port/postgres"
