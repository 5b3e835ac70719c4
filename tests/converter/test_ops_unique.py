"""Unique against the ONNX reference (``np.unique``), in edgelite and LiteRT: sorted and
first-occurrence order, with and without axis, NaNs, signed zeros, every subset of the
four outputs."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.ext_helpers import assert_close, oracle  # noqa: E402
from tests.converter.helpers import run_tflite  # noqa: E402

_OUT = (("y", None), ("indices", np.int64), ("inverse_indices", np.int64), ("counts", np.int64))


def unique_model(x, n_outputs=4, **attrs):
    outs = _OUT[:n_outputs]
    node = helper.make_node("Unique", ["x"], [o for o, _ in outs], **attrs)
    dt = helper.np_dtype_to_tensor_dtype(x.dtype)
    out_vi = [helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.dtype(t)) if t else dt, None) for o, t in outs]
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", dt, list(x.shape))], out_vi)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def check_unique(x, n_outputs=4, **attrs):
    m = unique_model(x, n_outputs, **attrs)
    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, {"x": x}, use_reference=True)
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"x": x}, runtime)
        assert len(got) == len(want) == n_outputs
        for g, w in zip(got, want):
            assert_close(np.asarray(g), np.asarray(w), rtol=0, atol=0)


def test_unique_by_hand():
    x = np.array([2, 1, 1, 3, 4, 3], np.float32)
    m = unique_model(x, sorted=0)
    got = run_tflite(edgelite.convert(m), {"x": x}, "edgelite")
    assert [g.tolist() for g in got] == [[2, 1, 3, 4], [0, 1, 3, 4], [0, 1, 1, 2, 3, 2], [1, 2, 2, 1]]


CASES = {
    "distinct": np.array([5, -1, 3, 0], np.float32),
    "repeats": np.array([2, 1, 1, 3, 4, 3, 2, 2], np.float32),
    "all_equal": np.array([7, 7, 7], np.float32),
    "one": np.array([0], np.float32),
    "nans_and_zeros": np.array([np.nan, 1, -0.0, np.nan, 0.0, -np.inf, 1, np.inf, np.nan], np.float32),
    "int32": np.array([3, -2, 3, 3, 9, -2, 0], np.int32),
    "int64_large": np.array([2**40, -(2**40), 2**40, 1, 2**40 + 1], np.int64),
}


@pytest.mark.parametrize("sorted_", [0, 1])
@pytest.mark.parametrize("name", list(CASES))
def test_unique_1d(name, sorted_):
    check_unique(CASES[name], sorted=sorted_)


@pytest.mark.parametrize("n_outputs", [1, 2, 3])
def test_unique_fewer_outputs(n_outputs):
    check_unique(np.array([4, 4, 1, 2, 1], np.int64), n_outputs=n_outputs, sorted=1)


def test_unique_sorted_flattens_a_2d_input():
    rng = np.random.default_rng(2)
    check_unique(rng.integers(0, 5, (3, 4)).astype(np.float32), sorted=1)


def test_unique_random_sweep():
    rng = np.random.default_rng(9)
    for _ in range(5):
        x = rng.integers(-6, 6, int(rng.integers(1, 40))).astype(np.float32)
        for sorted_ in (0, 1):
            check_unique(x, sorted=sorted_)


AXIS_CASES = {
    "rows": (np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4]], np.float32), 0),
    "cols": (np.array([[1, 0, 0], [1, 0, 0], [2, 3, 3]], np.float32), -1),
    "3d": (np.array([[[1, 1], [0, 1], [2, 1], [0, 1]], [[1, 1], [0, 1], [2, 1], [0, 1]]], np.float32), 1),
    "lexicographic": (np.array([[3, 1], [2, 9], [3, 0], [2, 9], [-1, 5], [3, 1]], np.int64), 0),
    "nan_rows_stay_apart": (np.array([[np.nan, 1], [0, 2], [np.nan, 1], [0, 2], [-0.0, 2], [np.inf, 0]], np.float32), 0),
    "int32_cols": (np.array([[5, 1, 5, 1], [2, 2, 2, 3]], np.int32), 1),
}


@pytest.mark.parametrize("name", list(AXIS_CASES))
def test_unique_with_axis_sorted(name):
    x, axis = AXIS_CASES[name]
    check_unique(x, sorted=1, axis=axis)


def test_unique_with_axis_0_first_occurrence_order():
    x, _ = AXIS_CASES["lexicographic"]
    check_unique(x, sorted=0, axis=0)


def test_unique_with_axis_random_sweep():
    rng = np.random.default_rng(13)
    for _ in range(4):
        x = rng.integers(0, 3, (int(rng.integers(1, 9)), 2, 3)).astype(np.float32)
        for axis in (0, 1, 2):
            check_unique(x, sorted=1, axis=axis)


@pytest.mark.parametrize("x,attrs,why", [
    (np.zeros((2, 3), np.float32), {"axis": 1, "sorted": 0}, "sorted=0 of slices other than the leading"),
    (np.zeros((2, 3), np.float32), {"sorted": 0}, "sorted=0 of slices other than the leading"),
    (np.zeros(3000, np.float32), {}, "Unique of 3000 slices of 1"),
    (np.zeros(3, np.float64), {}, "Unique of float64"),
])
def test_unique_refusals(x, attrs, why):
    with pytest.raises(UnsupportedOperatorError, match=why):
        edgelite.convert(unique_model(x, **attrs))


def test_unique_output_read_by_another_node_is_refused():
    """Its length is known only at run time: no converter may take a static one for it."""
    x = np.zeros(4, np.float32)
    nodes = [helper.make_node("Unique", ["x"], ["y"]), helper.make_node("Neg", ["y"], ["z"])]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", 1, [4])], [helper.make_tensor_value_info("z", 1, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(UnsupportedOperatorError, match="read by another node"):
        edgelite.convert(m)
