"""Float DEPTHWISE_CONV_2D's interior runs (``depthwise_float._interior_run``) against the
per-pixel kernel they replaced, bit for bit.

``_old_depthwise_rows`` is the JIT kernel as it was before the interior runs (every
pixel one at a time, a fused nine-term sum for 3x3 windows inside the image), kept
here as the slow oracle: the new kernel must give the same bits on every shape,
stride, dilation, padding and multiplier, inf and -0.0 included.

NaN: an element is NaN in one exactly when it is NaN in the other, but the sign and
payload of a NaN are not compared. When two NaNs meet in an add (say ``inf - inf``,
x86's negative default NaN, plus a positive NaN from the input), x86 returns the
first operand's, and LLVM treats ``fadd`` as commutative (LangRef: the sign and payload
of a NaN result are unspecified), so which one wins is the register allocator's
choice in each compiled loop, not a property of the source: the old kernel itself
makes it differently in different builds of the same expression.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.interpreter.kernels.conv.test_conv_float import dw_spec
from tests.interpreter.kernels.float_harness import make_context
from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.pool import fetch_add
from edgelite.interpreter.kernels.base import select_kernel


@njit
def _old_depthwise_rows(x, w, bias, lo, hi, out, sh, sw, dh, dw, pad_h, pad_w, mult, n_chunks, ctr):
    """The kernel before the interior runs (commit aa746c6), unchanged."""
    nb, h, wd, cin = x.shape
    kh, kw, cout = w.shape
    oh = out.shape[1]
    ow = out.shape[2]
    fast = kh == 3 and kw == 3 and mult == 1
    rows = nb * oh
    per = (rows + n_chunks - 1) // n_chunks
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        for r in range(ch * per, min(rows, (ch + 1) * per)):
            b = r // oh
            oy = r - b * oh
            iy0 = oy * sh - pad_h
            i1 = iy0 + dh
            i2 = iy0 + 2 * dh
            rows_inside = fast and iy0 >= 0 and i2 < h
            for ox in range(ow):
                ix0 = ox * sw - pad_w
                j1 = ix0 + dw
                j2 = ix0 + 2 * dw
                if rows_inside and ix0 >= 0 and j2 < wd:
                    for c in range(cout):
                        v = (bias[c]
                             + x[b, iy0, ix0, c] * w[0, 0, c] + x[b, iy0, j1, c] * w[0, 1, c] + x[b, iy0, j2, c] * w[0, 2, c]
                             + x[b, i1, ix0, c] * w[1, 0, c] + x[b, i1, j1, c] * w[1, 1, c] + x[b, i1, j2, c] * w[1, 2, c]
                             + x[b, i2, ix0, c] * w[2, 0, c] + x[b, i2, j1, c] * w[2, 1, c] + x[b, i2, j2, c] * w[2, 2, c])
                        out[b, oy, ox, c] = min(max(v, lo), hi)
                    continue
                for c in range(cout):
                    out[b, oy, ox, c] = bias[c]
                for ky in range(kh):
                    iy = iy0 + ky * dh
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ix0 + kx * dw
                        if ix < 0 or ix >= wd:
                            continue
                        if mult == 1:
                            for c in range(cout):
                                out[b, oy, ox, c] += x[b, iy, ix, c] * w[ky, kx, c]
                        else:
                            for c in range(cin):
                                v = x[b, iy, ix, c]
                                for j in range(mult):
                                    out[b, oy, ox, c * mult + j] += v * w[ky, kx, c * mult + j]
                for c in range(cout):
                    out[b, oy, ox, c] = min(max(out[b, oy, ox, c], lo), hi)

        fetch_add(ctr, 1, 1)


def old_kernel(p, x, out):
    """Run the old kernel with a prepared ``DepthwiseParams`` (one thread)."""
    pool.run(_old_depthwise_rows, (x, p.w, p.bias, p.lo, p.hi, out, *p.win.taps[2:], p.multiplier, np.int64(1)),
             1, 1)


def sprinkle(rng, a, frac=0.08):
    """``a`` with a fraction of its values replaced by NaN, +-inf, +-0.0 and huge values."""
    a = a.copy()
    flat = a.reshape(-1)
    k = max(1, int(frac * flat.size))
    idx = rng.choice(flat.size, size=min(k, flat.size), replace=False)
    flat[idx] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 3e38, -3e38], np.float32), size=idx.size)
    return a


def assert_bit_identical(got, want, what=""):
    """Same bits wherever ``want`` is not NaN (-0.0 and inf included), NaN where it is NaN."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32, what
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg=f"{what}: NaN positions")
    g, w = got.view(np.uint32)[~nan], want.view(np.uint32)[~nan]
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, (f"{what}: {bad.size} of {g.size} non-NaN elements differ, "
                           f"first {got[~nan][bad[0]]!r} vs {want[~nan][bad[0]]!r}")


