"""The ``edgelite`` command line: one subcommand per job.

Each component owns its subcommands (``add_parser(subparsers)`` + ``run(args)``); this
module only assembles them and turns edgelite's typed errors into one-line messages.

Example:
    $ edgelite inspect model.tflite
    $ edgelite convert model.onnx -o model.tflite
"""

from __future__ import annotations

import argparse
import sys

from edgelite import __version__
from edgelite.errors import EdgeliteError


def _subcommand_modules():
    # Explicit list: each import is cheap (heavy dependencies load inside run()).
    from edgelite.converter import cli_convert
    from edgelite.interpreter import cli_benchmark, cli_run
    from edgelite.quantize import cli_quantize, cli_report
    from edgelite import quickstart
    from edgelite.schema import cli_inspect

    return [quickstart, cli_convert, cli_quantize, cli_report, cli_inspect, cli_run, cli_benchmark]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgelite",
        description="edgelite: convert, quantize, inspect and run TFLite models on device.",
    )
    parser.add_argument("--version", action="version", version=f"edgelite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _subcommand_modules():
        module.add_parser(sub)
    from edgelite.delegates import cli_delegate

    cli_delegate.extend(sub.choices)  # --delegate for inspect and benchmark
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgeliteError as e:
        print(f"edgelite {args.command}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(f"edgelite {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
