"""``fixed_range_outputs``: a LOGISTIC/SOFTMAX/TANH at a float model output runs in
int16x8 by default (its int8 output would have fixed 1/256 or 1/128 steps,
docs/quantization.md), or float, or int8 as TFLite's converter writes it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgelite.errors import QuantizationError
from edgelite.quantize import quantize_model
from edgelite.schema import read_model
from tests.quantize.litert_util import run_litert
from tests.quantize.single_ops import build

FLOAT32, INT16, INT8 = 0, 7, 9


def _out_types(q: bytes) -> dict[str, int]:
    m = read_model(q)
    sg = m.subgraphs[0]
    return {m.opcode_name(op): sg.tensors[op.outputs[0]].type for op in sg.operators}


def _cal(op):
    shape = (1, 10) if op == "SOFTMAX" else (1, 8, 8, 4)
    return np.random.default_rng(0).normal(size=(8,) + shape).astype(np.float32)


@pytest.mark.parametrize("op", ["LOGISTIC", "SOFTMAX", "TANH"])
def test_output_activation_precision(op):
    cal = _cal(op)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no operator "left float" warning
        q16 = quantize_model(build(op), "int8", calibration=cal)
        qf = quantize_model(build(op), "int8", calibration=cal, fixed_range_outputs="float")
    q8 = quantize_model(build(op), "int8", calibration=cal, fixed_range_outputs="int8")
    assert _out_types(q16)[op] == INT16 and _out_types(qf)[op] == FLOAT32 and _out_types(q8)[op] == INT8
    # integer model outputs keep TFLite's int8 kernel
    qi = quantize_model(build(op), "int8", calibration=cal, io_type="int8")
    assert _out_types(qi)[op] == INT8
    # the int16 output is (much) closer to the float model; the edgelite / LiteRT
    # bit-exactness of the int16 kernels is tested in tests/quantize/test_ops.py
    feeds = [{"x": c} for c in cal]
    ref = np.concatenate([r[0].ravel() for r in run_litert(build(op), feeds)])

    def err(q):
        return float(np.max(np.abs(np.concatenate([r[0].ravel() for r in run_litert(q, feeds)]) - ref)))

    assert err(q16) < err(q8) / 4


def test_bad_value_is_a_typed_error():
    with pytest.raises(QuantizationError, match="fixed_range_outputs"):
        quantize_model(build("LOGISTIC"), "int8", calibration=_cal("LOGISTIC"), fixed_range_outputs="int4")
