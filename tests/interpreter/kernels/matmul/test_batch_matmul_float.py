"""Float BATCH_MATMUL: adjoints and batch broadcasting, against LiteRT and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import Spec, TSpec, assert_close, f32, run_edgelite, run_litert
from edgelite.errors import ShapeError
from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT


def bmm_spec(a_shape, b_shape, adj_x, adj_y):
    o = BatchMatMulOptionsT()
    o.adjX, o.adjY = adj_x, adj_y
    rows = a_shape[-1] if adj_x else a_shape[-2]
    cols = b_shape[-2] if adj_y else b_shape[-1]
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    return Spec("BATCH_MATMUL", [TSpec(a_shape, np.float32), TSpec(b_shape, np.float32)],
                [TSpec(tuple(batch) + (rows, cols), np.float32)], options=o)


def test_bmm_hand_case_adj_y():
    a = np.array([[[1, 2]], [[3, 4]]], np.float32)  # [2, 1, 2]
    b = np.array([[1, 0], [1, 1], [0, 2]], np.float32)  # [3, 2] used transposed
    out = run_edgelite(bmm_spec(a.shape, b.shape, False, True), [a, b])[0]
    assert out.tolist() == [[[1.0, 3.0, 4.0]], [[3.0, 7.0, 8.0]]]


@pytest.mark.parametrize("a_shape,b_shape,adj_x,adj_y", [
    ((2, 3, 4), (2, 4, 5), False, False),
    ((2, 4, 3), (2, 5, 4), True, True),
    ((3, 1, 2, 4), (5, 4, 6), False, False),   # batch broadcast [3, 1] x [5]
    ((2, 3, 4), (4, 5), False, False),         # rank-2 rhs
    ((1, 2, 2, 3, 4), (2, 1, 1, 6, 4), False, True),
])
def test_bmm_matches_litert(a_shape, b_shape, adj_x, adj_y):
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a, b = f32(rng, a_shape), f32(rng, b_shape)
    spec = bmm_spec(a_shape, b_shape, adj_x, adj_y)
    want = run_litert(spec, [a, b])[0]
    assert_close(run_edgelite(spec, [a, b])[0], want)


def test_bmm_rejects_mismatched_inner_dims():
    with pytest.raises(ShapeError):
        spec = bmm_spec((2, 3), (4, 5), False, False)
        run_edgelite(spec, [np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_a=st.lists(st.integers(1, 3), max_size=2), batch_b=st.lists(st.integers(1, 3), max_size=2),
       m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), adj_x=st.booleans(), adj_y=st.booleans(),
       seed=st.integers(0, 2**16))
def test_bmm_property_vs_einsum(batch_a, batch_b, m, k, n, adj_x, adj_y, seed):
    # Make batch dims broadcastable: where both have a dim, one of them is 1 or they agree.
    ba, bb = list(batch_a), list(batch_b)
    for i in range(1, min(len(ba), len(bb)) + 1):
        if ba[-i] != bb[-i]:
            bb[-i] = 1
    rng = np.random.default_rng(seed)
    a = f32(rng, tuple(ba) + ((k, m) if adj_x else (m, k)))
    b = f32(rng, tuple(bb) + ((n, k) if adj_y else (k, n)))
    at = np.swapaxes(a, -1, -2) if adj_x else a
    bt = np.swapaxes(b, -1, -2) if adj_y else b
    want = np.einsum("...ik,...kj->...ij", at.astype(np.float64), bt.astype(np.float64)).astype(np.float32)
    got = run_edgelite(bmm_spec(a.shape, b.shape, adj_x, adj_y), [a, b])[0]
    assert_close(got, want)
