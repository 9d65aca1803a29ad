# Sourced by .ci/run: installs PostgreSQL from Debian's packages when missing, starts a
# throwaway server on loopback and exports PEPR_TEST_POSTGRES_URL for the store tests.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
# A free loopback port, so a server already running on this machine never collides.
pg_port=${PEPR_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
pg_dir=$(mktemp -d /tmp/pepr-pg.XXXXXX)
pg_run() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
pg_run "$pg_bin/initdb" -D "$pg_dir/data" -U pepr --auth=trust >/dev/null
pg_run "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null
pg_run "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U pepr pepr_test
export PEPR_TEST_POSTGRES_URL="postgresql+psycopg://pepr@127.0.0.1:$pg_port/pepr_test"
export PEPR_REQUIRE_POSTGRES=1  # the postgres-marked tests fail, never skip, in CI
trap 'pg_run "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true' EXIT
