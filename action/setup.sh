#!/usr/bin/env bash
# Installs pepr-gate from this action's own checkout into a private virtual environment
# under RUNNER_TEMP, reused when the same action version and interpreter built it before.
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

# The key changes with the action's version (its sources) and the interpreter, so an
# upgrade never runs against a stale install.
key="$(
  {
    "$python_path" -c 'import sys; print(sys.version, sys.executable)'
    cat -- "$action_path/pyproject.toml" "$action_path/pepr_gate/__init__.py"
  } | sha256sum | cut -c1-16
)"
base="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/pepr-gate"
venv="$base/venv-$key"
stamp="$venv/.pepr-gate-installed"

if [ -f "$stamp" ] && [ -x "$venv/bin/pepr-gate" ]; then
  echo "pepr-gate: reusing $venv"
else
  rm -rf -- "$venv"
  mkdir -p -- "$base"
  "$python_path" -m venv -- "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # The postgres extra (psycopg 3) so that `store: postgresql://...` works: users cannot
  # add packages to this private venv themselves.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -- "$action_path[postgres]"
  touch -- "$stamp"
  echo "pepr-gate: installed into $venv"
fi
"$venv/bin/pepr-gate" --version

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "bin=$venv/bin/pepr-gate" >>"$GITHUB_OUTPUT"
fi
