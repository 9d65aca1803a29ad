# Sourced by .ci/run: installs Chromium and its driver from Debian's packages when missing,
# for the dashboard's browser tests (tests/test_dashboard_browser.py); nothing is downloaded
# from elsewhere. Those tests fail instead of skipping once this has run.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export PEPR_REQUIRE_BROWSER=1
