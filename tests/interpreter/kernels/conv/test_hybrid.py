"""Hybrid (dynamic-range) kernels: float32 activations, int8 weights.

The on-the-fly input quantizers are checked by hand (including the rounding of the
x86 wheel's vector loop and the float32 width of the asymmetric range), then
FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D and EMBEDDING_LOOKUP are compared with
LiteRT's builtin kernels over hypothesis-drawn shapes and scales, bit for bit: the
integer parts are exact and the float parts follow LiteRT's float32 operation order
(a one-ulp difference in a scale is enough to move a later layer's quantization).
The JIT forms (``eval_jit``: Numba quantizer, int32 product on the VNNI kernels where
the CPU has them) are held to the same standard, and to the float-BLAS form with the
VNNI kernels switched off."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import VNNI_MODES, Spec, TSpec, run_edgelite, run_litert, vnni_mode
from tests.interpreter.kernels.qspecs import out_hw

from edgelite.interpreter.compute import dynamic_range as hc
from edgelite.interpreter.compute import simd_gemm
from edgelite.interpreter.compute.jit import HAVE_NUMBA
from edgelite.interpreter.kernels.movement.embedding_hybrid import EmbeddingLookupHybrid
from edgelite.interpreter.kernels.conv.conv_hybrid import Conv2DHybrid
from edgelite.interpreter.kernels.conv.depthwise_hybrid import DepthwiseConv2DHybrid
from edgelite.interpreter.kernels.matmul.fully_connected_hybrid import FullyConnectedHybrid
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed (or EDGELITE_DISABLE_JIT=1)")


def _run(spec, feeds, use_jit, kernel_type):
    """edgelite's output; with ``use_jit`` also check which product prepare chose."""
    from tests.interpreter.kernels.quant_harness import make_context, select_kernel

    if use_jit:
        ctx = make_context(spec, True)
        p = select_kernel(ctx).prepare(ctx)
        k = int(np.prod(spec.inputs[1].shape[1:]))
        assert (p.vnni is not None) == simd_gemm.usable(k)
        assert p.w_gemm_t.size == 0 or p.vnni is None  # no float copy beside the packed one
    return run_edgelite(spec, feeds, use_jit=use_jit, kernel_type=kernel_type)


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


@needs_numba
def test_jit_quantizer_rounds_like_the_wheel_by_hand():
    # the same tie as above through the Numba loop: 8 vector lanes round up, the tail down
    x = np.full((1, 10), np.float32(0.49999997), np.float32)
    x[0, 0] = np.float32(127)  # range 127: inv = 1
    q, s, _ = hc.quantize_rows_jit(x, False)
    assert s[0] == np.float32(1) and q[0].tolist() == [127] + [1] * 7 + [0, 0]


@needs_numba
@settings(max_examples=200, **SETTINGS)
@given(rows=st.integers(1, 3), n=st.integers(0, 40), asym=st.booleans(), relu=st.booleans(), grid=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_jit_quantizer_equals_numpy_quantizer(rows, n, asym, relu, grid, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, n)) * rng.uniform(0.01, 10) + rng.uniform(-2, 2)).astype(np.float32)
    if relu:
        x = np.maximum(x, 0)
    if grid:  # values on a coarse grid land on exact ties more often
        x = (np.round(x * 2) / 2).astype(np.float32)
    if rows > 1 and seed % 3 == 0:
        x[1] = 0
    want, got = hc.quantize_rows(x, asym), hc.quantize_rows_jit(x, asym)
    for a, b in zip(want, got):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# -- FULLY_CONNECTED ---------------------------------------------------------------------


