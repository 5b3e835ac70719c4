"""``edgelite quant-report FLOAT.tflite QUANT.tflite --data DATA``: where accuracy goes.

Example:
    $ edgelite quant-report model.tflite model_int8.tflite --data data.npz --top 10
    $ edgelite quant-report model.tflite model_int8.tflite --data data.npz --json > report.json
    $ edgelite quant-report model.tflite model_int8.tflite --data images/ --html report.html
"""

from __future__ import annotations

import argparse
import json

from edgelite.quantize.cli_quantize import ProgressBar, add_data_arguments, image_options


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "quant-report", help="per-layer error of a quantized model against its float model",
        description="Run a float model and its quantized twin on the same data and report, per tensor, "
        "mean error, max abs error, MSE and SQNR, worst layers first.",
    )
    p.add_argument("float_model", help="the float .tflite model")
    p.add_argument("quant_model", help="the quantized .tflite model")
    p.add_argument("--data", required=True, help=".npy, .npz, or a folder of images / .npy images")
    p.add_argument("--top", type=int, help="show only the N worst layers in the table")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--html", metavar="OUT.html", help="also write an HTML page with an SQNR plot")
    add_data_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from edgelite.quantize.report import compare_models

    progress = None if args.no_progress else ProgressBar()
    rep = compare_models(args.float_model, args.quant_model, args.data, backend=args.backend,
                         max_samples=args.max_samples, image_options=image_options(args), progress=progress)
    from edgelite.quantize.mixed import MixedPrecisionReport, stored_report

    with open(args.quant_model, "rb") as f:
        target = stored_report(f.read())  # written by an accuracy-target quantization
    if args.json:
        d = rep.to_dict()
        if target is not None:
            d["mixed_precision"] = target
        print(json.dumps(d, indent=2))
    else:
        print(rep.to_table(args.top))
        if target is not None:
            print("\naccuracy target (recorded when the model was quantized):")
            print(MixedPrecisionReport.from_dict(target).to_table())
    if args.html:
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(rep.to_html())
    return 0
