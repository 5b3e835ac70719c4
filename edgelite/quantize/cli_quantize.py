"""``edgelite quantize FLOAT.tflite -o OUT.tflite --mode int8 --calibration DATA``.

Example:
    $ edgelite quantize model.tflite -o model_int8.tflite --mode int8 --calibration data.npz
    $ edgelite quantize model.tflite -o model_fp16.tflite --mode float16
"""

from __future__ import annotations

import argparse
import sys

from edgelite.quantize.options import IO_TYPES, MODES, OBSERVERS


class ProgressBar:
    """A dependency-free progress bar on stderr: ``calibrating [#####     ] 50/100``."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width

    def __call__(self, done: int, total: int, stage: str) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + " " * (self.width - filled)
        self.stream.write(f"\r{stage:<12} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Options of image-folder data (shared with ``quant-report``)."""
    p.add_argument("--image-scale", type=float, default=1.0 / 255.0, help="multiply pixels by this first (default 1/255)")
    p.add_argument("--image-mean", type=float, nargs="+", default=[0.0], help="per-channel mean to subtract")
    p.add_argument("--image-std", type=float, nargs="+", default=[1.0], help="per-channel std to divide by")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="resize images to H W (default: model input)")
    p.add_argument("--max-samples", type=int, help="use at most this many samples")
    p.add_argument("--backend", choices=("auto", "edgelite", "litert"), default="auto",
                   help="interpreter that runs the float model (default: edgelite, else LiteRT)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


BIAS_CORRECTION_CHOICES = {"auto": "auto", "on": True, "off": False}


def image_options(args):
    from edgelite.quantize.calibration import ImageOptions

    return ImageOptions(size=tuple(args.image_size) if args.image_size else None, scale=args.image_scale,
                        mean=tuple(args.image_mean), std=tuple(args.image_std))


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "quantize", help="post-training quantization of a float .tflite model",
        description="Quantize a float .tflite model: int8 (full integer), int16x8, dynamic (int8 weights) or float16.",
    )
    p.add_argument("model", help="float .tflite model")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized model")
    p.add_argument("--mode", choices=MODES, default="int8")
    p.add_argument("--calibration", help=".npy, .npz, or a folder of images / .npy images (int8, int16x8)")
    p.add_argument("--observer", choices=OBSERVERS, default="minmax", help="how calibration picks ranges")
    p.add_argument("--percentile", type=float, default=99.99, help="for --observer percentile")
    p.add_argument("--io-type", choices=IO_TYPES, default="float32", help="model input/output type (default float32)")
    p.add_argument("--keep-float", action="append", default=[], metavar="NAME",
                   help="tensor (or operator type) whose operator stays float; repeatable")
    p.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel conv weights")
    p.add_argument("--per-tensor-fc", action="store_true", help="per-tensor FULLY_CONNECTED weights")
    p.add_argument("--bias-correction", choices=tuple(BIAS_CORRECTION_CHOICES), nargs="?", const="on", default="auto",
                   help="correct conv/FC biases for the mean shift weight rounding causes (int8, int16x8): "
                        "auto (default) keeps it only if the int8 outputs on calibration samples are closer "
                        "to the float model's; on (also a bare --bias-correction); off")
    p.add_argument("--target-sqnr", type=float, metavar="DB",
                   help="int8: keep the fewest layers float that bring the output SQNR to DB on held-back "
                        "calibration samples (prints which layers stayed, size and latency cost)")
    p.add_argument("--fallback", choices=("float", "int16x8"), default="float",
                   help="with --target-sqnr: precision of the layers kept out of int8 (default float)")
    p.add_argument("--fixed-range-outputs", choices=("int16", "float", "int8"), default="int16",
                   help="int8: an output LOGISTIC/SOFTMAX/TANH in int16x8 (default), float, or int8 as TFLite")
    p.add_argument("--dynamic-min-elements", type=int, default=1024, help="dynamic mode: smaller weights stay float")
    p.add_argument("--threads", type=int, metavar="N",
                   help="calibration samples run at once, one interpreter each (same result whatever N; "
                        "default: the CPUs available, at most 4; 1 for small models)")
    add_data_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from edgelite.quantize import QuantizeOptions, quantize_model

    reports: list = []
    opts = QuantizeOptions(
        mode=args.mode, io_type=args.io_type, observer=args.observer, percentile=args.percentile,
        per_channel=not args.per_tensor, per_channel_fully_connected=not args.per_tensor_fc,
        keep_float=tuple(args.keep_float), max_samples=args.max_samples,
        dynamic_min_elements=args.dynamic_min_elements, backend=args.backend,
        bias_correction=BIAS_CORRECTION_CHOICES[args.bias_correction], target_sqnr=args.target_sqnr,
        on_target_report=reports.append, fallback=args.fallback, fixed_range_outputs=args.fixed_range_outputs,
        num_threads=args.threads,
    )
    progress = None if args.no_progress else ProgressBar()
    data = quantize_model(args.model, calibration=args.calibration, options=opts,
                          image_options=image_options(args), progress=progress)
    with open(args.output, "wb") as f:
        f.write(data)
    print(f"wrote {args.output} ({len(data)} bytes, mode {args.mode})")
    for rep in reports:
        print(rep.to_table())
    return 0
