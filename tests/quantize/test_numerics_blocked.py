"""The blocked weight arithmetic (``quantize_array``, ``symmetric_weights``,
``weight_error``) and its Numba kernels (``weight_kernels``) against the whole-array
code they replaced, kept here as the oracle: the same integers and floats, bit for
bit, on shapes that take every blocking branch (blocks of rows, of channels within a
row, a row longer than a block), per tensor and per channel along every axis, and on
values that test rounding (halves), clipping, infinities, NaN and signed zeros. The
tests that reach ``symmetric_weights`` / ``weight_error`` run twice: numpy blocks
(Numba not loaded) and the kernels (compiled, or their Python bodies without Numba)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edgelite.interpreter.compute import jit
from edgelite.quantize import bias_correction, numerics, weight_kernels
from edgelite.quantize.bias_correction import dequantize_weights, expected_output_shift, weight_error
from edgelite.quantize.numerics import abs_max, channel_blocks, quantize_array, quantize_bias, symmetric_weights

# Without Numba the kernels run as Python loops: keep their cases small there.
_KERNEL_MAX = None if jit.HAVE_NUMBA else 20_000


@pytest.fixture(params=["numpy", "kernels"])
def path(request, monkeypatch):
    """Which implementation ``symmetric_weights`` and ``weight_error`` use."""
    if request.param == "kernels":
        if jit.HAVE_NUMBA:
            assert jit.wait_until_warm()
        chosen = weight_kernels
    else:
        chosen = None
    monkeypatch.setattr(numerics, "weight_kernels", lambda: chosen)
    monkeypatch.setattr(bias_correction, "weight_kernels", lambda: chosen)
    return request.param


def _skip_if_slow(path, size):
    if path == "kernels" and _KERNEL_MAX is not None and size > _KERNEL_MAX:
        pytest.skip("Python-loop kernels (no Numba): small cases only")


# -- the replaced implementations (edgelite before the blocked loops), verbatim in effect


def _old_quantize_array(x, scales, zero_points, dim, qmin, qmax):
    x = np.asarray(x, np.float64)
    scales = np.asarray(scales, np.float64)
    zero_points = np.asarray(zero_points, np.int64)
    if dim is not None and len(scales) > 1:
        shape = [1] * x.ndim
        shape[dim] = len(scales)
        scales = scales.reshape(shape)
        zero_points = zero_points.reshape(shape)
    else:
        scales, zero_points = scales.reshape(()), zero_points.reshape(())
    if x.ndim == 0:
        return np.clip(np.round(x / scales) + zero_points, qmin, qmax).astype(np.int64)
    y = np.divide(x, scales)
    np.round(y, out=y)
    np.add(y, zero_points, out=y)
    np.clip(y, qmin, qmax, out=y)
    return y.astype(np.int64)


def _old_symmetric_weights(w, dim, bits=8):
    qmax = 2 ** (bits - 1) - 1
    w = np.asarray(w, np.float32)
    if dim is None:
        bound = np.array([np.max(np.abs(w))], np.float64) if w.size else np.zeros(1)
    else:
        axes = tuple(a for a in range(w.ndim) if a != dim)
        bound = np.max(np.abs(w), axis=axes).astype(np.float64) if w.size else np.zeros(w.shape[dim])
    scales = np.where(bound > 0, bound / qmax, 1.0).astype(np.float32)
    q = _old_quantize_array(w, scales, np.zeros(len(scales), np.int64), dim, -qmax, qmax)
    return q.astype(np.int8 if bits == 8 else np.int16), scales


def _old_legal_bound(data, dim):
    w = np.abs(np.asarray(data, np.float64))
    axes = tuple(a for a in range(w.ndim) if a != dim)
    return w.max(axis=axes) if dim is not None else np.array([w.max(initial=0.0)])


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


# Shapes that exercise each branch of ``channel_blocks`` (with _BLOCK = 2**14): many
# small rows, rows longer than a block, channels split within a row, one channel.
SHAPES = [
    (5,), (3, 7), (64, 3, 3, 16), (1, 3, 3, 40), (8, 3, 3, 600), (1, 5, 5, 5000), (40000,),
    (3, 20000), (2, 2, 9000), (1000, 512), (20, 1, 1, 1), (0, 3, 3, 4), (4, 0),
]


def _weights(shape, seed):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal(shape) * rng.uniform(0.01, 3)).astype(np.float32)
    if w.size:
        flat = w.reshape(-1)
        k = min(flat.size, 64)
        flat[:k] = np.float32(0.0)  # whole (zero) channels for small shapes
        flat[rng.integers(0, flat.size, min(flat.size, 50))] = -0.0
    return w


@pytest.mark.parametrize("shape", SHAPES)
def test_symmetric_weights_same_bits_as_before(shape, path):
    _skip_if_slow(path, int(np.prod(shape)))
    w = _weights(shape, len(shape) * 1000 + sum(shape))
    for dim in [None] + list(range(len(shape))):
        for bits in (8, 16):
            if w.size == 0 and dim is not None and shape[dim] == 0:
                # No channels: both refuse (a weight with no output channel).
                with pytest.raises(ValueError):
                    _old_symmetric_weights(w, dim, bits)
                with pytest.raises(ValueError):
                    symmetric_weights(w, dim, bits)
                continue
            q, s = symmetric_weights(w, dim, bits)
            q0, s0 = _old_symmetric_weights(w, dim, bits)
            _same(q, q0)
            _same(s, s0)
            if w.size:
                _same(symmetric_weights(w, dim, bits, bound=abs_max(w, dim))[0], q0)
                _same(abs_max(w, dim), _old_legal_bound(w, dim))


@pytest.mark.parametrize("shape", SHAPES)
def test_quantize_array_same_bits_as_before(shape):
    rng = np.random.default_rng(sum(shape) + 7)
    x = (rng.standard_normal(shape) * 50).astype(np.float32)
    for dim in [None] + list(range(len(shape))):
        c = shape[dim] if dim is not None else 1
        if c == 0:
            continue
        scales = rng.uniform(0.01, 1.0, c).astype(np.float32)
        zps = rng.integers(-128, 128, c)
        for lo, hi, dtype in [(-128, 127, np.int8), (-127, 127, np.int8), (-32767, 32767, np.int16),
                              (-(2**31), 2**31 - 1, np.int32), (-(2**31), 2**31 - 1, None)]:
            old = _old_quantize_array(x, scales, zps, dim, lo, hi)
            if dtype is None:
                _same(quantize_array(x, scales, zps, dim, lo, hi), old)
            else:
                _same(quantize_array(x, scales, zps, dim, lo, hi, dtype=dtype), old.astype(dtype))


def test_quantize_array_rounding_edges_same_as_before():
    # Halves (round half to even), values that clip, infinities, NaN, signed zeros,
    # float64 inputs, 0-d inputs, and a zero point given once for many channels.
    halves = np.arange(-300.5, 300.5, 0.5)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e30, -1e30, 5e-324])
    x = np.concatenate([halves, special, np.linspace(-1e4, 1e4, 40001)])
    for dtype_in in (np.float32, np.float64):
        xi = x.astype(dtype_in)
        for scale in (1.0, 0.5, 0.1, 3e-3):
            for lo, hi in [(-128, 127), (-(2**31), 2**31 - 1), (np.iinfo(np.int64).min, np.iinfo(np.int64).max)]:
                with np.errstate(all="ignore"):
                    old = _old_quantize_array(xi, np.array([scale]), np.array([3]), None, lo, hi)
                    _same(quantize_array(xi, np.array([scale]), np.array([3]), None, lo, hi), old)
    for v in (2.5, -0.5, np.float32(7.49), 1e12):
        _same(quantize_array(np.float64(v), np.array([0.5]), np.array([1]), None, -128, 127),
              _old_quantize_array(np.float64(v), np.array([0.5]), np.array([1]), None, -128, 127))
    w = np.random.default_rng(1).standard_normal((6, 3000)).astype(np.float32)
    _same(quantize_array(w, np.full(6, 0.01), np.zeros(6, np.int64), 0, -127, 127),
          _old_quantize_array(w, np.full(6, 0.01), np.zeros(6, np.int64), 0, -127, 127))
    # Non-contiguous input (a transposed view).
    wt = np.random.default_rng(2).standard_normal((300, 70)).astype(np.float32).T
    s = np.linspace(0.01, 0.1, 70)
    _same(quantize_array(wt, s, np.zeros(70, np.int64), 0, -127, 127),
          _old_quantize_array(wt, s, np.zeros(70, np.int64), 0, -127, 127))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=4), st.integers(0, 2**31 - 1), st.integers(1, 12))
def test_blocked_quantization_same_as_before_any_shape_and_block(shape, seed, block_log):
    """Shapes against block sizes from two elements up (numpy blocks: the kernels
    have no blocks; they are checked on these shapes below)."""
    shape = tuple(shape)
    assume(int(np.prod(shape)) <= 3000)
    w = _weights(shape, seed)
    saved = numerics._BLOCK
    numerics._BLOCK = 1 << block_log
    try:
        for dim in [None] + list(range(len(shape))):
            q, s = symmetric_weights(w, dim)
            q0, s0 = _old_symmetric_weights(w, dim)
            _same(q, q0)
            _same(s, s0)
            scales = s.astype(np.float64)
            _same(weight_error(q, s, dim if dim is not None else 0, w),
                  dequantize_weights(q, s, dim if dim is not None else 0) - w.astype(np.float64))
            _same(quantize_bias(w.reshape(-1)[: len(s)].astype(np.float64) * 7, 0.03, scales)[0],
                  _old_quantize_array(w.reshape(-1)[: len(s)].astype(np.float64) * 7,
                                      np.float32(0.03) * s, np.zeros(len(s), np.int64),
                                      0 if len(s) > 1 else None, -(2**31), 2**31 - 1).astype(np.int32))
    finally:
        numerics._BLOCK = saved


def test_channel_blocks_cover_the_array_once_in_order():
    for shape in SHAPES:
        for dim in [None] + list(range(len(shape))):
            c = shape[dim] if dim is not None else 1
            view, blocks = channel_blocks(shape, dim, c)
            assert int(np.prod(view)) == int(np.prod(shape))
            seen = np.zeros(view, np.int64)
            order = np.arange(seen.size).reshape(view)
            last = -1
            for rows, chans in blocks:
                seen[rows, chans] += 1
                if not seen[rows, chans].size:
                    continue
                first = order[rows, chans].min()
                assert first > last  # blocks go forward through memory
                last = first
            assert (seen == 1).all()


@pytest.mark.parametrize("shape,dim", [((64, 3, 3, 32), 0), ((1, 3, 3, 700), 3), ((1000, 512), 0),
                                       ((16, 1, 1, 8), 0), ((8, 3, 3, 4), 0)])
def test_weight_error_and_shift_same_as_before(shape, dim, path):
    _skip_if_slow(path, int(np.prod(shape)))
    rng = np.random.default_rng(shape[0])
    w = _weights(shape, 5)
    q, s = symmetric_weights(w, dim)
    dw = weight_error(q, s, dim, w)
    _same(dw, dequantize_weights(q, s, dim) - np.asarray(w, np.float64))
    # Per tensor too (one scale).
    qt, st_ = symmetric_weights(w, None)
    _same(weight_error(qt, st_, 0, w), dequantize_weights(qt, st_, 0) - np.asarray(w, np.float64))
    assert dw.flags.c_contiguous and dw.dtype == np.float64
    if len(shape) == 4 and dim == 0:

        class Opts:
            padding, strideH, strideW = 0, 1, 1

        x = rng.standard_normal((1, 9, 9, shape[3]))
        wq = dequantize_weights(q, s, dim)
        from edgelite.quantize.bias_correction import shift_of_weight_error

        _same(shift_of_weight_error("CONV_2D", Opts, x, dw), expected_output_shift("CONV_2D", Opts, x, w, wq))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_kernels_same_as_before_any_shape(shape, seed):
    shape = tuple(shape)
    assume(int(np.prod(shape)) <= 3000)
    w = _weights(shape, seed)
    if seed % 3 == 0:
        w[..., :1] *= np.float32(1e-38)  # tiny channels: subnormal scales
    for dim in [None] + list(range(len(shape))):
        q0, s0 = _old_symmetric_weights(w, dim)
        q, s = symmetric_weights(w, dim)  # whatever path is live
        view, _ = channel_blocks(w.shape, dim, len(s0))
        qk = np.empty(w.shape, np.int8)
        weight_kernels._symmetric_kernel(w.reshape(view), s0.astype(np.float64), 127, qk.reshape(view))
        _same(qk, q0)
        _same(q, q0)
        ek = np.empty(w.shape, np.float64)
        weight_kernels._weight_error_kernel(q0.reshape(view), s0.astype(np.float64), w.reshape(view), ek.reshape(view))
        _same(ek, dequantize_weights(q0, s0, dim if dim is not None else 0) - w.astype(np.float64))


def test_kernels_refused_for_non_finite_weights(path):
    """NaN / inf weights take the numpy code (the kernel assumes finite values), and
    give the old bits."""
    w = np.random.default_rng(3).standard_normal((4, 3, 3, 5)).astype(np.float32)
    w[1, 0, 0, 0], w[2, 1, 1, 1] = np.nan, np.inf
    with np.errstate(all="ignore"):
        for dim in (None, 0, 3):
            q0, s0 = _old_symmetric_weights(w, dim)
            q, s = symmetric_weights(w, dim)
            _same(q, q0)
            _same(s, s0)
            _same(weight_error(q, s, dim if dim is not None else 0, w),
                  dequantize_weights(q, s, dim if dim is not None else 0) - w.astype(np.float64))
