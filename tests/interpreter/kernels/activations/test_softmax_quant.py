"""Quantized SOFTMAX / LOG_SOFTMAX against LiteRT, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
from edgelite.schema.fb.LogSoftmaxOptions import LogSoftmaxOptionsT
from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT


def _opts(beta):
    o = SoftmaxOptionsT()
    o.beta = beta
    return o


def test_softmax_uniform_row_by_hand():
    # four equal logits -> 0.25 each -> 64 steps of 1/256 above -128 = -64
    spec = Spec("SOFTMAX", [TSpec((1, 4), np.int8, (0.1, 0))], [TSpec((1, 4), np.int8, (1 / 256, -128))], _opts(1.0))
    out = run_edgelite(spec, [np.full((1, 4), 7, np.int8)])[0]
    assert out.tolist() == [[-64, -64, -64, -64]]


@pytest.mark.parametrize("dt,odt", [(np.int8, np.int8), (np.uint8, np.uint8), (np.int8, np.int16)])
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_softmax_8bit_against_litert(dt, odt, beta):
    rng = np.random.default_rng(int(beta * 10) + (odt == np.int16))
    for depth in (1, 10, 37):
        oq = (1 / 32768, 0) if odt == np.int16 else (1 / 256, -128 if dt == np.int8 else 0)
        zp = int(rng.integers(-30, 30)) + (128 if dt == np.uint8 else 0)
        spec = Spec("SOFTMAX", [TSpec((3, depth), dt, (float(rng.uniform(0.01, 0.3)), zp))],
                    [TSpec((3, depth), odt, oq)], _opts(beta))
        check(spec, [random_q(rng, (3, depth), dt)])


def test_softmax_int16_against_litert():
    rng = np.random.default_rng(5)
    for depth in (1, 7, 40):
        spec = Spec("SOFTMAX", [TSpec((2, 2, depth), np.int16, (float(rng.uniform(1e-4, 1e-3)), 0))],
                    [TSpec((2, 2, depth), np.int16, (1 / 32768, 0))], _opts(1.0))
        check(spec, [random_q(rng, (2, 2, depth), np.int16)])


@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_log_softmax_against_litert(dt):
    rng = np.random.default_rng(6)
    for depth in (1, 9, 33):
        zp = int(rng.integers(-30, 30)) + (128 if dt == np.uint8 else 0)
        spec = Spec("LOG_SOFTMAX", [TSpec((4, depth), dt, (float(rng.uniform(0.01, 0.3)), zp))],
                    [TSpec((4, depth), dt, (16 / 256, 127 if dt == np.int8 else 255))], LogSoftmaxOptionsT())
        check(spec, [random_q(rng, (4, depth), dt)])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(rows=st.integers(1, 4), depth=st.integers(1, 50), scale=st.floats(0.001, 1.0),
       zp=st.integers(-128, 127), beta=st.floats(0.1, 3.0), seed=st.integers(0, 2**31))
def test_property_softmax_int8(rows, depth, scale, zp, beta, seed):
    rng = np.random.default_rng(seed)
    spec = Spec("SOFTMAX", [TSpec((rows, depth), np.int8, (scale, zp))],
                [TSpec((rows, depth), np.int8, (1 / 256, -128))], _opts(beta))
    check(spec, [random_q(rng, (rows, depth), np.int8)])
