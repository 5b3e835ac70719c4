"""``edgelite convert MODEL.onnx -o MODEL.tflite``: the converter's CLI subcommand.

``edgelite/cli.py`` wires it in with ``add_parser(subparsers)``; ``run(args)`` returns
the exit status (errors are raised as ``EdgeliteError`` for the CLI to format).

Example:
    >>> import argparse
    >>> from edgelite.converter import cli_convert
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="cmd")
    >>> cli_convert.add_parser(sub)  # doctest: +ELLIPSIS
    ArgumentParser(...)
    >>> a = p.parse_args(["convert", "m.onnx", "--input-shape", "x=1,3,8,8"])
    >>> cli_convert.parse_input_shapes(a.input_shape)
    {'x': (1, 3, 8, 8)}
"""

from __future__ import annotations

import argparse
import os
import sys

from edgelite.errors import ShapeError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert", help="convert an ONNX model to .tflite", description="Convert an ONNX model to a .tflite flatbuffer."
    )
    p.add_argument("model", help="input .onnx file (external data files are read from beside it)")
    p.add_argument("-o", "--output", help="output .tflite file (default: MODEL with a .tflite suffix)")
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="fix an input's shape (repeatable), e.g. --input-shape input=1,3,224,224",
    )
    p.add_argument(
        "--keep-io-layout",
        action="store_true",
        help="keep ONNX's channels-first layout for image inputs/outputs (adds transposes)",
    )
    p.add_argument(
        "--allow-custom", action="store_true", help="emit unsupported ONNX ops as TFLite CUSTOM ops instead of failing"
    )
    p.set_defaults(func=run)
    return p


def parse_input_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        if not sep or not name:
            raise ShapeError(f"--input-shape {item!r}: expected NAME=D0,D1,...")
        try:
            shapes[name] = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise ShapeError(f"--input-shape {item!r}: dimensions must be integers") from None
    return shapes


def run(args) -> int:
    from edgelite.converter import ConvertOptions, convert_file

    dst = args.output or os.path.splitext(args.model)[0] + ".tflite"
    opts = ConvertOptions(
        keep_io_layout=args.keep_io_layout,
        allow_custom=args.allow_custom,
        input_shapes=parse_input_shapes(args.input_shape),
    )
    n = convert_file(args.model, dst, opts)
    sys.stdout.write(f"wrote {dst} ({n} bytes)\n")
    return 0
