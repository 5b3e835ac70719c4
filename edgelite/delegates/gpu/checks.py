"""Checks and small helpers shared by the GPU operator builders (``ops``)."""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.common import activation_range, option

CLAMP_ACTIVATIONS = (0, 1, 2, 3)  # NONE, RELU, RELU_N1_TO_1, RELU6


def activation(ctx) -> tuple[float, float]:
    return activation_range(int(option(ctx, "fusedActivationFunction", 0)))


def check_activation(ctx) -> str | None:
    code = int(option(ctx, "fusedActivationFunction", 0))
    if code not in CLAMP_ACTIVATIONS:
        return f"fused activation {code} (TANH/SIGN_BIT) is not supported"
    return None


def float_constant(t) -> str | None:
    """None when constant ``t`` can be uploaded as float weights."""
    if t.data is None:
        return None
    if t.data.dtype in (np.float32, np.float16):
        return None
    if t.data.dtype in (np.int8, np.uint8, np.int32) and t.quant is not None:
        return None
    return f"constant {t.name!r} is {t.data.dtype} without quantization"
