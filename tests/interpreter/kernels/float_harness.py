"""Helpers for the float conv / pooling / resize kernel tests.

* ``check_float``: LiteRT (built-in kernels) vs edgelite's ``eval`` and ``eval_jit`` on a
  single-op model, to float rounding.
* Slow, obvious loop references written straight from TFLite's op definitions (one
  output element at a time), independent of the kernels' vectorized formulations.
"""

from __future__ import annotations

import math

import numpy as np

from tests.interpreter.kernels.quant_harness import Spec, TSpec, make_context, run_edgelite, run_litert  # noqa: F401
from edgelite.interpreter.kernels.base import select_kernel


def assert_close(got: np.ndarray, want: np.ndarray, what: str = "", rtol: float = 1e-5) -> None:
    """Equal up to float32 rounding of differently ordered sums."""
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_bit_identical(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    """Same shape, dtype and bytes (NaN payloads and the sign of zero included)."""
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape, got.dtype, want.dtype)
    if got.tobytes() != want.tobytes():
        bad = np.flatnonzero(got.reshape(-1).view(np.uint8 if got.itemsize == 1 else f"u{got.itemsize}")
                             != want.reshape(-1).view(np.uint8 if want.itemsize == 1 else f"u{want.itemsize}"))
        i = int(bad[0])
        raise AssertionError(f"{what}: {bad.size} of {got.size} elements differ in their bits, first at flat index "
                             f"{i}: {got.reshape(-1)[i]!r} vs {want.reshape(-1)[i]!r}")


def check_float(spec: Spec, feeds: list[np.ndarray], rtol: float = 1e-5) -> np.ndarray:
    """Assert LiteRT, edgelite ``eval`` and ``eval_jit`` agree; returns LiteRT's output."""
    want = run_litert(spec, feeds)[0]
    got = run_edgelite(spec, feeds)[0]
    assert_close(got, want, f"{spec.op} eval vs LiteRT", rtol)
    if type(select_kernel(make_context(spec))).eval_jit is not None:
        got_jit = run_edgelite(spec, feeds, use_jit=True)[0]
        assert_close(got_jit, want, f"{spec.op} eval_jit vs LiteRT", rtol)
        # Bit for bit: a process's first invoke runs ``eval`` and later ones
        # ``eval_jit``; the same input must give the same bits every time.
        assert_bit_identical(got_jit, got, f"{spec.op} eval_jit vs eval")
    return want


def f32(rng, shape, scale=1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def tf_out_size(in_size, k, s, d, same):
    eff = (k - 1) * d + 1
    return -(-in_size // s) if same else (in_size - eff) // s + 1


def tf_pad(in_size, k, s, d, out):
    eff = (k - 1) * d + 1
    return max(0, (out - 1) * s + eff - in_size) // 2


def act_clamp(v, act):
    lo, hi = {0: (-math.inf, math.inf), 1: (0.0, math.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}.get(act, (-math.inf, math.inf))
    return min(max(v, lo), hi)


def naive_conv(x, w, b, s, d, same, act):
    """CONV_2D one element at a time (groups = Cin / w.shape[3])."""
    n, h, wd, cin = x.shape
    cout, kh, kw, fc = w.shape
    og = cout // (cin // fc)
    oh, ow = tf_out_size(h, kh, s[0], d[0], same), tf_out_size(wd, kw, s[1], d[1], same)
    ph, pw = tf_pad(h, kh, s[0], d[0], oh), tf_pad(wd, kw, s[1], d[1], ow)
    out = np.zeros((n, oh, ow, cout), np.float32)
    for bi in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(cout):
                    g = o // og
                    acc = 0.0 if b is None else float(b[o])
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * s[0] - ph + ky * d[0], ox * s[1] - pw + kx * d[1]
                            if 0 <= iy < h and 0 <= ix < wd:
                                acc += float(np.dot(x[bi, iy, ix, g * fc:(g + 1) * fc].astype(np.float64), w[o, ky, kx]))
                    out[bi, oy, ox, o] = act_clamp(acc, act)
    return out


def naive_depthwise(x, w, b, s, d, same, act):
    n, h, wd, cin = x.shape
    _, kh, kw, cout = w.shape
    m = cout // cin
    oh, ow = tf_out_size(h, kh, s[0], d[0], same), tf_out_size(wd, kw, s[1], d[1], same)
    ph, pw = tf_pad(h, kh, s[0], d[0], oh), tf_pad(wd, kw, s[1], d[1], ow)
    out = np.zeros((n, oh, ow, cout), np.float32)
    for bi in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(cout):
                    acc = 0.0 if b is None else float(b[o])
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * s[0] - ph + ky * d[0], ox * s[1] - pw + kx * d[1]
                            if 0 <= iy < h and 0 <= ix < wd:
                                acc += float(x[bi, iy, ix, o // m]) * float(w[0, ky, kx, o])
                    out[bi, oy, ox, o] = act_clamp(acc, act)
    return out


def naive_pool(x, kind, f, s, same, act):
    n, h, wd, c = x.shape
    oh, ow = tf_out_size(h, f[0], s[0], 1, same), tf_out_size(wd, f[1], s[1], 1, same)
    ph, pw = tf_pad(h, f[0], s[0], 1, oh), tf_pad(wd, f[1], s[1], 1, ow)
    out = np.zeros((n, oh, ow, c), np.float32)
    for bi in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    vals = [float(x[bi, iy, ix, ch])
                            for iy in range(oy * s[0] - ph, oy * s[0] - ph + f[0])
                            for ix in range(ox * s[1] - pw, ox * s[1] - pw + f[1])
                            if 0 <= iy < h and 0 <= ix < wd]
                    if kind == "AVERAGE_POOL_2D":
                        v = sum(vals) / len(vals)
                    elif kind == "MAX_POOL_2D":
                        v = max(vals)
                    else:
                        v = math.sqrt(sum(t * t for t in vals) / len(vals))
                    out[bi, oy, ox, ch] = act_clamp(v, act)
    return out


def naive_transpose_conv(x, w, b, out_hw, s, same, act):
    n, h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    oh, ow = out_hw
    ph = tf_pad(oh, kh, s[0], 1, tf_out_size(oh, kh, s[0], 1, same))
    pw = tf_pad(ow, kw, s[1], 1, tf_out_size(ow, kw, s[1], 1, same))
    acc = np.zeros((n, oh, ow, cout), np.float64)
    for bi in range(n):
        for iy in range(h):
            for ix in range(wd):
                for ky in range(kh):
                    for kx in range(kw):
                        oy, ox = iy * s[0] - ph + ky, ix * s[1] - pw + kx
                        if 0 <= oy < oh and 0 <= ox < ow:
                            acc[bi, oy, ox] += w[:, ky, kx, :].astype(np.float64) @ x[bi, iy, ix].astype(np.float64)
    if b is not None:
        acc += b
    return np.vectorize(lambda v: act_clamp(v, act))(acc).astype(np.float32)
