"""int8 conversion of a ResNet18 with 32 calibration samples: edgelite vs ONNX Runtime.

The model is ResNet18's architecture (torchvision's layout: 7x7/2 stem, max pool, four
stages of two basic blocks, global average pool, 1000-way fully connected; batch norm
folded into the convolutions) with random He-initialised weights, written with
``onnx.helper`` into a cache directory once (no torch needed). Both quantizers get the
same 32 calibration images (1x3x224x224, seeded) in the same run:

* edgelite: ``edgelite.convert(onnx, quantize="int8", calibration=...)`` with the
  defaults (per-channel int8, min-max observer, ``bias_correction="auto"``, calibration
  threads ``num_threads=None``: the CPUs available, at most 4; ``--threads`` sets it); its time
  is also split into the float conversion and ``quantize_model`` on the float file;
* ONNX Runtime: ``onnxruntime.quantization.quantize_static`` (QDQ, int8 weights and
  activations, per-channel, MinMax) with a reader over the same 32 samples.

Each quantizer runs ``--repeats`` times, alternating; the median wall and process CPU
times and their ratio are printed, with each model's SQNR against its own float model
on 8 held-out images (edgelite's on LiteRT, ONNX Runtime's on ONNX Runtime). Never
gates CI; on a shared machine the figures move run to run.

Usage:
    python benchmarks/bench_calibration.py [--repeats 3] [--samples 32] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("EDGELITE_BENCH_CACHE", Path(tempfile.gettempdir()) / "edgelite-bench"))


def resnet18(seed: int = 0) -> onnx.ModelProto:
    """ResNet18 (BN folded) with random weights, NCHW 1x3x224x224 -> 1x1000."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def conv(x, cin, cout, k, stride, name, relu=True):
        w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
        b = rng.standard_normal(cout) * 0.05
        y = f"{name}_out"
        nodes.append(helper.make_node("Conv", [x, const(f"{name}_w", w), const(f"{name}_b", b)], [y],
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [f"{name}_relu"]))
            return f"{name}_relu"
        return y

    x = conv("input", 3, 64, 7, 2, "stem")
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, cin = "pool", 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"l{stage + 1}b{block}"
            h = conv(x, cin, cout, 3, stride, f"{name}c1")
            h = conv(h, cout, cout, 3, 1, f"{name}c2", relu=False)
            skip = conv(x, cin, cout, 1, stride, f"{name}down", relu=False) if (stride != 1 or cin != cout) else x
            nodes.append(helper.make_node("Add", [h, skip], [f"{name}_sum"]))
            nodes.append(helper.make_node("Relu", [f"{name}_sum"], [f"{name}_out"]))
            x, cin = f"{name}_out", cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    fw = rng.standard_normal((1000, 512)) * np.sqrt(1.0 / 512)
    nodes.append(helper.make_node("Gemm", ["flat", const("fc_w", fw), const("fc_b", np.zeros(1000))], ["logits"],
                                  transB=1))
    graph = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def model_path() -> Path:
    path = CACHE / "resnet18_random.onnx"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        onnx.save(resnet18(), str(path))
    return path


def images(n: int, seed: int) -> np.ndarray:
    """Smooth image-like inputs (normalised as torchvision's ImageNet models expect)."""
    rng = np.random.default_rng(seed)
    low = rng.standard_normal((n, 3, 14, 14)).astype(np.float32)
    return np.repeat(np.repeat(low, 16, axis=2), 16, axis=3) * 0.8 + rng.standard_normal((n, 3, 224, 224)).astype(np.float32) * 0.2


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def run_edgelite(path: Path, calib: np.ndarray, threads: int | None = None) -> tuple[bytes, dict]:
    import edgelite
    from edgelite.quantize import quantize_model

    float_model, w0, c0 = timed(lambda: edgelite.convert(str(path)))
    q, w1, c1 = timed(lambda: quantize_model(float_model, "int8", calibration=[c.transpose(1, 2, 0)[None] for c in calib],
                                             num_threads=threads))
    return q, {"wall": w0 + w1, "cpu": c0 + c1, "convert_wall": w0, "quantize_wall": w1}


def run_ort(path: Path, calib: np.ndarray, out: Path) -> tuple[Path, dict]:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": c[None]} for c in calib])

        def get_next(self):
            return next(self.it, None)

    _, w, c = timed(lambda: quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ,
                                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                                            per_channel=True))
    return out, {"wall": w, "cpu": c}


def sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(1e-30, np.sum((ref - got).astype(np.float64) ** 2))))


def quality(path: Path, q_tflite: bytes, q_onnx: Path, held: np.ndarray) -> tuple[float, float]:
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    f = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    o = ort.InferenceSession(str(q_onnx), providers=["CPUExecutionProvider"])
    it = Interpreter(model_content=q_tflite)
    it.allocate_tensors()
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    refs, e, r = [], [], []
    for x in held:
        ref = f.run(None, {"input": x[None]})[0]
        refs.append(ref)
        r.append(o.run(None, {"input": x[None]})[0])
        it.set_tensor(inp["index"], x.transpose(1, 2, 0)[None].astype(np.float32))
        it.invoke()
        e.append(it.get_tensor(outp["index"]).reshape(ref.shape))
    ref = np.concatenate(refs)
    return sqnr(ref, np.concatenate(e)), sqnr(ref, np.concatenate(r))


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None,
                    help="edgelite's calibration threads (QuantizeOptions.num_threads; default: its own default)")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    path = model_path()
    calib, held = images(args.samples, 1), images(8, 2)
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {os.getloadavg()}")
    print(f"model: {path} (ResNet18, random weights); {args.samples} calibration samples; edgelite calibration "
          f"threads: {args.threads if args.threads is not None else 'default (num_threads=None)'}")
    rows = {"edgelite": [], "onnxruntime": []}
    with tempfile.TemporaryDirectory() as tmp:
        q_onnx = Path(tmp) / "resnet18_int8.onnx"
        q_tflite = b""
        for _ in range(args.repeats):
            q_tflite, t = run_edgelite(path, calib, args.threads)
            rows["edgelite"].append(t)
            _, t = run_ort(path, calib, q_onnx)
            rows["onnxruntime"].append(t)
        e_sqnr, o_sqnr = quality(path, q_tflite, q_onnx, held)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in rows.items()}
    e, o = med["edgelite"], med["onnxruntime"]
    print(f"{'':<12}{'wall s':>9}{'cpu s':>9}{'SQNR dB':>9}")
    print(f"{'edgelite':<12}{e['wall']:>9.2f}{e['cpu']:>9.2f}{e_sqnr:>9.1f}   "
          f"(float conversion {e['convert_wall']:.2f} s + quantize_model {e['quantize_wall']:.2f} s)")
    print(f"{'onnxruntime':<12}{o['wall']:>9.2f}{o['cpu']:>9.2f}{o_sqnr:>9.1f}")
    print(f"ratio edgelite / onnxruntime: wall {e['wall'] / o['wall']:.2f}x, cpu {e['cpu'] / o['cpu']:.2f}x "
          f"(medians of {args.repeats}); load average after {os.getloadavg()}")
    # On a shared machine the fastest run is the least disturbed one.
    e_min, o_min = min(r["wall"] for r in rows["edgelite"]), min(r["wall"] for r in rows["onnxruntime"])
    print(f"fastest of {args.repeats}: edgelite {e_min:.2f} s, onnxruntime {o_min:.2f} s, ratio {e_min / o_min:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
