"""Single-operator quantized models that tell LiteRT's requantization forms apart.

Each model is one CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or SOFTMAX with enough outputs
(4-16 thousand) and per-channel multipliers chosen to hit the cases where the forms
differ: random multipliers (right shifts 6-10), exact powers of two (``q = 2**30``:
ties of the first rounding step), multipliers in [0.5, 1) (no right shift: ruy's
AArch64 kernels truncate there) and above 1 (a left shift). Used by
``test_arm_rounding`` (edgelite against the LiteRT of the machine it runs on) and
``tests/arm64/probe_rounding.py``.
"""

from __future__ import annotations

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.Padding import Padding as P

IN_SCALE, IN_ZP = 0.05, -3
OUT_ZP = 5
CASES = ("conv_per_channel", "conv_per_tensor", "conv_uint8", "depthwise", "fc_per_channel", "fc_uint8",
         "conv_wide_multipliers", "softmax_int8", "softmax_uint8",
         # one destination column: LiteRT's ARM builds take their GEMV (depth >= 8) there
         "conv_one_pixel", "conv_one_pixel_shallow", "fc_batch1")


def _opt(cls: str, **fields):
    mod = __import__(f"edgelite.schema.fb.{cls}", fromlist=[cls + "T"])
    o = getattr(mod, cls + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def _filter_scales(rng, n: int, out_scale: float, wide: bool) -> np.ndarray:
    """Per-channel filter scales giving multipliers ``IN_SCALE * s / out_scale``."""
    m = rng.uniform(2.0 ** -10, 2.0 ** -6, n)
    m[::4] = 2.0 ** -rng.integers(6, 10, m[::4].size)  # exact powers of two
    if wide:
        m[1::4] = rng.uniform(0.5, 0.99, m[1::4].size)  # no right shift
        m[2::8] = rng.uniform(1.0, 1.9, m[2::8].size)  # a left shift of 1
    return (m * out_scale / IN_SCALE).astype(np.float32)


def build(case: str, seed: int = 0) -> bytes:
    """The ``.tflite`` bytes of one ``CASES`` model (input ``x``, output ``y``)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    out_scale = 0.1
    uint8 = case.endswith("uint8")
    act = np.uint8 if uint8 else np.int8
    in_zp = IN_ZP + 128 if uint8 else IN_ZP
    out_zp = OUT_ZP + 128 if uint8 else OUT_ZP
    if case.startswith("softmax"):
        # 4096 rows of 12 classes; the output quantization LiteRT requires for int8
        x = b.add_input("x", (1, 64, 64, 12), act, (0.07, in_zp))
        y = b.add_tensor("y", (1, 64, 64, 12), act, (1 / 256, 0 if uint8 else -128))
        b.add_operator("SOFTMAX", [x], [y], _opt("SoftmaxOptions", beta=1.0))
        b.mark_output(y)
        return b.build()
    if case == "fc_batch1":
        k, n = 48, 4096
        x = b.add_input("x", (1, k), act, (IN_SCALE, in_zp))
        y_shape, w_shape = (1, n), (n, k)
    elif case.startswith("conv_one_pixel"):
        k, n = (7 if case.endswith("shallow") else 48), 4096
        x = b.add_input("x", (1, 1, 1, k), act, (IN_SCALE, in_zp))
        y_shape, w_shape = (1, 1, 1, n), (n, 1, 1, k)
    elif case.startswith("fc"):
        m_rows, k, n = 64, 96, 64
        x = b.add_input("x", (m_rows, k), act, (IN_SCALE, in_zp))
        y_shape = (m_rows, n)
        w_shape = (n, k)
    elif case == "depthwise":
        n = 16
        x = b.add_input("x", (1, 24, 24, n), act, (IN_SCALE, in_zp))
        y_shape, w_shape = (1, 24, 24, n), (1, 3, 3, n)
    else:
        n = 32
        x = b.add_input("x", (1, 16, 16, 8), act, (IN_SCALE, in_zp))
        y_shape, w_shape = (1, 16, 16, n), (n, 3, 3, 8)
    if uint8 or case == "conv_per_tensor":
        fs = _filter_scales(rng, 1, out_scale, False)
        w_zp = 131 if uint8 else 0
        w = rng.integers(0, 256, w_shape).astype(np.uint8) if uint8 else rng.integers(-127, 128, w_shape).astype(np.int8)
        wq = (fs, np.array([w_zp], np.int64), 0)
    else:
        fs = _filter_scales(rng, n, out_scale, case == "conv_wide_multipliers")
        w = rng.integers(-127, 128, w_shape).astype(np.int8)
        wq = (fs, np.zeros(n, np.int64), 3 if case == "depthwise" else 0)
    bias_scale = (IN_SCALE * fs.astype(np.float64)).astype(np.float32)
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    wi = b.add_constant("w", w, wq)
    bi = b.add_constant("b", bias, (bias_scale, np.zeros(bias_scale.size, np.int64), 0))
    y = b.add_tensor("y", y_shape, act, (out_scale, out_zp))
    if case.startswith("fc"):
        b.add_operator("FULLY_CONNECTED", [x, wi, bi], [y], _opt("FullyConnectedOptions"))
    elif case == "depthwise":
        o = _opt("DepthwiseConv2DOptions", padding=P.SAME, strideW=1, strideH=1, depthMultiplier=1,
                 dilationWFactor=1, dilationHFactor=1)
        b.add_operator("DEPTHWISE_CONV_2D", [x, wi, bi], [y], o, version=3)
    else:
        o = _opt("Conv2DOptions", padding=P.SAME, strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
        b.add_operator("CONV_2D", [x, wi, bi], [y], o, version=3)
    b.mark_output(y)
    return b.build()


def inputs(model: bytes, seed: int = 0) -> np.ndarray:
    """A full-range random input for ``build``'s model."""
    from edgelite import Interpreter

    d = Interpreter(model_content=model).get_input_details()[0]
    info = np.iinfo(d["dtype"])
    return np.random.default_rng(100 + seed).integers(info.min, info.max + 1, d["shape"]).astype(d["dtype"])
