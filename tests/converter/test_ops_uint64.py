"""uint64 arithmetic, comparisons and bit ops through the int64 reading of the same bits
(``dtype_rules._emit_uint64``, ``bitwise._on_words``), against the ONNX reference in
edgelite and LiteRT, on values spread over the whole range (both halves, the extremes,
sums and products that wrap modulo 2^64)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op

rng = np.random.default_rng(64)
TOP = np.iinfo(np.uint64).max


def full_range(shape):
    v = rng.integers(0, TOP, shape, dtype=np.uint64, endpoint=True)
    flat = v.reshape(-1)
    flat[:6] = [0, 1, 2**63 - 1, 2**63, 2**63 + 1, TOP][: flat.size]  # both sides of the sign bit
    return v


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
def test_binary_uint64_broadcast(op):
    a, b = full_range((3, 4, 6)), full_range((4, 6))
    a[0, 1] = b[1]  # equal pairs, where < and <= differ
    check_op(op, {"a": a, "b": b}, opset=16, use_reference=True)


@pytest.mark.parametrize("op", ["Max", "Min"])
def test_max_min_uint64(op):
    a, b, c = full_range((2, 8)), full_range((8,)), full_range((2, 8))
    check_op(op, {"a": a, "b": b, "c": c}, opset=13, use_reference=True)


def test_uint64_with_constant():
    check_op("Add", {"a": full_range((7,))}, consts={"b": np.array([2**63 + 5], np.uint64)}, opset=14,
             use_reference=True)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_bitwise_64bit(op, dtype):
    a, b = full_range((3, 4, 5)).view(dtype), full_range((5,)).view(dtype)
    check_op(op, {"a": a, "b": b}, opset=18, use_reference=True)


@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_bitshift_left_64bit_runtime_count(dtype):
    x = full_range((3, 5)).view(dtype)
    n = np.array([0, 1, 31, 63, 64], dtype)  # 63 makes 2^63 (wraps in int64); 64 shifts every bit out
    check_op("BitShift", {"x": x, "n": n}, attrs={"direction": "LEFT"}, opset=28, use_reference=True)


def test_uint64_division_still_refused():
    from edgelite.errors import UnsupportedOperatorError

    with pytest.raises(UnsupportedOperatorError, match="DIV on uint64"):
        check_op("Div", {"a": full_range((3,)), "b": full_range((3,))}, opset=14)
