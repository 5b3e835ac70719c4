"""The x86 and ARM requantization of CONV_2D / FULLY_CONNECTED (``platform_rounding``).

Checked three ways: the ARM form (one rounding, ties up) against exact rational
arithmetic in every edgelite implementation of it; single-op models against the
LiteRT of the machine the tests run on (x86 here, LiteRT's aarch64 build under
``tests/arm64/run.sh``), reference and JIT kernels; and, on any machine, edgelite
forced to either form against an independent numpy model of the op.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import edgelite
from edgelite.interpreter import OpResolverType
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.compute import int_gemm, jit, platform_rounding, softmax_lut_arm
from tests.interpreter.compute import rounding_models

# --------------------------------------------------------------------------------------
# choosing the form
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("machine, want", [("x86_64", "x86"), ("AMD64", "x86"), ("aarch64", "arm"),
                                           ("arm64", "arm"), ("armv7l", "arm")])
def test_auto_follows_the_machine(monkeypatch, machine, want):
    monkeypatch.delenv(platform_rounding.ENV, raising=False)
    monkeypatch.setattr(platform_rounding.platform, "machine", lambda: machine)
    assert platform_rounding.target() == want
    monkeypatch.setenv(platform_rounding.ENV, "auto")
    assert platform_rounding.target() == want


def test_the_variable_overrides_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv(platform_rounding.ENV, "ARM")
    assert platform_rounding.target() == "arm" and platform_rounding.gemm_mode() == fp.ROUND_SINGLE
    monkeypatch.setenv(platform_rounding.ENV, "x86")
    assert platform_rounding.gemm_mode() == fp.ROUND_DOUBLE_UP
    monkeypatch.setenv(platform_rounding.ENV, "riscv")
    with pytest.raises(ValueError, match="EDGELITE_INT8_ROUNDING"):
        platform_rounding.target()


# --------------------------------------------------------------------------------------
# the ARM form, exactly
# --------------------------------------------------------------------------------------


def _arm_exact(x: int, q: int, shift: int) -> int:
    """Round half up of x * q * 2**(shift - 31), in rationals."""
    return math.floor(Fraction(x * q) * Fraction(2) ** (shift - 31) + Fraction(1, 2))


def _x86_exact(x: int, q: int, shift: int) -> int:
    """SRDHM (round half up of x*q / 2**31), then a ties-up right shift (no left shift)."""
    high = math.floor(Fraction(x * q, 1 << 31) + Fraction(1, 2))
    return math.floor(Fraction(high, 1 << -shift) + Fraction(1, 2))


def _cases(seed=5, n=4000):
    rng = np.random.default_rng(seed)
    q = rng.integers(1 << 30, (1 << 31) - 1, n)
    q[::5] = 1 << 30  # exact power-of-two multipliers: ties of every step
    shift = rng.integers(-12, 1, n)
    x = rng.integers(-(1 << 20), 1 << 20, n)
    # exact ties of the single rounding: x * q = (k + 1/2) * 2**(31 - shift) with q = 2**30
    k = rng.integers(-5000, 5000, n)
    tie = (2 * k + 1) << 0
    sel = (q == (1 << 30)) & (shift <= -1)
    x[sel] = (tie[sel] << (-shift[sel])).astype(np.int64)  # x * 2**30 / 2**(31-shift) = k + 1/2
    return x.astype(np.int64), q.astype(np.int64), shift.astype(np.int64)


def test_arm_form_is_round_half_up_in_every_implementation():
    x, q, shift = _cases()
    want = np.array([_arm_exact(int(a), int(b), int(s)) for a, b, s in zip(x, q, shift)])
    assert np.count_nonzero((x * q) % (np.int64(1) << (31 - shift)) == (np.int64(1) << (30 - shift))) > 100  # ties
    np.testing.assert_array_equal(fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_SINGLE), want)
    lo, hi = -(1 << 40), 1 << 40
    got = [int(int_gemm.requant_scalar(np.int64(a), np.int64(b), np.int64(s), np.int64(fp.ROUND_SINGLE), 0, lo, hi))
           for a, b, s in zip(x[:600], q[:600], shift[:600])]  # one call each: slow under emulation
    np.testing.assert_array_equal(got, want[:600])
    # the one-shift tables that the fast requantization and the SIMD GEMMs read, per channel
    for n0 in range(0, 200, 8):
        qc, sc = q[n0 : n0 + 8], shift[n0 : n0 + 8]
        acc = x[n0 : n0 + 8].reshape(1, -1).astype(np.float64)
        tables = int_gemm.fast_requant_tables(qc.astype(np.int32), sc.astype(np.int32), fp.ROUND_SINGLE)
        out = np.empty((1, qc.size), np.int32)
        int_gemm.requantize_rows_fast(acc, np.zeros(qc.size, np.int64), qc.astype(np.int32), tables, 0,
                                      -(1 << 31), (1 << 31) - 1, out)
        np.testing.assert_array_equal(out[0], want[n0 : n0 + 8])
        out2 = np.empty_like(out)
        int_gemm.requantize_rows_jit(acc, np.zeros(qc.size, np.int64), qc.astype(np.int32), sc.astype(np.int32),
                                     fp.ROUND_SINGLE, 0, -(1 << 31), (1 << 31) - 1, out2)
        np.testing.assert_array_equal(out2[0], want[n0 : n0 + 8])


def test_x86_is_never_below_arm_and_at_most_one_step_above():
    x, q, shift = _cases(seed=9, n=20000)
    shift = np.minimum(shift, -1)
    arm = fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_SINGLE)
    x86 = fp.multiply_by_quantized_multiplier(x, q, shift, mode=fp.ROUND_DOUBLE_UP)
    for i in range(0, x.size, 97):
        assert int(x86[i]) == _x86_exact(int(x[i]), int(q[i]), int(shift[i]))
    d = x86 - arm
    assert set(np.unique(d).tolist()) == {0, 1}


def test_no_fast_tables_with_a_left_shift():
    assert int_gemm.fast_requant_tables(np.array([1 << 30], np.int32), np.array([1], np.int32), fp.ROUND_SINGLE) is None


# --------------------------------------------------------------------------------------
# single-op models: against this machine's LiteRT, and against a numpy model
# --------------------------------------------------------------------------------------


def _edgelite(content: bytes, kernels: str):
    if kernels == "jit":
        if not jit.HAVE_NUMBA:
            pytest.skip("Numba is not installed: only the reference kernels run here")
        jit.wait_until_warm()
        it = edgelite.Interpreter(model_content=content)
    else:
        it = edgelite.Interpreter(model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    return it


def _run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("kernels", ["reference", "jit"])
@pytest.mark.parametrize("case", rounding_models.CASES)
def test_single_op_equals_this_machines_litert(monkeypatch, case, kernels):
    """With the default (``auto``) edgelite equals the LiteRT of the machine it runs on."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    monkeypatch.delenv(platform_rounding.ENV, raising=False)
    content = rounding_models.build(case)
    ref = litert.Interpreter(model_content=content,
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    ours = _edgelite(content, kernels)
    for seed in range(2):
        x = rounding_models.inputs(content, seed)
        np.testing.assert_array_equal(_run(ours, x), _run(ref, x), err_msg=f"{case} ({kernels}, seed {seed}, "
                                      f"{platform_rounding.target()} form)")


def _numpy_model(it, x: np.ndarray, mode: int) -> np.ndarray:
    """The op of a ``rounding_models`` model in plain numpy, from its tensors' data."""
    details = {d["name"]: d for d in it.get_tensor_details()}
    xd, yd, wd, bd = details["x"], details["y"], details["w"], details["b"]
    in_s, in_zp = float(xd["quantization_parameters"]["scales"][0]), int(xd["quantization_parameters"]["zero_points"][0])
    out_s, out_zp = float(yd["quantization_parameters"]["scales"][0]), int(yd["quantization_parameters"]["zero_points"][0])
    w = it.get_tensor(wd["index"]).astype(np.int64) - wd["quantization_parameters"]["zero_points"].astype(np.int64)[0]
    bias = it.get_tensor(bd["index"]).astype(np.int64)
    xc = x.astype(np.int64) - in_zp
    if w.ndim == 2:  # FULLY_CONNECTED
        acc = xc @ w.T
    elif w.shape[1:3] == (1, 1):  # CONV_2D 1x1
        acc = np.einsum("bhwc,nc->bhwn", xc, w[:, 0, 0, :])
    else:  # CONV_2D, 3x3 SAME, stride 1
        xp = np.pad(xc, ((0, 0), (1, 1), (1, 1), (0, 0)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))  # (1, H, W, C, 3, 3)
        acc = np.einsum("bhwcij,nijc->bhwn", win, w)
    acc = acc + bias
    n = acc.shape[-1]
    scales = np.broadcast_to(wd["quantization_parameters"]["scales"].astype(np.float32), (n,))
    pairs = [fp.quantize_multiplier(float(np.float32(in_s)) * float(s) / float(np.float32(out_s))) for s in scales]
    q = np.array([p[0] for p in pairs], np.int64)
    shift = np.array([p[1] for p in pairs], np.int64)
    scaled = fp.multiply_by_quantized_multiplier(acc, q, shift, mode=mode)
    info = np.iinfo(yd["dtype"])
    return np.clip(scaled + out_zp, info.min, info.max).astype(yd["dtype"])


@pytest.mark.parametrize("kernels", ["reference", "jit"])
@pytest.mark.parametrize("form", platform_rounding.TARGETS)
@pytest.mark.parametrize("case", ["conv_per_channel", "conv_uint8", "fc_per_channel", "fc_uint8", "conv_wide_multipliers"])
def test_forced_form_equals_numpy_model(monkeypatch, case, form, kernels):
    """``EDGELITE_INT8_ROUNDING`` forces either form on any machine (reference, JIT, and
    whichever int8 GEMM flavour this CPU runs); the numpy model is independent of the
    kernels (sliding windows, einsum, rational-checked rounding)."""
    monkeypatch.setenv(platform_rounding.ENV, form)
    mode = fp.ROUND_SINGLE if form == "arm" else fp.ROUND_DOUBLE_UP
    content = rounding_models.build(case, seed=1)
    ours = _edgelite(content, kernels)
    x = rounding_models.inputs(content, 3)
    np.testing.assert_array_equal(_run(ours, x), _numpy_model(ours, x, mode), err_msg=f"{case}, {form}, {kernels}")


def test_arm_one_column_products_take_the_gemv_form(monkeypatch):
    """On ARM an int8 product with one destination column, at least 4 rows and depth 8 is
    LiteRT's GEMV, which rounds as x86 does (tests/arm64/probe_gemv.py); the rest ruy's form."""
    monkeypatch.setenv(platform_rounding.ENV, "arm")
    mode = platform_rounding.gemm_mode
    assert mode(cols=1, rows=288, depth=48, int8=True) == fp.ROUND_DOUBLE_UP
    assert mode(cols=1, rows=4, depth=8, int8=True) == fp.ROUND_DOUBLE_UP
    for kw in (dict(cols=1, rows=288, depth=7), dict(cols=1, rows=3, depth=48), dict(cols=2, rows=288, depth=48)):
        assert mode(**kw, int8=True) == fp.ROUND_SINGLE, kw
    assert mode(cols=1, rows=288, depth=48, int8=False) == fp.ROUND_SINGLE  # uint8: measured single
    assert mode() == fp.ROUND_SINGLE
    monkeypatch.setenv(platform_rounding.ENV, "x86")
    assert mode(cols=1, rows=288, depth=48, int8=True) == mode(cols=4, rows=8, depth=8, int8=True) == fp.ROUND_DOUBLE_UP


@pytest.mark.parametrize("kernels", ["reference", "jit"])
@pytest.mark.parametrize("case", ["conv_one_pixel", "conv_one_pixel_shallow", "fc_batch1"])
def test_forced_arm_one_column_form_equals_numpy_model(monkeypatch, case, kernels):
    """Forced to ARM, the one-column models follow the GEMV rule in every path."""
    monkeypatch.setenv(platform_rounding.ENV, "arm")
    mode = fp.ROUND_SINGLE if case.endswith("shallow") else fp.ROUND_DOUBLE_UP
    content = rounding_models.build(case, seed=1)
    ours = _edgelite(content, kernels)
    for seed in range(3):
        x = rounding_models.inputs(content, seed)
        np.testing.assert_array_equal(_run(ours, x), _numpy_model(ours, x, mode), err_msg=f"{case}, {kernels}")


def test_the_two_forms_differ_on_these_models():
    """The models discriminate: the x86 and ARM forms give different outputs on them."""
    content = rounding_models.build("conv_per_channel")
    it = _edgelite(content, "reference")
    x = rounding_models.inputs(content, 0)
    arm, x86 = _numpy_model(it, x, fp.ROUND_SINGLE), _numpy_model(it, x, fp.ROUND_DOUBLE_UP)
    diff = x86.astype(np.int64) - arm
    assert 0 < np.count_nonzero(diff) < diff.size // 100 and set(np.unique(diff).tolist()) <= {0, 1}



# --------------------------------------------------------------------------------------
# 8-bit SOFTMAX: LiteRT's aarch64 builds use a uint16 table (softmax_lut_arm)
# --------------------------------------------------------------------------------------


def test_arm_softmax_table_is_scaled_exp():
    t = softmax_lut_arm.uint16_exp_table(0.07, 1.0)
    v = np.arange(256)
    exact = 65535 * np.exp(0.07 * (v - 255.0))
    assert t[255] == 65535 and np.all(np.diff(t) >= 0)
    assert np.max(np.abs(t - exact)) <= 1.0


@pytest.mark.parametrize("case", ["softmax_int8", "softmax_uint8"])
def test_arm_softmax_paths_agree_and_stay_within_one_step(monkeypatch, case):
    """Forced to the ARM form on any machine: reference == JIT, every output within one
    step of the exactly rounded softmax, and not the x86 form's output (the model tells
    the two apart). Equality with LiteRT's aarch64 build is
    test_single_op_equals_this_machines_litert under tests/arm64/run.sh."""
    content = rounding_models.build(case)
    x = rounding_models.inputs(content, 0)
    monkeypatch.setenv(platform_rounding.ENV, "arm")
    ref = _run(_edgelite(content, "reference"), x)
    if jit.HAVE_NUMBA:
        np.testing.assert_array_equal(_run(_edgelite(content, "jit"), x), ref)
    zp = 0 if case.endswith("uint8") else -128
    real = (x.astype(np.float64) - (-3 + (128 if zp == 0 else 0))) * 0.07
    p = np.exp(real - real.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    exact = np.clip(np.floor(p * 256 + 0.5) + zp, np.iinfo(x.dtype).min, np.iinfo(x.dtype).max)
    assert np.max(np.abs(ref.astype(np.int64) - exact)) <= 1
    monkeypatch.setenv(platform_rounding.ENV, "x86")
    x86 = _run(_edgelite(content, "reference"), x)
    assert 0 < np.count_nonzero(x86 != ref) < ref.size // 100
