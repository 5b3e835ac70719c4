"""IF / WHILE kernels: hand-built models with several subgraphs, checked by hand and
against LiteRT (the same bytes), including a WHILE whose value grows every iteration."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from edgelite.errors import ShapeError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
from edgelite.schema.fb.IfOptions import IfOptionsT
from edgelite.schema.fb.WhileOptions import WhileOptionsT


def _if_model() -> bytes:
    """y = x + 1 if c else x * 2 (main: IF; subgraph 1: then; subgraph 2: else)."""
    b = ModelBuilder()
    c = b.add_input("c", (1,), np.bool_)
    x = b.add_input("x", (2, 3), np.float32)
    y = b.add_tensor("y", (2, 3), np.float32)
    opts = IfOptionsT()
    opts.thenSubgraphIndex, opts.elseSubgraphIndex = 1, 2
    b.add_operator("IF", [c, x], [y], opts)
    b.mark_output(y)
    for op, k in (("ADD", 1.0), ("MUL", 2.0)):
        b.new_subgraph()
        xi = b.add_input("x", (2, 3), np.float32)
        kk = b.add_constant("k", np.float32(k))
        yo = b.add_tensor("y", (2, 3), np.float32)
        b.add_operator(op, [xi, kk], [yo])
        b.mark_output(yo)
    return b.build()


def _while_model(grow: bool) -> bytes:
    """i, acc = 0, acc0; while i < n: i += 1; acc = concat(acc, acc) if grow else acc * 2."""
    b = ModelBuilder()
    i0 = b.add_input("i", (), np.int32)
    n = b.add_input("n", (), np.int32)
    a0 = b.add_input("acc", (1, 2), np.float32)
    io = b.add_tensor("i_out", (), np.int32)
    no = b.add_tensor("n_out", (), np.int32)
    ao = b.add_tensor("acc_out", (1, 2), np.float32)
    opts = WhileOptionsT()
    opts.condSubgraphIndex, opts.bodySubgraphIndex = 1, 2
    b.add_operator("WHILE", [i0, n, a0], [io, no, ao], opts)
    b.mark_output(io)
    b.mark_output(ao)
    b.new_subgraph("cond")
    ci, cn = b.add_input("i", (), np.int32), b.add_input("n", (), np.int32)
    b.add_input("acc", (1, 2), np.float32)
    c = b.add_tensor("c", (), np.bool_)
    b.add_operator("LESS", [ci, cn], [c])
    b.mark_output(c)
    b.new_subgraph("body")
    bi, bn = b.add_input("i", (), np.int32), b.add_input("n", (), np.int32)
    ba = b.add_input("acc", (1, 2), np.float32)
    one = b.add_constant("one", np.int32(1))
    bi2 = b.add_tensor("i2", (), np.int32)
    b.add_operator("ADD", [bi, one], [bi2])
    if grow:
        ba2 = b.add_tensor("acc2", (2, 2), np.float32)
        co = ConcatenationOptionsT()
        co.axis = 0
        b.add_operator("CONCATENATION", [ba, ba], [ba2], co)
    else:
        two = b.add_constant("two", np.float32(2))
        ba2 = b.add_tensor("acc2", (1, 2), np.float32)
        b.add_operator("MUL", [ba, two], [ba2])
    b.mark_output(bi2)
    b.mark_output(bn)
    b.mark_output(ba2)
    return b.build()


def _run(interp_cls, model: bytes, feeds: list[np.ndarray]) -> list[np.ndarray]:
    it = interp_cls(model_content=model)
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], v)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _litert():
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
    except ImportError:
        pytest.skip("ai-edge-litert is not installed: no LiteRT comparison")
    return LiteRT


@pytest.mark.parametrize("cond", [True, False])
def test_if_picks_branch(cond):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = _run(Interpreter, _if_model(), [np.array([cond]), x])
    np.testing.assert_array_equal(y, x + 1 if cond else x * 2)
    (ref,) = _run(_litert(), _if_model(), [np.array([cond]), x])
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("grow", [False, True])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_while(grow, n):
    acc = np.array([[1.0, -2.0]], np.float32)
    feeds = [np.array(0, np.int32), np.array(n, np.int32), acc]
    i, a = _run(Interpreter, _while_model(grow), feeds)
    assert int(i) == n
    want = np.concatenate([acc] * (2**n)) if grow else acc * 2.0**n
    np.testing.assert_array_equal(a, want)
    ri, ra = _run(_litert(), _while_model(grow), feeds)
    assert int(ri) == int(i)
    np.testing.assert_array_equal(a, ra)


def test_while_runs_again_with_other_trip_counts():
    it = Interpreter(model_content=_while_model(True))
    it.allocate_tensors()
    ins = it.get_input_details()
    for n in (2, 0, 3):
        it.set_tensor(ins[0]["index"], np.array(0, np.int32))
        it.set_tensor(ins[1]["index"], np.array(n, np.int32))
        it.set_tensor(ins[2]["index"], np.ones((1, 2), np.float32))
        it.invoke()
        assert it.get_tensor(it.get_output_details()[1]["index"]).shape == (2**n, 2)


def test_if_with_bad_subgraph_index_is_typed():
    b = ModelBuilder()
    c = b.add_input("c", (1,), np.bool_)
    x = b.add_input("x", (1,), np.float32)
    y = b.add_tensor("y", (1,), np.float32)
    opts = IfOptionsT()
    opts.thenSubgraphIndex, opts.elseSubgraphIndex = 5, 0
    b.add_operator("IF", [c, x], [y], opts)
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    with pytest.raises(ShapeError, match="out of range"):
        it.allocate_tensors()


def test_call_once_runs_its_init_subgraph_and_the_graph_goes_on():
    from edgelite.schema.fb.CallOnceOptions import CallOnceOptionsT

    b = ModelBuilder()
    x = b.add_input("x", (2,), np.float32)
    y = b.add_tensor("y", (2,), np.float32)
    opts = CallOnceOptionsT()
    opts.initSubgraphIndex = 1
    b.add_operator("CALL_ONCE", [], [], opts)
    b.add_operator("ADD", [x, b.add_constant("one", np.ones(2, np.float32))], [y])
    b.mark_output(y)
    b.new_subgraph("init")  # no inputs, outputs or operators
    model = b.build()
    x = np.array([1.0, 2.0], np.float32)
    for cls in (Interpreter, _litert()):
        it = cls(model_content=model)
        it.allocate_tensors()
        for _ in range(2):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), x + 1)
