"""``edgelite quickstart``: the main job, end to end, on the model that ships with edgelite.

The bundled model is a small CNN trained on scikit-learn's 8x8 handwritten digits
(``examples/train_digits.py``), stored as ONNX with a held-out split it never saw and
200 calibration images. The quickstart converts it to a float32 ``.tflite``,
quantizes that to full int8 with the calibration images, then reports held-out
accuracy of both, their agreement with LiteRT (when installed), file sizes and
latency.

Example:
    $ edgelite quickstart --out /tmp/digits
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MODEL = DATA / "digits_cnn.onnx"
HELDOUT = DATA / "digits_heldout.npz"
CALIBRATION = DATA / "digits_calibration.npz"


@dataclass
class Evaluation:
    """Predictions and timings of one model over the held-out split."""

    logits: np.ndarray
    accuracy: float
    median_ms: float


def _nhwc(images: np.ndarray) -> np.ndarray:
    """The bundled data is NCHW (the ONNX model's layout); converted models take NHWC."""
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


def _evaluate(interpreter, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    scale, zero_point = inp["quantization"]
    logits, times = [], []
    for x in images:
        x = x[None]
        if inp["dtype"] != np.float32:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        t0 = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - t0)
        logits.append(interpreter.get_tensor(out["index"])[0])
    logits = np.stack(logits)
    return Evaluation(
        logits=logits,
        accuracy=float(np.mean(np.argmax(logits, axis=1) == labels)),
        median_ms=statistics.median(times) * 1000,
    )


def _litert(model: bytes):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    # Without the default XNNPACK delegate: the reference LiteRT int8 arithmetic that
    # edgelite reproduces bit for bit.
    return Interpreter(
        model_content=model,
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


def run_quickstart(out_dir: Path, use_litert: bool = True, log=print) -> dict:
    """Convert, quantize, evaluate; returns the figures it printed (for tests)."""
    import edgelite
    from edgelite.quantize import quantize_model

    heldout = np.load(HELDOUT)
    images, labels = _nhwc(heldout["image"]), heldout["label"]
    calibration = _nhwc(np.load(CALIBRATION)["image"])
    out_dir.mkdir(parents=True, exist_ok=True)

    log(f"edgelite {edgelite.__version__} quickstart: a CNN trained on scikit-learn's 8x8 digits")
    t0 = time.perf_counter()
    float_model = edgelite.convert(str(MODEL))
    t_convert = time.perf_counter() - t0
    (out_dir / "digits_float32.tflite").write_bytes(float_model)
    log(f"1. converted {MODEL.name} -> digits_float32.tflite in {t_convert:.2f} s ({len(float_model) / 1024:.1f} KiB)")

    t0 = time.perf_counter()
    int8_model = quantize_model(float_model, mode="int8", calibration=[x[None] for x in calibration])
    t_quant = time.perf_counter() - t0
    (out_dir / "digits_int8.tflite").write_bytes(int8_model)
    log(
        f"2. quantized to full int8 with {len(calibration)} calibration images in {t_quant:.2f} s "
        f"({len(int8_model) / 1024:.1f} KiB, {len(float_model) / len(int8_model):.1f}x smaller)"
    )

    ev_float = _evaluate(edgelite.Interpreter(model_content=float_model, num_threads=1), images, labels)
    ev_int8 = _evaluate(edgelite.Interpreter(model_content=int8_model, num_threads=1), images, labels)
    log(
        f"3. held-out accuracy ({len(labels)} images): float32 {100 * ev_float.accuracy:.2f}%, "
        f"int8 {100 * ev_int8.accuracy:.2f}% ({100 * (ev_int8.accuracy - ev_float.accuracy):+.2f} points)"
    )
    figures = {
        "accuracy_float32": ev_float.accuracy,
        "accuracy_int8": ev_int8.accuracy,
        "bytes_float32": len(float_model),
        "bytes_int8": len(int8_model),
        "latency_ms_float32": ev_float.median_ms,
        "latency_ms_int8": ev_int8.median_ms,
    }

    lite_float = _litert(float_model) if use_litert else None
    if lite_float is not None:
        lt_float = _evaluate(lite_float, images, labels)
        lt_int8 = _evaluate(_litert(int8_model), images, labels)
        scale = float(np.max(np.abs(lt_float.logits)))
        rel = float(np.max(np.abs(ev_float.logits - lt_float.logits))) / scale
        same = int(np.sum(np.all(ev_int8.logits == lt_int8.logits, axis=1)))
        log(
            f"4. agreement with LiteRT: float32 max relative difference {rel:.1e}; "
            f"int8 outputs bit-identical on {same}/{len(labels)} images"
        )
        log(
            f"5. latency per image (1 thread, median): edgelite float32 {ev_float.median_ms:.3f} ms, "
            f"int8 {ev_int8.median_ms:.3f} ms; LiteRT float32 {lt_float.median_ms:.3f} ms, int8 {lt_int8.median_ms:.3f} ms"
        )
        figures.update(litert_float_rel_diff=rel, litert_int8_identical=same)
    else:
        log("4. LiteRT (ai-edge-litert) is not installed: agreement check skipped")
        log(
            f"5. latency per image (1 thread, median): float32 {ev_float.median_ms:.3f} ms, "
            f"int8 {ev_int8.median_ms:.3f} ms"
        )
    log(f"files: {out_dir / 'digits_float32.tflite'}, {out_dir / 'digits_int8.tflite'}")
    return figures


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "quickstart",
        help="convert, quantize and evaluate the bundled digits model",
        description="Convert the bundled ONNX digits CNN to float32 and int8 .tflite, and report "
        "held-out accuracy, agreement with LiteRT, sizes and latency.",
    )
    p.add_argument("--out", default="edgelite-quickstart", help="folder for the .tflite files (default: %(default)s)")
    p.add_argument("--no-litert", action="store_true", help="skip the comparison with LiteRT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401
    except ImportError:
        print("edgelite quickstart needs the converter's extra: pip install 'edgelite[convert]'", file=sys.stderr)
        return 1
    run_quickstart(Path(args.out), use_litert=not args.no_litert)
    return 0
