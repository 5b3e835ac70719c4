"""``float_fixed_range_outputs``: a LOGISTIC/SOFTMAX/TANH at a float model output stays
float (its int8 output would have fixed 1/256 or 1/128 steps, docs/quantization.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgelite.quantize import quantize_model
from edgelite.schema import read_model
from tests.quantize.single_ops import build


def _out_types(q: bytes) -> dict[str, int]:
    m = read_model(q)
    sg = m.subgraphs[0]
    return {m.opcode_name(op): sg.tensors[op.outputs[0]].type for op in sg.operators}


@pytest.mark.parametrize("op", ["LOGISTIC", "SOFTMAX", "TANH"])
def test_output_activation_stays_float_on_request_without_a_warning(op):
    shape = (1, 10) if op == "SOFTMAX" else (1, 8, 8, 4)
    cal = np.random.default_rng(0).normal(size=(4,) + shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = quantize_model(build(op), "int8", calibration=cal, float_fixed_range_outputs=True)
    assert _out_types(q)[op] == 0  # FLOAT32
    # the default, and integer model outputs, keep TFLite's int8 kernel
    assert _out_types(quantize_model(build(op), "int8", calibration=cal))[op] == 9  # INT8
    q8 = quantize_model(build(op), "int8", calibration=cal, io_type="int8", float_fixed_range_outputs=True)
    assert _out_types(q8)[op] == 9
