#!/bin/sh
# Temporal's persistence in our Postgres (docker-compose.yml, service temporal-admin-tools): creates the
# `temporal` and `temporal_visibility` databases and brings each schema to the version this admin-tools image
# ships. Every step is idempotent (an existing database is kept, setup-schema skips a versioned schema, an
# up-to-date update-schema does nothing), so `docker compose up` runs it on every start; after an image upgrade
# it applies the new versions before the new server starts.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the Postgres host) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD (read by temporal-sql-tool) is required}"
port="${DB_PORT:-5432}"
# The admin-tools image's schema files (TEMPORAL_SCHEMA_DIR: another copy, e.g. a checkout's schema/postgresql/v12).
schemas="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "$port" --user "$POSTGRES_USER" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  database="${pair%%:*}"
  schema="${pair#*:}"
  echo "database ${database}: create, set up, update to ${schemas}/${schema}/versioned"
  sql_tool --database "$database" create-database
  sql_tool --database "$database" setup-schema --version 0.0
  sql_tool --database "$database" update-schema --schema-dir "${schemas}/${schema}/versioned"
done
echo 'Temporal schemas are up to date'
