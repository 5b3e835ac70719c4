"""``read_model`` reads tables by vtable slot, not through the generated classes: it must
read every file, and fail on every broken one, exactly as the generated classes did.

The oracle is ``tests/schema/generated_reader.py`` (the reader's walk through
``edgelite.schema.fb``). Seeds: the fixtures, the schema helpers' models and one model
using the rarely set fields (variant tensors, quantization details, variables,
intermediates, builtin_options_2, external buffers); then byte, offset and length
mutations of them. Either both readers give the same ``Model`` (every field, array
bytes and dtypes included) or both raise ``ModelFormatError`` with the same message.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelite.errors import ModelFormatError
from edgelite.schema import read_model, write_model
from edgelite.schema.model import QuantizationParameters, VariantSubType
from tests.schema.generated_reader import read_model_generated
from tests.schema.helpers import conv_gelu_model, custom_op_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _rich_model() -> bytes:
    """conv_gelu_model with the fields no fixture sets."""
    from edgelite.schema.fb.BuiltinOptions2 import BuiltinOptions2
    from edgelite.schema.fb.CustomQuantization import CustomQuantizationT
    from edgelite.schema.fb.StablehloConcatenateOptions import StablehloConcatenateOptionsT

    m = read_model(conv_gelu_model())
    sg = m.subgraphs[0]
    sg.debug_metadata_index = 2
    sg.tensors[0].variant_tensors = [VariantSubType(shape=[1, 2, 3], type=1, has_rank=True), VariantSubType(type=9)]
    sg.tensors[1].is_variable = True
    details = CustomQuantizationT()
    details.custom = [1, 2, 3, 250]
    sg.tensors[1].quantization = QuantizationParameters(
        scale=np.array([0.5, 0.25], np.float32), zero_point=np.array([1, -3], np.int64),
        min=np.array([-1.0], np.float32), max=np.array([2.0], np.float32), details_type=1, details=details,
    )
    op = sg.operators[0]
    op.intermediates, op.mutating_variable_inputs, op.debug_metadata_index = [0, 1], [True, False], 3
    options = StablehloConcatenateOptionsT()
    options.dimension = 3
    sg.operators[1].builtin_options_2_type = BuiltinOptions2.StablehloConcatenateOptions
    sg.operators[1].builtin_options_2 = options
    return write_model(m)


RICH = _rich_model()
SEEDS = [conv_gelu_model(), custom_op_model(), RICH, write_model(read_model(RICH), external_data=True)] + [
    p.read_bytes() for p in sorted(FIXTURES.glob("*.tflite"))[:8]
]


def _same(a, b, path: str = "model") -> None:
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), path
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, (int, float, str, bytes, type(None))):
        assert a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b)), f"{path}: {a!r} vs {b!r}"
    else:  # a generated options object (XxxOptionsT)
        assert sorted(vars(a)) == sorted(vars(b)), path
        for k in vars(a):
            _same(getattr(a, k), getattr(b, k), f"{path}.{k}")


def _outcome(read, data: bytes):
    try:
        return "read", read(data)
    except ModelFormatError as e:
        return "error", str(e)


def _check(data: bytes) -> None:
    new, old = _outcome(read_model, data), _outcome(read_model_generated, data)
    assert new[0] == old[0], (new, old)
    if new[0] == "read":
        _same(new[1], old[1])
    else:
        assert new[1] == old[1]


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_read_identically(seed):
    kind, model = _outcome(read_model, SEEDS[seed])
    assert kind == "read"
    _check(SEEDS[seed])


def test_rich_model_fields_are_read():
    m = read_model(RICH)
    t0, t1 = m.subgraphs[0].tensors[:2]
    assert [v.shape for v in t0.variant_tensors] == [[1, 2, 3], []] and t1.is_variable
    assert list(t1.quantization.details.custom) == [1, 2, 3, 250] and t1.quantization.min.tolist() == [-1.0]
    assert m.subgraphs[0].operators[1].builtin_options_2.dimension == 3
    assert m.subgraphs[0].operators[0].mutating_variable_inputs == [True, False]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_byte_mutations_read_identically(seed, edits):
    data = bytearray(SEEDS[seed])
    for where, value in edits:
        data[int(where * len(data))] = value
    _check(bytes(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    where=st.floats(0, 1, exclude_max=True),
    value=st.sampled_from([0, 1, 2, 4, 12, 4096, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]),
)
def test_offset_mutations_read_identically(seed, where, value):
    data = bytearray(SEEDS[seed])
    pos = (int(where * len(data)) // 4) * 4
    if pos + 4 <= len(data):
        struct.pack_into("<I", data, pos, value)
    _check(bytes(data))


@settings(max_examples=150, deadline=None)
@given(seed=st.sampled_from(range(len(SEEDS))), cut=st.floats(0, 1, exclude_max=True))
def test_truncations_read_identically(seed, cut):
    _check(SEEDS[seed][: int(cut * len(SEEDS[seed]))])
