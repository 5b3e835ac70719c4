"""The quantized binary kernels' prepared calls (``bind``), split over the thread pool,
against ``eval_jit`` (one thread): same-shape inputs and a squeeze-excitation broadcast,
with LiteRT's SIMD / scalar forms (``bulk``) at chunk edges."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.compute import bound, native_pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA
from edgelite.interpreter.kernels.base import select_kernel
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.MulOptions import MulOptionsT
from edgelite.schema.fb.SubOptions import SubOptionsT
from tests.interpreter.kernels.quant_harness import Spec, TSpec, make_context

OPTS = {"ADD": AddOptionsT, "SUB": SubOptionsT, "MUL": MulOptionsT}

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed or disabled: no prepared calls to share")


def _run_bound(k, params, arrays, outs, threads):
    calls = k.bind(params, arrays, outs)
    assert calls is not None
    split = False
    for fn, args in calls:
        fn = bound.resolve(fn, threads)
        bound.first_run(fn, args)  # compiles
        fn = bound.direct_entry(fn, args)
        split |= isinstance(fn, (native_pool.NativeCall, bound.Pooled))
        for _ in range(3):
            fn(*args)
    return split


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", [((1, 56, 56, 24), (1, 56, 56, 24)), ((200003,), (200003,)),
                                    ((1, 56, 56, 96), (1, 1, 1, 96)), ((1, 1, 1, 40), (1, 60, 60, 40))])
def test_split_calls_equal_one_thread(op, dt, shapes):
    rng = np.random.default_rng(zlib.crc32(f"{op}{dt.__name__}{shapes}".encode()))
    off = 128 if dt == np.uint8 else 0
    out_shape = np.broadcast_shapes(*shapes)
    o = OPTS[op]()
    o.fusedActivationFunction = 1
    s1, s2 = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.01, 0.1))
    so = (s1 * s2 if op == "MUL" else s1) * float(rng.uniform(1.2, 3))  # MUL: a multiplier below 1 (fused plan)
    spec = Spec(op, [TSpec(shapes[0], dt, (s1, int(rng.integers(-30, 30)) + off)),
                     TSpec(shapes[1], dt, (s2, int(rng.integers(-30, 30)) + off))],
                [TSpec(out_shape, dt, (so, int(rng.integers(-30, 30)) + off))], o)
    x1 = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, shapes[0]).astype(dt)
    x2 = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, shapes[1]).astype(dt)
    ctx = make_context(spec, use_jit=True)
    ctx.num_threads = 2
    k = select_kernel(ctx)
    params = k.prepare(ctx)
    assert params.plan is not None, "these scales have a fused plan"
    want = np.empty(out_shape, dt)
    k.eval_jit(params, [x1, x2], [want])
    got = np.full(out_shape, 7, dt)
    split = _run_bound(k, params, [x1, x2], [got], 2)
    # 40 channels: LiteRT's SIMD loop covers 32 of each run, so the runs are not tiled
    # (their walk stays serial); every other case here is large enough to be split
    assert split or shapes[0][-1] == 40, "large enough to be split"
    np.testing.assert_array_equal(got, want)
    one = np.full(out_shape, 7, dt)
    ctx1 = make_context(spec, use_jit=True)
    p1 = k.prepare(ctx1)
    _run_bound(k, p1, [x1, x2], [one], 1)
    np.testing.assert_array_equal(one, want)


def test_scalar_tail_keeps_its_form_across_chunks():
    """ADD with a tiny output scale: LiteRT's SIMD lanes wrap to int16 where its scalar
    tail does not, so the tail's 15 values show which form each chunk gave them."""
    op = "ADD"
    dt = np.int8
    n = 200_015
    rng = np.random.default_rng(5)
    s1, s2 = 0.05, 0.07
    so = s1 * 0.004
    spec = Spec(op, [TSpec((n,), dt, (s1, 3)), TSpec((n,), dt, (s2, -5))], [TSpec((n,), dt, (so, 0))], OPTS[op]())
    x1 = rng.integers(-128, 128, n).astype(dt)
    x2 = rng.integers(-128, 128, n).astype(dt)
    ctx = make_context(spec, use_jit=True)
    ctx.num_threads = 2
    k = select_kernel(ctx)
    params = k.prepare(ctx)
    assert params.plan is not None and 0 < params.plan.bulk < n
    want = np.empty(n, dt)
    k.eval_jit(params, [x1, x2], [want])
    p0 = np.asarray(params.plan.prm)
    assert not np.array_equal(p0[0], p0[1]), "two forms"
    got = np.full(n, 7, dt)
    assert _run_bound(k, params, [x1, x2], [got], 2)
    np.testing.assert_array_equal(got, want)
