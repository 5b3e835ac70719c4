"""Quantized MEAN / SUM / REDUCE_MAX / REDUCE_MIN / ARG_MAX / ARG_MIN against LiteRT."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
from edgelite.schema.fb.ArgMaxOptions import ArgMaxOptionsT
from edgelite.schema.fb.ArgMinOptions import ArgMinOptionsT
from edgelite.schema.fb.ReducerOptions import ReducerOptionsT

CASES = [((2, 5, 6, 7), [1, 2], True), ((2, 5, 6, 7), [-3, -2], True), ((2, 5, 6, 7), [1, 2], False),
         ((3, 4, 5), [1], False), ((3, 4, 5), [0, 2], True), ((3, 4, 5), [-1], False), ((6,), [0], False)]


def _out_shape(shape, axes, keep):
    axes = [a % len(shape) for a in axes]
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _spec(op, dt, shape, axes, keep, qin, qout):
    o = ReducerOptionsT()
    o.keepDims = keep
    return Spec(op, [TSpec(shape, dt, qin), TSpec((len(axes),), np.int32, data=np.array(axes, np.int32), const=True)],
                [TSpec(_out_shape(shape, axes, keep), dt, qout)], o)


def test_mean_same_quantization_by_hand():
    spec = _spec("MEAN", np.int8, (1, 4), [1], False, (0.5, 0), (0.5, 0))
    out = run_edgelite(spec, [np.array([[1, 2, 3, 4]], np.int8)])[0]
    assert out.tolist() == [3]  # 2.5 rounds away from zero


@pytest.mark.parametrize("op", ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_against_litert(op, dt, case):
    shape, axes, keep = CASES[case]
    rng = np.random.default_rng(case * 7 + len(op))
    for same in (False, True):
        zp = (lambda: 0) if dt == np.int16 else (lambda: int(rng.integers(-30, 30)) + (128 if dt == np.uint8 else 0))
        qin = (float(rng.uniform(0.01, 0.2)), zp())
        qout = qin if (same or op.startswith("REDUCE")) else (float(rng.uniform(0.01, 0.2)), zp())
        check(_spec(op, dt, shape, axes, keep, qin, qout), [random_q(rng, shape, dt)])


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_arg_against_litert(op, dt):
    rng = np.random.default_rng(8)
    for shape, axis in [((3, 4, 5), 1), ((3, 4, 5), -1), ((6,), 0)]:
        o = ArgMaxOptionsT() if op == "ARG_MAX" else ArgMinOptionsT()
        o.outputType = 2
        out_shape = tuple(np.delete(np.array(shape), axis % len(shape)))
        x = rng.integers(-3, 3, size=shape).astype(dt)  # many ties: first index wins
        spec = Spec(op, [TSpec(shape, dt, (0.1, 0)), TSpec((1,), np.int32, data=np.array([axis], np.int32), const=True)],
                    [TSpec(out_shape, np.int32)], o)
        check(spec, [x])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(op=st.sampled_from(["MEAN", "SUM"]), shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       data=st.data(), keep=st.booleans(), s=st.floats(0.002, 0.5), so=st.floats(0.002, 0.5),
       z=st.integers(-100, 100), zo=st.integers(-100, 100), seed=st.integers(0, 2**31))
def test_property_mean_sum_int8(op, shape, data, keep, s, so, z, zo, seed):
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank, unique=True))
    if len({a % rank for a in axes}) != len(axes):
        return
    rng = np.random.default_rng(seed)
    check(_spec(op, np.int8, tuple(shape), axes, keep, (s, z), (so, zo)), [random_q(rng, tuple(shape), np.int8)])


def _tie_inputs(rng, hw, channels, dt):
    """Inputs whose per-channel sums make the global-pool MBQM hit exact ties often."""
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max + 1, size=(1,) + hw + (channels,)).astype(dt)


def test_global_pool_mean_negative_ties_round_half_up():
    # The 3x3x256 global average pool of the mobilenet_v1_025_96_int8 fixture, whose
    # negative exact ties LiteRT rounds up (-8.5 -> -8) where gemmlowp rounds away.
    spec = _spec("MEAN", np.int8, (1, 3, 3, 256), [1, 2], True, (0.003019333, -128), (0.0029807088, -128))
    rng = np.random.default_rng(3)
    check(spec, [_tie_inputs(rng, (3, 3), 256, np.int8)])
    # by hand: a channel summing to -76; multiplier 1933609600 * 2**-34 (s_in / (9 s_out)):
    # SRDHM gives round(-76 * 1933609600 / 2**31) = round(-68.43) = -68, then -68 / 8 = -8.5
    # rounds up to -8; bias = zp_out - round(zp_in * s_in / s_out) = -128 + 130 = 2.
    x = np.full((1, 3, 3, 256), -128, np.int8)
    x[0, :, :, 0] = np.array([-9, -9, -8, -12, -10, -5, -11, -8, -4]).reshape(3, 3)
    want = check(spec, [x])[0]
    assert want[0, 0, 0, 0] == -8 + 2


@settings(max_examples=30, deadline=None, derandomize=True)
@given(h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 70), s=st.floats(0.001, 0.2),
       ratio=st.floats(0.3, 3.0), z=st.integers(-128, 127), zo=st.integers(-128, 127),
       dt=st.sampled_from([np.int8, np.uint8]), seed=st.integers(0, 2**31))
def test_property_global_pool_mean(h, w, c, s, ratio, z, zo, dt, seed):
    if dt == np.uint8:
        z, zo = z + 128, zo + 128
    rng = np.random.default_rng(seed)
    spec = _spec("MEAN", dt, (1, h, w, c), [2, 1], True, (s, z), (s * ratio, zo))
    check(spec, [_tie_inputs(rng, (h, w), c, dt)])


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [20, 40, 48, 100])
def test_global_pool_mean_thread_slices_like_litert(threads, channels):
    # LiteRT splits the channels over threads and vectorizes 16-channel blocks of each
    # slice; the blocks round negative ties differently, so the split is observable.
    import ai_edge_litert.interpreter as litert
    from edgelite.interpreter import Interpreter
    from tests.interpreter.kernels.quant_harness import build_tflite

    spec = _spec("MEAN", np.int8, (1, 1, 1, channels), [1, 2], True, (0.125, 0), (0.375, 0))
    x = random_q(np.random.default_rng(channels), (1, 1, 1, channels), np.int8)
    data = build_tflite(spec)
    outs = []
    for it in (litert.Interpreter(model_content=data, num_threads=threads,
                                  experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
               Interpreter(model_content=data, num_threads=threads)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outs[1], outs[0])
