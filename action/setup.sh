#!/usr/bin/env bash
# Installs pepr-gate from this action's own checkout into a private virtual environment,
# cached on the runner between jobs: the first job on a runner installs (it needs the
# package index, see docs/action.md), later jobs with the same action version and
# interpreter reuse it in well under a second.
# The user's Python, PATH and site-packages are never touched: the venv is not activated,
# and `pepr-gate ci` is called by its absolute path (written to the step output `bin`).
set -euo pipefail

action_path="${GITHUB_ACTION_PATH:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)}"
python="${PEPR_PYTHON:-python3}"

if ! command -v -- "$python" >/dev/null 2>&1; then
  echo "::error title=pepr-gate::input python: interpreter not found on PATH"
  echo "pepr-gate: the 'python' input names no interpreter on this runner; install Python 3.10+ or set python: to its path" >&2
  exit 2
fi
python_path="$(command -v -- "$python")"
if ! "$python_path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "::error title=pepr-gate::input python: pepr-gate needs Python 3.10 or newer"
  echo "pepr-gate: $("$python_path" -V 2>&1 | head -c 80) is too old; set the 'python' input to a Python 3.10+ interpreter" >&2
  exit 2
fi

# The key changes with the action's version and sources and with the interpreter, so an
# upgrade never runs against a stale install.
key="$(
  {
    "$python_path" -c 'import os, sys; print(sys.version, sys.executable, os.path.realpath(sys.executable))'
    cd -- "$action_path"
    cat -- pyproject.toml
    find pepr_gate -type f \( -name '*.py' -o -name '*.j2' \) -print | LC_ALL=C sort | xargs cat --
  } | sha256sum | cut -c1-16
)"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$action_path/pepr_gate/__init__.py")"
# RUNNER_TOOL_CACHE survives between jobs on a runner (and is mounted into job
# containers); RUNNER_TEMP is emptied after every job.
base="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}/pepr-gate"
venv="$base/venv-${version:-unknown}-$key"
stamp="$venv/.pepr-gate-installed"
mkdir -p -- "$base"

install() {
  rm -rf -- "$venv"
  "$python_path" -m venv -- "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # The postgres extra (psycopg 3) so that `store: postgresql://...` works: users cannot
  # add packages to this private venv themselves.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -- "$action_path[postgres]"
  touch -- "$stamp"
}

# Two runners sharing one tool cache must not build the same venv at once.
exec 9>"$base/.lock-$key"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if [ -f "$stamp" ] && "$venv/bin/pepr-gate" --version >/dev/null 2>&1; then
  echo "pepr-gate: reusing $venv"
  touch -- "$stamp"
else
  started=$SECONDS
  install
  echo "pepr-gate: installed into $venv in $((SECONDS - started)) s"
  # Environments no job has used for 30 days (older versions) are removed.
  find "$base" -mindepth 2 -maxdepth 2 -name .pepr-gate-installed -mtime +30 -print 2>/dev/null |
    while IFS= read -r old; do rm -rf -- "$(dirname -- "$old")"; done
fi
exec 9>&-
"$venv/bin/pepr-gate" --version

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "bin=$venv/bin/pepr-gate" >>"$GITHUB_OUTPUT"
fi
