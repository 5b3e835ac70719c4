"""Run-time shapes: reshapes fed by shape arithmetic, deferred operators reading
constants, and the arena-size check of ``allocate_tensors``.

TensorFlow writes a Keras model with a dynamic batch so that its reshapes (squeeze-excite,
transpose-conv output shapes) take their target from SHAPE -> STRIDED_SLICE -> PACK. The
interpreter folds SHAPE at allocation, so such a reshape gets a static shape; a reshape
whose target is a real run-time input makes the operators after it *deferred* (prepared
at every invoke), and those must still see their constant weights and biases.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from edgelite.errors import ShapeError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.PackOptions import PackOptionsT
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT
from edgelite.schema.fb.ShapeOptions import ShapeOptionsT
from edgelite.schema.fb.StridedSliceOptions import StridedSliceOptionsT
from edgelite.schema.model import TensorType

RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 1, 1, 8)).astype(np.float32)  # OHWI 1x1 filter: 8 -> 3 channels
BIAS = np.array([0.5, -1.0, 2.0], np.float32)


def _conv_options() -> Conv2DOptionsT:
    o = Conv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor = 1, 1, 1, 1, 1
    return o


def _reference(x: np.ndarray) -> np.ndarray:
    """[n, 8] reshaped to [n, 1, 1, 8], then the 1x1 conv: x @ W^T + bias."""
    return (x.reshape(-1, 8) @ W.reshape(3, 8).T + BIAS).reshape(-1, 1, 1, 3)


def _shape_arithmetic_model() -> bytes:
    """x [-1, 8] -> RESHAPE to PACK(SHAPE(x)[0], 1, 1, 8) -> CONV_2D (shared bias constant)."""
    b = ModelBuilder()
    x = b.add_input("x", (1, 8), np.float32, shape_signature=(-1, 8))
    shape = b.add_tensor("shape", (2,), np.int32)
    batch = b.add_tensor("batch", (), np.int32)
    target = b.add_tensor("target", (4,), np.int32)
    r = b.add_tensor("r", (1, 1, 1, 8), np.float32, shape_signature=(-1, 1, 1, 8))
    y = b.add_tensor("y", (1, 1, 1, 3), np.float32, shape_signature=(-1, 1, 1, 3))
    one = b.add_constant("one", np.array(1, np.int32))
    eight = b.add_constant("eight", np.array(8, np.int32))
    so = ShapeOptionsT()
    so.outType = TensorType.INT32
    b.add_operator("SHAPE", [x], [shape], so)
    ss = StridedSliceOptionsT()
    ss.shrinkAxisMask = 1
    b.add_operator("STRIDED_SLICE", [shape, b.add_constant("b0", np.array([0], np.int32)),
                                     b.add_constant("e1", np.array([1], np.int32)),
                                     b.add_constant("s1", np.array([1], np.int32))], [batch], ss)
    po = PackOptionsT()
    po.valuesCount, po.axis = 4, 0
    b.add_operator("PACK", [batch, one, one, eight], [target], po)  # `one` read twice
    b.add_operator("RESHAPE", [x, target], [r], ReshapeOptionsT())
    b.add_operator("CONV_2D", [r, b.add_constant("w", W), b.add_constant("bias", BIAS)], [y], _conv_options())
    b.mark_output(y)
    return b.build()


def _runtime_target_model() -> bytes:
    """RESHAPE(x, target) with ``target`` a model input, then CONV_2D: the conv is deferred."""
    b = ModelBuilder()
    x = b.add_input("x", (2, 8), np.float32, shape_signature=(-1, 8))
    target = b.add_input("target", (4,), np.int32)
    r = b.add_tensor("r", (2, 1, 1, 8), np.float32, shape_signature=(-1, -1, -1, 8))
    y = b.add_tensor("y", (2, 1, 1, 3), np.float32, shape_signature=(-1, -1, -1, 3))
    b.add_operator("RESHAPE", [x, target], [r], ReshapeOptionsT())
    b.add_operator("CONV_2D", [r, b.add_constant("w", W), b.add_constant("bias", BIAS)], [y], _conv_options())
    b.mark_output(y)
    return b.build()


def _litert(data: bytes, feeds: list[np.ndarray]) -> np.ndarray | None:
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT, OpResolverType
    except ImportError:
        return None
    it = LiteRT(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    for d, v in zip(it.get_input_details(), feeds):
        it.resize_tensor_input(d["index"], list(v.shape))
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], v)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_shape_arithmetic_feeding_a_reshape_follows_resize(batch):
    data = _shape_arithmetic_model()
    it = Interpreter(model_content=data)
    x = RNG.normal(size=(batch, 8)).astype(np.float32)
    it.resize_tensor_input(it.get_input_details()[0]["index"], [batch, 8], strict=True)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    out = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, _reference(x), rtol=1e-5, atol=1e-5)
    assert it.get_output_details()[0]["shape"].tolist() == [batch, 1, 1, 3]
    theirs = _litert(data, [x])
    if theirs is not None:
        np.testing.assert_allclose(out, theirs, rtol=1e-6, atol=1e-6)


def test_deferred_conv_reads_its_constant_bias():
    data = _runtime_target_model()
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    x_i, t_i = (d["index"] for d in it.get_input_details())
    x = RNG.normal(size=(2, 8)).astype(np.float32)
    for target in ([2, 1, 1, 8], [1, 2, 1, 8], [1, 1, 2, 8]):
        it.set_tensor(x_i, x)
        it.set_tensor(t_i, np.array(target, np.int32))
        it.invoke()
        out = it.get_tensor(it.get_output_details()[0]["index"])
        want = _reference(x).reshape(target[:3] + [3])
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
        theirs = _litert(data, [x, np.array(target, np.int32)])
        if theirs is not None:
            np.testing.assert_allclose(out, theirs, rtol=1e-6, atol=1e-6)


def test_arena_larger_than_memory_is_refused_before_allocating(monkeypatch):
    from edgelite.interpreter import executor

    it = Interpreter(model_content=_shape_arithmetic_model())
    index = it.get_input_details()[0]["index"]
    with pytest.raises(ShapeError, match="int32"):
        it.resize_tensor_input(index, [2**40, 8])
    # The check compares with the machine's memory; pretend it has 1 GiB so that the
    # test means the same on any machine (x alone is 2 GiB here).
    monkeypatch.setattr(executor, "_physical_memory", lambda: 2**30)
    it.resize_tensor_input(index, [2**26, 8])
    with pytest.raises(ShapeError, match=r"arena would need [0-9.]+ GiB .*more than this machine's 1.00 GiB"):
        it.allocate_tensors()
    it.resize_tensor_input(index, [2, 8])
    it.allocate_tensors()  # a sane shape still works afterwards
