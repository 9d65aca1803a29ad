"""`pepr-gate init`: write a minimal, commented pepr.toml in the current folder."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import Any

COMMENT_COLUMN = 31
TEMPLATE = """\
# pepr-gate config, written by `pepr-gate init`. Every key is described in the docs'
# Configuration page; unknown keys are errors, so a typo never passes silently.

# [run]
# env = {{ OMP_NUM_THREADS = "4" }}  # fixed thread count: faster, steadier runs on many cores

[[run.stages]]                 # run in order, metered as one window
name = "train"
cmd = {cmd}                    # an argv list; a shell string needs shell = true

[performance]
file = {file}                  # JSON your command writes, relative to this file
key = {key}                    # dotted path to P in [0, 1]; scale = 100 for percentages

[score]
resource = "energy"            # PePR-E; or carbon, time, gpu_memory, params

# The amount that counts as R = 1. Your first `pepr-gate run` prints a value to put here.
# [score.scale]
# energy = 0.5                 # kWh

[gate]
max_pepr_drop = 0.05           # fail when PePR falls more than 5% (and more than the noise)
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="write a minimal, commented pepr.toml here (never overwrites)",
        description=(
            "Write a minimal, commented pepr.toml in the current folder: one stage running "
            "--cmd, P read from --key in --metrics-file, PePR-E with a 5% threshold. "
            "Refuses when pepr.toml, or [tool.pepr-gate] in pyproject.toml, already exists."
        ),
    )
    p.add_argument("--cmd", default="python train.py", metavar="COMMAND",
                   help="the train/eval command, split like a shell would into an argv list "
                   "(default: %(default)r)")
    p.add_argument("--metrics-file", default="metrics.json", metavar="FILE",
                   help="JSON file the command writes, relative to pepr.toml "
                   "(default: %(default)s)")
    p.add_argument("--key", default="accuracy", metavar="KEY",
                   help="dotted path to P in that file, e.g. test.accuracy (default: %(default)s)")
    p.set_defaults(func=run)


def toml_string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that JSON writes a character
    beyond U+FFFF (an emoji) as a surrogate pair TOML refuses: those stay literal UTF-8,
    and DEL, which TOML forbids raw, is escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def render(cmd: list[str], metrics_file: str, key: str) -> str:
    text = TEMPLATE.format(
        cmd="[" + ", ".join(toml_string(a) for a in cmd) + "]",
        file=toml_string(metrics_file),
        key=toml_string(key),
    )
    # Line the comments up again after values of any length.
    lines = []
    for line in text.splitlines():
        code, sep, comment = line.rpartition(" # ")  # values may hold " # " too
        if sep and code.strip() and not code.lstrip().startswith("#"):
            line = f"{code.rstrip():<{max(COMMENT_COLUMN, len(code.rstrip()) + 2)}}# {comment}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def ignore_outputs(here: Path, metrics_file: str) -> list[str]:
    """Add `.pepr/` (run records, logs) and the metrics file the job writes to the folder's
    .gitignore, inside a git work tree only; lines already there are kept as they are."""
    if not any((folder / ".git").exists() for folder in (here, *here.parents)):
        return []
    wanted = ["/.pepr/"]
    metrics = Path(metrics_file)
    if not metrics.is_absolute() and ".." not in metrics.parts:
        wanted.append("/" + metrics.as_posix())
    path = here / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError):
        return []  # not ours to repair; init has already written pepr.toml
    have = {line.strip().strip("/") for line in text.splitlines()}
    added = [line for line in wanted if line.strip("/") not in have]
    if added:
        sep = "" if not text or text.endswith("\n") else "\n"
        block = "# pepr-gate: run records and the job's metrics (written by every run)\n"
        try:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(sep + block + "\n".join(added) + "\n")
        except OSError:
            return []
    return added


def run(args: argparse.Namespace) -> int:
    from pepr_gate.config import find_config, parse_config, tomllib
    from pepr_gate.errors import ConfigError, InputError
    from pepr_gate.measure.threads import unset_thread_note

    try:
        cmd = shlex.split(args.cmd)
    except ValueError as exc:
        raise InputError(f"--cmd {args.cmd!r}: {exc}", hint="check the quotes") from None
    if not cmd:
        raise InputError("--cmd is empty", hint="e.g. --cmd 'python train.py --epochs 3'")
    for flag, value in (("--cmd", args.cmd), ("--metrics-file", args.metrics_file),
                        ("--key", args.key)):
        if not value.strip():
            raise InputError(f"{flag} is empty", hint="see `pepr-gate init --help`")
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise InputError(f"{flag}: holds bytes that are not UTF-8 text",
                             hint="pepr.toml is UTF-8; pass the value as UTF-8 text")
    if any(not part.strip() for part in args.key.split(".")):
        raise InputError(f"--key {args.key!r}: an empty part between dots",
                         hint="a dotted path to P in the metrics file, e.g. test.accuracy")
    here = Path.cwd()
    existing = find_config(here)
    if existing is not None:
        raise ConfigError(
            f"{existing}: a pepr-gate config already exists here; init never overwrites one",
            hint="edit that file, or move it away and run `pepr-gate init` again",
        )
    text = render(cmd, args.metrics_file, args.key)
    target = here / "pepr.toml"
    # Checked before writing: the file written is one `pepr-gate run` accepts.
    parse_config(tomllib.loads(text), source=str(target), root=str(here))
    try:
        with target.open("x", encoding="utf-8") as fh:  # "x": never replace a file
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"{target}: already exists; init never overwrites it") from None
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}",
                         hint="run init in a folder you can write to") from None
    print(f"wrote {target}")
    print(f"  stage 'train': {shlex.join(cmd)}")
    print(f"  P from {args.metrics_file!r}, key {args.key!r}; PePR-E; fail on a 5% drop")
    added = ignore_outputs(here, args.metrics_file)
    if added:
        print(f"added {', '.join(added)} to {here / '.gitignore'} (run outputs, not sources)")
    note = unset_thread_note(os.environ, os.cpu_count())
    if note:
        print(f"note: {note}")
    print("next: `pepr-gate run` measures it once and suggests a [score.scale] value")
    return 0
