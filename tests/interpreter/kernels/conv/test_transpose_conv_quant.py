"""Quantized TRANSPOSE_CONV kernels: a hand-checked case, then differential tests
against LiteRT's builtin kernels: int8 and 16x8 bit for bit (with the rounding form
each path was measured to use), the hybrid form within float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, run_edgelite, run_litert

from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter.compute.conv_geometry import conv_output_size
from edgelite.interpreter.kernels.conv.transpose_conv_quant import (
    TransposeConvHybrid,
    TransposeConvQuant,
    TransposeConvQuant16x8,
)
from edgelite.schema.fb.TransposeConvOptions import TransposeConvOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def opts(sh, sw, pad, act=0, bias_type=0):
    o = TransposeConvOptionsT()
    o.strideH, o.strideW, o.padding, o.fusedActivationFunction, o.quantizedBiasType = sh, sw, pad, act, bias_type
    return o


def test_hand_checked_stride2():
    # x real = 0.5 * (q - 1): pixels (3, 5) -> 1.0, 2.0; w = 1.0 (q 4, scale 0.25) on a 2x1
    # window, stride 2, VALID, output 4 wide: y = [1, 1, 2, 2] + bias 0.5 -> /0.25 = [6, 6, 10, 10]
    spec = Spec(
        "TRANSPOSE_CONV",
        [
            TSpec((4,), np.int32, None, np.array([1, 1, 4, 1], np.int32), True),
            TSpec((1, 1, 2, 1), np.int8, ([0.25], [0], 0), np.array([4, 4]), True),
            TSpec((1, 1, 2, 1), np.int8, (0.5, 1)),
            TSpec((1,), np.int32, ([0.125], [0], 0), np.array([4]), True),
        ],
        [TSpec((1, 1, 4, 1), np.int8, (0.25, 0))],
        opts(1, 2, 1),
        version=3,
    )
    x = np.array([3, 5], np.int8).reshape(1, 1, 2, 1)
    (got,) = run_edgelite(spec, [x], kernel_type=TransposeConvQuant)
    assert got.ravel().tolist() == [6, 6, 10, 10]
    check(spec, [x], jit=False)


def _out_size(rng, insz, k, s, pad):
    cands = [o for o in range(1, insz * s + k + 3) if conv_output_size(o, k, s, 1, pad) == insz]
    return int(rng.choice(cands)) if cands else None


def _case(rng, kind, n, h, w, cin, cout, kh, kw, sh, sw, pad, act, per_channel):
    oh, ow = _out_size(rng, h, kh, sh, pad), _out_size(rng, w, kw, sw, pad)
    if oh is None or ow is None:
        return None, None
    wt = rng.integers(-127, 128, (cout, kh, kw, cin)).astype(np.int8)
    ws = rng.uniform(0.001, 0.05, cout if per_channel else 1).astype(np.float32)
    wq = (ws, np.zeros(ws.size, np.int64), 0)
    shape = TSpec((4,), np.int32, None, np.array([n, oh, ow, cout], np.int32), True)
    o = opts(sh, sw, pad, act)
    if kind == "hybrid":
        bias = TSpec((cout,), np.float32, None, rng.standard_normal(cout).astype(np.float32), True)
        spec = Spec("TRANSPOSE_CONV", [shape, TSpec(wt.shape, np.int8, wq, wt, True), TSpec((n, h, w, cin), np.float32), bias],
                    [TSpec((n, oh, ow, cout), np.float32)], o, version=3)
        return spec, [(rng.standard_normal((n, h, w, cin)) * 2 + rng.uniform(-1, 1)).astype(np.float32)]
    dt = np.int8 if kind == "int8" else np.int16
    xq = (np.float32(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)) if dt == np.int8 else 0)
    oq = (np.float32(rng.uniform(0.05, 0.5)), int(rng.integers(-128, 128)) if dt == np.int8 else 0)
    bdt = np.int64 if kind == "16x8" else np.int32
    if kind == "16x8_int32_bias":
        o.quantizedBiasType = 2
    bscale = np.resize((xq[0] * ws).astype(np.float32), cout)
    bias = TSpec((cout,), bdt, (bscale, np.zeros(cout, np.int64), 0), rng.integers(-20000, 20000, cout).astype(bdt), True)
    info = np.iinfo(dt)
    spec = Spec("TRANSPOSE_CONV", [shape, TSpec(wt.shape, np.int8, wq, wt, True), TSpec((n, h, w, cin), dt, xq), bias],
                [TSpec((n, oh, ow, cout), dt, oq)], o, version=3)
    return spec, [rng.integers(info.min, info.max + 1, (n, h, w, cin)).astype(dt)]


geometry = st.tuples(
    st.integers(1, 2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 9), st.integers(1, 20),
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2), st.integers(0, 1),
    st.sampled_from([0, 1, 3]),
)


@pytest.mark.parametrize("kind", ["int8", "16x8", "16x8_int32_bias"])
@settings(max_examples=25, **SETTINGS)
@given(g=geometry, per_channel=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_integer_matches_litert_bit_for_bit(kind, g, per_channel, seed):
    spec, feeds = _case(np.random.default_rng(seed), kind, *g, per_channel)
    assume(spec is not None)
    check(spec, feeds, jit=False)


def _close(got, want, rtol=1e-5):
    scale = max(float(np.abs(want).max()), 1e-30)
    err = float(np.abs(got - want).max()) / scale
    assert err <= rtol, err


@settings(max_examples=25, **SETTINGS)
@given(g=geometry, per_channel=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_hybrid_matches_litert(g, per_channel, seed):
    spec, feeds = _case(np.random.default_rng(seed), "hybrid", *g, per_channel)
    assume(spec is not None)
    (got,) = run_edgelite(spec, feeds, kernel_type=TransposeConvHybrid)
    _close(got, run_litert(spec, feeds)[0])


def test_rounding_blocks_of_eight_channels():
    # Power-of-two scales make exact ties frequent. LiteRT rounds channels [0, 8) and
    # [8, 16) in its vector loop (ties toward +inf) and channels 16..18 with gemmlowp's
    # away-from-zero form: a kernel using one form for all 19 channels fails here.
    rng = np.random.default_rng(7)
    spec, feeds = _case(rng, "int8", 1, 6, 6, 4, 19, 3, 3, 2, 2, 0, 0, True)
    spec.inputs[2].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.full(19, 2.0**-4, np.float32), np.zeros(19, np.int64), 0)
    spec.inputs[3].quant = (np.full(19, 2.0**-5, np.float32), np.zeros(19, np.int64), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    spec.inputs[1].data = rng.integers(-2, 3, spec.inputs[1].shape).astype(np.int8)
    check(spec, feeds, jit=False)


def test_16x8_int32_bias_without_option_is_refused():
    spec, feeds = _case(np.random.default_rng(1), "int8", 1, 3, 3, 2, 2, 2, 2, 1, 1, 1, 0, True)
    spec.inputs[2] = TSpec((1, 3, 3, 2), np.int16, (np.float32(0.01), 0))
    spec.outputs[0] = TSpec(spec.outputs[0].shape, np.int16, (np.float32(0.02), 0))
    with pytest.raises(UnsupportedOperatorError):
        run_edgelite(spec, [np.zeros((1, 3, 3, 2), np.int16)], kernel_type=TransposeConvQuant16x8)
