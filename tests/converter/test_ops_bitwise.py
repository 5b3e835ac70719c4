"""Bit operations (bitwise.py) vs ONNX Runtime / the ONNX reference, in both runtimes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op

rng = np.random.default_rng(11)
TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]


def full_range(dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise_binary_full_range(op, dtype):
    a, b = full_range(dtype, (3, 4, 5)), full_range(dtype, (4, 5))
    a[0, 0, :3] = np.iinfo(dtype).min  # the extremes, where a naive a + b would overflow
    b[0, :3] = np.iinfo(dtype).min
    check_op(op, {"a": a, "b": b}, opset=18, use_reference=True)


@pytest.mark.parametrize("dtype", TYPES + [np.int64])
def test_bitwise_not(dtype):
    check_op("BitwiseNot", {"x": full_range(dtype, (2, 7))}, opset=18, use_reference=True)


def test_xor_bool():
    a, b = rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5
    check_op("Xor", {"a": a, "b": b}, opset=7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift_unsigned(dtype, direction):
    x = full_range(dtype, (3, 5))
    n = rng.integers(0, np.dtype(dtype).itemsize * 8, (5,)).astype(dtype)
    check_op("BitShift", {"x": x, "n": n}, attrs={"direction": direction}, opset=11)


def test_bitshift_constant_count():
    x = full_range(np.uint32, (4,))
    check_op("BitShift", {"x": x}, consts={"n": np.array([3], np.uint32)}, attrs={"direction": "LEFT"}, opset=11)
