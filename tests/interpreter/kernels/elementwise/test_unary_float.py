"""Unary math kernels: hand cases, numpy, and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.interpreter.kernels.oracle import Out, compare, make_context, run_kernel

POSITIVE = {"LOG", "SQRT", "RSQRT"}
FLOAT_OPS = ["EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "SIGN"]


def test_round_is_half_to_even_and_sign_of_zero():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997], np.float32)
    assert run_kernel("ROUND", [x])[0].tolist() == [-2.0, -2.0, -0.0, 0.0, 2.0, 2.0, 0.0]
    assert run_kernel("SIGN", [np.array([-3.0, 0.0, 2.0], np.float32)])[0].tolist() == [-1.0, 0.0, 1.0]


def test_rsqrt_and_log_outside_domain_give_ieee_values_without_warnings():
    with np.errstate(all="raise"):
        out = run_kernel("RSQRT", [np.array([4.0, 0.0, -1.0], np.float32)])[0]
        assert out[0] == 0.5 and np.isinf(out[1]) and np.isnan(out[2])
        assert np.isneginf(run_kernel("LOG", [np.array([0.0], np.float32)])[0][0])


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float_unary_matches_litert(op):
    rng = np.random.default_rng(abs(hash(op)) % 1000)
    x = rng.uniform(-6, 6, (2, 3, 5)).astype(np.float32)
    if op in POSITIVE:
        x = np.abs(x) + np.float32(0.01)
    if op == "ROUND":
        x[0, 0, :3] = [0.5, 1.5, -2.5]
    compare(op, [x])


@pytest.mark.parametrize("op,dtype", [("ABS", np.int32), ("NEG", np.int32), ("NEG", np.int64), ("SIGN", np.int32)])
def test_integer_unary_matches_litert(op, dtype):
    x = np.arange(-5, 7, dtype=dtype).reshape(3, 4)
    compare(op, [x], outputs=[Out(dtype)])


def test_quantized_inputs_are_refused():
    from edgelite.interpreter.kernels.base import select_kernel
    from tests.interpreter.kernels.oracle import Var

    ctx = make_context("ABS", [Var(np.zeros(3, np.int8), (0.1, 0))], None, [Out(np.int8, (0.1, 0))])
    k = select_kernel(ctx)
    assert k is None or not type(k).__module__.endswith(".unary")


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(max_dims=4, max_side=4),
                    elements=st.floats(-50, 50, width=32)),
       op=st.sampled_from(FLOAT_OPS))
def test_unary_equals_numpy_formula(x, op):
    if op in POSITIVE:
        x = np.abs(x) + np.float32(0.5)
    want = {
        "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RSQRT": lambda v: np.float32(1) / np.sqrt(v), "ABS": np.abs,
        "NEG": np.negative, "SIN": np.sin, "COS": np.cos, "FLOOR": np.floor, "CEIL": np.ceil, "ROUND": np.round,
        "SQUARE": lambda v: v * v, "SIGN": np.sign,
    }[op](x)
    got = run_kernel(op, [x])[0]
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)
