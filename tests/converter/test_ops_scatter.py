"""Scatter / ScatterElements / ScatterND (``ops/scatter.py``) against ONNX Runtime and the
ONNX reference, in LiteRT and edgelite's interpreter: every reduction, negative and
duplicate indices, int32/int64 data; a by-hand case and a hypothesis sweep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model, run_tflite

from hypothesis import given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

import edgelite  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])
REDUCTIONS = ["none", "add", "mul", "max", "min"]


def test_scatter_elements_by_hand():
    m = make_model(
        [helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=1, reduction="add")],
        [("d", np.float32, [2, 3]), ("i", np.int64, [2, 2]), ("u", np.float32, [2, 2])],
        [("y", np.float32, [2, 3])], opset=18,
    )
    d = np.zeros((2, 3), np.float32)
    i = np.array([[0, 0], [-1, 1]], np.int64)  # duplicate target in row 0, negative in row 1
    u = np.array([[1, 2], [3, 4]], np.float32)
    got = run_tflite(edgelite.convert(m), {"d": d, "i": i, "u": u}, "edgelite")[0]
    np.testing.assert_array_equal(got, [[3, 0, 0], [0, 4, 3]])


@BOTH
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_scatter_elements_reductions(interp, reduction, dtype):
    rng = np.random.default_rng(3)
    d = rng.integers(-5, 5, (3, 4)).astype(dtype)
    i = rng.integers(-4, 4, (3, 2)).astype(np.int64)
    if reduction == "none":  # ONNX leaves duplicate targets undefined without a reduction
        i = np.stack([rng.permutation(4)[:2] - 4 * (r % 2) for r in range(3)]).astype(np.int64)
    u = rng.integers(-5, 5, (3, 2)).astype(dtype)
    m = make_model(
        [helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=1, reduction=reduction)],
        [("d", dtype, [3, 4]), ("i", np.int64, [3, 2]), ("u", dtype, [3, 2])], [("y", dtype, [3, 4])], opset=18,
    )
    check(m, {"d": d, "i": i, "u": u}, interpreter=interp)


@BOTH
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_scatter_nd_slices(interp, reduction):
    rng = np.random.default_rng(4)
    d = rng.standard_normal((4, 3, 2)).astype(np.float32)
    i = np.array([[0], [-1]], np.int64) if reduction == "none" else np.array([[0], [-1], [0]], np.int64)
    u = rng.standard_normal((len(i), 3, 2)).astype(np.float32)
    m = make_model(
        [helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction=reduction)],
        [("d", np.float32, [4, 3, 2]), ("i", np.int64, list(i.shape)), ("u", np.float32, list(u.shape))],
        [("y", np.float32, [4, 3, 2])], opset=18,
    )
    check(m, {"d": d, "i": i, "u": u}, interpreter=interp)


def test_scatter_opset10_constant_indices():
    m = make_model(
        [helper.make_node("Scatter", ["d", "i", "u"], ["y"], axis=0)],
        [("d", np.float32, [3, 3]), ("u", np.float32, [1, 3])], [("y", np.float32, [3, 3])],
        {"i": np.array([[2, 0, -3]], np.int64)}, opset=10,
    )
    rng = np.random.default_rng(5)
    feeds = {"d": rng.standard_normal((3, 3)).astype(np.float32), "u": rng.standard_normal((1, 3)).astype(np.float32)}
    want = feeds["d"].copy()  # ONNX's reference has no opset-10 Scatter: the spec by hand
    for j, row in enumerate([2, 0, 0]):  # -3 wraps to 0
        want[row, j] = feeds["u"][0, j]
    got = run_tflite(edgelite.convert(m), feeds, "edgelite")[0]
    np.testing.assert_array_equal(got, want)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), s=st.integers(1, 3), u=st.integers(1, 4), red=st.sampled_from(REDUCTIONS[1:]),
       seed=st.integers(0, 1000))
def test_scatter_nd_property(n, s, u, red, seed):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n, s)).astype(np.float32)
    i = rng.integers(-n, n, (u, 1)).astype(np.int64)
    upd = rng.standard_normal((u, s)).astype(np.float32)
    m = make_model(
        [helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction=red)],
        [("d", np.float32, [n, s]), ("i", np.int64, [u, 1]), ("u", np.float32, [u, s])], [("y", np.float32, [n, s])],
        opset=18,
    )
    check(m, {"d": d, "i": i, "u": upd}, interpreter="edgelite")


@pytest.mark.parametrize("mode,upd_len", [("linear", 2), ("circular", 3)])
def test_tensor_scatter_vs_reference(mode, upd_len):
    from onnx.reference import ReferenceEvaluator

    m = make_model(
        [helper.make_node("TensorScatter", ["c", "u", "w"], ["y"], mode=mode)],
        [("c", np.float32, [2, 3, 4, 2]), ("u", np.float32, [2, 3, upd_len, 2]), ("w", np.int64, [2])],
        [("y", np.float32, [2, 3, 4, 2])], opset=24,
    )
    rng = np.random.default_rng(6)
    feeds = {"c": rng.standard_normal((2, 3, 4, 2)).astype(np.float32),
             "u": rng.standard_normal((2, 3, upd_len, 2)).astype(np.float32),
             "w": np.array([2, 0] if mode == "linear" else [3, 1], np.int64)}
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    for interp in ("litert", "edgelite"):
        np.testing.assert_array_equal(run_tflite(edgelite.convert(m), feeds, interp)[0], want)
