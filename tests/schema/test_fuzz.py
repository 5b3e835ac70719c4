"""Mutated and truncated models either read or raise ModelFormatError: nothing else."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelite.errors import ModelFormatError
from edgelite.schema import read_model, write_model
from tests.schema.helpers import conv_gelu_model, custom_op_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = [conv_gelu_model(), custom_op_model()] + [
    p.read_bytes() for p in sorted(FIXTURES.glob("*.tflite"))[:6]
]


def _read_or_format_error(data: bytes) -> None:
    try:
        m = read_model(data)
    except ModelFormatError:
        return
    # Whatever reads must also write back and read again.
    try:
        again = write_model(m)
    except ModelFormatError:
        return
    read_model(again)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_byte_mutations(seed, edits):
    data = bytearray(SEEDS[seed])
    for where, value in edits:
        data[int(where * len(data))] = value
    _read_or_format_error(bytes(data))


@settings(max_examples=600, deadline=None)
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    where=st.floats(0, 1, exclude_max=True),
    value=st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 12, 4096]),
)
def test_offset_mutations(seed, where, value):
    """Overwrite an aligned 32-bit word (an offset or a length) with an extreme value."""
    data = bytearray(SEEDS[seed])
    pos = (int(where * len(data)) // 4) * 4
    if pos + 4 <= len(data):
        struct.pack_into("<I", data, pos, value)
    _read_or_format_error(bytes(data))


@settings(max_examples=400, deadline=None)
@given(seed=st.sampled_from(range(len(SEEDS))), cut=st.floats(0, 1, exclude_max=True))
def test_truncations(seed, cut):
    data = SEEDS[seed]
    _read_or_format_error(data[: int(cut * len(data))])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short"),
        (b"\x10\x00\x00\x00TFL2" + bytes(32), "identifier"),
        (b"\xff\xff\xff\x00TFL3" + bytes(32), "root table offset"),
    ],
)
def test_clear_messages(data, message):
    with pytest.raises(ModelFormatError, match=message):
        read_model(data)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot read"):
        read_model(tmp_path / "nope.tflite")
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="empty file"):
        read_model(empty)


def test_shared_vector_blowup_is_refused():
    """Many subgraphs pointing at one long tensor vector must not cost quadratic time."""
    import flatbuffers

    from edgelite.schema.fb import Buffer as fbBuffer
    from edgelite.schema.fb import Model as fbModel
    from edgelite.schema.fb import SubGraph as fbSubGraph
    from edgelite.schema.fb import Tensor as fbTensor

    b = flatbuffers.Builder(0)
    tensors = []
    for _ in range(3000):
        fbTensor.TensorStart(b)
        tensors.append(fbTensor.TensorEnd(b))
    fbSubGraph.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    shared = b.EndVector()
    subgraphs = []
    for _ in range(3000):
        fbSubGraph.SubGraphStart(b)
        fbSubGraph.SubGraphAddTensors(b, shared)
        subgraphs.append(fbSubGraph.SubGraphEnd(b))
    fbModel.ModelStartSubgraphsVector(b, len(subgraphs))
    for s in reversed(subgraphs):
        b.PrependUOffsetTRelative(s)
    sg_vec = b.EndVector()
    fbBuffer.BufferStart(b)
    buf0 = fbBuffer.BufferEnd(b)
    fbModel.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(buf0)
    bufs = b.EndVector()
    fbModel.ModelStart(b)
    fbModel.ModelAddSubgraphs(b, sg_vec)
    fbModel.ModelAddBuffers(b, bufs)
    b.Finish(fbModel.ModelEnd(b), file_identifier=b"TFL3")
    data = bytes(b.Output())
    # 9 million tensor references in a file of well under a megabyte.
    with pytest.raises(ModelFormatError, match="more elements than it can hold"):
        read_model(data)


def test_out_of_range_indices_are_format_errors():
    from edgelite.schema.model import Model, Operator, OperatorCode, Subgraph, Tensor

    bad = Model(
        operator_codes=[OperatorCode(builtin_code=19)],
        subgraphs=[Subgraph(tensors=[Tensor(name="a", shape=(1,))], inputs=[0], outputs=[5],
                            operators=[Operator(opcode_index=0, inputs=[0], outputs=[0])])],
    )
    with pytest.raises(ModelFormatError, match="output tensor index 5"):
        read_model(write_model(bad))
    bad.subgraphs[0].outputs = [0]
    bad.subgraphs[0].operators[0].opcode_index = 3
    with pytest.raises(ModelFormatError, match="opcode index 3"):
        read_model(write_model(bad))
    bad.subgraphs[0].operators[0].opcode_index = 0
    bad.subgraphs[0].tensors[0].buffer = 9
    with pytest.raises(ModelFormatError, match="buffer index 9"):
        read_model(write_model(bad))


def test_buffer_size_mismatch_is_reported():
    m = read_model(conv_gelu_model())
    t = next(t for t in m.subgraphs[0].tensors if t.name == "conv/w")
    m.buffers[t.buffer].data = np.zeros(7, np.uint8)
    with pytest.raises(ModelFormatError, match="needs"):
        m.tensor_data(t)
