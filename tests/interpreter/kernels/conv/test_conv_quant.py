"""Quantized CONV_2D kernels: a hand-checked case, then bit-exact differential tests
against LiteRT (builtin kernels) for int8, uint8 and 16x8, reference and JIT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, run_edgelite
from tests.interpreter.kernels.qspecs import act_quant, bias_for, out_hw, random_input, weights

from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter.kernels.conv.conv_quant import Conv2DQuant, Conv2DQuant16x8, Conv2DQuantUInt8
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def conv_opts(sh=1, sw=1, dh=1, dw=1, pad=0, act=0, bias_type=0):
    o = Conv2DOptionsT()
    o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor = sh, sw, dh, dw
    o.padding, o.fusedActivationFunction, o.quantizedBiasType = pad, act, bias_type
    return o


def test_hand_checked_1x1():
    # x real = 0.5 * (q - 1); w real = 0.25 * w; out scale 0.5, zp 0
    # pixel (q = 5, 3) -> x = (2, 1); w = (4, -8) -> (1, -2); y = 2 - 2 + bias
    # bias real = 0.125 * 8 = 1.0 -> y = 1.0 -> q = 2
    o = conv_opts()
    spec = Spec(
        "CONV_2D",
        [
            TSpec((1, 1, 1, 2), np.int8, (0.5, 1)),
            TSpec((1, 1, 1, 2), np.int8, ([0.25], [0], 0), np.array([4, -8]), True),
            TSpec((1,), np.int32, ([0.125], [0], 0), np.array([8]), True),
        ],
        [TSpec((1, 1, 1, 1), np.int8, (0.5, 0))],
        o,
        version=3,
    )
    x = np.array([5, 3], np.int8).reshape(1, 1, 1, 2)
    (got,) = run_edgelite(spec, [x], kernel_type=Conv2DQuant)
    assert got.item() == 2
    (gj,) = run_edgelite(spec, [x], use_jit=True)
    assert gj.item() == 2
    check(spec, [x])


def _conv_case(rng, dtype, wdtype, bdtype, b, h, w, c, n, kh, kw, sh, sw, dh, dw, pad, act, per_channel, bias_type=0):
    xq, oq = act_quant(rng, dtype), act_quant(rng, dtype)
    wt, wq = weights(rng, (n, kh, kw, c), wdtype, n, 0, per_channel)
    oh, ow = out_hw(h, w, kh, kw, sh, sw, dh, dw, pad)
    span = 30000 if bdtype == np.int32 else 1 << 36
    inputs = [TSpec((b, h, w, c), dtype, xq), TSpec(wt.shape, wdtype, wq, wt, True)]
    inputs.append(bias_for(rng, xq[0], wq, n, bdtype, span) if bdtype is not None else None)
    spec = Spec("CONV_2D", inputs, [TSpec((b, oh, ow, n), dtype, oq)], conv_opts(sh, sw, dh, dw, pad, act, bias_type), version=3)
    return spec, [random_input(rng, (b, h, w, c), dtype)]


geometry = st.tuples(
    st.integers(1, 2), st.integers(1, 10), st.integers(1, 10), st.integers(1, 24), st.integers(1, 20),
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
    st.integers(0, 1), st.sampled_from([0, 1, 2, 3]),
)


def _fits(g):
    b, h, w, c, n, kh, kw, sh, sw, dh, dw, pad, act = g
    return pad == 0 or ((kh - 1) * dh + 1 <= h and (kw - 1) * dw + 1 <= w)


@settings(max_examples=30, **SETTINGS)
@given(geometry.filter(_fits), st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_matches_litert(g, per_channel, seed):
    spec, feeds = _conv_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, *g, per_channel)
    check(spec, feeds, jit=True)


@settings(max_examples=15, **SETTINGS)
@given(geometry.filter(_fits), st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_float_blas_path_matches_litert(g, per_channel, seed):
    """The path of CPUs without AVX-512 VNNI (exact float32 BLAS), forced here."""
    from edgelite.interpreter.compute import simd_gemm

    saved = simd_gemm._available
    simd_gemm._available = False
    try:
        spec, feeds = _conv_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, *g, per_channel)
        check(spec, feeds, jit=True)
    finally:
        simd_gemm._available = saved


@settings(max_examples=15, **SETTINGS)
@given(geometry.filter(_fits), st.integers(0, 2**32 - 1))
def test_uint8_matches_litert(g, seed):
    spec, feeds = _conv_case(np.random.default_rng(seed), np.uint8, np.uint8, np.int32, *g, False)
    ctx_kernel = Conv2DQuantUInt8
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=ctx_kernel)


@settings(max_examples=15, **SETTINGS)
@given(geometry.filter(_fits), st.booleans(), st.integers(0, 2**32 - 1))
def test_16x8_int64_bias_matches_litert(g, per_channel, seed):
    spec, feeds = _conv_case(np.random.default_rng(seed), np.int16, np.int8, np.int64, *g, per_channel)
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=Conv2DQuant16x8)


@settings(max_examples=10, **SETTINGS)
@given(geometry.filter(_fits), st.integers(0, 2**32 - 1))
def test_16x8_int32_bias_matches_litert(g, seed):
    spec, feeds = _conv_case(np.random.default_rng(seed), np.int16, np.int8, np.int32, *g, True, bias_type=2)
    check(spec, feeds, jit=True)


def test_mobilenet_sized_layers_and_no_bias():
    rng = np.random.default_rng(5)
    # 3x3 stride-2 stem (SAME), a 1x1 expansion, and a K > 1024 pointwise (chunked GEMM)
    for geo in [(1, 32, 32, 3, 32, 3, 3, 2, 2, 1, 1, 0, 3), (1, 14, 14, 64, 96, 1, 1, 1, 1, 1, 1, 1, 0),
                (1, 4, 4, 1300, 24, 1, 1, 1, 1, 1, 1, 1, 0)]:
        spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, *geo, True)
        want = check(spec, feeds, jit=True)
        # LiteRT refuses a quantized conv without bias; edgelite treats it as zero bias
        spec.inputs[2].data = np.zeros_like(spec.inputs[2].data)
        want = check(spec, feeds, jit=True)
        spec.inputs[2] = None
        assert np.array_equal(run_edgelite(spec, feeds)[0], want[0])
        assert np.array_equal(run_edgelite(spec, feeds, use_jit=True)[0], want[0])
    # worst-case magnitudes: every product is -128 * -127 over K = 2600
    spec, _ = _conv_case(rng, np.int8, np.int8, np.int32, 1, 2, 2, 2600, 3, 1, 1, 1, 1, 1, 1, 1, 0, False)
    spec.inputs[1].data = np.full(spec.inputs[1].shape, -127, np.int8)
    check(spec, [np.full((1, 2, 2, 2600), -128, np.int8)], jit=True)


def test_16x8_int32_bias_without_option_is_refused():
    rng = np.random.default_rng(2)
    spec, feeds = _conv_case(rng, np.int16, np.int8, np.int32, 1, 4, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 0, True)
    with pytest.raises(UnsupportedOperatorError):
        run_edgelite(spec, feeds)


def test_rounding_ties_follow_litert():
    # multiplier 2**-5 (power-of-two scales): exact halves are frequent, so this fails
    # if the kernel used gemmlowp's away-from-zero second rounding instead of LiteRT's.
    rng = np.random.default_rng(22)
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 10, 10, 8, 16, 3, 3, 1, 1, 1, 1, 0, 0, True)
    spec.inputs[0].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.full(16, 2.0**-4, np.float32), np.zeros(16, np.int64), 0)
    spec.inputs[2].quant = (np.full(16, 2.0**-5, np.float32), np.zeros(16, np.int64), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    spec.inputs[1].data = rng.integers(-2, 3, spec.inputs[1].shape).astype(np.int8)
    check(spec, feeds, jit=True)


def test_jit_requantization_extremes_match_reference():
    # accumulators near and past the int32 limits, every rounding form, huge and tiny
    # multipliers (shift > 0 takes the generic loop): JIT == numpy reference exactly
    from edgelite.interpreter.compute import fixedpoint as fp
    from edgelite.interpreter.compute import int_gemm

    rng = np.random.default_rng(0)
    acc = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 500), [2**31 - 1, -(2**31), 2**31 - 2, 0, 1, -1]])
    acc = acc.reshape(-1, 1).repeat(4, axis=1).astype(np.int64)
    bias = np.array([0, 5, -7, 1 << 20], np.int64)
    for reals in ([0.9999, 1e-3, 0.5, 2.0**-20], [3.5, 0.25, 1e-9, 0.75]):
        q, s = fp.quantize_multiplier_array(reals)
        for mode in (fp.ROUND_DOUBLE, fp.ROUND_SINGLE, fp.ROUND_DOUBLE_UP):
            if mode == fp.ROUND_SINGLE:
                q, s = fp.quantize_multiplier_array(reals, single_rounding=True)
            want = int_gemm.requantize_reference(acc, bias, q, s, mode, 3, -128, 127, np.int8)
            got = np.empty_like(want)
            int_gemm.requantize_rows_jit(acc, bias, q, s, mode, 3, -128, 127, got)
            assert np.array_equal(got, want), (reals, mode)
