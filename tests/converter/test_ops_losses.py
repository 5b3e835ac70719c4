"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: a hand-checked case, then
LiteRT and edgelite vs ONNX Runtime over weights, ignore_index and reductions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

import edgelite

F32 = np.float32
rng = np.random.default_rng(3)


def _model(op, x_shape, weight, reduction, ignore_index=None, log_prob=False, opset=13):
    attrs = {"reduction": reduction}
    if ignore_index is not None:
        attrs["ignore_index"] = ignore_index
    ins = ["x", "t"] + (["w"] if weight else [])
    outs = ["loss"] + (["log_prob"] if log_prob else [])
    node = helper.make_node(op, ins, outs, **attrs)
    t_shape = [x_shape[0]] + list(x_shape[2:])
    inputs = [("x", F32, list(x_shape)), ("t", np.int64, t_shape)] + ([("w", F32, [x_shape[1]])] if weight else [])
    return make_model([node], inputs, [(o, F32, None) for o in outs], opset=opset)


def _feeds(x_shape, weight, ignore_index=None):
    t = rng.integers(0, x_shape[1], [x_shape[0]] + list(x_shape[2:])).astype(np.int64)
    if ignore_index is not None:
        t.flat[::3] = ignore_index
    f = {"x": rng.standard_normal(x_shape).astype(F32), "t": t}
    if weight:
        f["w"] = rng.uniform(0.2, 1.0, x_shape[1]).astype(F32)
    return f


def test_nll_hand_checked():
    m = _model("NegativeLogLikelihoodLoss", (2, 3), False, "sum")
    x = np.array([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], F32)
    tfl = edgelite.convert(m)
    it = edgelite.Interpreter(model_content=tfl)
    it.allocate_tensors()
    by = {d["name"]: d["index"] for d in it.get_input_details()}
    it.set_tensor(by["x"], x)
    it.set_tensor(by["t"], np.array([2, 0], np.int64))
    it.invoke()
    assert float(it.get_tensor(it.get_output_details()[0]["index"])) == pytest.approx(3.0 + 4.0)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("x_shape", [(4, 5), (2, 3, 4), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weight", [False, True])
def test_losses_match_onnxruntime(op, x_shape, reduction, weight):
    check_both(_model(op, x_shape, weight, reduction), _feeds(x_shape, weight))


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("ignore_index", [1, -1])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_ignore_index(op, ignore_index, reduction):
    x_shape = (3, 4, 5)
    check_both(_model(op, x_shape, True, reduction, ignore_index), _feeds(x_shape, True, ignore_index))


def test_sce_log_prob_output():
    x_shape = (3, 4, 2)
    check_both(_model("SoftmaxCrossEntropyLoss", x_shape, False, "mean", log_prob=True), _feeds(x_shape, False))
