"""Hybrid (dynamic-range) kernels: float32 activations, int8 weights.

The on-the-fly input quantizers are checked by hand (including the rounding of the
x86 wheel's vector loop and the float32 width of the asymmetric range), then
FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D and EMBEDDING_LOOKUP are compared with
LiteRT's builtin kernels over hypothesis-drawn shapes and scales, bit for bit: the
integer parts are exact and the float parts follow LiteRT's float32 operation order
(a one-ulp difference in a scale is enough to move a later layer's quantization)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, run_edgelite, run_litert
from tests.interpreter.kernels.qspecs import out_hw

from edgelite.interpreter.kernels import hybrid_common as hc
from edgelite.interpreter.kernels.embedding_hybrid import EmbeddingLookupHybrid
from edgelite.interpreter.kernels.hybrid_conv import Conv2DHybrid
from edgelite.interpreter.kernels.hybrid_depthwise_conv import DepthwiseConv2DHybrid
from edgelite.interpreter.kernels.hybrid_fully_connected import FullyConnectedHybrid
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _close(got, want):
    """Bit-exact equality (float32 values, so also no -0.0/0.0 or NaN slack)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


# -- quantizers -------------------------------------------------------------------------


def test_symmetric_quantizer_by_hand():
    q, s = hc.quantize_rows_symmetric(np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]], np.float32))
    assert q.tolist() == [[64, -127, 32], [0, 0, 0]]  # 63.5 -> 64 (ties away from zero)
    assert s[0] == np.float32(1.0) / np.float32(127) and s[1] == 1.0


def test_asymmetric_quantizer_by_hand():
    # range [0, 2.55] -> scale 0.01, zero point -128 (the min end has the smaller error)
    q, s, zp = hc.quantize_rows_asymmetric(np.array([[0.0, 1.0, 2.55]], np.float32))
    assert zp[0] == -128 and s[0] == np.float32(2.549999952316284 / 255.0)
    assert q[0].tolist() == [-128, -28, 127]
    q, s, zp = hc.quantize_rows_asymmetric(np.zeros((1, 4), np.float32))
    assert q.tolist() == [[0, 0, 0, 0]] and s[0] == 1.0 and zp[0] == 0


def test_asymmetric_scale_uses_the_float32_width_of_the_range():
    # -0.01 and 0.04 as float32: their double difference / 255 rounds to another
    # float32 than their float32 difference / 255 does; LiteRT takes the latter.
    lo, hi = np.float32(-0.01), np.float32(0.04)
    want = np.float32(float(hi - lo) / 255.0)
    assert want != np.float32((float(hi) - float(lo)) / 255.0)
    s, zp = hc.asymmetric_params(lo, hi)
    assert s == want
    assert zp == int(hc.round_half_away(-128.0 - float(lo) / (float(hi - lo) / 255.0)))


def test_vector_loop_rounding_differs_from_round_only_in_the_first_multiple_of_8():
    # 0.49999997 * 1 rounds to 0 with C round but to 1 with trunc(p + 0.5) in float32
    p = np.full((1, 10), np.float32(0.49999997), np.float32)
    r = hc._round_split(p)
    assert r[0, :8].tolist() == [1.0] * 8 and r[0, 8:].tolist() == [0.0, 0.0]


# -- FULLY_CONNECTED ---------------------------------------------------------------------


@settings(max_examples=40, **SETTINGS)
@given(m=st.integers(1, 5), k=st.integers(1, 1200), n=st.integers(1, 24), per_channel=st.booleans(),
       asym=st.booleans(), act=st.sampled_from([0, 1, 3]), seed=st.integers(0, 2**32 - 1))
