"""``converter.ops.emit.Emitter``: the shape bookkeeping of the helpers that several
op converters build their decompositions with (checked by hand), and that the emitted
chain computes what it says (run through edgelite and LiteRT)."""

import numpy as np
import pytest

from edgelite.converter.lower import Lowering
from edgelite.converter.ops.emit import Emitter


def _emitter():
    out = Lowering()
    return out, Emitter(out, "n")


def test_shapes_and_ops_by_hand():
    out, e = _emitter()
    x = out.tmp("x", (2, 3, 4), np.float32)
    s = e.reduce("SUM", x, [-1])  # keep defaults to False
    k = e.reduce("SUM", x, [0, 2], keep=True)
    g = e.gather(x, e.const(np.array([[0, 1], [1, 0]], np.int32)), 1)
    m = e.op("BATCH_MATMUL", [x, e.const(np.ones((4, 5), np.float32))], (2, 3, 5), np.float32)
    c = e.binary("LESS", x, e.const(np.float32(0)))
    assert (s.shape, k.shape, g.shape, m.shape) == ((2, 3), (1, 3, 1), (2, 2, 2, 4), (2, 3, 5))
    assert c.dtype == np.bool_
    assert [op.op for op in out.ops] == ["SUM", "SUM", "GATHER", "BATCH_MATMUL", "LESS"]
    assert [o.shape for o in out.ops[1].inputs] == [(2, 3, 4), (2,)]  # axes constant


def test_identity_and_constant_folding():
    out, e = _emitter()
    x = out.tmp("x", (2, 3), np.float32)
    assert e.reshape(x, (2, 3)) is x and e.cast(x, np.float32) is x and e.transpose(x, (0, 1)) is x
    c = e.reshape(e.const(np.arange(6, dtype=np.float32)), (3, 2))
    assert c.is_constant and c.shape == (3, 2) and not out.ops


def test_writes_into_a_given_value():
    out, e = _emitter()
    x = out.tmp("x", (4,), np.float32)
    y = out.tmp("y", (4,), np.float32)
    assert e.clamp(x, -1.0, 1.0, y=y) is y
    assert e.op("RELU", [x], (4,), np.float32, y=y) is y
    assert [op.op for op in out.ops] == ["MAXIMUM", "MINIMUM", "RELU"]
    assert out.ops[1].outputs == [y]


def test_clamp_saturates_like_onnx():
    # QuantizeLinear lowers through Emitter.clamp: out-of-range values saturate as in onnx.reference
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    import edgelite

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [8])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.05])
    zp = helper.make_tensor("z", TensorProto.INT8, [], [3])
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q", [x], [y], [scale, zp])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    data = np.array([-100, -6.5, -0.07, 0, 0.024, 0.026, 6.3, 100], np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": data})[0]
    it = edgelite.Interpreter(model_content=edgelite.convert(model, keep_io_layout=True))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], data)
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    assert got.tolist() == want.tolist()
    assert got.min() == -128 and got.max() == 127
