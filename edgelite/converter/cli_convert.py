"""``edgelite convert MODEL.onnx -o MODEL.tflite [--quantize int8 --calibration DATA]``: the converter's CLI.

Quantization options follow ``edgelite quantize``; calibration data is in the ONNX
model's own input layout (NCHW for image models). A QDQ model converts to int8 with
its own parameters without any option. Calibration shows a progress bar on stderr.

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

from edgelite.converter.options import QDQ_MODES, QUANTIZE_MODES
from edgelite.errors import ShapeError

_BIAS_CORRECTION = {"auto": "auto", "on": True, "off": False}


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
    q = p.add_argument_group("quantization")
    q.add_argument("--quantize", choices=QUANTIZE_MODES, help="quantize the converted model (default: float)")
    q.add_argument("--calibration", metavar="DATA",
                   help=".npy, .npz (one array per input name) or a folder of images, in the ONNX input layout")
    q.add_argument("--io-type", choices=("float32", "int8", "uint8", "int16"), default="float32",
                   help="type of the quantized model's inputs and outputs (default float32)")
    q.add_argument("--observer", choices=("minmax", "percentile", "entropy", "mse", "moving_average"),
                   default="minmax", help="how calibration picks ranges (default minmax)")
    q.add_argument("--keep-float", action="append", default=[], metavar="NAME",
                   help="tensor (ONNX output name) or TFLite operator type that stays float; repeatable")
    q.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weights")
    q.add_argument("--qdq", choices=QDQ_MODES, default="auto",
                   help="QuantizeLinear/DequantizeLinear pairs: import as int8 parameters (auto/import) or keep as float")
    q.add_argument("--bias-correction", choices=tuple(_BIAS_CORRECTION), default="auto",
                   help="correct conv/FC biases for the mean shift weight rounding causes: auto (default) keeps "
                        "it only if the int8 outputs on calibration samples are closer to the float model's")
    q.add_argument("--target-sqnr", type=float, metavar="DB",
                   help="int8: keep the fewest layers float that bring the output SQNR to DB on held-back "
                        "calibration samples")
    q.add_argument("--fallback", choices=("float", "int16x8"), default="float",
                   help="with --target-sqnr: precision of the layers kept out of int8 (default float)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
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
    from edgelite.converter.options import QuantizationSettings

    dst = args.output or os.path.splitext(args.model)[0] + ".tflite"
    quant = QuantizationSettings(
        mode=args.quantize, calibration=args.calibration, io_type=args.io_type, observer=args.observer,
        keep_float=tuple(args.keep_float), per_channel=not args.per_tensor, qdq=args.qdq,
        bias_correction=_BIAS_CORRECTION[args.bias_correction], target_sqnr=args.target_sqnr,
        fallback=args.fallback,
    )
    opts = ConvertOptions(
        keep_io_layout=args.keep_io_layout,
        allow_custom=args.allow_custom,
        input_shapes=parse_input_shapes(args.input_shape),
        quantization=quant,
    )
    progress = None
    if args.calibration and not args.no_progress:
        from edgelite.quantize.cli_quantize import ProgressBar

        progress = ProgressBar()
    n = convert_file(args.model, dst, opts, progress=progress)
    kind = f", {args.quantize}" if args.quantize else ""
    sys.stdout.write(f"wrote {dst} ({n} bytes{kind})\n")
    if args.target_sqnr is not None:
        from edgelite.quantize.mixed import MixedPrecisionReport, stored_report

        with open(dst, "rb") as f:
            record = stored_report(f.read())
        if record is not None:
            sys.stdout.write(MixedPrecisionReport.from_dict(record).to_table() + "\n")
    return 0
