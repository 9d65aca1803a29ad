"""`pepr-gate report`: re-render a stored check result (`pepr-gate check --json`), or write a
run's Hugging Face model-card emissions entry (`--model-card RUN`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DESCRIPTION = """\
Re-render a check result written by `pepr-gate check --json` in the terminal, as the
Markdown PR comment, or as JSON. With --model-card, print a run's Hugging Face
model-card `co2_eq_emissions` YAML block and a Markdown paragraph instead.

examples:
  pepr-gate report .pepr/ci/check.json --format markdown
  pepr-gate report --model-card latest
  pepr-gate report --model-card .pepr/runs/RUN_ID.json --training-type fine-tuning
  pepr-gate report --model-card RUN_ID --update README.md
"""


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="re-render a check result, or a run as a model card",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.json", nargs="?", help="a check result file")
    p.add_argument("--markdown", metavar="OUT", help="also write the PR comment body here")
    p.add_argument("--format", choices=("terminal", "markdown", "json"), default="terminal",
                   help="what to print on stdout (default: terminal)")
    card = p.add_argument_group("model card")
    card.add_argument("--model-card", metavar="RUN",
                      help="a run record file, a stored run id, or latest (the current "
                      "branch's newest ok run)")
    card.add_argument("--update", metavar="README.md",
                      help="merge the co2_eq_emissions block into this card's front matter")
    card.add_argument("--training-type", choices=("pre-training", "fine-tuning"),
                      help="the card's training_type (left out unless given)")
    card.add_argument("--location", metavar="TEXT",
                      help="geographical_location (default: the country of the run's "
                      "carbon intensity)")
    card.add_argument("--config", metavar="PATH", help="config file (for the store)")
    card.add_argument("--store", metavar="URL", help="history store to find RUN in")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.errors import InputError

    if args.model_card is not None:
        if args.file is not None:
            raise InputError("give either a check result file or --model-card RUN, not both",
                             hint="`pepr-gate report --model-card RUN` takes no FILE.json")
        return _model_card(args)
    if args.file is None:
        raise InputError("report: give a check result file (FILE.json) or --model-card RUN",
                         hint="see `pepr-gate report --help`")
    if args.update:
        raise InputError("--update goes with --model-card RUN",
                         hint="pepr-gate report --model-card RUN --update README.md")
    from pepr_gate.commands.check import write_output
    from pepr_gate.publish.markdown import render_markdown
    from pepr_gate.records import load_check_result

    result = load_check_result(args.file)
    if args.markdown:
        write_output(args.markdown, render_markdown(result))
    if args.format == "markdown":
        sys.stdout.write(render_markdown(result))
    elif args.format == "json":
        sys.stdout.write(result.to_json() + "\n")
    else:
        from pepr_gate.publish.terminal import render_terminal

        render_terminal(result)
    return 0


def _model_card(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.publish.exports.model_card import emissions_of, paragraph, yaml_block
    from pepr_gate.services.export import find_run, update_card

    config = load_config(args.config, required=args.config is not None)
    record, where = find_run(args.model_card, config, args.store)
    emissions = emissions_of(record, where, training_type=args.training_type,
                             location=args.location)
    block = yaml_block(emissions)
    if args.update:
        update_card(args.update, block)
        print(f"pepr-gate: {args.update}: co2_eq_emissions set from run {record.id}",
              file=sys.stderr)
    sys.stdout.write(f"---\n{block}---\n\n{paragraph(record, emissions)}")
    return 0
