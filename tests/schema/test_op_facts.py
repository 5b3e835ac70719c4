"""The per-operator facts every layer reads (``edgelite.schema.op_facts``)."""

from __future__ import annotations

import pytest

from edgelite.quantize.spec import INT8_OPS
from edgelite.schema import op_facts
from edgelite.schema.ops import all_builtin_names


def test_weight_facts_name_real_builtins():
    assert set(op_facts.WEIGHTS) <= set(all_builtin_names())


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"])
def test_the_quantizer_spec_agrees_with_the_channel_axis(op):
    """The quantizer's weight roles (``w0``, ``w3``) name the same axis as the facts."""
    spec = INT8_OPS[op]
    w = op_facts.weight_input(op)
    assert spec.roles[w] == f"w{op_facts.channel_axis(op)}"


def test_runtime_versions_come_from_one_table():
    assert op_facts.runtime_version("CONV_2D", 3) == "1.14.0"
    assert op_facts.runtime_version("CONV_2D", 99) is None
    # the converter's floor: never below 1.14.0, raised by newer operators
    assert op_facts.model_min_runtime([("ADD", 1)]) == "1.14.0"
    assert op_facts.model_min_runtime([("ADD", 1), ("GELU", 1)]) == "2.9.0"
    assert op_facts.model_min_runtime([]) == "1.14.0"
    assert op_facts.min_runtime_version([("RESHAPE", 7)]) is None


def test_quantizer_and_converter_read_the_same_table():
    from edgelite.quantize import versions

    assert versions.runtime_version is op_facts.runtime_version
    assert versions.min_runtime_version is op_facts.min_runtime_version
