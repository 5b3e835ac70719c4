"""ConvInteger / QLinearConv after conversion: edgelite's interpreter and LiteRT, 1 thread.

Models (built here, in a temporary folder):

* ``qlinearconv_3x3_32``: one QLinearConv, 3x3, 32 -> 32 channels, 1x32x112x112 uint8,
  int8 per-channel weights with an int32 bias (what ONNX Runtime's QOperator quantizer
  writes for a ``Conv``);
* ``ort_qoperator_cnn``: a small float CNN (stride-2 3x3 conv 3->16, depthwise 3x3, 1x1
  conv 16->32, two stride-2 3x3 convs 32->32->16, Relu after each, flatten, MatMul) at 1x3x96x96 quantized by ONNX Runtime's
  ``quantize_static(QOperator, per_channel)``.

Each is converted by the ``edgelite`` on ``sys.path`` (run with ``PYTHONPATH`` set to an
older tree for a before/after comparison), then timed: median of ``--runs`` invokes after
one warm-up, edgelite, LiteRT's built-in kernels (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``)
and LiteRT with XNNPACK. Prints the CPU model and the load average (timings on a loaded
machine are noisy). Never gates anything.

Run: ``python benchmarks/bench_integer_conv.py [--runs 20]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def qlinearconv_model():
    from onnx import helper, numpy_helper

    r = np.random.default_rng(0)
    inits = {"xs": np.array(0.02, np.float32), "xz": np.array(128, np.uint8),
             "w": r.integers(-127, 128, (32, 32, 3, 3)).astype(np.int8),
             "ws": r.uniform(0.001, 0.01, 32).astype(np.float32),
             "wz": np.zeros(32, np.int8), "ys": np.array(0.5, np.float32), "yz": np.array(128, np.uint8),
             "B": r.integers(-5000, 5000, 32).astype(np.int32)}
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"], ["y"],
                            pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 2, [1, 32, 112, 112])],
                          [helper.make_tensor_value_info("y", 2, [1, 32, 112, 112])],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m, {"x": r.integers(0, 256, (1, 32, 112, 112)).astype(np.uint8)}


def ort_cnn_model(folder: Path):
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    r = np.random.default_rng(1)

    def w(*shape):
        return r.normal(0, 0.3, shape).astype(np.float32)

    inits = [numpy_helper.from_array(v, k) for k, v in {
        "W1": w(16, 3, 3, 3), "B1": w(16), "W2": w(16, 1, 3, 3), "B2": w(16),
        "W3": w(32, 16, 1, 1), "B3": w(32), "W4": w(32, 32, 3, 3), "B4": w(32),
        "W5": w(16, 32, 3, 3), "B5": w(16), "M": w(16 * 12 * 12, 10) * 0.05, "shape": np.array([1, -1], np.int64)}.items()]
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], pads=[1, 1, 1, 1], group=16),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "W3", "B3"], ["c3"]), helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Conv", ["r3", "W4", "B4"], ["c4"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c4"], ["r4"]),
             helper.make_node("Conv", ["r4", "W5", "B5"], ["c5"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c5"], ["r5"]), helper.make_node("Reshape", ["r5", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "M"], ["y"])]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", 1, [1, 3, 96, 96])],
                          [helper.make_tensor_value_info("y", 1, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, folder / "cnn.onnx")

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": r.normal(0, 1, (1, 3, 96, 96)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(folder / "cnn.onnx"), str(folder / "cnn_q.onnx"), Calibration(),
                    quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return onnx.load(folder / "cnn_q.onnx"), {"x": r.normal(0, 1, (1, 3, 96, 96)).astype(np.float32)}


def _median_ms(it, feeds: dict, runs: int) -> float:
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        it.invoke()
        ts.append(time.perf_counter() - t)
    return 1e3 * statistics.median(ts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args(argv)
    import edgelite
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    print(f"edgelite from {Path(edgelite.__file__).parent}")
    print(f"cpu: {_cpu()}, {os.cpu_count()} cpus, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        models = [("qlinearconv_3x3_32", *qlinearconv_model()), ("ort_qoperator_cnn", *ort_cnn_model(Path(tmp)))]
        for name, model, feeds in models:
            tfl = edgelite.convert(model, keep_io_layout=True)
            from edgelite.schema import read_model

            m = read_model(tfl)
            ops = [m.opcode_name(o) for o in m.subgraphs[0].operators]
            counts = {k: ops.count(k) for k in ("CONV_2D", "DEPTHWISE_CONV_2D", "GATHER", "BATCH_MATMUL")}
            ours = edgelite.Interpreter(model_content=tfl, num_threads=1)
            ours.allocate_tensors()
            times = {"edgelite": _median_ms(ours, feeds, args.runs)}
            for label, kind in (("litert_builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
                                ("litert_xnnpack", OpResolverType.AUTO)):
                it = Interpreter(model_content=tfl, num_threads=1, experimental_op_resolver_type=kind)
                it.allocate_tensors()
                times[label] = _median_ms(it, feeds, args.runs)
            print(f"{name}: {len(ops)} ops {counts}; median ms: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
