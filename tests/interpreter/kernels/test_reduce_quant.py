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
