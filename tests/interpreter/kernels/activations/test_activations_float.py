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
