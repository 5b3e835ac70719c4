"""The fast numpy reference path of the int8 conv-like kernels (``compute.int8_numpy``).

Each case runs four ways and wants the same bits: the fast reference ``eval`` (its
plan asserted present, so the case cannot pass on the general path by accident), the
general reference ``eval`` (the same params with the plan removed), ``eval_jit`` and
LiteRT's built-in kernel. Edge cases: extreme zero points, per-channel shifts far
apart, padding, stride 2, dilation, reductions longer than one exact float32 GEMM,
tie-heavy scales, channels outside the vectorized rounding, and the layers whose
bounds send them back to the general path. The ARM rounding form has no LiteRT oracle
on x86: there the fast path is compared with the general one and the JIT.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.interpreter.kernels.conv.test_conv_quant import _conv_case
from tests.interpreter.kernels.conv.test_depthwise_quant import _dw_case
from tests.interpreter.kernels.quant_harness import HAVE_NUMBA, make_context, run_edgelite, run_litert
from tests.interpreter.kernels.qspecs import TSpec, bias_for

from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import int8_numpy, int_gemm
from edgelite.interpreter.kernels.base import select_kernel


_FORMS = {"float64": 0, "int64": 0}  # how many fast-path runs each requantization form served


def _run(spec, feeds, *, plan: bool, jit: bool = False, int64: bool = False):
    """``eval`` (or ``eval_jit``) of the selected kernel; ``plan=False`` removes the fast
    plan, ``int64=True`` its float64 requantization form."""
    ctx = make_context(spec, use_jit=jit)
    k = select_kernel(ctx)
    params = k.prepare(ctx)
    if not plan:
        params = dataclasses.replace(params, ref_plan=None)
    elif int64 and params.ref_plan is not None:
        params = dataclasses.replace(params, ref_plan=dataclasses.replace(params.ref_plan, qf=None, cf=None))
    if plan and not jit and params.ref_plan is not None:
        _FORMS["float64" if params.ref_plan.qf is not None else "int64"] += 1
    x = np.ascontiguousarray(feeds[0], dtype=spec.inputs[0].dtype).reshape(spec.inputs[0].shape)
    arrays = [x] + [None if t is None else np.asarray(t.data, t.dtype).reshape(t.shape) for t in spec.inputs[1:]]
    out = np.empty(ctx.output_shapes[0], ctx.outputs[0].dtype)
    (k.eval_jit if jit else k.eval)(params, arrays, [out])
    return params, out


def _check(spec, feeds, *, fast: bool = True, litert: bool = True, jit: bool = True):
    params, got = _run(spec, feeds, plan=True)
    assert (params.ref_plan is not None) == fast, "the case does not take the path it is meant to test"
    _, general = _run(spec, feeds, plan=False)
    np.testing.assert_array_equal(got, general)
    if fast and params.ref_plan.qf is not None:
        _, int64_form = _run(spec, feeds, plan=True, int64=True)
        np.testing.assert_array_equal(got, int64_form)
    if HAVE_NUMBA and jit:
        _, jit = _run(spec, feeds, plan=True, jit=True)
        np.testing.assert_array_equal(got, jit)
    if litert:
        (want,) = run_litert(spec, feeds)
        np.testing.assert_array_equal(got, want)
    return got


def _extreme(spec, in_zp, out_zp):
    spec.inputs[0].quant = (spec.inputs[0].quant[0], in_zp)
    spec.outputs[0].quant = (spec.outputs[0].quant[0], out_zp)


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (-128, 127), (127, -128), (0, 0)])
@pytest.mark.parametrize(
    "geo",
    [
        # b, h, w, c, n, kh, kw, sh, sw, dh, dw, pad(0 SAME), act
        (1, 9, 9, 8, 12, 3, 3, 2, 2, 1, 1, 0, 3),  # stride 2, SAME padding, RELU6
        (2, 8, 7, 5, 9, 3, 2, 1, 1, 2, 2, 0, 0),  # dilation 2, batch 2
        (1, 6, 6, 130, 7, 3, 3, 1, 1, 1, 1, 1, 1),  # K = 1170 > 1024: chunked float32 GEMM
        (1, 5, 5, 1100, 6, 1, 1, 1, 1, 1, 1, 0, 0),  # pointwise, K = 1100
        (1, 7, 7, 3, 16, 1, 1, 2, 2, 1, 1, 1, 0),  # 1x1 stride 2 (no reshape shortcut)
    ],
)
def test_conv_fast_path(geo, in_zp, out_zp):
    rng = np.random.default_rng(abs(hash((geo, in_zp, out_zp))) % 2**32)
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, *geo, True)
    _extreme(spec, in_zp, out_zp)
    _check(spec, feeds)


def test_conv_per_channel_shifts_far_apart():
    # multipliers from 2**-1 to 2**-20: a different right shift on nearly every channel
    rng = np.random.default_rng(5)
    n = 16
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 6, 6, 10, n, 3, 3, 1, 1, 1, 1, 0, 0, True)
    xs, os_ = np.float32(0.05), np.float32(0.04)
    ws = (np.float32(2.0) ** -np.arange(1, n + 1)).astype(np.float32) * os_ / xs * np.float32(0.9)
    spec.inputs[0].quant = (xs, -7)
    spec.inputs[1].quant = (ws.astype(np.float32), np.zeros(n, np.int64), 0)
    spec.inputs[2] = bias_for(rng, xs, spec.inputs[1].quant, n, np.int32, 3000)
    spec.outputs[0].quant = (os_, 5)
    _check(spec, feeds)


def test_conv_ties():
    # power-of-two scales: exact halves everywhere, so the rounding form decides them
    rng = np.random.default_rng(11)
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 7, 7, 4, 8, 3, 3, 1, 1, 1, 1, 0, 0, True)
    spec.inputs[0].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.full(8, 2.0**-4, np.float32), np.zeros(8, np.int64), 0)
    spec.inputs[1].data = rng.integers(-3, 4, spec.inputs[1].shape).astype(np.int8)
    spec.inputs[2] = TSpec((8,), np.int32, (np.full(8, 2.0**-5, np.float32), np.zeros(8, np.int64), 0),
                           rng.integers(-50, 50, 8).astype(np.int32), True)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    _check(spec, feeds)


def test_conv_bounds_keep_the_general_path():
    rng = np.random.default_rng(2)
    # a bias near INT32_MAX: acc + bias could wrap in int32, so no plan
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 5, 5, 6, 4, 3, 3, 1, 1, 1, 1, 0, 0, True)
    spec.inputs[2].data = np.array([2**31 - 100, -(2**31) + 100, 5, -5], np.int32)
    # acc + bias overflows int32 here, which LiteRT leaves undefined: the ARM GEMM flavours
    # (run under qemu) wrap where the x86 ones and the numpy path do not, so only the path
    # taken and the general reference path are compared
    _check(spec, feeds, fast=False, litert=False, jit=False)
    # an output scale far below input * weight scale: multipliers >= 1 (a left shift)
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 5, 5, 2, 4, 1, 1, 1, 1, 1, 1, 0, 0, False)
    spec.inputs[1].data = rng.integers(-2, 3, spec.inputs[1].shape).astype(np.int8)
    spec.outputs[0].quant = (np.float32(spec.inputs[0].quant[0] * spec.inputs[1].quant[0][0] / 3.0), 0)
    _check(spec, feeds, fast=False)


@pytest.mark.parametrize("in_zp,out_zp", [(-128, 127), (127, -128), (0, -128)])
@pytest.mark.parametrize(
    "geo",
    [
        # b, h, w, c, mult, kh, kw, sh, sw, dh, dw, pad, act
        (1, 12, 11, 24, 1, 3, 3, 2, 2, 1, 1, 0, 3),  # stride 2, SAME
        (2, 9, 9, 13, 1, 3, 3, 1, 1, 1, 1, 0, 0),  # 13 channels: 5 round in gemmlowp's form
        (1, 11, 12, 6, 2, 5, 5, 1, 2, 2, 1, 0, 1),  # multiplier 2, 5x5, dilation, mixed strides
        (1, 8, 8, 16, 1, 3, 3, 1, 1, 2, 2, 1, 0),  # VALID, dilation 2
    ],
)
def test_depthwise_fast_path(geo, in_zp, out_zp):
    rng = np.random.default_rng(abs(hash((geo, in_zp, out_zp))) % 2**32)
    spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, *geo, True)
    _extreme(spec, in_zp, out_zp)
    _check(spec, feeds)


def test_depthwise_ties_and_weight_minus_128():
    rng = np.random.default_rng(21)
    spec, feeds = _dw_case(rng, np.int8, np.int8, np.int32, 1, 10, 10, 21, 1, 3, 3, 1, 1, 1, 1, 0, 0, True)
    spec.inputs[0].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.full(21, 2.0**-4, np.float32), np.zeros(21, np.int64), 3)
    spec.inputs[2].quant = (np.full(21, 2.0**-5, np.float32), np.zeros(21, np.int64), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    w = rng.integers(-3, 4, spec.inputs[1].shape).astype(np.int8)
    w[0, 1, 1, :4] = -128
    spec.inputs[1].data = w
    _check(spec, feeds)


def _fc_spec(rng, rows, depth, units, in_zp, out_zp, bias=None):
    from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT
    from tests.interpreter.kernels.quant_harness import Spec

    xs, os_ = np.float32(rng.uniform(0.01, 0.1)), np.float32(rng.uniform(0.05, 0.3))
    w = rng.integers(-127, 128, (units, depth)).astype(np.int8)
    ws = np.float32(rng.uniform(0.0005, 0.005))
    b = rng.integers(-30000, 30000, units).astype(np.int32) if bias is None else bias
    spec = Spec(
        "FULLY_CONNECTED",
        [TSpec((rows, depth), np.int8, (xs, in_zp)), TSpec(w.shape, np.int8, (ws, 0), w, True),
         TSpec((units,), np.int32, (np.float32(xs * ws), 0), b, True)],
        [TSpec((rows, units), np.int8, (os_, out_zp))],
        FullyConnectedOptionsT(),
        version=4,
    )
    x = rng.integers(-128, 128, (rows, depth)).astype(np.int8)
    return spec, [x]


@pytest.mark.parametrize("rows,depth,units", [(1, 2000, 10), (3, 1280, 33), (7, 40, 5)])
@pytest.mark.parametrize("in_zp,out_zp", [(-128, 127), (127, -128)])
def test_fully_connected_fast_path(rows, depth, units, in_zp, out_zp):
    spec, feeds = _fc_spec(np.random.default_rng(rows * depth + in_zp), rows, depth, units, in_zp, out_zp)
    _check(spec, feeds)


def test_arm_rounding_fast_path_equals_general_and_jit(monkeypatch):
    # ARM LiteRT's single rounding: no x86 oracle, so the three edgelite paths agree
    monkeypatch.setenv("EDGELITE_INT8_ROUNDING", "arm")
    rng = np.random.default_rng(8)
    spec, feeds = _conv_case(rng, np.int8, np.int8, np.int32, 1, 8, 8, 6, 10, 3, 3, 2, 2, 1, 1, 0, 0, True)
    _extreme(spec, -128, 127)
    params, _ = _run(spec, feeds, plan=True)
    assert params.mode == fp.ROUND_SINGLE
    _check(spec, feeds, litert=False)
    spec, feeds = _fc_spec(rng, 2, 1500, 12, 127, -128)
    _check(spec, feeds, litert=False)


@pytest.mark.parametrize("mode", [fp.ROUND_DOUBLE_UP, fp.ROUND_SINGLE])
def test_requantize_into_equals_the_general_formula(mode):
    rng = np.random.default_rng(mode)
    n = 40
    q, s = fp.quantize_multiplier_array(rng.uniform(1e-6, 0.99, n))
    s[:4] = [-1, -2, -25, 0]
    q[:2] = [1 << 30, (1 << 31) - 1]
    bias = rng.integers(-(1 << 20), 1 << 20, n)
    bound = 1 << 24
    plan = int8_numpy.plan_requant(bias, q, s, mode, -17, -128, 127, bound, bound + (1 << 20))
    assert plan is not None
    acc = rng.integers(-bound, bound, (300, n))
    # exact ties of the first and second rounding steps, and the extremes of the bound
    acc[0] = ((np.int64(1) << (31 - s.astype(np.int64) - 1)) // np.maximum(q, 1)) - bias
    acc[1], acc[2] = bound - 1, -bound + 1
    for a in (acc, acc.astype(np.float32) if bound <= 1 << 24 else acc):
        out = np.empty(acc.shape, np.int8)
        int8_numpy.requantize_into(a, plan, out)
        want = int_gemm.requantize_reference(acc, bias, q, s, mode, -17, -128, 127, np.int8)
        np.testing.assert_array_equal(out, want)


def test_plan_refuses_what_it_cannot_prove():
    q, s = fp.quantize_multiplier_array([0.25, 0.5])
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, 10, 2**31) is None  # may wrap
    q2, s2 = fp.quantize_multiplier_array([0.25, 1.5])  # a left shift
    assert int8_numpy.plan_requant(None, q2, s2, fp.ROUND_DOUBLE_UP, 0, -128, 127, 10, 10) is None
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE, 0, -128, 127, 10, 10) is None  # gemmlowp's form
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, 2**40, 10) is None  # int64 margin
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, 10, 10) is not None


def test_requantize_into_a_strided_output():
    # an output view that a reshape could not alias (every other column of a buffer)
    q, s = fp.quantize_multiplier_array([0.01, 0.02, 0.03])
    plan = int8_numpy.plan_requant(np.array([1, 2, 3]), q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, 1 << 20, 1 << 21)
    acc = np.arange(-600, 600, 100, dtype=np.float32).reshape(4, 3)
    base = np.zeros((4, 6), np.int8)
    int8_numpy.requantize_into(acc, plan, base[:, ::2])
    want = int_gemm.requantize_reference(acc.astype(np.int64), np.array([1, 2, 3]), q, s, fp.ROUND_DOUBLE_UP, 0,
                                         -128, 127, np.int8)
    np.testing.assert_array_equal(base[:, ::2], want)
    assert not base[:, 1::2].any()


@pytest.mark.parametrize("mode", [fp.ROUND_DOUBLE_UP, fp.ROUND_SINGLE])
def test_requantize_float64_form_equals_the_int64_form(mode):
    """``floor(acc * qf + cf)`` against ``(acc * q + c) >> total`` where the plan admits
    it: accumulators on both sides of every output step's boundary (and on it when it
    is reachable), the ends of the bound, shifts from 31 to 50 and extreme multipliers."""
    rng = np.random.default_rng(100 + mode)
    n = 48
    q, s = fp.quantize_multiplier_array(rng.uniform(1e-7, 0.99, n))
    s[:4] = [-1, -2, -19, 0]
    q[:2] = [1 << 30, (1 << 31) - 1]
    bias = rng.integers(-(1 << 16), 1 << 16, n)
    bound = 1 << 20  # |acc * q| < 2**51, |c| < 2**51: every channel admits the float64 form
    plan = int8_numpy.plan_requant(bias, q, s, mode, 1, -128, 127, bound, bound + (1 << 16))
    assert plan is not None and plan.qf is not None
    int64_plan = dataclasses.replace(plan, qf=None, cf=None)
    rows = [rng.integers(-bound, bound + 1, n) for _ in range(200)]
    q64, c64, t64 = plan.q, plan.c, plan.total
    for r in range(-129, 129, 3):  # the accumulators where (acc * q + c) crosses r << total
        edge = ((np.int64(r) << t64) - c64) // q64
        for d in (-1, 0, 1):
            rows.append(np.clip(edge + d, -bound, bound))
    rows += [np.full(n, bound), np.full(n, -bound), np.zeros(n, np.int64)]
    acc = np.stack(rows).astype(np.int64)
    for a in (acc, acc.astype(np.float32), acc.astype(np.int32)):
        got, want = np.empty(acc.shape, np.int8), np.empty(acc.shape, np.int8)
        int8_numpy.requantize_into(a, plan, got)
        int8_numpy.requantize_into(a, int64_plan, want)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, int_gemm.requantize_reference(acc, bias, q, s, mode, 1, -128, 127, np.int8))


def test_float64_form_only_where_it_is_exact():
    q, s = fp.quantize_multiplier_array([0.001, 0.002])  # q close to 2**31
    over = (1 << 53) // int(q.max()) + 1  # |acc| * q reaches 2**53 on some channel
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, over // 4, over).qf is not None
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, over, over).qf is None
    # the edge itself: the largest bound with |acc| * q + |c| < 2**53 on every channel
    p = int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, 1, 1)
    edge = min((((1 << 53) - 1 - abs(int(c))) // int(qq)) for c, qq in zip(p.c, p.q))
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, edge, edge).qf is not None
    assert int8_numpy.plan_requant(None, q, s, fp.ROUND_DOUBLE_UP, 0, -128, 127, edge + 1, edge + 1).qf is None


@pytest.mark.parametrize("geo", [
    # b, h, w, c, kh, kw, sh, sw, dh, dw, padding
    (1, 9, 9, 8, 3, 3, 1, 1, 1, 1, "SAME"), (2, 8, 7, 5, 3, 3, 2, 2, 1, 1, "SAME"), (1, 10, 9, 16, 3, 3, 1, 1, 2, 2, "SAME"),
    (1, 11, 12, 3, 5, 5, 2, 1, 1, 1, "VALID"), (1, 6, 13, 7, 2, 3, 3, 2, 1, 2, "SAME"), (1, 5, 5, 64, 1, 1, 1, 1, 1, 1, "VALID"),
    (1, 7, 7, 130, 3, 3, 2, 2, 1, 1, "VALID"),
])
def test_tap_sums_equal_adding_the_taps_one_by_one(geo):
    """The depthwise reference's one-einsum tap sums against the per-tap loop (and exact
    int64 sums), at the largest magnitudes the exactness bound admits."""
    from edgelite.interpreter.compute.conv_geometry import SAME, VALID, Window2D

    b, h, w, c, kh, kw, sh, sw, dh, dw, pad = geo
    win = Window2D.build(h, w, kh, kw, sh, sw, dh, dw, SAME if pad == "SAME" else VALID)
    rng = np.random.default_rng(sum(geo[:-1]))
    x = rng.integers(-128, 128, (b, h, w, c)).astype(np.int8)
    x.reshape(-1)[:7] = [-128, 127, -128, 127, 0, -1, 1]
    wmax = min(127, (int_gemm.F32_EXACT - 1) // (kh * kw * 255))
    wt = rng.integers(-wmax, wmax + 1, (kh, kw, c)).astype(np.int64)
    wt[0, 0, 0] = -wmax
    in_zp = 127  # |x - in_zp| up to 255
    xp = int8_numpy.padded_input(x, win, 0, np.float32, sub=in_zp)
    got = int8_numpy.tap_sums(xp, wt.astype(np.float32), win)
    want = None
    for t, view in enumerate(int8_numpy.taps(xp, win)):
        term = view * wt[t // kw, t % kw].astype(np.float32)
        want = term if want is None else want + term
    assert got.dtype == np.float32 and got.shape == (b, win.out_h, win.out_w, c)
    np.testing.assert_array_equal(got, want)
    exact = sum(view.astype(np.int64) * wt[t // kw, t % kw]
                for t, view in enumerate(int8_numpy.taps(int8_numpy.padded_input(x, win, 0, np.int64, sub=in_zp), win)))
    np.testing.assert_array_equal(got.astype(np.int64), exact)


def test_the_kernel_cases_served_both_forms():
    """Run last in this file: the kernel cases above met both requantization forms (each
    fast-path case compares the two; this keeps that from being vacuous)."""
    if not _FORMS["float64"]:
        pytest.skip("run with the kernel cases of this file")
    assert _FORMS["float64"] > 0 and _FORMS["int64"] > 0, _FORMS