@settings(max_examples=40, **SETTINGS)
@given(m=st.integers(1, 5), k=st.integers(1, 1200), n=st.integers(1, 24), per_channel=st.booleans(),
       asym=st.booleans(), act=st.sampled_from([0, 1, 3]), seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("mode", VNNI_MODES)
def test_fully_connected_matches_litert(mode, m, k, n, per_channel, asym, act, seed):
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
    with vnni_mode(mode) as use_jit:
        (got,) = _run(spec, [x], use_jit, FullyConnectedHybrid)
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
@pytest.mark.parametrize("mode", VNNI_MODES)
def test_conv_matches_litert(mode, g, n, scales, relu_input, seed):
    assume(_fits(g))
    spec, x = _conv_spec(np.random.default_rng(seed), "CONV_2D", g, n, scales)
    if relu_input:
        x = np.maximum(x, 0)  # zero point at -128, as after a ReLU
    with vnni_mode(mode) as use_jit:
        (got,) = _run(spec, [x], use_jit, Conv2DHybrid)
    _close(got, run_litert(spec, [x])[0])


@settings(max_examples=40, **SETTINGS)
@given(g=geometry, mult=st.integers(1, 3), equal=st.booleans(), seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("mode", ["reference", "jit"])
def test_depthwise_matches_litert(mode, g, mult, equal, seed):
    assume(_fits(g))
    spec, x = _conv_spec(np.random.default_rng(seed), "DEPTHWISE_CONV_2D", g, g[3] * mult, "equal" if equal else "distinct")
    with vnni_mode(mode) as use_jit:
        (got,) = run_edgelite(spec, [x], use_jit=use_jit, kernel_type=DepthwiseConv2DHybrid)
    _close(got, run_litert(spec, [x])[0])


@needs_numba
@pytest.mark.parametrize("g, n, scales, threads", [
    # batch 2 (a zero point per batch, padding holding it), SAME padding, stride 2
    ((2, 17, 15, 24, 3, 3, 2, 2, 1, 1, 0, 0), 40, "distinct", 2),
    # K = 3*3*5 = 45 (not a multiple of 4), dilation 2, symmetric input
    ((2, 20, 20, 5, 3, 3, 1, 1, 2, 2, 0, 1), 70, "tensor", 1),
    # a 1x1 layer large enough to run on both threads (the input is the patch matrix)
    ((1, 64, 64, 32, 1, 1, 1, 1, 1, 1, 1, 3), 96, "distinct", 2),
])
def test_conv_vnni_larger_layers_match_reference_and_litert(g, n, scales, threads):
    from tests.interpreter.kernels.quant_harness import make_context, select_kernel

    spec, x = _conv_spec(np.random.default_rng(n), "CONV_2D", g, n, scales)
    ctx = make_context(spec, True)
    ctx.num_threads = threads
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    got = np.empty(ctx.output_shapes[0], np.float32)
    args = [x, np.asarray(spec.inputs[1].data, np.int8).reshape(spec.inputs[1].shape), spec.inputs[2].data]
    k.eval_jit(p, args, [got])
    ref = np.empty_like(got)
    k.eval(p, args, [ref])  # the float-BLAS product on the same params
    _close(got, ref)
    _close(got, run_litert(spec, [x])[0])


@needs_numba
@pytest.mark.parametrize("m, k, n, asym", [(1, 1000, 1001, True), (7, 1280, 33, True), (64, 130, 100, False)])
def test_fully_connected_vnni_larger_layers_match_litert(m, k, n, asym):
    rng = np.random.default_rng(k)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    ws = rng.uniform(0.001, 0.05, n).astype(np.float32)
    o = FullyConnectedOptionsT()
    o.asymmetricQuantizeInputs = asym
    spec = Spec("FULLY_CONNECTED", [TSpec((m, k), np.float32), TSpec((n, k), np.int8, (ws, np.zeros(n, np.int64), 0), w, True),
                                    TSpec((n,), np.float32, None, rng.standard_normal(n).astype(np.float32), True)],
                [TSpec((m, n), np.float32)], o, version=12)
    x = (rng.standard_normal((m, k)) + np.arange(m)[:, None] * 0.3).astype(np.float32)  # a zero point per row
    (got,) = _run(spec, [x], True, FullyConnectedHybrid)
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
@pytest.mark.parametrize("use_jit", [False, pytest.param(True, marks=needs_numba)])
def test_efficientnet_layers_match_litert_exactly(op, x_shape, w_shape, stride, use_jit):
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
        (got,) = run_edgelite(spec, [x], use_jit=use_jit, kernel_type=kernel)
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


def _quantize_rows_jit_per_row(x, asymmetric):
    """The quantizer as it was before its rows moved into one compiled call: per-row
    Python steps (``asymmetric_params``) around the same Numba value loop."""
    rows, n = x.shape
    q = np.zeros(x.shape, np.int8)
    scales = np.ones(rows, np.float32)
    zps = np.zeros(rows, np.int32)
    mins, maxs = x.min(axis=1), x.max(axis=1)
    for r in range(rows):
        if asymmetric:
            if min(np.float32(0), mins[r]) == max(np.float32(0), maxs[r]):
                continue
            s, z = hc.asymmetric_params(mins[r], maxs[r])
            scales[r], zps[r] = s, z
            hc._quantize_row_jit(x[r], np.float32(1.0 / float(s)), z, -128, 127, q[r])
        else:
            rng = max(abs(mins[r]), abs(maxs[r]))
            if rng == 0:
                continue
            scales[r] = rng / np.float32(127)
            hc._quantize_row_jit(x[r], np.float32(127) / rng, 0, -127, 127, q[r])
    return q, scales, zps


@needs_numba
@pytest.mark.parametrize("asym", [False, True])
def test_compiled_rows_equal_the_per_row_steps_on_special_rows(asym):
    rng = np.random.default_rng(11)
    n = 37
    rows = [np.zeros(n), -np.zeros(n), np.full(n, 3.5), np.full(n, -2.0), rng.uniform(0, 1e-40, n),
            rng.uniform(-1e-38, 0, n), rng.standard_normal(n) * 1e30, rng.standard_normal(n),
            np.where(np.arange(n) % 5 == 0, np.nan, rng.standard_normal(n)), np.full(n, np.nan),
            np.where(np.arange(n) == 3, np.inf, rng.standard_normal(n)),
            np.where(np.arange(n) == 4, -np.inf, 0.0), rng.uniform(-1, 0, n), rng.uniform(0, 1, n)]
    x = np.stack(rows).astype(np.float32)
    with np.errstate(all="ignore"):
        want = _quantize_rows_jit_per_row(x, asym)
        got = hc.quantize_rows_jit(x, asym)
    for a, b in zip(want, got):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.view(np.uint8 if a.dtype == np.int8 else a.dtype), b.view(np.uint8 if b.dtype == np.int8 else b.dtype))
