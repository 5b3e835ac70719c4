"""Quantized DEPTHWISE_CONV_2D: hand-checked case, then bit-exact differential tests
against LiteRT (int8 per-channel/per-tensor, uint8, 16x8), reference and JIT."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, run_edgelite
from tests.interpreter.kernels.qspecs import act_quant, bias_for, out_hw, random_input, weights

from edgelite.interpreter.kernels.conv.depthwise_quant import (
    DepthwiseConv2DQuant,
    DepthwiseConv2DQuant16x8,
    DepthwiseConv2DQuantUInt8,
)
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def dw_opts(mult=1, sh=1, sw=1, dh=1, dw=1, pad=0, act=0):
    o = DepthwiseConv2DOptionsT()
    o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor = sh, sw, dh, dw
    o.padding, o.fusedActivationFunction, o.depthMultiplier = pad, act, mult
    return o


def test_hand_checked_2x2_valid():
    # one channel, 2x2 input (q - zp) = [[1, 2], [3, 4]], weights [[1, 0], [0, -1]] -> 1 - 4 = -3
    # real scales: x 1.0, w 1.0, out 1.0 (multiplier 1) ; bias 10 -> 7 ; out zp 2 -> 9
    spec = Spec(
        "DEPTHWISE_CONV_2D",
        [
            TSpec((1, 2, 2, 1), np.int8, (1.0, -1)),
            TSpec((1, 2, 2, 1), np.int8, ([1.0], [0], 3), np.array([1, 0, 0, -1]), True),
            TSpec((1,), np.int32, ([1.0], [0], 0), np.array([10]), True),
        ],
        [TSpec((1, 1, 1, 1), np.int8, (1.0, 2))],
        dw_opts(pad=1),
        version=3,
    )
    x = (np.array([1, 2, 3, 4]) - 1).astype(np.int8).reshape(1, 2, 2, 1)
    assert run_edgelite(spec, [x], kernel_type=DepthwiseConv2DQuant)[0].item() == 9
    assert run_edgelite(spec, [x], use_jit=True)[0].item() == 9
    check(spec, [x])


def _dw_case(rng, dtype, wdtype, bdtype, b, h, w, c, mult, kh, kw, sh, sw, dh, dw, pad, act, per_channel):
    xq, oq = act_quant(rng, dtype), act_quant(rng, dtype)
    oc = c * mult
    wt, wq = weights(rng, (1, kh, kw, oc), wdtype, oc, 3, per_channel)
    oh, ow = out_hw(h, w, kh, kw, sh, sw, dh, dw, pad)
    span = 30000 if bdtype == np.int32 else 1 << 36
    spec = Spec(
        "DEPTHWISE_CONV_2D",
        [TSpec((b, h, w, c), dtype, xq), TSpec(wt.shape, wdtype, wq, wt, True), bias_for(rng, xq[0], wq, oc, bdtype, span)],
        [TSpec((b, oh, ow, oc), dtype, oq)],
        dw_opts(mult, sh, sw, dh, dw, pad, act),
        version=3 if dtype == np.int8 else 5,
    )
    return spec, [random_input(rng, (b, h, w, c), dtype)]


geometry = st.tuples(
    st.integers(1, 2), st.integers(1, 10), st.integers(1, 10), st.integers(1, 20), st.sampled_from([1, 1, 2, 3]),
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
    st.integers(0, 1), st.sampled_from([0, 1, 2, 3]),
).filter(lambda g: g[11] == 0 or ((g[5] - 1) * g[9] + 1 <= g[1] and (g[6] - 1) * g[10] + 1 <= g[2]))


@settings(max_examples=30, **SETTINGS)
@given(geometry, st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_matches_litert(g, per_channel, seed):
    spec, feeds = _dw_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, *g, per_channel)
    check(spec, feeds, jit=True)


@settings(max_examples=15, **SETTINGS)
@given(geometry, st.integers(0, 2**32 - 1))
def test_uint8_matches_litert(g, seed):
    spec, feeds = _dw_case(np.random.default_rng(seed), np.uint8, np.uint8, np.int32, *g, False)
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=DepthwiseConv2DQuantUInt8)


@settings(max_examples=15, **SETTINGS)
@given(geometry, st.booleans(), st.integers(0, 2**32 - 1))
def test_16x8_matches_litert(g, per_channel, seed):
    spec, feeds = _dw_case(np.random.default_rng(seed), np.int16, np.int8, np.int64, *g, per_channel)
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=DepthwiseConv2DQuant16x8)


def test_mobilenet_sized_layers():
    rng = np.random.default_rng(9)
    for geo in [(1, 56, 56, 144, 1, 3, 3, 2, 2, 1, 1, 0, 3), (1, 14, 14, 384, 1, 3, 3, 1, 1, 1, 1, 0, 3)]:
        spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, *geo, True)
        check(spec, feeds, jit=True)


def test_rounding_ties_follow_litert():
    # power-of-two scales make exact halves common (multiplier 2**-5), so the rounding
    # form of MultiplyByQuantizedMultiplier decides many outputs (no activation clamp).
    rng = np.random.default_rng(21)
    spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 1, 12, 12, 16, 1, 3, 3, 1, 1, 1, 1, 0, 0, True)
    spec.inputs[0].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.full(16, 2.0**-4, np.float32), np.zeros(16, np.int64), 3)
    spec.inputs[2].quant = (np.full(16, 2.0**-5, np.float32), np.zeros(16, np.int64), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    spec.inputs[1].data = rng.integers(-3, 4, spec.inputs[1].shape).astype(np.int8)
    spec.inputs[2].data = rng.integers(-50, 50, 16).astype(np.int32)
    check(spec, feeds, jit=True)


fast_geometry = st.tuples(
    st.integers(1, 2), st.integers(3, 12), st.integers(3, 24), st.sampled_from([3, 5, 8, 13, 16, 21, 40]),
    st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.integers(0, 1), st.sampled_from([0, 1, 3]),
).filter(lambda g: g[8] == 0 or (2 * g[6] + 1 <= g[1] and 2 * g[7] + 1 <= g[2]))


@settings(max_examples=25, **SETTINGS)
@given(fast_geometry, st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_3x3_fast_kernel_matches_litert(g, per_channel, seed):
    # the specialised 3x3 kernel (zero-point-padded scratch, requantization in registers)
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    b, h, w, c, sh, sw, dh, dw, pad, act = g
    spec, feeds = _dw_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, b, h, w, c, 1, 3, 3, sh, sw, dh, dw, pad, act, per_channel)
    ctx = make_context(spec, use_jit=True)
    assert select_kernel(ctx).prepare(ctx).fast_path
    check(spec, feeds, jit=True)
    ref = run_edgelite(spec, feeds, kernel_type=DepthwiseConv2DQuant)
    np.testing.assert_array_equal(run_edgelite(spec, feeds, use_jit=True)[0], ref[0])


def test_rounding_ties_remainder_channels():
    # LiteRT rounds the last (channels % 8) channels with gemmlowp's form and the
    # others ties-up: tie-heavy scales on 13 and 21 channels pin both.
    for c, seed in [(13, 3), (21, 4), (5, 5)]:
        rng = np.random.default_rng(seed)
        spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 1, 9, 9, c, 1, 3, 3, 1, 1, 1, 1, 0, 0, True)
        spec.inputs[0].quant = (np.float32(0.5), 3)
        spec.inputs[1].quant = (np.full(c, 2.0**-4, np.float32), np.zeros(c, np.int64), 3)
        spec.inputs[2].quant = (np.full(c, 2.0**-5, np.float32), np.zeros(c, np.int64), 0)
        spec.outputs[0].quant = (np.float32(1.0), 0)
        spec.inputs[1].data = rng.integers(-3, 4, spec.inputs[1].shape).astype(np.int8)
        check(spec, feeds, jit=True)


def test_int8_3x3_long_rows_chunks_and_planes():
    # rows longer than one chunk of the 3x3 kernel (m pixels), odd widths, stride 2
    # (even / odd column planes) and stride 2 with dilation (no planes, one pixel a chunk)
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    rng = np.random.default_rng(31)
    for c, w, sw, dw, pad in [(5, 150, 1, 1, 1), (32, 37, 1, 1, 1), (24, 41, 2, 1, 1), (24, 40, 2, 1, 0),
                              (16, 29, 2, 2, 1), (8, 30, 3, 1, 1), (48, 19, 1, 2, 0)]:
        spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 2, 7, w, c, 1, 3, 3, 2, sw, 1, dw, pad, 3, True)
        ctx = make_context(spec, use_jit=True)
        params = select_kernel(ctx).prepare(ctx)
        assert params.fast_path and not params.fast.made  # made on the first JIT run only
        assert params.fast.get()[0].planes == (sw == 2 and dw == 1)
        check(spec, feeds, jit=True)


def test_int8_3x3_weight_minus_128_takes_the_general_kernel():
    # the fast kernel sums products in int16 pairs, which needs |w| <= 127
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    rng = np.random.default_rng(32)
    spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 1, 6, 6, 8, 1, 3, 3, 1, 1, 1, 1, 1, 0, True)
    spec.inputs[1].data = np.full(spec.inputs[1].shape, -128, np.int8)
    feeds = [np.full_like(feeds[0], -128)]
    ctx = make_context(spec, use_jit=True)
    assert not select_kernel(ctx).prepare(ctx).fast_path
    check(spec, feeds, jit=True)


fast5_geometry = st.tuples(
    st.integers(1, 2), st.integers(5, 14), st.integers(5, 30), st.sampled_from([3, 8, 13, 16, 40]),
    st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.integers(0, 1), st.sampled_from([0, 1, 3]),
).filter(lambda g: g[8] == 0 or (4 * g[6] + 1 <= g[1] and 4 * g[7] + 1 <= g[2]))


@settings(max_examples=25, **SETTINGS)
@given(fast5_geometry, st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_5x5_fast_kernel_matches_litert(g, per_channel, seed):
    # the 5x5 kernel (EfficientNet's depthwise layers): same scratch, chunks and planes
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    b, h, w, c, sh, sw, dh, dw, pad, act = g
    spec, feeds = _dw_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, b, h, w, c, 1, 5, 5, sh, sw, dh, dw, pad, act, per_channel)
    ctx = make_context(spec, use_jit=True)
    assert select_kernel(ctx).prepare(ctx).fast.get()[0].k == 5
    check(spec, feeds, jit=True)


def test_int8_5x5_rounding_ties_and_long_rows():
    rng = np.random.default_rng(33)
    for c, w, sw in [(21, 9, 1), (5, 140, 1), (24, 61, 2), (960, 9, 1)]:
        spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 1, 9, w, c, 1, 5, 5, 1, sw, 1, 1, 0, 0, True)
        spec.inputs[0].quant = (np.float32(0.5), 3)
        spec.inputs[1].quant = (np.full(c, 2.0**-4, np.float32), np.zeros(c, np.int64), 3)
        spec.inputs[2].quant = (np.full(c, 2.0**-5, np.float32), np.zeros(c, np.int64), 0)
        spec.outputs[0].quant = (np.float32(1.0), 0)
        spec.inputs[1].data = rng.integers(-3, 4, spec.inputs[1].shape).astype(np.int8)
        check(spec, feeds, jit=True)
