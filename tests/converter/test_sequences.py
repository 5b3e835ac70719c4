"""Sequences of static length inside the graph (pass ``static_sequences``), against ONNX
Runtime in LiteRT and edgelite, positions fed at run time (negative ones too)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import edgelite
from edgelite.errors import UnsupportedOperatorError
from tests.converter.helpers import check, make_model, op_names

rng = np.random.default_rng(5)
BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])
XYZ = [("X", np.float32, [2, 3]), ("Y", np.float32, [2, 3]), ("Z", np.float32, [2, 3])]


def feeds(**extra):
    f = {k: rng.standard_normal((2, 3)).astype(np.float32) for k in "XYZ"}
    f.update({k: np.array(v, np.int64) for k, v in extra.items()})
    return f


@BOTH
@pytest.mark.parametrize("pos", [0, 2, -1, -3])
def test_construct_at(interp, pos):
    m = make_model([helper.make_node("SequenceConstruct", list("XYZ"), ["s"]),
                    helper.make_node("SequenceAt", ["s", "p"], ["y"])],
                   XYZ + [("p", np.int64, [])], [("y", np.float32, [2, 3])], opset=12)
    names = check(m, feeds(p=pos), interpreter=interp)
    assert "GATHER" in names


@BOTH
@pytest.mark.parametrize("erase,insert,at", [(0, 0, 0), (1, -1, 2), (-1, 2, -1), (2, 1, 1)])
def test_erase_insert_at(interp, erase, insert, at):
    m = make_model([helper.make_node("SequenceConstruct", list("XYZ"), ["s"]),
                    helper.make_node("SequenceErase", ["s", "pe"], ["s2"]),
                    helper.make_node("SequenceInsert", ["s2", "X", "pi"], ["s3"]),
                    helper.make_node("SequenceAt", ["s3", "pa"], ["y"])],
                   XYZ + [("pe", np.int64, []), ("pi", np.int64, []), ("pa", np.int64, [])],
                   [("y", np.float32, [2, 3])], opset=12)
    check(m, feeds(pe=erase, pi=insert, pa=at), interpreter=interp)


@BOTH
def test_empty_then_inserts_and_length(interp):
    m = make_model([helper.make_node("SequenceEmpty", [], ["e"], dtype=1),
                    helper.make_node("SequenceInsert", ["e", "X"], ["s1"]),
                    helper.make_node("SequenceInsert", ["s1", "Y"], ["s2"]),
                    helper.make_node("SequenceAt", ["s2", "p"], ["y"]),
                    helper.make_node("SequenceLength", ["s2"], ["n"])],
                   XYZ[:2] + [("p", np.int64, [])], [("y", np.float32, [2, 3]), ("n", np.int64, [])], opset=12)
    f = feeds(p=-1)
    del f["Z"]
    check(m, f, interpreter=interp)


@BOTH
@pytest.mark.parametrize("axis,new_axis,shape", [(0, 0, [6, 3]), (1, 0, [2, 9]), (-1, 1, [2, 3, 3]), (0, 1, [3, 2, 3])])
def test_concat_from_sequence(interp, axis, new_axis, shape):
    m = make_model([helper.make_node("SequenceConstruct", list("XYZ"), ["s"]),
                    helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=axis, new_axis=new_axis)],
                   XYZ, [("y", np.float32, shape)], opset=12)
    check(m, feeds(), interpreter=interp)


@BOTH
@pytest.mark.parametrize("keepdims,split", [(0, None), (1, None), (1, 2)])
def test_split_to_sequence(interp, keepdims, split):
    nodes = [helper.make_node("SplitToSequence", ["X"] + (["sp"] if split else []), ["s"], axis=1, keepdims=keepdims),
             helper.make_node("SequenceAt", ["s", "p"], ["y"]), helper.make_node("SequenceLength", ["s"], ["n"])]
    inits = {"sp": np.array(split, np.int64)} if split else None
    piece = [4, 2] if split else ([4, 1] if keepdims else [4])
    m = make_model(nodes, [("X", np.float32, [4, 6]), ("p", np.int64, [])],
                   [("y", np.float32, piece), ("n", np.int64, [])], inits=inits, opset=12)
    check(m, {"X": rng.standard_normal((4, 6)).astype(np.float32), "p": np.array(-2, np.int64)}, interpreter=interp)


def test_length_of_split_with_runtime_sizes():
    m = make_model([helper.make_node("SplitToSequence", ["X", "sp"], ["s"]),
                    helper.make_node("SequenceLength", ["s"], ["n"])],
                   [("X", np.float32, [7]), ("sp", np.int64, [3])], [("n", np.int64, [])], opset=12)
    check(m, {"X": np.arange(7, dtype=np.float32), "sp": np.array([1, 2, 4], np.int64)})


def test_elements_of_different_shapes_are_refused():
    m = make_model([helper.make_node("SequenceConstruct", ["X", "W"], ["s"]),
                    helper.make_node("SequenceAt", ["s", "p"], ["y"])],
                   [("X", np.float32, [2, 3]), ("W", np.float32, [1, 3]), ("p", np.int64, [])],
                   [("y", np.float32, None)], opset=12)
    with pytest.raises(UnsupportedOperatorError, match="SequenceAt"):
        edgelite.convert(m)


def test_no_sequence_op_left():
    m = make_model([helper.make_node("SequenceConstruct", list("XYZ"), ["s"]),
                    helper.make_node("SequenceAt", ["s", "p"], ["y"])],
                   XYZ + [("p", np.int64, [])], [("y", np.float32, [2, 3])], opset=12)
    assert not any("SEQUENCE" in n for n in op_names(edgelite.convert(m)))
