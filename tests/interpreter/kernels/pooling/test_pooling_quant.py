"""Quantized AVERAGE_POOL_2D / MAX_POOL_2D: hand-checked cases, then bit-exact
differential tests against LiteRT (int8, uint8, int16), reference and JIT."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, run_edgelite
from tests.interpreter.kernels.qspecs import act_quant, out_hw, random_input

from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def pool_opts(fh, fw, sh, sw, pad, act):
    o = Pool2DOptionsT()
    o.filterHeight, o.filterWidth, o.strideH, o.strideW, o.padding, o.fusedActivationFunction = fh, fw, sh, sw, pad, act
    return o


def _spec(op, dtype, b, h, w, c, fh, fw, sh, sw, pad, act, q):
    oh, ow = out_hw(h, w, fh, fw, sh, sw, 1, 1, pad)
    return Spec(op, [TSpec((b, h, w, c), dtype, q)], [TSpec((b, oh, ow, c), dtype, q)], pool_opts(fh, fw, sh, sw, pad, act),
                version=2 if dtype != np.int16 else 3)


def test_hand_checked_average_rounding():
    # 2x2 windows: (1+2+3+4)/4 = 2.5 -> 3 ; (-1-2-3-4)/4 = -2.5 -> -3 ; SAME padding at the
    # edge of a 3-wide row counts only the 2 real cells: (5 + 6) / 2 = 5.5 -> 6
    x = np.array([1, 2, 5, 3, 4, 6], np.int8).reshape(1, 2, 3, 1)
    spec = _spec("AVERAGE_POOL_2D", np.int8, 1, 2, 3, 1, 2, 2, 2, 2, 0, 0, (0.1, 0))
    out = run_edgelite(spec, [x])[0]
    assert out.ravel().tolist() == [3, 6]
    assert run_edgelite(spec, [-x])[0].ravel().tolist() == [-3, -6]
    check(spec, [x])
    check(spec, [-x])
    mspec = _spec("MAX_POOL_2D", np.int8, 1, 2, 3, 1, 2, 2, 2, 2, 0, 0, (0.1, 0))
    assert run_edgelite(mspec, [x])[0].ravel().tolist() == [4, 6]


geometry = st.tuples(
    st.integers(1, 2), st.integers(1, 12), st.integers(1, 12), st.integers(1, 20),
    st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.sampled_from([0, 1, 2, 3]),
).filter(lambda g: g[8] == 0 or (g[4] <= g[1] and g[5] <= g[2]))


@settings(max_examples=40, **SETTINGS)
@given(geometry, st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"]), st.sampled_from([np.int8, np.uint8, np.int16]),
       st.integers(0, 2**32 - 1))
def test_matches_litert(g, op, dtype, seed):
    rng = np.random.default_rng(seed)
    spec = _spec(op, dtype, *g, act_quant(rng, dtype))
    check(spec, [random_input(rng, spec.inputs[0].shape, dtype)], jit=True)


def test_mobilenet_global_average():
    rng = np.random.default_rng(4)
    spec = _spec("AVERAGE_POOL_2D", np.int8, 1, 7, 7, 1280, 7, 7, 1, 1, 1, 0, act_quant(rng, np.int8))
    check(spec, [random_input(rng, (1, 7, 7, 1280), np.int8)], jit=True)
