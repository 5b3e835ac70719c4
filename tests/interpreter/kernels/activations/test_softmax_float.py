"""SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION against hand values and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgelite.errors import ShapeError
from edgelite.schema.fb.L2NormOptions import L2NormOptionsT
from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT
from tests.interpreter.kernels.oracle import compare, run_kernel


def softmax_opts(beta):
    o = SoftmaxOptionsT()
    o.beta = beta
    return o


def test_softmax_by_hand_and_beta():
    x = np.array([[0.0, np.log(3.0)]], np.float32)
    np.testing.assert_allclose(run_kernel("SOFTMAX", [x], softmax_opts(1.0))[0], [[0.25, 0.75]], rtol=1e-6)
    np.testing.assert_allclose(run_kernel("SOFTMAX", [x], softmax_opts(0.0))[0], [[0.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(run_kernel("LOG_SOFTMAX", [x])[0], np.log([[0.25, 0.75]]), rtol=1e-6)


def test_l2_normalization_by_hand_and_zero_vector():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    assert run_kernel("L2_NORMALIZATION", [x])[0].tolist() == [[0.6000000238418579, 0.800000011920929], [0, 0]]
    o = L2NormOptionsT()
    o.fusedActivationFunction = 1
    with pytest.raises(ShapeError):
        run_kernel("L2_NORMALIZATION", [x], o)


@pytest.mark.parametrize("shape", [(7,), (2, 10), (2, 3, 5), (1, 2, 2, 9)])
@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_softmax_matches_litert(shape, beta):
    x = np.random.default_rng(1).uniform(-10, 10, shape).astype(np.float32)
    compare("SOFTMAX", [x], softmax_opts(beta))


@pytest.mark.parametrize("shape", [(7,), (2, 10), (2, 3, 5), (1, 2, 2, 9)])
def test_log_softmax_and_l2_match_litert(shape):
    x = np.random.default_rng(2).uniform(-10, 10, shape).astype(np.float32)
    compare("LOG_SOFTMAX", [x])
    compare("L2_NORMALIZATION", [x])


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.floats(-80, 80, width=32)))
def test_softmax_rows_are_distributions(x):
    p = run_kernel("SOFTMAX", [x], softmax_opts(1.0))[0]
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.exp(run_kernel("LOG_SOFTMAX", [x])[0]), p, rtol=1e-5, atol=1e-30)
