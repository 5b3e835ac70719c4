"""Binary elementwise kernels: hand cases, LiteRT differential tests, JIT == reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.elementwise import elementwise_float as ew
from edgelite.interpreter.kernels.base import select_kernel
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.DivOptions import DivOptionsT
from edgelite.schema.fb.MulOptions import MulOptionsT
from edgelite.schema.fb.SubOptions import SubOptionsT
from tests.interpreter.kernels.oracle import (
    Const,
    Out,
    compare,
    make_context,
    run_kernel,
    run_litert,
    single_op_model,
)

OPTIONS = {"ADD": AddOptionsT, "SUB": SubOptionsT, "MUL": MulOptionsT, "DIV": DivOptionsT}
NUMPY = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide}


def opts(op, act=0):
    o = OPTIONS[op]()
    o.fusedActivationFunction = act
    return o


def f32(rng, shape, lo=-4.0, hi=4.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


# -- hand-checkable cases ---------------------------------------------------------


def test_add_broadcast_with_relu6_by_hand():
    a = np.array([[-8.0, 1.0, 5.0]], np.float32)
    b = np.array([[0.5], [2.0]], np.float32)
    (out,) = run_kernel("ADD", [a, b], opts("ADD", act=3))
    assert out.tolist() == [[0.0, 1.5, 5.5], [0.0, 3.0, 6.0]]


def test_int32_div_truncates_toward_zero_like_cpp():
    a = np.array([7, -7, 7, -7, 6], np.int32)
    b = np.array([2, 2, -2, -2, 3], np.int32)
    (out,) = run_kernel("DIV", [a, b], opts("DIV"), [Out(np.int32)])
    assert out.tolist() == [3, -3, -3, 3, 2]


def test_floor_div_and_floor_mod_follow_the_divisor_sign():
    a = np.array([7, -7, 7, -7], np.int32)
    b = np.array([2, 2, -2, -2], np.int32)
    assert run_kernel("FLOOR_DIV", [a, b], outputs=[Out(np.int32)])[0].tolist() == [3, -4, -4, 3]
    assert run_kernel("FLOOR_MOD", [a, b], outputs=[Out(np.int32)])[0].tolist() == [1, 1, -1, -1]
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    assert run_kernel("FLOOR_MOD", [fa, fb])[0].tolist() == [1.0, 1.0, -1.0, -1.0]


def test_float_floor_div_is_floor_of_quotient():
    # numpy's floor_divide(1, 0.1) is 9; floor(1 / 0.1) = 10 as in TFLite
    (out,) = run_kernel("FLOOR_DIV", [np.array([1.0], np.float32), np.array([0.1], np.float32)])
    assert out.tolist() == [10.0]


def test_comparisons_and_logical_by_hand():
    a = np.array([1, 2, 3], np.int32)
    b = np.array([2], np.int32)
    assert run_kernel("LESS", [a, b], outputs=[Out(np.bool_)])[0].tolist() == [True, False, False]
    assert run_kernel("GREATER_EQUAL", [a, b], outputs=[Out(np.bool_)])[0].tolist() == [False, True, True]
    p, q = np.array([True, False, True]), np.array([True, True, False])
    assert run_kernel("LOGICAL_AND", [p, q], outputs=[Out(np.bool_)])[0].tolist() == [True, False, False]
    assert run_kernel("LOGICAL_NOT", [p], outputs=[Out(np.bool_)])[0].tolist() == [False, True, False]


def test_select_rank_one_condition_picks_rows():
    c = np.array([True, False])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = run_kernel("SELECT", [c, x, -x])
    assert out.tolist() == [[0, 1, 2], [-3, -4, -5]]


def test_bad_shapes_and_activation_fail_in_prepare():
    with pytest.raises(ShapeError):
        run_kernel("ADD", [np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)], opts("ADD"))
    with pytest.raises(ShapeError, match="fused activation"):
        run_kernel("MUL", [np.zeros(2, np.float32), np.zeros(2, np.float32)], opts("MUL", act=4))
    with pytest.raises(ShapeError, match="SELECT"):
        run_kernel("SELECT", [np.array([True, False, True]), np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)])


def test_quantized_arithmetic_is_refused_and_quantized_comparison_goes_to_the_int8_kernel():
    from edgelite.interpreter.kernels.elementwise.compare_quant import QuantizedCompare
    from tests.interpreter.kernels.oracle import Var

    a = np.zeros(4, np.int8)
    ctx = make_context("ADD", [Var(a, (0.1, 0)), Var(a, (0.1, 0))], opts("ADD"), [Out(np.int8, (0.1, 0))])
    assert not ew.Arith().accepts(ctx)
    ctx = make_context("LESS", [Var(a, (0.5, 3)), Var(a, (0.25, 3))], None, [Out(np.bool_)])
    assert not ew.Compare().accepts(ctx)  # different parameters: rescaled by the int8 kernel
    assert isinstance(select_kernel(ctx), QuantizedCompare)
    ctx = make_context("LESS", [Var(a, (0.5, 3)), Var(a, (0.5, 3))], None, [Out(np.bool_)])
    assert ew.Compare().accepts(ctx) and isinstance(select_kernel(ctx), QuantizedCompare)


def test_plan_collapses_broadcast_dims():
    ctx = make_context("ADD", [np.zeros((2, 3, 4, 5), np.float32), np.zeros((1, 1, 4, 5), np.float32)], opts("ADD"))
    p = select_kernel(ctx).prepare(ctx)
    # (2*3) broadcast rows of a contiguous (4*5) block
    assert p.mode == ew.MODE_GENERAL
    assert p.shape6[-2:].tolist() == [6, 20] and p.stride_b[-2:].tolist() == [0, 1]


# -- differential against LiteRT ----------------------------------------------------

shapes_pair = st.integers(1, 4).flatmap(
    lambda r: st.tuples(
        st.lists(st.integers(1, 3), min_size=r, max_size=r),
        st.lists(st.booleans(), min_size=r, max_size=r),
        st.integers(0, r),
    )
)


def _broadcast_pair(spec):
    full, ones, drop = spec
    other = [1 if o else d for d, o in zip(full, ones)][drop:]
    return tuple(full), tuple(other)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=shapes_pair, op=st.sampled_from(["ADD", "SUB", "MUL", "DIV"]), act=st.sampled_from([0, 1, 2, 3]),
       swap=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_arith_matches_litert_with_broadcasting_and_activation(spec, op, act, swap, seed):
    rng = np.random.default_rng(seed)
    sa, sb = _broadcast_pair(spec)
    if swap:
        sa, sb = sb, sa
    a, b = f32(rng, sa), f32(rng, sb)
    if op == "DIV":
        b = np.where(np.abs(b) < 0.25, np.float32(0.5), b)
    compare(op, [a, b], opts(op, act))


@pytest.mark.parametrize("shape_a,shape_b", [((1, 2, 1, 3, 1, 2), (2, 1, 3, 1, 2, 1)), ((2, 1, 1, 2, 1), (2, 1, 2, 1, 3))])
def test_arith_high_rank_broadcast_matches_litert(shape_a, shape_b):
    rng = np.random.default_rng(1)
    for op in ("ADD", "MUL"):
        compare(op, [f32(rng, shape_a), f32(rng, shape_b)], opts(op), version=4 if op == "ADD" else 5)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_arith_matches_litert(op, dtype):
    rng = np.random.default_rng(2)
    a = rng.integers(-1000, 1000, (3, 4)).astype(dtype)
    b = rng.integers(-1000, 1000, (4,)).astype(dtype)
    compare(op, [a, Const(b)], opts(op, act=1 if dtype == np.int32 else 0), [Out(dtype)])


def test_int32_div_matches_litert():
    rng = np.random.default_rng(3)
    a = rng.integers(-100, 100, (20,)).astype(np.int32)
    b = rng.choice(np.array([-7, -3, -1, 1, 2, 5], np.int32), 20)
    compare("DIV", [a, b], opts("DIV"), [Out(np.int32)])


@pytest.mark.parametrize("op", ["SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD"])
def test_other_binary_float_matches_litert(op):
    rng = np.random.default_rng(4)
    a = f32(rng, (2, 3, 4))
    b = f32(rng, (3, 1))
    if op == "POW":
        a = np.abs(a) + 0.1
    if op in ("FLOOR_DIV", "FLOOR_MOD"):
        b = np.where(np.abs(b) < 0.25, np.float32(0.5), b)
    compare(op, [a, b])


@pytest.mark.parametrize("op", ["FLOOR_DIV", "FLOOR_MOD", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW"])
def test_other_binary_int32_matches_litert(op):
    rng = np.random.default_rng(5)
    a = rng.integers(-50, 50, (4, 5)).astype(np.int32)
    b = rng.choice(np.array([-4, -3, 2, 3, 7], np.int32), (5,))
    if op == "POW":
        a, b = a % 5, np.abs(b) % 4
    compare(op, [a, b], outputs=[Out(np.int32)])


@pytest.mark.parametrize("op", ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_comparisons_match_litert(op, dtype):
    rng = np.random.default_rng(6)
    a = rng.integers(-3, 4, (2, 3, 4)).astype(dtype)
    b = rng.integers(-3, 4, (3, 1)).astype(dtype)
    compare(op, [a, b], outputs=[Out(np.bool_)])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_unquantized_small_int_comparisons_match_numpy(dtype):
    # (LiteRT aborts on unquantized int8/uint8 comparisons: it always rescales them.)
    rng = np.random.default_rng(6)
    a = rng.integers(0, 100, (3, 4)).astype(dtype)
    b = rng.integers(0, 100, (4,)).astype(dtype)
    for op, fn in (("LESS", np.less), ("EQUAL", np.equal), ("GREATER_EQUAL", np.greater_equal)):
        np.testing.assert_array_equal(run_kernel(op, [a, b], outputs=[Out(np.bool_)])[0], fn(a, b))


@pytest.mark.parametrize("qa,qb", [((0.1, -3), (0.1, -3)), ((0.1, -3), (0.05, 7)), ((0.002, 0), (0.002, 0)),
                                   ((0.02, 5), (0.003, -100))])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_quantized_comparisons_match_litert(qa, qb, dtype):
    from tests.interpreter.kernels.oracle import Var

    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    if dtype == np.uint8:
        qa, qb = (qa[0], qa[1] + 128), (qb[0], qb[1] + 128)
    a = rng.integers(info.min, info.max + 1, (3, 5)).astype(dtype)
    b = rng.integers(info.min, info.max + 1, (5,)).astype(dtype)
    b[:2] = a[0, :2]
    for op in ("GREATER", "EQUAL", "LESS_EQUAL", "NOT_EQUAL"):
        compare(op, [Var(a, qa), Var(b, qb)], outputs=[Out(np.bool_)])


@pytest.mark.parametrize("op", ["LOGICAL_AND", "LOGICAL_OR"])
def test_logical_matches_litert(op):
    rng = np.random.default_rng(8)
    compare(op, [rng.random((2, 3)) > 0.5, rng.random((3,)) > 0.5], outputs=[Out(np.bool_)])


def test_logical_not_matches_litert():
    compare("LOGICAL_NOT", [np.random.default_rng(9).random((4, 2)) > 0.5], outputs=[Out(np.bool_)])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int8])
def test_select_and_select_v2_match_litert(dtype):
    rng = np.random.default_rng(10)
    x = rng.integers(-9, 9, (2, 3, 4)).astype(dtype)
    y = rng.integers(-9, 9, (2, 3, 4)).astype(dtype)
    compare("SELECT", [rng.random((2, 3, 4)) > 0.5, x, y], outputs=[Out(dtype)])
    compare("SELECT", [rng.random((2,)) > 0.5, x, y], outputs=[Out(dtype)])
    compare("SELECT_V2", [rng.random((3, 1)) > 0.5, x, y[:1, :1, :]], outputs=[Out(dtype)])


def test_add_n_matches_litert():
    rng = np.random.default_rng(11)
    xs = [f32(rng, (2, 5)) for _ in range(4)]
    compare("ADD_N", xs)
    compare("ADD_N", [x.astype(np.int32) for x in xs], outputs=[Out(np.int32)])


# -- JIT and reference agree -------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(spec=shapes_pair, op=st.sampled_from(["ADD", "SUB", "MUL", "DIV"]), act=st.sampled_from([0, 1, 2, 3]),
       seed=st.integers(0, 2**31 - 1))
def test_jit_equals_reference_bit_for_bit(spec, op, act, seed):
    rng = np.random.default_rng(seed)
    sa, sb = _broadcast_pair(spec)
    a, b = f32(rng, sa), f32(rng, sb)
    ref = run_kernel(op, [a, b], opts(op, act))[0]
    jit = run_kernel(op, [a, b], opts(op, act), jit=True)[0]
    np.testing.assert_array_equal(jit, ref)
    want = NUMPY[op](a, b)
    lo, hi = {0: (-np.inf, np.inf), 1: (0, np.inf), 2: (-1, 1), 3: (0, 6)}[act]
    np.testing.assert_array_equal(ref, np.clip(want, lo, hi).astype(np.float32))


def test_jit_handles_inf_and_nan_like_reference():
    a = np.array([np.inf, -np.inf, np.nan, 1.0, 0.0], np.float32)
    b = np.array([0.0, 0.0, 1.0, 0.0, 0.0], np.float32)
    for op in ("ADD", "DIV"):
        ref = run_kernel(op, [a, b], opts(op))[0]
        jit = run_kernel(op, [a, b], opts(op), jit=True)[0]
        np.testing.assert_array_equal(jit, ref)


@settings(max_examples=30, deadline=None)
@given(spec=shapes_pair, op=st.sampled_from(["ADD", "SUB", "MUL", "DIV"]), act=st.sampled_from([0, 1, 3]),
       seed=st.integers(0, 2**31 - 1))
def test_numba_kernel_general_broadcast_path_equals_reference(spec, op, act, seed):
    # eval_jit leaves general broadcasting to numpy; the Numba kernel still supports it.
    rng = np.random.default_rng(seed)
    sa, sb = _broadcast_pair(spec)
    a, b = f32(rng, sa), f32(rng, sb)
    ctx = make_context(op, [a, b], opts(op, act))
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    out = np.empty(p.out_shape, np.float32)
    clamp = act != 0
    ew._binary_arith_kernel(a.reshape(-1), b.reshape(-1), out.reshape(-1), p.mode, p.shape6, p.stride_a, p.stride_b,
                            p.op_code, clamp, np.float32(p.lo), np.float32(p.hi))
    np.testing.assert_array_equal(out, run_kernel(op, [a, b], opts(op, act))[0])


_FMAX = float(np.finfo(np.float32).max)


@pytest.mark.parametrize("jit", [False, True])
def test_infinite_results_clamp_to_flt_max_by_hand(jit):
    # LiteRT clamps ADD/SUB/MUL/DIV to the activation range even for NONE: +-FLT_MAX.
    x = np.array([-np.inf, np.inf, np.nan, 3e38, 1.0], np.float32)
    y = np.array([1.0, 1.0, 1.0, 3e38, 2.0], np.float32)
    got = run_kernel("ADD", [x, y], AddOptionsT(), jit=jit)[0]
    np.testing.assert_array_equal(got, np.array([-_FMAX, _FMAX, np.nan, _FMAX, 3.0], np.float32))


@pytest.mark.parametrize("op,opts", [("ADD", AddOptionsT), ("SUB", SubOptionsT), ("MUL", MulOptionsT),
                                     ("DIV", DivOptionsT)])
@pytest.mark.parametrize("act", [0, 1])
@pytest.mark.parametrize("y_shape", [(3, 6), (6,), (1,)])
def test_infinities_and_nan_against_litert(op, opts, act, y_shape):
    rng = np.random.default_rng(3)
    specials = np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 0.0, 1.0, -2.0], np.float32)
    x = rng.choice(specials, (3, 6)).astype(np.float32)
    y = rng.choice(specials, y_shape).astype(np.float32)
    o = opts()
    o.fusedActivationFunction = act
    want = run_litert(single_op_model(op, [x, y], [Out(np.float32, shape=(3, 6))], o), [x, y])[0]
    for jit in (False, True):
        got = run_kernel(op, [x, y], o, jit=jit)[0]
        np.testing.assert_array_equal(got, want, err_msg=f"{op} jit={jit}")


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("act", [0, 3])
def test_row_broadcast_takes_the_rows_loop_and_equals_reference(op, act):
    # [1, H, W, C] <op> [C] (a squeeze-excitation scale): the vectorized rows loop, with
    # infinities, NaN and signed zeros, bit for bit as the numpy reference.
    rng = np.random.default_rng(5)
    specials = np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 0.0, -0.0, 1.0, -2.0], np.float32)
    a = np.where(rng.random((1, 3, 5, 7)) < 0.3, rng.choice(specials, (1, 3, 5, 7)),
                 rng.standard_normal((1, 3, 5, 7))).astype(np.float32)
    b = np.concatenate([specials[:4], rng.standard_normal(3)]).astype(np.float32)
    ctx = make_context(op, [a, b], opts(op, act))
    p = select_kernel(ctx).prepare(ctx)
    assert p.mode == ew.MODE_GENERAL and ew._row_broadcast(p) == 7
    ref = run_kernel(op, [a, b], opts(op, act))[0]
    jit = run_kernel(op, [a, b], opts(op, act), jit=True)[0]
    np.testing.assert_array_equal(jit.view(np.int32), ref.view(np.int32))


def test_row_broadcast_detection_refuses_other_patterns():
    for sa, sb in (((2, 3), (2, 1)), ((4,), (1,)), ((3, 4), (3, 4)), ((1, 4), (3, 4))):
        a, b = np.ones(sa, np.float32), np.ones(sb, np.float32)
        ctx = make_context("ADD", [a, b], opts("ADD", 0))
        p = select_kernel(ctx).prepare(ctx)
        assert p.mode != ew.MODE_GENERAL or ew._row_broadcast(p) == 0
