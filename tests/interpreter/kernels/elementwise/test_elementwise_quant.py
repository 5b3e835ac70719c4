"""Quantized ADD/SUB/MUL/SQUARED_DIFFERENCE/MAXIMUM/MINIMUM against LiteRT, bit for bit."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.MulOptions import MulOptionsT
from edgelite.schema.fb.SubOptions import SubOptionsT

OPTS = {"ADD": AddOptionsT, "SUB": SubOptionsT, "MUL": MulOptionsT, "SQUARED_DIFFERENCE": None,
        "MAXIMUM": None, "MINIMUM": None}


def _zp(rng, dt):
    if dt == np.int16:
        return 0
    return int(rng.integers(-40, 40)) + (128 if dt == np.uint8 else 0)


def test_add_by_hand():
    # 0.5*(x-0) + 0.5*(y-0) on an output of scale 1: 3 + 4 = 7 halves -> 3.5 -> 4 (round half up)
    o = AddOptionsT()
    spec = Spec("ADD", [TSpec((1,), np.int8, (0.5, 0)), TSpec((1,), np.int8, (0.5, 0))],
                [TSpec((1,), np.int8, (1.0, 0))], o)
    out = run_edgelite(spec, [np.array([3], np.int8), np.array([4], np.int8)])[0]
    assert out.tolist() == [4]


def test_fused_relu6_clamps_by_hand():
    o = MulOptionsT()
    o.fusedActivationFunction = 3  # RELU6
    spec = Spec("MUL", [TSpec((3,), np.int8, (0.5, 0)), TSpec((3,), np.int8, (0.5, 0))],
                [TSpec((3,), np.int8, (0.1, 0))], o)
    out = run_edgelite(spec, [np.array([10, -10, 2], np.int8), np.array([10, 10, 2], np.int8)])[0]
    # 25 -> clamped to 6/0.1 = 60; -25 -> 0; 1 -> 10
    assert out.tolist() == [60, 0, 10]


@pytest.mark.parametrize("op", list(OPTS))
@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("act", [0, 1, 2, 3])
def test_against_litert(op, dt, act):
    if op == "SQUARED_DIFFERENCE" and dt != np.int8:
        pytest.skip("LiteRT has no uint8/int16 SQUARED_DIFFERENCE")
    if OPTS[op] is None and act:
        pytest.skip("no fused activation")
    rng = np.random.default_rng(zlib.crc32(f"{op}{dt.__name__}{act}".encode()))
    o = OPTS[op]() if OPTS[op] else None
    if o is not None:
        o.fusedActivationFunction = act
    q = [(float(rng.uniform(0.005, 0.3)), _zp(rng, dt)) for _ in range(3)]
    if op in ("MAXIMUM", "MINIMUM"):
        q = [q[0]] * 3
    spec = Spec(op, [TSpec((2, 1, 3, 4), dt, q[0]), TSpec((1, 5, 1, 4), dt, q[1])],
                [TSpec((2, 5, 3, 4), dt, q[2])], o)
    check(spec, [random_q(rng, (2, 1, 3, 4), dt), random_q(rng, (1, 5, 1, 4), dt)])


@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_int16_power_of_two_path(op):
    rng = np.random.default_rng(1)
    o = OPTS[op]()
    o.potScaleInt16 = True
    spec = Spec(op, [TSpec((4, 33), np.int16, (2.0 ** -12, 0)), TSpec((4, 33), np.int16, (2.0 ** -10, 0))],
                [TSpec((4, 33), np.int16, (2.0 ** -10, 0))], o)
    check(spec, [random_q(rng, (4, 33), np.int16), random_q(rng, (4, 33), np.int16)])


def test_six_dimensional_broadcast():
    rng = np.random.default_rng(2)
    spec = Spec("ADD", [TSpec((2, 1, 2, 1, 3, 1), np.int8, (0.05, 3)), TSpec((1, 2, 1, 2, 1, 4), np.int8, (0.07, -5))],
                [TSpec((2, 2, 2, 2, 3, 4), np.int8, (0.1, 1))], AddOptionsT())
    check(spec, [random_q(rng, (2, 1, 2, 1, 3, 1), np.int8), random_q(rng, (1, 2, 1, 2, 1, 4), np.int8)])


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    op=st.sampled_from(["ADD", "SUB", "MUL"]),
    dt=st.sampled_from([np.int8, np.uint8]),
    shape=shapes,
    mask=st.lists(st.booleans(), min_size=4, max_size=4),
    s1=st.floats(0.001, 1.0), s2=st.floats(0.001, 1.0), so=st.floats(0.001, 1.0),
    z=st.tuples(st.integers(-128, 127), st.integers(-128, 127), st.integers(-128, 127)),
    act=st.sampled_from([0, 1, 2, 3]),
    seed=st.integers(0, 2**31),
)
def test_property_broadcast_scales_zero_points(op, dt, shape, mask, s1, s2, so, z, act, seed):
    rng = np.random.default_rng(seed)
    off = 128 if dt == np.uint8 else 0
    b_shape = tuple(1 if m else d for d, m in zip(shape, mask))
    o = OPTS[op]()
    o.fusedActivationFunction = act
    spec = Spec(op, [TSpec(tuple(shape), dt, (s1, z[0] + off)), TSpec(b_shape, dt, (s2, z[1] + off))],
                [TSpec(tuple(shape), dt, (so, z[2] + off))], o)
    check(spec, [random_q(rng, tuple(shape), dt), random_q(rng, b_shape, dt)])


# --------------------------------------------------------------------------------------
# Exact ties: LiteRT's optimized 8-bit ADD rounds its SIMD blocks and its scalar
# remainder differently; scales in small ratios make the input rescaling hit ties.
# --------------------------------------------------------------------------------------

def test_rescale_forms_follow_simd_blocks():
    from edgelite.interpreter.kernels.elementwise.elementwise_quant import add_rescale_forms

    f = add_rescale_forms((1, 37), (1, 37), True)
    assert f[:32].tolist() == [1] * 32 and f[32:].tolist() == [0] * 5
    f = add_rescale_forms((37,), (37,), False)  # uint8: blocks of 8, floor form
    assert f[:32].tolist() == [2] * 32 and f[32:].tolist() == [0] * 5
    f = add_rescale_forms((2, 3, 20), (1, 1, 20), True)  # runs of y4 = 20 along the last axis
    assert f.reshape(6, 20)[:, :16].min() == 1 and f.reshape(6, 20)[:, 16:].max() == 0
    f = add_rescale_forms((2, 11), (2, 1), True)  # scalar broadcast per row: runs of y3 = 11
    assert f.reshape(2, 11)[:, :8].min() == 2 and f.reshape(2, 11)[:, 8:].max() == 0
    assert add_rescale_forms((2, 3), (3, 1), True) is None  # generic broadcast: reference kernel


def test_mobilenet_add_tie_regression():
    # The values of an ADD of a random-weights MobileNetV2 that LiteRT rounded
    # differently: input 1 rescaled by exactly 1/2 lands on -40381688.5.
    q = [(0.058061644434928894, -19), (0.07236790657043457, -12), (0.05768245458602905, 11)]
    spec = Spec("ADD", [TSpec((1, 16), np.int8, q[0]), TSpec((1, 16), np.int8, q[1])],
                [TSpec((1, 16), np.int8, q[2])], AddOptionsT(), version=2)
    x1, x2 = np.full((1, 16), -115, np.int8), np.full((1, 16), 71, np.int8)
    want = check(spec, [x1, x2])[0]
    assert want.ravel().tolist() == [19] * 16  # LiteRT's own answer; 18 was edgelite's before the fix


_bshapes = st.lists(st.sampled_from([1, 2, 3, 7, 8, 9, 16, 17, 33]), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    op=st.sampled_from(["ADD", "SUB"]),
    dt=st.sampled_from([np.int8, np.uint8]),
    shape=_bshapes,
    kind=st.sampled_from(["same", "scalar", "mask", "swap"]),
    mask=st.lists(st.booleans(), min_size=4, max_size=4),
    s=st.floats(0.01, 0.2),
    ratios=st.tuples(st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]),
                     st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])),
    z=st.tuples(st.integers(-40, 40), st.integers(-40, 40), st.integers(-40, 40)),
    seed=st.integers(0, 2**31),
)
def test_property_add_sub_ties_simd_and_tail(op, dt, shape, kind, mask, s, ratios, z, seed):
    rng = np.random.default_rng(seed)
    off = 128 if dt == np.uint8 else 0
    a = tuple(shape)
    b = {"same": a, "scalar": (1,)}.get(kind, tuple(1 if m else d for d, m in zip(a, mask)))
    if kind == "swap":
        a, b = b, a
    out = tuple(np.broadcast_shapes(a, b))
    q = [(s, z[0] + off), (s * ratios[0], z[1] + off), (s * ratios[1], z[2] + off)]
    spec = Spec(op, [TSpec(a, dt, q[0]), TSpec(b, dt, q[1])], [TSpec(out, dt, q[2])], OPTS[op]())
    check(spec, [random_q(rng, a, dt), random_q(rng, b, dt)])


@pytest.mark.parametrize("dt", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", [((4001,), (4001,)), ((3, 61, 19), (1, 61, 19)), ((30, 141), (30, 1)),
                                    ((7, 2, 97), (97,))])
def test_add_many_ties_against_litert(dt, shapes):
    # Scales in small ratios (after float32 rounding, not exactly dyadic) put the input
    # rescaling on exact ties and the output close to half-way; thousands of elements
    # make some of those ties reach the output.
    rng = np.random.default_rng(zlib.crc32(f"{dt.__name__}{shapes}".encode()))
    off = 128 if dt == np.uint8 else 0
    a, b = shapes
    out = tuple(np.broadcast_shapes(a, b))
    for _ in range(4):
        s = float(rng.uniform(0.02, 0.1))
        r2, ro = float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.5, 3.0])), float(rng.choice([0.5, 1.0, 1.5, 2.0, 3.0]))
        q = [(s, int(rng.integers(-30, 30)) + off), (s * r2, int(rng.integers(-30, 30)) + off),
             (s * ro, int(rng.integers(-30, 30)) + off)]
        spec = Spec("ADD", [TSpec(a, dt, q[0]), TSpec(b, dt, q[1])], [TSpec(out, dt, q[2])], AddOptionsT())
        check(spec, [random_q(rng, a, dt), random_q(rng, b, dt)])


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("shapes", [((8195,), (8195,)), ((21, 3, 129), (1, 3, 129)), ((8195,), (1,)),
                                    ((8, 66, 16, 8), (1, 66, 16, 1))])
def test_int16_general_scales_rare_ties(op, shapes):
    # int16 ADD/SUB with non-power-of-two scales and int16 MUL: LiteRT rounds the
    # same-shape ADD's input rescaling once and computes MUL's multiplier in float32;
    # both change about one output in 10^4..10^5, hence the large tensors.
    rng = np.random.default_rng(zlib.crc32(f"{op}{shapes}".encode()))
    a, b = shapes
    out = tuple(np.broadcast_shapes(a, b))
    for _ in range(12):
        q = [(float(np.float32(rng.uniform(1e-5, 1e-4))), 0) for _ in range(3)]
        if op == "MUL":
            q[2] = (q[0][0] * q[1][0] * float(rng.uniform(2000, 20000)), 0)
        o = OPTS[op]()
        if op != "MUL":
            o.potScaleInt16 = False
        spec = Spec(op, [TSpec(a, np.int16, q[0]), TSpec(b, np.int16, q[1])], [TSpec(out, np.int16, q[2])], o)
        check(spec, [random_q(rng, a, np.int16), random_q(rng, b, np.int16)])


# --------------------------------------------------------------------------------------
# The fused Numba loops (elementwise_quant_jit) against the numpy reference, on every
# pair of 8-bit inputs; then LiteRT's int16-lane narrowing in its SIMD loops.
# --------------------------------------------------------------------------------------

def _all_pairs(dt):
    off = 128 if dt == np.uint8 else 0
    k = np.arange(65536)
    return ((k % 256) - 128 + off).astype(dt), ((k // 256) - 128 + off).astype(dt)


@pytest.mark.parametrize("op", ["ADD", "SUB", "SQUARED_DIFFERENCE", "MUL"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_fused_loop_equals_reference_on_every_input_pair(op, dt):
    from edgelite.interpreter.kernels.base import select_kernel
    from tests.interpreter.kernels.quant_harness import make_context

    if op == "SQUARED_DIFFERENCE" and dt != np.int8:
        pytest.skip("int8 only")
    rng = np.random.default_rng(zlib.crc32(f"pairs{op}{dt.__name__}".encode()))
    off = 128 if dt == np.uint8 else 0
    from edgelite.interpreter.compute.jit import HAVE_NUMBA

    x1, x2 = _all_pairs(dt)
    if not HAVE_NUMBA:  # the loops run as Python: a sample of the pairs
        pick = rng.permutation(65536)[:4096]
        x1, x2 = x1[pick], x2[pick]
    n = x1.size - 5  # a scalar tail after the SIMD blocks
    x1, x2 = x1[:n], x2[:n]
    tried = 0
    for trial in range(8):
        s1 = float(rng.uniform(0.01, 0.1))
        # tie-heavy ratios, tiny output scales (int16 wrap in the SIMD lanes), random
        s2 = s1 * float(rng.choice([0.25, 0.5, 1.0, 1.5, 2.0, 3.0])) if trial % 2 else float(rng.uniform(0.01, 0.1))
        base = s1 * s2 if op == "MUL" else s1
        so = base * float(rng.choice([0.004, 0.1, 0.5, 1.0, 2.0, 3.0])) if trial % 2 == 0 else base * float(rng.uniform(0.2, 5))
        z = [int(rng.integers(-60, 60)) + off for _ in range(3)]
        o = OPTS[op]() if OPTS[op] else None
        if o is not None:
            o.fusedActivationFunction = int(rng.choice([0, 1, 3]))
        spec = Spec(op, [TSpec((n,), dt, (s1, z[0])), TSpec((n,), dt, (s2, z[1]))], [TSpec((n,), dt, (so, z[2]))], o)
        params = select_kernel(make_context(spec, use_jit=True)).prepare(make_context(spec, use_jit=True))
        if params.plan is None:
            continue
        tried += 1
        ref = run_edgelite(spec, [x1, x2])[0]
        jit = run_edgelite(spec, [x1, x2], use_jit=True)[0]
        np.testing.assert_array_equal(jit, ref, err_msg=f"{op} {dt.__name__} scales {s1, s2, so} zps {z}")
    assert tried >= 4


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", [((512, 16), (1, 16)), ((512, 16), (512, 1)), ((511, 15), (511, 1)),
                                    ((1,), (3, 1027)), ((5, 7, 33), (5, 1, 33)), ((2, 3, 1), (1, 3, 5)),
                                    ((4, 1), (1, 4)), ((3, 50, 32), (3, 1, 32)), ((2, 1, 1, 48), (2, 7, 7, 48))])
def test_simd_lanes_narrow_to_int16_like_litert(op, dt, shapes):
    # A tiny output scale puts unclamped results beyond int16: LiteRT's SIMD loops
    # (ADD: truncating narrow; MUL: saturating, uint8 scalar-broadcast truncating) add
    # the zero point in int16 and wrap, its scalar loops do not. Every broadcast path.
    rng = np.random.default_rng(zlib.crc32(f"narrow{op}{dt.__name__}{shapes}".encode()))
    off = 128 if dt == np.uint8 else 0
    a, b = shapes
    out = tuple(np.broadcast_shapes(a, b))
    for k in (0.003, 0.005, 0.3, 2.0):
        s1, s2 = 0.05, 0.03
        so = (s1 * s2 if op == "MUL" else s1) * k
        z = [int(rng.integers(-30, 30)) + off for _ in range(3)]
        o = OPTS[op]()
        o.fusedActivationFunction = int(rng.choice([0, 1, 3]))
        spec = Spec(op, [TSpec(a, dt, (s1, z[0])), TSpec(b, dt, (s2, z[1]))], [TSpec(out, dt, (so, z[2]))], o)
        check(spec, [random_q(rng, a, dt), random_q(rng, b, dt)])


_tie_k = st.sampled_from([0.25, 1 / 3, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0, 64.0])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    dt=st.sampled_from([np.int8, np.uint8]),
    shape=_bshapes,
    kind=st.sampled_from(["same", "scalar", "mask", "swap"]),
    mask=st.lists(st.booleans(), min_size=4, max_size=4),
    e=st.tuples(st.integers(3, 8), st.integers(3, 8)),
    k=_tie_k,
    z=st.tuples(st.integers(-40, 40), st.integers(-40, 40), st.integers(-40, 40)),
    act=st.sampled_from([0, 1, 3]),
    seed=st.integers(0, 2**31),
)
def test_property_mul_tie_heavy_scales(dt, shape, kind, mask, e, k, z, act, seed):
    # power-of-two input scales and an output scale a simple multiple of their
    # product: MultiplyByQuantizedMultiplier lands on exact ties all the time
    rng = np.random.default_rng(seed)
    off = 128 if dt == np.uint8 else 0
    a = tuple(shape)
    b = {"same": a, "scalar": (1,)}.get(kind, tuple(1 if m else d for d, m in zip(a, mask)))
    if kind == "swap":
        a, b = b, a
    out = tuple(np.broadcast_shapes(a, b))
    s1, s2 = 2.0 ** -e[0], 2.0 ** -e[1]
    o = MulOptionsT()
    o.fusedActivationFunction = act
    spec = Spec("MUL", [TSpec(a, dt, (s1, z[0] + off)), TSpec(b, dt, (s2, z[1] + off))],
                [TSpec(out, dt, (s1 * s2 * k, z[2] + off))], o)
    check(spec, [random_q(rng, a, dt), random_q(rng, b, dt)])


@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_mul_ties_against_litert_with_and_without_xnnpack(dt):
    # The built-in kernels are the oracle (bit for bit). LiteRT's default path hands
    # MUL to XNNPACK, which rounds its own way: it may differ by one step, never more,
    # where no int16 lane overflows (output scale >= 2 s1 s2 here).
    from tests.interpreter.kernels.quant_harness import run_litert

    rng = np.random.default_rng(11 if dt == np.int8 else 12)
    off = 128 if dt == np.uint8 else 0
    worst = 0
    for k in (2.0, 3.0, 4.0, 8.0, 24.0):
        z = [int(rng.integers(-30, 30)) + off for _ in range(3)]
        spec = Spec("MUL", [TSpec((4099,), dt, (2.0 ** -5, z[0])), TSpec((4099,), dt, (2.0 ** -6, z[1]))],
                    [TSpec((4099,), dt, (2.0 ** -11 * k, z[2]))], MulOptionsT())
        feeds = [random_q(rng, (4099,), dt), random_q(rng, (4099,), dt)]
        got = check(spec, feeds)[0]
        xnn = run_litert(spec, feeds, delegate=True)[0]
        worst = max(worst, int(np.abs(got.astype(np.int64) - xnn.astype(np.int64)).max()))
    assert worst <= 1


def test_mul_with_a_multiplier_above_one_falls_back_to_the_reference():
    # s1 s2 / s_out >= 1: a left shift the fused loop does not take; eval_jit runs numpy
    from edgelite.interpreter.kernels.base import select_kernel
    from tests.interpreter.kernels.quant_harness import make_context

    rng = np.random.default_rng(5)
    spec = Spec("MUL", [TSpec((3, 40), np.int8, (0.5, 3)), TSpec((3, 40), np.int8, (0.25, -2))],
                [TSpec((3, 40), np.int8, (0.05, 1))], MulOptionsT())
    ctx = make_context(spec, use_jit=True)
    assert select_kernel(ctx).prepare(ctx).plan is None
    check(spec, [random_q(rng, (3, 40), np.int8), random_q(rng, (3, 40), np.int8)])


@pytest.mark.parametrize("dt", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", [((512, 16), (1, 16)), ((511, 15), (511, 1)), ((1,), (3, 1027)),
                                    ((5, 7, 33), (5, 1, 33)), ((2, 3, 1), (1, 3, 5)), ((2, 1, 1, 48), (2, 7, 7, 48)),
                                    ((1, 24, 24, 40), (1, 1, 1, 40)), ((4, 4099), (4, 4099))])
def test_mul_table_path_matches_litert(monkeypatch, dt, shapes):
    # The reference MUL of a large 8-bit output looks each element up in a table of
    # all 65536 input-code pairs (SIMD and scalar rows); here every MUL takes that path:
    # tiny output scales (int16 narrowing), ties (power-of-two scales), activations.
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel
    from edgelite.interpreter.kernels.elementwise import elementwise_quant as eq

    monkeypatch.setattr(eq, "MUL_TABLE_MIN_SIZE", 1)
    rng = np.random.default_rng(zlib.crc32(f"multable{dt.__name__}{shapes}".encode()))
    off = 128 if dt == np.uint8 else 0
    a, b = shapes
    out = tuple(np.broadcast_shapes(a, b))
    for s1, s2, k in ((0.05, 0.03, 0.003), (0.05, 0.03, 0.3), (2.0 ** -5, 2.0 ** -6, 1.0), (2.0 ** -4, 2.0 ** -3, 3.0)):
        z = [int(rng.integers(-30, 30)) + off for _ in range(3)]
        o = MulOptionsT()
        o.fusedActivationFunction = int(rng.choice([0, 1, 3]))
        spec = Spec("MUL", [TSpec(a, dt, (s1, z[0])), TSpec(b, dt, (s2, z[1]))], [TSpec(out, dt, (s1 * s2 * k, z[2]))], o)
        ctx = make_context(spec)
        assert select_kernel(ctx).prepare(ctx).table is not None
        check(spec, [random_q(rng, a, dt), random_q(rng, b, dt)])
