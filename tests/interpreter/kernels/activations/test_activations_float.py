"""Float activation kernels: hand values, LiteRT, and Numba == numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgelite.interpreter.kernels.activations.activations_float import erfc
from edgelite.schema.fb.GeluOptions import GeluOptionsT
from edgelite.schema.fb.LeakyReluOptions import LeakyReluOptionsT
from tests.interpreter.kernels.oracle import Const, compare, run_kernel

JIT_OPS = ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "ELU"]


def leaky(alpha):
    o = LeakyReluOptionsT()
    o.alpha = alpha
    return o


def gelu(approximate):
    o = GeluOptionsT()
    o.approximate = approximate
    return o


def options_for(op):
    return {"LEAKY_RELU": leaky(0.2), "GELU": gelu(False)}.get(op)


def test_hand_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, 8.0], np.float32)
    assert run_kernel("RELU", [x])[0].tolist() == [0, 0, 0, 0.5, 3, 8]
    assert run_kernel("RELU_N1_TO_1", [x])[0].tolist() == [-1, -0.5, 0, 0.5, 1, 1]
    assert run_kernel("RELU_0_TO_1", [x])[0].tolist() == [0, 0, 0, 0.5, 1, 1]
    assert run_kernel("LEAKY_RELU", [x], leaky(0.5))[0].tolist() == [-1, -0.25, 0, 0.5, 3, 8]
    hs = run_kernel("HARD_SWISH", [x])[0]
    np.testing.assert_allclose(hs, [0.0 - 2 * 1 / 6, -0.5 * 2.5 / 6, 0, 0.5 * 3.5 / 6, 3, 8], rtol=1e-6)
    np.testing.assert_allclose(run_kernel("ELU", [x])[0][:2], [math.expm1(-2), math.expm1(-0.5)], rtol=1e-6)


def test_erfc_is_accurate_in_the_far_tails():
    xs = np.array([-6.0, -2.0, -0.3, 0.0, 0.7, 3.0, 9.0])
    want = np.array([math.erfc(v) for v in xs])
    np.testing.assert_allclose(erfc(xs), want, rtol=2e-7)


def test_gelu_far_negative_tail_has_relative_accuracy():
    x = np.array([-5.0, -7.0, -9.0], np.float32)
    want = [0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x.astype(float)]
    np.testing.assert_allclose(run_kernel("GELU", [x], gelu(False))[0], want, rtol=1e-6)


@pytest.mark.parametrize("op", JIT_OPS + ["GELU_APPROX"])
def test_activation_matches_litert(op):
    rng = np.random.default_rng(len(op))
    x = rng.uniform(-8, 8, (2, 4, 6)).astype(np.float32)
    x[0, 0, :4] = [0.0, -0.0, 6.0, -3.0]
    if op == "GELU_APPROX":
        compare("GELU", [x], gelu(True))
    else:
        compare(op, [x], options_for(op), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("alpha_shape", [(6,), (1, 1, 6), (4, 1)])
def test_prelu_matches_litert(alpha_shape):
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (2, 4, 6)).astype(np.float32)
    alpha = rng.uniform(0, 0.5, alpha_shape).astype(np.float32)
    compare("PRELU", [x, Const(alpha)])


@pytest.mark.parametrize("x_shape, alpha_shape, inner", [
    ((1, 5, 4, 6), (1, 1, 6), 6),      # per-channel alpha, as MediaPipe's models use it
    ((1, 5, 4, 6), (5, 4, 6), 120),    # alpha spanning every trailing dim
    ((2, 3, 6), (1,), 1),              # one alpha for everything
    ((2, 4, 6), (4, 1), 0),            # any other broadcast: numpy path
    ((1, 6), (3, 1, 6), 0),            # x smaller than the output: numpy path
    ((0, 4, 6), (1, 6), 6),            # empty input
    ((2, 0), (0,), 0),                 # empty alpha
])
def test_prelu_jit_is_bit_identical_to_reference(x_shape, alpha_shape, inner):
    from edgelite.interpreter.kernels.activations.activations_float import _prelu_inner

    rng = np.random.default_rng(7)
    x = rng.uniform(-3, 3, x_shape).astype(np.float32)
    if x.size:
        x.reshape(-1)[:4] = [0.0, -0.0, np.nan, -np.inf]
    alpha = rng.uniform(-0.5, 0.5, alpha_shape).astype(np.float32)
    out_shape = np.broadcast_shapes(x_shape, alpha_shape)
    assert _prelu_inner(x_shape, alpha_shape, out_shape) == inner
    ref = run_kernel("PRELU", [x, Const(alpha)])[0]
    jit = run_kernel("PRELU", [x, Const(alpha)], jit=True)[0]
    assert jit.shape == ref.shape == out_shape
    np.testing.assert_array_equal(jit.view(np.uint32), ref.view(np.uint32))


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=6),
                    elements=st.floats(-30, 30, width=32)),
       op=st.sampled_from(JIT_OPS + ["GELU_APPROX"]))
def test_jit_agrees_with_reference(x, op):
    options = gelu(True) if op == "GELU_APPROX" else options_for(op)
    name = "GELU" if op == "GELU_APPROX" else op
    ref = run_kernel(name, [x], options)[0]
    if op == "TANH":  # no eval_jit (numpy is faster); the Numba kernel still has it
        from edgelite.interpreter.kernels.activations.activations_float import A_TANH, _activation_kernel

        jit = np.empty_like(x)
        _activation_kernel(x.reshape(-1), jit.reshape(-1), A_TANH, 0.0)
    else:
        jit = run_kernel(name, [x], options, jit=True)[0]
    if op.startswith("RELU") or op in ("LEAKY_RELU", "LOGISTIC"):
        np.testing.assert_array_equal(jit, ref)
    else:
        # exp/tanh come from numpy's vector code in one and libm in the other
        np.testing.assert_allclose(jit, ref, rtol=4e-7, atol=1e-30)
