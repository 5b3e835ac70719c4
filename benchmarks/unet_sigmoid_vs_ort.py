"""Issue 16, part 2: a small PyTorch U-Net with a sigmoid head, int8, against ONNX Runtime.

Same data for both: 32 random-uniform calibration inputs, 16 other random-uniform test
inputs; SQNR of each int8 model's output against the float model (ONNX Runtime, float).
ONNX Runtime: ``quantize_static`` (QDQ, per-channel weights, MinMax, QInt8 activations).
edgelite: ``convert(..., quantize="int8")`` with its default and with the sigmoid kept
float / in int16, and the pre-sigmoid logits' SQNR to locate the loss.

    PYTHONPATH=. python benchmarks/unet_sigmoid_vs_ort.py
"""

from __future__ import annotations

import os
import platform
import tempfile
import warnings

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import edgelite

MODEL = os.path.join(os.path.dirname(__file__), "..", "tests", "converter", "models", "unet_sigmoid.onnx")
SHAPE = (1, 3, 64, 64)


def sqnr(ref, got) -> float:
    a = np.concatenate([np.ravel(x) for x in ref]).astype(np.float64)
    b = np.concatenate([np.ravel(x) for x in got]).astype(np.float64)
    return float(10 * np.log10(np.sum(a * a) / np.sum((a - b) ** 2)))


def run_ort(path, xs, output=None):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [s.run([output] if output else None, {"input": x})[0] for x in xs]


def run_ort_logits(xs):
    """The float model's pre-sigmoid logits (the graph output moved onto them)."""
    import onnx

    m = onnx.load(MODEL)
    m.graph.output[0].name = "logits"
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "logits.onnx")
        m.graph.node.pop()  # the appended Sigmoid
        onnx.save(m, p)
        return run_ort(p, xs)


def run_edgelite(tfl, xs, name="output"):
    it = edgelite.Interpreter(model_content=tfl, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    idx = {t["name"]: t for t in it.get_tensor_details()}[name]
    outs = []
    for x in xs:
        it.set_tensor(d["index"], x.transpose(0, 2, 3, 1).copy())
        it.invoke()
        v = it.get_tensor(idx["index"])
        if v.dtype != np.float32:
            s, z = idx["quantization"]
            v = (v.astype(np.float32) - z) * s
        outs.append(v.transpose(0, 3, 1, 2))
    return outs


def main() -> None:
    rng = np.random.default_rng(0)
    cal = [rng.uniform(0, 1, SHAPE).astype(np.float32) for _ in range(32)]
    test = [np.random.default_rng(k + 1).uniform(0, 1, SHAPE).astype(np.float32) for k in range(16)]
    ref = run_ort(MODEL, test)
    print(f"CPU: {platform.processor() or platform.machine()}; onnxruntime {ort.__version__}")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": x} for x in cal])

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        qdq = os.path.join(tmp, "unet_qdq.onnx")
        quantize_static(MODEL, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        print(f"ONNX Runtime quantize_static (QDQ, per-channel, MinMax): {sqnr(ref, run_ort(qdq, test)):.1f} dB")
    cal_nchw = np.concatenate(cal)[:, None]
    from edgelite.quantize import quantize_model

    float_tfl = edgelite.convert(MODEL)
    cal_nhwc = np.concatenate(cal).transpose(0, 2, 3, 1)[:, None].copy()
    rows = [("edgelite int8, default (output sigmoid in int16x8, steps of 1/32768)", {}),
            ("edgelite int8, fixed_range_outputs='int8' (TFLite's int8 LOGISTIC, steps of 1/256)",
             {"fixed_range_outputs": "int8"}),
            ("edgelite int8, fixed_range_outputs='float' (output sigmoid float)", {"fixed_range_outputs": "float"})]
    for label, kw in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kw:
                q = quantize_model(float_tfl, "int8", calibration=cal_nhwc, **kw)
            else:
                q = edgelite.convert(MODEL, quantize="int8", calibration=cal_nchw)
        print(f"{label}: output {sqnr(ref, run_edgelite(q, test)):.1f} dB, "
              f"logits {sqnr(run_ort_logits(test), run_edgelite(q, test, 'logits')):.1f} dB")


if __name__ == "__main__":
    main()