def test_fully_connected_matches_litert(m, k, n, per_channel, asym, act, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    ws = rng.uniform(0.001, 0.05, n if per_channel else 1).astype(np.float32)
    o = FullyConnectedOptionsT()
    o.asymmetricQuantizeInputs, o.fusedActivationFunction = asym, act
    spec = Spec("FULLY_CONNECTED", [TSpec((m, k), np.float32), TSpec((n, k), np.int8, (ws, np.zeros(ws.size, np.int64), 0), w, True),
                                    TSpec((n,), np.float32, None, rng.standard_normal(n).astype(np.float32), True)],
                [TSpec((m, n), np.float32)], o, version=12)
    x = (rng.standard_normal((m, k)) * rng.uniform(0.1, 10) + rng.uniform(-2, 2)).astype(np.float32)
    if seed % 5 == 0:
        x[0] = 0  # LiteRT's all-zero shortcut must agree with the general path
    (got,) = run_edgelite(spec, [x], kernel_type=FullyConnectedHybrid)
    _close(got, run_litert(spec, [x])[0])


# -- CONV_2D / DEPTHWISE_CONV_2D ---------------------------------------------------------

geometry = st.tuples(
    st.integers(1, 2), st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.integers(1, 3),
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
    st.integers(0, 1), st.sampled_from([0, 1, 3]),
)


def _fits(g):
    b, h, w, c, kh, kw, sh, sw, dh, dw, pad, act = g[:12]
    return pad == 0 or ((kh - 1) * dh + 1 <= h and (kw - 1) * dw + 1 <= w)


def _conv_spec(rng, op, g, n, scales_kind):
    b, h, w, c, kh, kw, sh, sw, dh, dw, pad, act = g
    oh, ow = out_hw(h, w, kh, kw, sh, sw, dh, dw, pad)
    if op == "CONV_2D":
        o, wshape, qdim = Conv2DOptionsT(), (n, kh, kw, c), 0
    else:
        o, wshape, qdim = DepthwiseConv2DOptionsT(), (1, kh, kw, n), 3
        o.depthMultiplier = n // c
    o.padding, o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor, o.fusedActivationFunction = pad, sh, sw, dh, dw, act
    if scales_kind == "distinct":
        ws = rng.uniform(0.001, 0.05, n).astype(np.float32)
    elif scales_kind == "equal":
        ws = np.full(n, 0.01, np.float32)
    else:
        ws = np.array([0.02], np.float32)
    wt = rng.integers(-127, 128, wshape).astype(np.int8)
    spec = Spec(op, [TSpec((b, h, w, c), np.float32), TSpec(wshape, np.int8, (ws, np.zeros(ws.size, np.int64), qdim), wt, True),
                     TSpec((n,), np.float32, None, rng.standard_normal(n).astype(np.float32), True)],
                [TSpec((b, oh, ow, n), np.float32)], o, version=5)
    x = (rng.standard_normal((b, h, w, c)) * 2 + rng.uniform(-1, 1)).astype(np.float32)
    return spec, x


@settings(max_examples=40, **SETTINGS)
@given(g=geometry, n=st.integers(1, 12), scales=st.sampled_from(["tensor", "equal", "distinct"]),
       relu_input=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv_matches_litert(g, n, scales, relu_input, seed):
    assume(_fits(g))
    spec, x = _conv_spec(np.random.default_rng(seed), "CONV_2D", g, n, scales)
    if relu_input:
        x = np.maximum(x, 0)  # zero point at -128, as after a ReLU
    (got,) = run_edgelite(spec, [x], kernel_type=Conv2DHybrid)
    _close(got, run_litert(spec, [x])[0])


@settings(max_examples=40, **SETTINGS)
@given(g=geometry, mult=st.integers(1, 3), equal=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_depthwise_matches_litert(g, mult, equal, seed):
    assume(_fits(g))
    spec, x = _conv_spec(np.random.default_rng(seed), "DEPTHWISE_CONV_2D", g, g[3] * mult, "equal" if equal else "distinct")
    (got,) = run_edgelite(spec, [x], kernel_type=DepthwiseConv2DHybrid)
    _close(got, run_litert(spec, [x])[0])


def _swish_like(rng, shape):
    """Activations as a swish layer leaves them: mostly small, a long positive tail,
    negatives down to about -0.28."""
    z = rng.standard_normal(shape).astype(np.float32) * np.float32(1.5)
    return (z / (1 + np.exp(-z))).astype(np.float32)


@pytest.mark.parametrize("op, x_shape, w_shape, stride", [
    # EfficientNet-B0 (TF dynamic-range) operator 14: the first hybrid layer, a 1x1
    # expansion 16 -> 96 whose asymmetric input scale was one ulp off before.
    ("CONV_2D", (1, 112, 112, 16), (96, 1, 1, 16), 1),
    # its operator 31: 3x3 depthwise over 144 channels (the vector loop's scale order)
    ("DEPTHWISE_CONV_2D", (1, 56, 56, 144), (1, 3, 3, 144), 1),
    # 6 channels: 4 in the vector loop, 2 in the scalar tail (the other order)
    ("DEPTHWISE_CONV_2D", (1, 9, 9, 6), (1, 3, 3, 6), 2),
])
def test_efficientnet_layers_match_litert_exactly(op, x_shape, w_shape, stride):
    rng = np.random.default_rng(14)
    n = w_shape[0] if op == "CONV_2D" else w_shape[3]
    # Per-channel symmetric weights as TF's dynamic-range quantizer writes them: each
    # channel reaches +-127, scales around 2e-3, float32 bias.
    w = rng.integers(-127, 128, w_shape).astype(np.int8)
    ch_axis = 0 if op == "CONV_2D" else 3
    idx = [slice(None)] * 4
    for c in range(n):
        idx[ch_axis] = c
        w[tuple(idx)].flat[0] = 127
    ws = rng.uniform(1e-3, 3e-3, n).astype(np.float32)
    bias = (rng.standard_normal(n) * 0.2).astype(np.float32)
    if op == "CONV_2D":
        o, kernel = Conv2DOptionsT(), Conv2DHybrid
    else:
        o, kernel = DepthwiseConv2DOptionsT(), DepthwiseConv2DHybrid
        o.depthMultiplier = 1
    o.padding, o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor = 0, stride, stride, 1, 1
    oh = -(-x_shape[1] // stride)
    spec = Spec(op, [TSpec(x_shape, np.float32), TSpec(w_shape, np.int8, (ws, np.zeros(n, np.int64), ch_axis), w, True),
                     TSpec((n,), np.float32, None, bias, True)],
                [TSpec((1, oh, oh, n), np.float32)], o, version=5)
    for seed in range(3):
        x = _swish_like(np.random.default_rng(seed), x_shape)
        (got,) = run_edgelite(spec, [x], kernel_type=kernel)
        _close(got, run_litert(spec, [x])[0])


# -- EMBEDDING_LOOKUP --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(10, 4), (7, 3, 2), (5, 1)])
@pytest.mark.parametrize("per_row", [False, True])
def test_embedding_lookup_matches_litert_exactly(shape, per_row):
    rng = np.random.default_rng(sum(shape))
    table = rng.integers(-128, 128, shape).astype(np.int8)
    s = rng.uniform(0.001, 0.1, shape[0] if per_row else 1).astype(np.float32)
    ids = rng.integers(0, shape[0], 6).astype(np.int32)
    spec = Spec("EMBEDDING_LOOKUP", [TSpec((6,), np.int32), TSpec(shape, np.int8, (s, np.zeros(s.size, np.int64), 0), table, True)],
                [TSpec((6,) + shape[1:], np.float32)])
    (got,) = run_edgelite(spec, [ids], kernel_type=EmbeddingLookupHybrid)
    np.testing.assert_array_equal(got, run_litert(spec, [ids])[0])
    np.testing.assert_array_equal(got, table[ids].astype(np.float32) * s[ids if per_row else 0].reshape((-1,) + (1,) * (len(shape) - 1)))


def test_embedding_lookup_out_of_range_id_raises():
    spec = Spec("EMBEDDING_LOOKUP", [TSpec((2,), np.int32), TSpec((3, 2), np.int8, (0.5, 0), np.zeros((3, 2), np.int8), True)],
                [TSpec((2, 2), np.float32)])
    with pytest.raises(IndexError):
        run_edgelite(spec, [np.array([0, 3], np.int32)])
