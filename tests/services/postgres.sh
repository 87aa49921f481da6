#!/usr/bin/env bash
# Prints the URL of a local PostgreSQL test database, starting the cluster when it is
# installed but stopped. Prints nothing when there is no PostgreSQL to use; the tests then
# skip the PostgreSQL half of the suite, except under CI, where they fail instead.
set -u
if [ -n "${TOUCHPOINT_TEST_POSTGRES_URL:-}" ]; then
  echo "$TOUCHPOINT_TEST_POSTGRES_URL"
  exit 0
fi
command -v pg_lsclusters >/dev/null 2>&1 || exit 0
[ "$(id -u)" = 0 ] || exit 0          # starting the system cluster needs root
read -r version name port _ < <(pg_lsclusters -h | head -n 1)
[ -n "${version:-}" ] || exit 0
pg_ctlcluster "$version" "$name" start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
su postgres -c "psql -q -p $port -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || exit 0
su postgres -c "createdb -p $port touchpoint_test" >/dev/null 2>&1 || true
echo "postgresql+asyncpg://postgres:postgres@127.0.0.1:$port/touchpoint_test"
