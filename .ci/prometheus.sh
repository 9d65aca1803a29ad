# Sourced by .ci/run: installs Prometheus from Debian's packages when missing, for the
# prometheus meter's tests (they start their own server on a free loopback port).
if ! command -v prometheus >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # --no-install-recommends: the server only, not the node exporter it recommends
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Debian's package starts a system-wide server where an init system runs; the tests never
# use it (they pick a free port), so it is left alone.
export PEPR_REQUIRE_PROMETHEUS=1  # the prometheus meter's tests fail, never skip, in CI
