#!/usr/bin/env bash
# The real example of docs/history.md: a repository of 8 commits whose job sleeps 0.6 s
# until commit 5 makes it 0.9 s, 4 runs per commit (PePR-T), then `history --changes`
# and `bisect` on it. Takes a few minutes. Usage: scripts/history_demo.sh [FOLDER]
# (default: a new temporary folder); PEPR_GATE and PYTHON choose the commands.
set -euo pipefail
PEPR_GATE=${PEPR_GATE:-pepr-gate}
PY=${PYTHON:-$(command -v python3)}
top=${1:-$(mktemp -d)}
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
git init -q -b main "$top/repo"
cd "$top/repo"
cat > pepr.toml <<TOML
[run]
stages = [{ name = "train", cmd = ["$PY", "train.py"] }]

[performance]
file = "metrics.json"
key = "accuracy"

[score]
resource = "time"

[score.scale]
time = 4.0

[meter]
kind = "process"

[store]
url = "sqlite:///.pepr/history.db"
TOML
printf '.pepr/\nmetrics.json\n' > .gitignore
subjects=("train: first model" "data: cache the tokenizer" "eval: report accuracy"
          "docs: README" "data: decode images twice (a bug)" "train: log every step"
          "deps: bump numpy" "eval: larger batch")
for n in 1 2 3 4 5 6 7 8; do
  if [ "$n" -ge 5 ]; then work=0.9; else work=0.6; fi
  printf 'import json, pathlib, time\n# %s\ntime.sleep(%s)\npathlib.Path("metrics.json").write_text(json.dumps({"accuracy": 0.9}))\n' \
    "${subjects[$((n - 1))]}" "$work" > train.py
  git add -A && git commit -q -m "${subjects[$((n - 1))]}"
  for _ in 1 2 3 4; do $PEPR_GATE run --quiet > /dev/null; done
done
$PEPR_GATE history --changes --branch main
$PEPR_GATE bisect --good HEAD~7 --bad main --pairs 4
git worktree list
ls .git | grep BISECT_ || echo "no bisect state left"
