"""GatherElements / GatherND (``ops/indexing.py``) against ONNX Runtime, in LiteRT and
edgelite's interpreter; run-time and constant indices, negative indices, batch_dims."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from hypothesis import given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def test_gather_elements_by_hand():
    from tests.converter.helpers import run_tflite

    import edgelite

    m = make_model(
        [helper.make_node("GatherElements", ["d", "i"], ["y"], axis=1)],
        [("d", np.float32, [2, 2]), ("i", np.int64, [2, 2])],
        [("y", np.float32, [2, 2])],
        opset=13,
    )
    d = np.array([[1, 2], [3, 4]], np.float32)
    i = np.array([[0, 0], [-1, 0]], np.int64)
    got = run_tflite(edgelite.convert(m), {"d": d, "i": i}, "edgelite")[0]
    np.testing.assert_array_equal(got, [[1, 1], [4, 3]])


@BOTH
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements_runtime_negative_indices(interp, axis):
    rng = np.random.default_rng(0)
    d = rng.standard_normal((3, 4, 5)).astype(np.float32)
    ishape = [2, 4, 5] if axis == 0 else ([3, 3, 5] if axis == 1 else [3, 4, 2])
    dim = d.shape[axis]
    i = rng.integers(-dim, dim, ishape).astype(np.int64)
    m = make_model(
        [helper.make_node("GatherElements", ["d", "i"], ["y"], axis=axis)],
        [("d", np.float32, [3, 4, 5]), ("i", np.int64, ishape)],
        [("y", np.float32, ishape)],
        opset=13,
    )
    ops = check(m, {"d": d, "i": i}, interpreter=interp)
    assert "GATHER" in ops and "FLOOR_MOD" in ops


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    axis_seed=st.integers(0, 100),
    seed=st.integers(0, 1000),
)
def test_gather_elements_property(shape, axis_seed, seed):
    rng = np.random.default_rng(seed)
    axis = axis_seed % len(shape)
    ishape = [int(rng.integers(1, s + 1)) for s in shape]
    ishape[axis] = int(rng.integers(1, 4))
    d = rng.standard_normal(shape).astype(np.float32)
    i = rng.integers(-shape[axis], shape[axis], ishape).astype(np.int64)
    m = make_model(
        [helper.make_node("GatherElements", ["d", "i"], ["y"], axis=axis)],
        [("d", np.float32, shape), ("i", np.int64, ishape)],
        [("y", np.float32, ishape)],
        opset=13,
    )
    check(m, {"d": d, "i": i}, interpreter="edgelite")


@BOTH
@pytest.mark.parametrize("batch_dims", [0, 1])
def test_gather_nd(interp, batch_dims):
    rng = np.random.default_rng(1)
    d = rng.standard_normal((2, 3, 4)).astype(np.float32)
    if batch_dims == 0:
        i = np.array([[[0, -1], [1, 2]], [[1, 0], [0, 0]]], np.int64)  # [2, 2, 2]
        out = [2, 2, 4]
    else:
        i = np.array([[2, -4], [0, 3]], np.int64)  # [2, 2]: (row, col) within each batch
        out = [2]
    m = make_model(
        [helper.make_node("GatherND", ["d", "i"], ["y"], batch_dims=batch_dims)],
        [("d", np.float32, [2, 3, 4]), ("i", np.int64, list(i.shape))],
        [("y", np.float32, out)],
        opset=13,
    )
    check(m, {"d": d, "i": i}, interpreter=interp)