def run_both(x, w, b, s, d, same, act, threads=1):
    spec = dw_spec(x.shape, w, b, s, d, same, act)
    ctx = make_context(spec, use_jit=True)
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    shape = ctx.output_shapes[0]
    want = np.full(shape, 7.0, np.float32)
    old_kernel(p, x, want)
    got = np.full(shape, -7.0, np.float32)
    if threads > 1:
        p = type(p)(**{**p.__dict__, "threads": threads})
    k.eval_jit(p, [x, w, b], [got])
    return p, got, want


C_SET = [1, 3, 8, 16, 17, 32, 96, 144]


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.choice([3, 3, 5]))
        s = (int(rng.choice([1, 2])), int(rng.choice([1, 1, 2])))
        d = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2])))
        same = bool(rng.integers(2))
        eff = (k - 1) * max(d) + 1
        h = int(rng.choice([1, 3, 5, 7, 9, 11, 13])) if same else int(rng.integers(eff, eff + 8))
        wd = int(rng.choice([1, 3, 5, 7, 9, 11, 13, 15])) if same else int(rng.integers(eff, eff + 10))
        yield (int(rng.choice(C_SET)), int(rng.choice([1, 1, 1, 2])), k, s, d, same, h, wd,
               int(rng.choice([0, 3, 1])), int(rng.integers(2**31)))


@pytest.mark.parametrize("c,mult,k,s,d,same,h,wd,act,seed", list(_cases(60, 11)))
@pytest.mark.parametrize("special", [False, True])
def test_interior_runs_equal_the_old_kernel_bits(c, mult, k, s, d, same, h, wd, act, seed, special):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, wd, c)).astype(np.float32)
    w = rng.standard_normal((1, k, k, c * mult)).astype(np.float32)
    b = rng.standard_normal(c * mult).astype(np.float32)
    if special:
        x, w, b = sprinkle(rng, x), sprinkle(rng, w, 0.05), sprinkle(rng, b, 0.2)
    p, got, want = run_both(x, w, b, s, d, same, act)
    assert (p.wt.shape[1] > 0) == (mult == 1)  # the interior runs took part where they apply
    assert_bit_identical(got, want, f"new vs old kernel {x.shape} k{k} s{s} d{d} same={same} m{mult}")


@pytest.mark.parametrize("shape,k,s", [((2, 6, 41, 16), 3, (1, 1)), ((1, 17, 19, 32), 3, (2, 2)),
                                       ((2, 7, 30, 24), 5, (1, 1)), ((1, 13, 15, 40), 5, (2, 2)),
                                       ((1, 5, 201, 3), 3, (1, 1)), ((1, 5, 9, 600), 3, (1, 1))])
def test_interior_runs_longer_than_a_chunk(shape, k, s):
    # rows longer than the tiled weights (m pixels): several chunks per row, a short last one
    rng = np.random.default_rng(3)
    x = sprinkle(rng, rng.standard_normal(shape).astype(np.float32), 0.01)
    w = rng.standard_normal((1, k, k, shape[3])).astype(np.float32)
    b = np.where(rng.random(shape[3]) < 0.3, np.float32(-0.0), rng.standard_normal(shape[3]).astype(np.float32))
    p, got, want = run_both(x, w, b, s, (1, 1), True, 3)
    assert p.wt.shape[1] < (p.win.out_w - 2) * shape[3] or s[1] > 1
    assert_bit_identical(got, want)


def test_minus_zero_and_inf_times_zero_at_the_edges():
    # x all -0.0 and bias -0.0: skipped taps keep -0.0 (a padded zero would add +0.0);
    # an inf weight on a tap that falls in the padding must not make NaN
    x = np.full((1, 5, 6, 8), -0.0, np.float32)
    w = np.full((1, 3, 3, 8), 0.5, np.float32)
    w[0, 0, 0, :] = np.inf
    b = np.full(8, -0.0, np.float32)
    x[0, 2, 3, :4] = 1.0  # some finite interior values: inf * 1 = inf in the windows that see it
    p, got, want = run_both(x, w, b, (1, 1), (1, 1), True, 0)
    assert_bit_identical(got, want)
    assert np.signbit(got[0, 0, 0, 0]) and not np.isnan(got[0, 0]).any()


@pytest.mark.parametrize("threads,s", [(2, (1, 1)), (2, (2, 2)), (3, (1, 1))])
def test_shared_with_the_pool_equals_the_old_kernel(threads, s):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 41, 37, 24)).astype(np.float32)
    w = rng.standard_normal((1, 3, 3, 24)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    p, got, want = run_both(x, w, b, s, (1, 1), True, 3, threads=threads)
    assert_bit_identical(got, want)
