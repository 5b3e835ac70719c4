"""The AVX-512 VNNI int8 GEMM + requantization against the numpy reference.

Exact equality with ``int_gemm.requantize_reference`` of the exact int64 product, over
every tile shape, row and channel tails, depths that are not multiples of 4, extreme
operands, and one and two threads. Skipped where the CPU has no AVX-512 VNNI.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelite.interpreter import fixedpoint as fp
from edgelite.interpreter.kernels import int_gemm, jit, vnni_gemm

pytestmark = pytest.mark.skipif(not vnni_gemm.available(), reason="no AVX-512 VNNI (or no Numba) here")


def _reference(x, w, bias, in_zp, q, s, out_zp, lo, hi):
    acc = (x.astype(np.int64) - in_zp) @ w.astype(np.int64).T
    return int_gemm.requantize_reference(acc, bias, q, s, fp.ROUND_DOUBLE_UP, out_zp, lo, hi, np.int8)


def _run(x, w, bias, in_zp, q, s, out_zp, lo, hi, threads=1):
    m, k = x.shape
    n = w.shape[0]
    tile = vnni_gemm.choose_tile(m, n)
    lda = -(-k // 4) * 4
    a = np.full((m, lda), 77, np.int8)  # bytes past K hold junk: they meet zero weights
    a[:, :k] = x
    out = np.empty((m, n), np.int8)
    tables = int_gemm.fast_requant_tables(q, s, fp.ROUND_DOUBLE_UP)
    assert tables is not None
    b2 = bias + vnni_gemm.bias_correction(w, in_zp)
    old = jit._wanted_threads
    try:
        jit.set_num_threads(threads)
        vnni_gemm.gemm_requant(a, vnni_gemm.pack_weights(w, tile[1]), k, tile, b2, q, tables, out_zp, lo, hi, out, threads)
    finally:
        jit._wanted_threads = old
    return out


def _case(rng, m, k, n):
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    bias = rng.integers(-20000, 20000, n).astype(np.int64)
    q, s = fp.quantize_multiplier_array(list(rng.uniform(1e-5, 0.9, n)))
    return x, w, bias, int(rng.integers(-128, 128)), q, s, int(rng.integers(-20, 20))


def test_pack_weights_layout_by_hand():
    w = np.arange(2 * 5, dtype=np.int8).reshape(2, 5)  # N=2, K=5 -> K4=2, one tile of 16 lanes
    p = vnni_gemm.pack_weights(w, nr=1).reshape(2, 1, 16, 4)  # (k4, nr, lane, 4)
    assert p[0, 0, 0].tolist() == [0, 1, 2, 3] and p[1, 0, 0].tolist() == [4, 0, 0, 0]
    assert p[0, 0, 1].tolist() == [5, 6, 7, 8] and p[1, 0, 1].tolist() == [9, 0, 0, 0]
    assert not p[:, :, 2:].any()


def test_choose_tile():
    assert vnni_gemm.choose_tile(1, 1000) == (1, 8) and vnni_gemm.choose_tile(5, 40) == (1, 1) and vnni_gemm.choose_tile(3, 96) == (1, 2)
    assert vnni_gemm.choose_tile(100, 64) == (6, 4) and vnni_gemm.choose_tile(100, 16) == (12, 1)


def test_choose_nr_prefers_least_padding():
    assert vnni_gemm.choose_nr(64) == 4 and vnni_gemm.choose_nr(48) == 3
    assert vnni_gemm.choose_nr(32) == 2 and vnni_gemm.choose_nr(24) == 2 and vnni_gemm.choose_nr(16) == 1


@pytest.mark.parametrize("n", [1, 16, 24, 32, 48, 64, 96, 160, 1000])
@pytest.mark.parametrize("m", [1, 2, 5, 6, 13, 97])
def test_every_tile_shape_and_tail(m, n):
    rng = np.random.default_rng(m * 1000 + n)
    for k in (1, 3, 8, 27, 144):
        case = _case(rng, m, k, n)
        np.testing.assert_array_equal(_run(*case, -128, 127), _reference(*case, -128, 127))


def test_extreme_operands_and_long_reduction():
    k = 4000
    for xv, wv in ((-128, -127), (127, 127), (-128, 127)):
        x = np.full((7, k), xv, np.int8)
        w = np.full((20, k), wv, np.int8)
        bias = np.zeros(20, np.int64)
        q, s = fp.quantize_multiplier_array([1e-6] * 20)
        for in_zp in (-128, 127):
            args = (x, w, bias, in_zp, q, s, 3)
            np.testing.assert_array_equal(_run(*args, -128, 127), _reference(*args, -128, 127))


@pytest.mark.parametrize("m, k, n", [(1, 5, 3), (7, 64, 40), (50, 27, 100), (300, 200, 16)])
def test_int32_product_is_exact(m, k, n):
    rng = np.random.default_rng(m + k + n)
    x = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = rng.integers(-128, 128, (n, k)).astype(np.int8)
    tile = vnni_gemm.choose_tile(m, n)
    a = np.zeros((m, -(-k // 4) * 4), np.int8)
    a[:, :k] = x
    out = np.empty((m, n), np.int32)
    vnni_gemm.gemm_int32(a, vnni_gemm.pack_weights(w, tile[1]), k, tile, vnni_gemm.bias_correction(w, 0), out)
    np.testing.assert_array_equal(out, x.astype(np.int64) @ w.astype(np.int64).T)


def test_two_threads_equal_one():
    rng = np.random.default_rng(7)
    case = _case(rng, 6000, 200, 40)
    assert vnni_gemm._split(6000, 200, 40, 2) == 2, "large enough to be split"
    np.testing.assert_array_equal(_run(*case, -100, 90, threads=2), _reference(*case, -100, 90))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 70), n=st.integers(1, 80), seed=st.integers(0, 2**31), relu=st.booleans())
def test_random_shapes_match_reference(m, k, n, seed, relu):
    case = _case(np.random.default_rng(seed), m, k, n)
    lo = case[-1] if relu else -128
    np.testing.assert_array_equal(_run(*case, lo, 127), _reference(*case, lo, 127))


@pytest.mark.parametrize("kh, stride, cin, pad", [(3, 2, 5, 0), (3, 1, 8, 1), (1, 1, 6, 0), (1, 1, 16, 0), (1, 2, 8, 0)])
def test_conv_kernel_on_vnni_matches_litert(kh, stride, cin, pad):
    """CONV_2D's eval_jit on the VNNI path (im2col with K % 4 != 0, direct pointwise read,
    strided 1x1) equals LiteRT's built-in kernel."""
    from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
    from tests.interpreter.kernels import quant_harness as qh

    rng = np.random.default_rng(kh * 100 + stride * 10 + cin)
    o = Conv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor, o.fusedActivationFunction = pad, stride, stride, 1, 1, 3
    n, h, w_ = 24, 17, 15
    oh = -(-h // stride) if pad == 0 else (h - kh) // stride + 1
    ow = -(-w_ // stride) if pad == 0 else (w_ - kh) // stride + 1
    w = rng.integers(-127, 128, (n, kh, kh, cin)).astype(np.int8)
    spec = qh.Spec(
        op="CONV_2D", options=o, version=3,
        inputs=[qh.TSpec((1, h, w_, cin), np.int8, (0.05, -4)),
                qh.TSpec(w.shape, np.int8, (rng.uniform(0.001, 0.01, n).astype(np.float32), np.zeros(n, np.int64), 0), data=w, const=True),
                qh.TSpec((n,), np.int32, (np.full(n, 1e-5, np.float32), np.zeros(n, np.int64), 0),
                         data=rng.integers(-3000, 3000, n).astype(np.int32), const=True)],
        outputs=[qh.TSpec((1, oh, ow, n), np.int8, (0.08, 6))],
    )
    x = rng.integers(-128, 128, (1, h, w_, cin)).astype(np.int8)
    qh.check(spec, [x], jit=True)
