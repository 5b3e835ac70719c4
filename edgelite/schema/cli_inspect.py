"""``edgelite inspect MODEL.tflite [--json]``: what a model holds, for people or scripts."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show a .tflite model's inputs, outputs, signatures, operators and metadata",
        description="Show a .tflite model's subgraphs, inputs and outputs, signatures, operator "
        "histogram with versions, parameter count, weight bytes by dtype and metadata.",
    )
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgelite.schema import read_model
    from edgelite.schema.summary import format_summary, summarize

    summary = summarize(read_model(args.model))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_summary(summary))
    return 0
