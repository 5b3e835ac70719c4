"""Float FULLY_CONNECTED: hand cases, LiteRT differential, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import (
    Spec, TSpec, assert_bit_identical, assert_close, check_float, f32, run_edgelite,
)
from edgelite.errors import ShapeError, UnsupportedOperatorError
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT


def fc_spec(x_shape, w, b, act=0, keep=False, const_w=True):
    o = FullyConnectedOptionsT()
    o.fusedActivationFunction = act
    o.keepNumDims = keep
    units, k = w.shape
    rows = int(np.prod(x_shape)) // k
    out_shape = tuple(x_shape[:-1]) + (units,) if keep else (rows, units)
    ins = [TSpec(x_shape, np.float32), TSpec(w.shape, np.float32, data=w if const_w else None, const=const_w)]
    ins.append(None if b is None else TSpec(b.shape, np.float32, data=b, const=True))
    return Spec("FULLY_CONNECTED", ins, [TSpec(out_shape, np.float32)], options=o)


@pytest.mark.parametrize("jit", [False, True])
def test_fc_hand_case(jit):
    w = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    b = np.array([0.0, -20.0, 1.0], np.float32)
    x = np.array([[1, 1], [2, -1]], np.float32)
    out = run_edgelite(fc_spec(x.shape, w, b, act=1), [x], use_jit=jit)[0]
    assert out.tolist() == [[3.0, 0.0, 12.0], [0.0, 0.0, 5.0]]


@pytest.mark.parametrize("x_shape,units,act,keep,bias", [
    ((1, 1280), 1000, 0, False, True),
    ((4, 3, 10), 7, 3, True, True),   # keep_num_dims
    ((2, 3, 10), 5, 1, False, True),  # flattened to [-1, 10]
    ((6, 16), 9, 2, False, False),    # no bias
])
def test_fc_matches_litert(x_shape, units, act, keep, bias):
    rng = np.random.default_rng(units)
    w = f32(rng, (units, x_shape[-1]), 0.1)
    b = f32(rng, (units,)) if bias else None
    check_float(fc_spec(x_shape, w, b, act, keep), [f32(rng, x_shape)])


def test_fc_non_constant_weights_matches_litert():
    rng = np.random.default_rng(11)
    w, x = f32(rng, (5, 8)), f32(rng, (3, 8))
    spec = fc_spec(x.shape, w, f32(rng, (5,)), const_w=False)
    from tests.interpreter.kernels.float_harness import run_litert

    want = run_litert(spec, [x, w])[0]
    for jit in (False, True):
        assert_close(run_edgelite(spec, [x, w], use_jit=jit)[0], want)


def test_fc_refuses_tanh_and_bad_shapes_like_litert():
    rng = np.random.default_rng(12)
    w = f32(rng, (3, 4))
    with pytest.raises(UnsupportedOperatorError):
        run_edgelite(fc_spec((2, 4), w, None, act=4), [f32(rng, (2, 4))])
    with pytest.raises(ShapeError):
        run_edgelite(fc_spec((2, 5), w, None), [f32(rng, (2, 5))])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(1, 40), k=st.integers(1, 70), units=st.integers(1, 50),
       act=st.sampled_from([0, 1, 2, 3]), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_fc_property_vs_float64_and_litert(rows, k, units, act, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = f32(rng, (rows, k)), f32(rng, (units, k))
    b = f32(rng, (units,)) if bias else None
    want = x.astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b)
    lo, hi = {0: (-np.inf, np.inf), 1: (0, np.inf), 2: (-1, 1), 3: (0, 6)}[act]
    want = np.clip(want, lo, hi).astype(np.float32)
    spec = fc_spec(x.shape, w, b, act)
    got = run_edgelite(spec, [x])[0]
    assert_close(got, want, "eval vs float64")
    assert_bit_identical(run_edgelite(spec, [x], use_jit=True)[0], got, "eval_jit vs eval")
    if seed % 4 == 0:
        check_float(spec, [x])
