"""Trilu, EyeLike, Range, ConstantOfShape, OneHot, CumSum, CumProd, Dropout, Clip with run-time bounds."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import UnsupportedOperatorError
from tests.converter.ext_helpers import check_op, one_node_model

rng = np.random.default_rng(5)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 1, 7])
@pytest.mark.parametrize("runtime_k", [False, True])
def test_trilu(upper, k, runtime_k):
    x = rng.integers(-9, 9, (2, 4, 5)).astype(np.int64)
    kk = np.array(k, np.int64)
    feeds, consts = ({"x": x, "k": kk}, None) if runtime_k else ({"x": x}, {"k": kk})
    check_op("Trilu", feeds, consts=consts, attrs={"upper": upper}, opset=14)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("shape", [(3, 0, 5), (0, 5), (4, 0)], ids=str)
@pytest.mark.parametrize("runtime_k", [False, True])
def test_trilu_of_an_empty_tensor(upper, shape, runtime_k):
    x = np.zeros(shape, np.int64)
    kk = np.array(6, np.int64)
    feeds, consts = ({"x": x, "k": kk}, None) if runtime_k else ({"x": x}, {"k": kk})
    check_op("Trilu", feeds, consts=consts, attrs={"upper": upper}, opset=14, input_shapes={"x": shape})


@pytest.mark.parametrize("k", [-1, 0, 2])
def test_eyelike(k):
    check_op("EyeLike", {"x": np.zeros((3, 4), np.float32)}, attrs={"k": k, "dtype": 6}, opset=9)


@pytest.mark.parametrize("dtype,args", [(np.float32, (1.0, 5.5, 0.75)), (np.int32, (10, -3, -4)), (np.int64, (0, 7, 2))])
def test_range_runtime(dtype, args):
    feeds = {n: np.array(v, dtype) for n, v in zip(("start", "limit", "delta"), args)}
    n = int(np.ceil((args[1] - args[0]) / args[2]))
    check_op("Range", feeds, opset=11, out_shape=[n])


@pytest.mark.parametrize(
    "value", [None, np.array([1.5], np.float32), np.array([-7], np.int32), np.array([2**40], np.int64),
              np.array([True]), np.array([-3], np.int8)], ids=lambda v: "default" if v is None else str(v.dtype))
@pytest.mark.parametrize("dims", [(4, 3, 2), (5,), (1, 1, 1, 2)], ids=str)
def test_constant_of_shape_runtime_shape(value, dims):
    from onnx import numpy_helper

    attrs = {} if value is None else {"value": numpy_helper.from_array(value)}
    ops = check_op("ConstantOfShape", {"shape": np.array(dims, np.int64)}, attrs=attrs, opset=21, out_shape=dims)
    assert ops == ["FILL"]


def test_constant_of_shape_without_a_known_output_shape_is_refused():
    import edgelite

    m = one_node_model("ConstantOfShape", {"shape": np.array([2, 3], np.int64)}, opset=21)
    with pytest.raises(UnsupportedOperatorError, match="no known output shape"):
        edgelite.convert(m)


@pytest.mark.parametrize("dtype,dims,why", [
    (np.float64, (2, 3), "ConstantOfShape of float64"),
    (np.float32, (2, 0), "LiteRT cannot read an empty dynamic output"),
])
def test_constant_of_shape_refusals(dtype, dims, why):
    from onnx import numpy_helper

    import edgelite

    attrs = {"value": numpy_helper.from_array(np.array([0.5], dtype))}
    m = one_node_model("ConstantOfShape", {"shape": np.array(dims, np.int64)}, attrs=attrs, opset=21, out_shape=dims)
    with pytest.raises(UnsupportedOperatorError, match=why):
        edgelite.convert(m)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_onehot_wraps_negative_indices(axis):
    ind = np.array([[0, -1, 3], [9, -10, 2]], np.int64)
    check_op(
        "OneHot",
        {"ind": ind, "depth": np.array(10, np.int64), "values": np.array([-1.0, 4.0], np.float32)},
        attrs={"axis": axis},
        opset=11,
        out_shape=[(2, 3, 10), (10, 2, 3), (2, 10, 3)][[-1, 0, 1].index(axis)],
    )


@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumulative(op, exclusive, reverse, axis):
    x = rng.integers(-3, 4, (3, 7)).astype(np.int32)
    opset = 26 if op == "CumProd" else 14
    check_op(op, {"x": x}, consts={"axis": np.array(axis, np.int64)}, attrs={"exclusive": exclusive, "reverse": reverse}, opset=opset, use_reference=op == "CumProd")


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("axis", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("axis_dtype", [np.int32, np.int64])
def test_cumprod_runtime_axis(exclusive, reverse, axis, axis_dtype):
    x = rng.integers(-3, 4, (2, 3, 5)).astype(np.int32)
    ops = check_op("CumProd", {"x": x, "axis": np.array(axis, axis_dtype)}, attrs={"exclusive": exclusive, "reverse": reverse},
                   opset=26, use_reference=True)
    assert ops.count("SELECT_V2") == 2  # one scan per axis, picked at run time


@pytest.mark.parametrize("axis", [-1, 0])
def test_cumprod_runtime_axis_float(axis):
    x = rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    check_op("CumProd", {"x": x, "axis": np.array(axis, np.int32)}, opset=26, use_reference=True, rtol=1e-5)


def test_cumprod_float():
    x = rng.uniform(0.5, 1.5, (2, 9)).astype(np.float32)
    check_op("CumProd", {"x": x}, consts={"axis": np.array(1, np.int64)}, opset=26, use_reference=True, rtol=1e-5)


def test_dropout_inference_with_mask():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    check_op("Dropout", {"x": x}, consts={"r": np.array(0.3, np.float32), "t": np.array(False)}, opset=13, n_outputs=2)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint16])
def test_clip_runtime_bounds(dtype):
    x = rng.integers(-20, 20, (3, 4)).astype(dtype) if np.dtype(dtype) != np.uint16 else rng.integers(0, 40, (3, 4)).astype(dtype)
    lo, hi = np.array(2, dtype), np.array(9, dtype)
    check_op("Clip", {"x": x, "lo": lo, "hi": hi}, opset=13)
