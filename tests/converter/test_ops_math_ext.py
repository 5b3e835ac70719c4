"""Dtype widening (dtype_rules), variadic Sum/Mean/Max/Min, Mod, trigonometric ops, IsNaN/IsInf.

Each case runs in edgelite's interpreter and in LiteRT and is compared with ONNX Runtime.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import UnsupportedOperatorError
from tests.converter.ext_helpers import check_op, one_node_model

rng = np.random.default_rng(7)


def ints(dtype, shape, lo=None, hi=None):
    info = np.iinfo(dtype)
    lo = max(info.min, -100) if lo is None else lo
    hi = min(info.max, 100) if hi is None else hi
    return rng.integers(lo, hi, shape).astype(dtype)


NARROW = [np.int8, np.uint8, np.int16, np.uint16, np.uint32]


@pytest.mark.parametrize("dtype", NARROW)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Max", "Min"])
def test_narrow_int_arithmetic_wraps_like_onnx(op, dtype):
    info = np.iinfo(dtype)
    # Values near the type's limits so the wider computation has to wrap on the way back.
    a = rng.integers(info.min, info.max, (3, 4), endpoint=True).astype(dtype)
    b = rng.integers(info.min, info.max, (4,), endpoint=True).astype(dtype)
    ops = check_op(op, {"a": a, "b": b}, opset=14)
    assert "CAST" in ops  # computed in a wider type


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16])
def test_narrow_int_div_truncates(dtype):
    a = ints(dtype, (2, 5))
    b = ints(dtype, (2, 5), 1, 9)
    check_op("Div", {"a": a, "b": b}, opset=14)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.uint32, np.float16])
@pytest.mark.parametrize("op", ["Equal", "Less", "GreaterOrEqual"])
def test_comparisons_on_dtypes_litert_lacks(op, dtype):
    if np.dtype(dtype).kind == "f":
        a, b = rng.standard_normal((2, 6)).astype(dtype), rng.standard_normal((6,)).astype(dtype)
        b[:3] = a[0, :3]
    else:
        a, b = ints(dtype, (2, 6), 0, 5), ints(dtype, (6,), 0, 5)
    check_op(op, {"a": a, "b": b}, opset=16)


def test_float16_add_is_exact_through_float32():
    a, b = rng.standard_normal((4, 4)).astype(np.float16), rng.standard_normal((4, 4)).astype(np.float16)
    check_op("Add", {"a": a, "b": b}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype,op", [(np.uint64, "Div"), (np.float64, "Add")])  # uint64 Add: test_ops_uint64
def test_dtypes_without_kernels_are_refused_at_conversion(dtype, op):
    import edgelite

    a = np.ones((2, 2), dtype)
    model = one_node_model(op, {"a": a, "b": a})
    with pytest.raises(UnsupportedOperatorError, match=op):
        edgelite.convert(model)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic(op, n):
    shapes = [(2, 3, 4), (3, 1), (4,)][:n]
    feeds = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    check_op(op, feeds, opset=13)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.int8, np.uint8])
@pytest.mark.parametrize("fmod", [0, 1])
def test_mod(dtype, fmod):
    if np.dtype(dtype).kind == "f":
        if not fmod:
            pytest.skip("ONNX requires fmod=1 for floats")
        a = (rng.standard_normal((3, 5)) * 10).astype(dtype)
        b = (rng.standard_normal((5,)) * 3).astype(dtype)
    else:
        lo = 0 if np.dtype(dtype).kind == "u" else -20
        a, b = ints(dtype, (3, 5), lo, 20), ints(dtype, (5,), 1, 7)
        if lo < 0:
            b[::2] *= -1
    check_op("Mod", {"a": a, "b": b}, attrs={"fmod": fmod}, opset=13, rtol=1e-5, atol=1e-5)


TRIG = {
    "Tan": (-1.4, 1.4),
    "Atan": (-10, 10),
    "Asin": (-0.999, 0.999),
    "Acos": (-0.999, 0.999),
    "Sinh": (-5, 5),
    "Cosh": (-5, 5),
    "Asinh": (-10, 10),
    "Acosh": (1, 10),
    "Atanh": (-0.99, 0.99),
}


@pytest.mark.parametrize("op", sorted(TRIG))
def test_trigonometric(op):
    lo, hi = TRIG[op]
    x = rng.uniform(lo, hi, (3, 4, 5)).astype(np.float32)
    # Sinh/Asinh near 0 lose digits to cancellation: compare relative to the largest value.
    check_op(op, {"x": x}, opset=9, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(np.sinh(x) if op == "Sinh" else x))))


def test_acos_asin_at_the_domain_edge_and_outside():
    x = np.array([-1.0, 1.0, 0.0, 1.5, -2.0], np.float32)
    check_op("Acos", {"x": x}, opset=9, rtol=1e-6)
    check_op("Asin", {"x": x}, opset=9, rtol=1e-6)


@pytest.mark.parametrize("attrs", [{}, {"detect_negative": 0}, {"detect_positive": 0}, {"detect_positive": 0, "detect_negative": 0}])
def test_isinf(attrs):
    x = np.array([1.0, np.inf, -np.inf, np.nan, 0.0, -3.0], np.float32)
    check_op("IsInf", {"x": x}, attrs=attrs, opset=20)


def test_isnan():
    x = np.array([1.0, np.nan, -np.inf, np.nan], np.float32)
    check_op("IsNaN", {"x": x}, opset=20)


def test_castlike_of_a_constant_folds_away():
    from tests.converter.ext_helpers import onnx

    x = rng.standard_normal((2, 3)).astype(np.float16)
    helper = onnx.helper
    nodes = [
        helper.make_node("CastLike", ["c", "x"], ["cc"]),
        helper.make_node("Mul", ["x", "cc"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT16, [2, 3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT16, [2, 3])],
        [onnx.numpy_helper.from_array(np.array(2.5, np.float32), "c")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 10
    import edgelite
    from tests.converter.ext_helpers import assert_close, oracle
    from tests.converter.helpers import op_names, run_tflite

    tfl = edgelite.convert(m, keep_io_layout=True)
    assert op_names(tfl).count("CAST") == 2  # x to float32 and back for the MUL; none for the constant
    want = oracle(m, {"x": x})[0]
    for runtime in ("edgelite", "litert"):
        assert_close(run_tflite(tfl, {"x": x}, runtime)[0], want)


@pytest.mark.parametrize("src,dst", [(np.float32, np.int8), (np.int32, np.uint16), (np.uint8, np.float16), (np.float32, np.bool_)])
def test_castlike_runtime(src, dst):
    x = (rng.standard_normal((2, 5)) * 50).astype(src) if np.dtype(src).kind == "f" else ints(src, (2, 5), 0, 100)
    check_op("CastLike", {"x": x, "like": np.zeros((1,), dst)}, opset=19)
