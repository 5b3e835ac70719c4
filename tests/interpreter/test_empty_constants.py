"""Constants with no elements (shape with a 0) whose buffer is empty.

TensorFlow's converter writes the target shape of a reshape to a scalar as an int32
constant of shape (0,) with a buffer of its own holding no bytes (BirdNET's STFT front
end has one). LiteRT runs such models; edgelite must load them as constants, for every
tensor type, and still refuse an empty buffer for a tensor that has elements.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from edgelite.errors import ModelFormatError
from edgelite.interpreter.graph import load_subgraph
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT
from edgelite.schema.model import TensorType, numpy_dtype

ALL_TYPES = [
    TensorType.FLOAT32, TensorType.FLOAT16, TensorType.FLOAT64, TensorType.INT4, TensorType.INT8,
    TensorType.INT16, TensorType.INT32, TensorType.INT64, TensorType.UINT8, TensorType.UINT16,
    TensorType.UINT32, TensorType.UINT64, TensorType.BOOL, TensorType.COMPLEX64,
    TensorType.COMPLEX128, TensorType.STRING,
]


def _empty_constant(b: ModelBuilder, name: str, ttype: int, shape=(0,)) -> int:
    """A tensor of ``shape`` with its own, empty buffer (as TensorFlow's converter writes it)."""
    return b.add_tensor(name, shape, ttype, buffer=b.add_buffer(None))


def _concat_model(ttype: int, shape=(0,)) -> bytes:
    """``y = concat([x, c])`` along axis 0, where ``c`` is an empty constant."""
    b = ModelBuilder()
    x = b.add_input("x", (3,), ttype)
    c = _empty_constant(b, "empty", ttype, shape)
    y = b.add_tensor("y", (3,), ttype)
    b.add_operator("CONCATENATION", [x, c], [y], ConcatenationOptionsT())
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("ttype", ALL_TYPES, ids=lambda t: TensorType(t).name)
def test_empty_constant_of_every_type_loads_as_constant(ttype):
    model = read_model(_concat_model(ttype))
    tensor = model.subgraphs[0].tensors[1]
    data = model.tensor_data(tensor)
    assert data is not None and data.size == 0 and not data.flags.writeable
    spec = load_subgraph(model, 0)
    const = spec.tensors[1]
    assert const.is_constant and const.data.shape == (0,)
    assert const.data.dtype == numpy_dtype(ttype)


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 1)])
def test_empty_constant_keeps_its_shape(shape):
    spec = load_subgraph(read_model(_concat_model(TensorType.FLOAT32, shape)), 0)
    assert spec.tensors[1].data.shape == shape


def test_empty_buffer_for_a_tensor_with_elements_is_still_refused():
    # Two elements and no bytes: not a constant, and nothing writes it.
    with pytest.raises(ModelFormatError, match="not an input, a constant"):
        load_subgraph(read_model(_concat_model(TensorType.FLOAT32, (2,))), 0)


def test_buffer_zero_with_no_elements_is_not_a_constant():
    b = ModelBuilder()
    x = b.add_input("x", (3,), np.float32)
    c = b.add_tensor("no_buffer", (0,), np.float32)  # buffer 0: the sentinel, no data
    y = b.add_tensor("y", (3,), np.float32)
    b.add_operator("CONCATENATION", [x, c], [y], ConcatenationOptionsT())
    b.mark_output(y)
    model = read_model(b.build())
    assert model.tensor_data(model.subgraphs[0].tensors[1]) is None


def test_empty_tensor_written_by_an_operator_is_an_activation():
    # BirdNET's STFT: SPLIT_V writes an empty part into a tensor with its own empty buffer.
    from edgelite.schema.fb.SplitVOptions import SplitVOptionsT

    b = ModelBuilder()
    x = b.add_input("x", (4,), np.float32)
    sizes = b.add_constant("sizes", np.array([4, 0], np.int32))
    axis = b.add_constant("axis", np.array(0, np.int32))
    full = b.add_tensor("full", (4,), np.float32)
    empty = _empty_constant(b, "split2", TensorType.FLOAT32)
    opts = SplitVOptionsT()
    opts.numSplits = 2
    b.add_operator("SPLIT_V", [x, sizes, axis], [full, empty], opts)
    y = b.add_tensor("y", (4,), np.float32)
    b.add_operator("CONCATENATION", [full, empty], [y], ConcatenationOptionsT())
    b.mark_output(y)
    data = b.build()
    spec = load_subgraph(read_model(data), 0)
    assert not spec.tensors[empty].is_constant
    x_val = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(_run(edgelite.Interpreter(model_content=data), [x_val])[0], x_val)
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")
    np.testing.assert_array_equal(_run(litert.Interpreter(model_content=data), [x_val])[0], x_val)


def _reshape_to_scalar() -> bytes:
    """BirdNET's case: RESHAPE (1, 1) -> () with the target shape an empty int32 constant."""
    b = ModelBuilder()
    x = b.add_input("x", (1, 1), np.float32)
    shape = _empty_constant(b, "stft/frame/Reshape/shape_1", TensorType.INT32)
    y = b.add_tensor("y", (), np.float32)
    opts = ReshapeOptionsT()
    opts.newShape = []
    b.add_operator("RESHAPE", [x, shape], [y], opts)
    z = b.add_tensor("z", (), np.float32)
    b.add_operator("MUL", [y, y], [z])
    b.mark_output(z)
    return b.build()


def _run(interp, feeds):
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), feeds):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def test_reshape_to_scalar_with_empty_shape_constant_runs():
    data = _reshape_to_scalar()
    got = _run(edgelite.Interpreter(model_content=data), [np.array([[3.0]], np.float32)])
    assert got[0].shape == () and got[0] == np.float32(9.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.int64, np.uint8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_concat_with_empty_constant_matches_litert(dtype):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")
    ttype = {np.dtype(v): k for k, v in
             ((t, numpy_dtype(t)) for t in ALL_TYPES if t not in (TensorType.INT4, TensorType.STRING))}
    data = _concat_model(ttype[np.dtype(dtype)])
    x = np.array([1, 0, 1]).astype(dtype)
    ours = _run(edgelite.Interpreter(model_content=data), [x])
    theirs = _run(litert.Interpreter(model_content=data), [x])
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[0], x)


def test_reshape_to_scalar_matches_litert():
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")
    data = _reshape_to_scalar()
    x = np.array([[-1.5]], np.float32)
    theirs = _run(litert.Interpreter(model_content=data), [x])
    ours = _run(edgelite.Interpreter(model_content=data), [x])
    assert ours[0].shape == theirs[0].shape
    np.testing.assert_array_equal(ours[0], theirs[0])
