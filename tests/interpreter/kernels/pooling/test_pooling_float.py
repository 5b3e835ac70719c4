"""Float AVERAGE/MAX/L2_POOL_2D: hand cases, LiteRT differential, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import (
    Spec, TSpec, assert_bit_identical, assert_close, check_float, f32, naive_pool, run_edgelite, tf_out_size,
)
from edgelite.errors import ShapeError
from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT

OPS = ["AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"]


def pool_spec(op, x_shape, f, s, same=True, act=0):
    o = Pool2DOptionsT()
    o.padding = 0 if same else 1
    o.filterHeight, o.filterWidth = f
    o.strideH, o.strideW = s
    o.fusedActivationFunction = act
    n, h, w, c = x_shape
    oh, ow = tf_out_size(h, f[0], s[0], 1, same), tf_out_size(w, f[1], s[1], 1, same)
    return Spec(op, [TSpec(x_shape, np.float32)], [TSpec((n, oh, ow, c), np.float32)], options=o)


@pytest.mark.parametrize("jit", [False, True])
def test_pool_hand_cases_same_padding_excludes_padded_cells(jit):
    x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.float32).reshape(1, 3, 3, 1)
    avg = run_edgelite(pool_spec("AVERAGE_POOL_2D", x.shape, (2, 2), (2, 2)), [x], use_jit=jit)[0]
    assert avg[0, :, :, 0].tolist() == [[3.0, 4.5], [7.5, 9.0]]
    mx = run_edgelite(pool_spec("MAX_POOL_2D", x.shape, (3, 3), (1, 1)), [-x], use_jit=jit)[0]
    assert mx[0, :, :, 0].tolist() == [[-1.0, -1.0, -2.0], [-1.0, -1.0, -2.0], [-4.0, -4.0, -5.0]]
    l2 = run_edgelite(pool_spec("L2_POOL_2D", (1, 1, 2, 1), (1, 2), (1, 2), same=False),
                      [np.array([3.0, 4.0], np.float32).reshape(1, 1, 2, 1)], use_jit=jit)[0]
    assert l2.ravel().tolist() == pytest.approx([np.sqrt(12.5)])
    relu6 = run_edgelite(pool_spec("MAX_POOL_2D", x.shape, (3, 3), (3, 3), act=3), [x], use_jit=jit)[0]
    assert relu6.ravel().tolist() == [6.0]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("x_shape,f,s,same,act", [
    ((1, 9, 9, 8), (3, 3), (2, 2), True, 0),
    ((2, 8, 7, 5), (2, 3), (1, 2), False, 1),
    ((1, 7, 7, 16), (7, 7), (1, 1), False, 3),  # global pool
    ((1, 10, 6, 3), (4, 2), (3, 1), True, 2),
])
def test_pool_matches_litert(op, x_shape, f, s, same, act):
    rng = np.random.default_rng(hash((op, x_shape)) % 2**32)
    x = f32(rng, x_shape)
    check_float(pool_spec(op, x_shape, f, s, same, act), [x])


def test_pool_rejects_window_larger_than_valid_image():
    with pytest.raises(ShapeError):
        run_edgelite(pool_spec("MAX_POOL_2D", (1, 2, 2, 1), (5, 5), (1, 1), same=False), [np.zeros((1, 2, 2, 1), np.float32)])


def test_pool_parallel_twin_equals_serial():
    from edgelite.interpreter.compute.jit import HAVE_NUMBA, serial_build
    from edgelite.interpreter.kernels.pooling.pooling_float import _pool

    _pool_serial = serial_build(_pool)
    _pool_parallel = _pool.dispatcher() if HAVE_NUMBA else _pool  # the parallel build itself

    rng = np.random.default_rng(8)
    x = f32(rng, (2, 9, 8, 6))
    for kind in (0, 1, 2):
        a, b = np.empty((2, 5, 4, 6), np.float32), np.empty((2, 5, 4, 6), np.float32)
        _pool_serial(x, a, kind, 3, 3, 2, 2, 1, 1, np.float32(-np.inf), np.float32(np.inf))
        _pool_parallel(x, b, kind, 3, 3, 2, 2, 1, 1, np.float32(-np.inf), np.float32(np.inf))
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(OPS), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 5),
       fh=st.integers(1, 4), fw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       same=st.booleans(), act=st.sampled_from([0, 1, 2, 3]), seed=st.integers(0, 2**16))
def test_pool_property_vs_naive_and_litert(op, h, w, c, fh, fw, sh, sw, same, act, seed):
    assume(same or (fh <= h and fw <= w))
    rng = np.random.default_rng(seed)
    x = f32(rng, (1, h, w, c))
    spec = pool_spec(op, x.shape, (fh, fw), (sh, sw), same, act)
    want = naive_pool(x, op, (fh, fw), (sh, sw), same, act)
    got = run_edgelite(spec, [x])[0]
    assert_close(got, want, "eval vs naive")
    assert_bit_identical(run_edgelite(spec, [x], use_jit=True)[0], got, "eval_jit vs eval")
    if seed % 4 == 0:
        check_float(spec, [x])
