"""Every operator with an integer rule: LiteRT accepts the quantized single-op model,
the operator really runs in integers, and its outputs stay close to the float model's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgelite.quantize import quantize_model
from edgelite.quantize.spec import INT8_OPS, INT16_OPS
from edgelite.schema import read_model
from edgelite.schema.model import TensorType
from tests.quantize.litert_util import run_litert, sqnr
from tests.quantize.single_ops import POSITIVE_INPUTS, build, inputs_of



def _feeds(model: bytes, n: int, seed: int = 0, positive: bool = False):
    rng = np.random.default_rng(seed)
    feeds = [{name: rng.normal(0, 1, shape).astype(np.float32) for name, shape in inputs_of(model)} for _ in range(n)]
    if positive:
        feeds = [{k: np.abs(v) + np.float32(0.1) for k, v in f.items()} for f in feeds]
    return feeds


def _check(op: str, mode: str, threshold: float):
    f = build(op)
    calib = _feeds(f, 24, seed=1, positive=op in POSITIVE_INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any operator left float fails the test
        # fixed_range_outputs="int8": these single-op models end in the op under test
        q = quantize_model(f, mode, calibration=calib, backend="litert", fixed_range_outputs="int8")
    m = read_model(q)
    sg = m.subgraphs[0]
    want = TensorType.INT8 if mode == "int8" else TensorType.INT16
    ops = [op_ for op_ in sg.operators if m.opcode_name(op_) == op]
    assert len(ops) == 1
    act_in = [i for i in ops[0].inputs if i >= 0 and sg.tensors[i].type in (want, TensorType.FLOAT32)
              and m.tensor_data(sg.tensors[i]) is None]
    assert act_in and all(sg.tensors[i].type == want for i in act_in)
    assert all(sg.tensors[o].type == want for o in ops[0].outputs)
    test = _feeds(f, 8, seed=2, positive=op in POSITIVE_INPUTS)
    got = run_litert(q, test)
    ref = run_litert(f, test)
    assert sqnr(ref, got) > threshold, sqnr(ref, got)


@pytest.mark.parametrize("op", sorted(INT8_OPS))
def test_int8_op_runs_in_litert(op):
    _check(op, "int8", 30.0)


@pytest.mark.parametrize("op", sorted(INT16_OPS))
def test_int16x8_op_runs_in_litert(op):
    _check(op, "int16x8", 40.0)
