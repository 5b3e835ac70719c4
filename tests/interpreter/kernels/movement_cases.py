"""Shared dtype cases for the data-movement kernel tests."""

from __future__ import annotations

import numpy as np

from tests.interpreter.kernels.oracle import Out, Var

# (dtype, quantization) pairs every pure data-movement kernel must take
MOVE_CASES = [
    (np.float32, None),
    (np.int8, (0.05, -3)),
    (np.uint8, (0.1, 128)),
    (np.int16, (0.001, 0)),
    (np.int32, None),
    (np.int64, None),
    (np.bool_, None),
]
MOVE_IDS = ["f32", "qi8", "qu8", "qi16", "i32", "i64", "bool"]


def sample(rng, shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return rng.uniform(-5, 5, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, shape).astype(dtype)


def data(rng, shape, dtype, quant):
    """A run-time input of this dtype/quantization and the matching output spec."""
    return Var(sample(rng, shape, dtype), quant), Out(dtype, quant)
