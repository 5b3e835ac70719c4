"""Reductions (all ten ONNX Reduce ops, run-time and empty axes), ArgMax/ArgMin with
select_last_index, TopK: hand-checkable cases, then LiteRT and edgelite vs ONNX Runtime,
then a hypothesis property test against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

import edgelite
from edgelite.errors import UnsupportedOperatorError

F32 = np.float32
rng = np.random.default_rng(7)
REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
              "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"]


def _reduce_model(op, shape, axes, keepdims, axes_input="const", noop=0, opset=18):
    attrs = {"keepdims": keepdims}
    if noop:
        attrs["noop_with_empty_axes"] = 1
    inputs, inits, names = [("x", F32, list(shape))], {}, ["x"]
    if axes is not None:
        if axes_input == "runtime":
            inputs.append(("axes", np.int64, [len(axes)]))
        else:
            inits["axes"] = np.array(axes, np.int64)
        names.append("axes")
    node = helper.make_node(op, names, ["y"], **attrs)
    out_shape = None
    if axes_input == "runtime":  # a declared output shape: what a run-time axes model carries
        ax = {a % len(shape) for a in axes} or (set() if noop else set(range(len(shape))))
        out_shape = [1 if i in ax else d for i, d in enumerate(shape) if keepdims or i not in ax]
    return make_model([node], inputs, [("y", F32, out_shape)], inits, opset=opset)


def test_sum_square_hand_checked():
    m = _reduce_model("ReduceSumSquare", (2, 2), [1], 0)
    x = np.array([[1, 2], [3, 4]], F32)
    tfl = edgelite.convert(m)
    it = edgelite.Interpreter(model_content=tfl)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(it.get_output_details()[0]["index"]), [5, 25])


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, 2], 0), ([-1], 1), (None, 0)])
def test_reduce_constant_axes(op, axes, keepdims):
    x = rng.uniform(0.5, 2.0, (3, 4, 5)).astype(F32)  # positive: ReduceLogSum needs it
    check_both(_reduce_model(op, x.shape, axes, keepdims), {"x": x})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceL2", "ReduceLogSumExp", "ReduceMax"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_runtime_axes(op, keepdims):
    x = rng.uniform(0.5, 2.0, (3, 4, 5)).astype(F32)
    m = _reduce_model(op, x.shape, [0, -1], keepdims, axes_input="runtime")
    check_both(m, {"x": x, "axes": np.array([0, -1], np.int64)})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceL1", "ReduceLogSum"])
def test_noop_with_empty_axes(op):
    x = rng.uniform(0.5, 2.0, (2, 3)).astype(F32)
    m = _reduce_model(op, x.shape, [], 1, axes_input="runtime", noop=1)
    check_both(m, {"x": x, "axes": np.zeros(0, np.int64)}, oracle="reference", input_shapes={"axes": (0,)})


def test_empty_axes_reduce_everything():
    x = rng.standard_normal((2, 3)).astype(F32)
    m = _reduce_model("ReduceSum", x.shape, [], 0, axes_input="runtime")
    check_both(m, {"x": x, "axes": np.zeros(0, np.int64)}, input_shapes={"axes": (0,)})


def test_bool_max_min():
    nodes = [helper.make_node("ReduceMax", ["x"], ["a"], keepdims=0, axes=[1]),
             helper.make_node("ReduceMin", ["x"], ["b"], keepdims=0, axes=[1])]
    m = make_model(nodes, [("x", np.bool_, [3, 4])], [("a", np.bool_, None), ("b", np.bool_, None)], opset=13)
    check_both(m, {"x": rng.random((3, 4)) > 0.5}, oracle="reference")


def test_reduce_float64_is_refused():
    from onnx import TensorProto

    node = helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(UnsupportedOperatorError, match="ReduceSum"):
        edgelite.convert(m)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg_select_last_index(op, keepdims, last):
    x = rng.integers(0, 3, (4, 5)).astype(F32)  # many ties
    node = helper.make_node(op, ["x"], ["y"], axis=1, keepdims=keepdims, select_last_index=last)
    m = make_model([node], [("x", F32, [4, 5])], [("y", np.int64, None)], opset=13)
    check_both(m, {"x": x})


@pytest.mark.parametrize("axis,largest", [(1, 1), (-1, 0), (0, 1), (0, 0)])
def test_topk(axis, largest):
    x = rng.integers(0, 5, (4, 6)).astype(F32)  # ties: lower index first
    k = np.array([3], np.int64)
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
    m = make_model([node], [("x", F32, [4, 6])], [("v", F32, None), ("i", np.int64, None)], {"k": k}, opset=11)
    check_both(m, {"x": x})


def test_topk_runtime_k():
    x = rng.standard_normal((3, 5)).astype(F32)
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)
    m = make_model([node], [("x", F32, [3, 5]), ("k", np.int64, [1])], [("v", F32, [3, 2]), ("i", np.int64, [3, 2])],
                   opset=11)
    check_both(m, {"x": x, "k": np.array([2], np.int64)})


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    op=st.sampled_from(REDUCE_OPS),
    keepdims=st.integers(0, 1),
    data=st.data(),
)
def test_property_reductions_match_numpy(shape, op, keepdims, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1, max_size=len(shape)))
    x = np.random.default_rng(len(shape)).uniform(0.5, 2.0, shape).astype(F32)
    fn = {
        "ReduceSum": lambda a, ax: a.sum(ax), "ReduceMean": lambda a, ax: a.mean(ax),
        "ReduceMax": lambda a, ax: a.max(ax), "ReduceMin": lambda a, ax: a.min(ax),
        "ReduceProd": lambda a, ax: a.prod(ax), "ReduceSumSquare": lambda a, ax: (a * a).sum(ax),
        "ReduceL1": lambda a, ax: np.abs(a).sum(ax), "ReduceL2": lambda a, ax: np.sqrt((a * a).sum(ax)),
        "ReduceLogSum": lambda a, ax: np.log(a.sum(ax)), "ReduceLogSumExp": lambda a, ax: np.log(np.exp(a).sum(ax)),
    }[op]
    want = fn(x.astype(np.float64), tuple(axes))
    if keepdims:
        want = np.expand_dims(want, tuple(axes))
    tfl = edgelite.convert(_reduce_model(op, shape, axes, keepdims))
    it = edgelite.Interpreter(model_content=tfl)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_runtime_axes_shape_flows_back_from_a_declared_output():
    # ReduceSum(axes at run time) -> Sqrt -> declared output: the reduction takes Sqrt's shape.
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1), helper.make_node("Sqrt", ["s"], ["y"])]
    m = make_model(nodes, [("x", F32, [3, 4]), ("axes", np.int64, [1])], [("y", F32, [3, 1])], opset=18)
    x = rng.uniform(0.5, 2.0, (3, 4)).astype(F32)
    check_both(m, {"x": x, "axes": np.array([1], np.int64)})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_float64_refused_at_conversion(op):
    """LiteRT's SOFTMAX takes no float64: refused when converting, not left to fail at invoke."""
    from tests.converter.ext_helpers import one_node_model

    model = one_node_model(op, {"x": np.ones((2, 3), np.float64)}, attrs={"axis": -1}, opset=13)
    with pytest.raises(UnsupportedOperatorError, match=f"{op} on float64"):
        edgelite.convert(model)
