"""RNN, GRU and LSTM unrolled into builtins: a hand-checked RNN, then LiteRT and edgelite vs
ONNX Runtime over directions, layouts, weights as constants or inputs, initial states,
clip, activations, GRU linear_before_reset, LSTM peepholes/input_forget and sequence_lens."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

import edgelite
from edgelite.errors import UnsupportedOperatorError

F32 = np.float32
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _case(op, seq=3, batch=2, inp=3, hidden=4, direction="forward", layout=0, bias=True, init=False,
          const_weights=False, peep=False, lens=None, seed=0, **attrs):
    rng = np.random.default_rng(seed)
    nd = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    arrays = {
        "W": rng.uniform(-0.6, 0.6, (nd, g * hidden, inp)).astype(F32),
        "R": rng.uniform(-0.6, 0.6, (nd, g * hidden, hidden)).astype(F32),
    }
    names = ["X", "W", "R"]
    if bias or init or peep or lens is not None:
        names.append("B" if bias else "")
        if bias:
            arrays["B"] = rng.uniform(-0.3, 0.3, (nd, 2 * g * hidden)).astype(F32)
    if init or peep or lens is not None:
        names.append("sequence_lens" if lens is not None else "")
    if init or peep:
        names.append("initial_h" if init else "")
        if init:
            arrays["initial_h"] = rng.uniform(-1, 1, (batch, nd, hidden) if layout else (nd, batch, hidden)).astype(F32)
    if op == "LSTM" and (init or peep):
        names.append("initial_c" if init else "")
        if init:
            arrays["initial_c"] = rng.uniform(-1, 1, arrays["initial_h"].shape).astype(F32)
    if peep:
        names.append("P")
        arrays["P"] = rng.uniform(-0.5, 0.5, (nd, 3 * hidden)).astype(F32)
    x_shape = (batch, seq, inp) if layout else (seq, batch, inp)
    feeds = {"X": rng.uniform(-1, 1, x_shape).astype(F32)}
    if lens is not None:
        feeds["sequence_lens"] = np.asarray(lens, np.int32)
    inputs = [("X", F32, list(x_shape))]
    if lens is not None:
        inputs.append(("sequence_lens", np.int32, [batch]))
    inits = []
    for k, a in arrays.items():
        if const_weights:
            inits.append(helper.make_tensor(k, 1, a.shape, a.ravel().tolist()))
        else:
            feeds[k] = a
            inputs.append((k, F32, list(a.shape)))
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outs, hidden_size=hidden, direction=direction, layout=layout, **attrs)
    model = make_model([node], inputs, [(o, F32, None) for o in outs], opset=22)
    model.graph.initializer.extend(inits)
    return model, feeds


def test_rnn_hand_checked():
    # hidden 1, input 1, W = R = 1, no bias: h1 = tanh(x1), h2 = tanh(x2 + h1)
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=1)
    m = make_model([node], [("X", F32, [2, 1, 1]), ("W", F32, [1, 1, 1]), ("R", F32, [1, 1, 1])],
                   [("Y", F32, None), ("Y_h", F32, None)], opset=14)
    it = edgelite.Interpreter(model_content=edgelite.convert(m, keep_io_layout=True))
    it.allocate_tensors()
    by = {d["name"]: d["index"] for d in it.get_input_details()}
    it.set_tensor(by["X"], np.array([0.5, -0.25], F32).reshape(2, 1, 1))
    it.set_tensor(by["W"], np.ones((1, 1, 1), F32))
    it.set_tensor(by["R"], np.ones((1, 1, 1), F32))
    it.invoke()
    outs = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    h1 = np.tanh(0.5)
    h2 = np.tanh(-0.25 + h1)
    np.testing.assert_allclose(outs["Y"].ravel(), [h1, h2], rtol=1e-6)
    np.testing.assert_allclose(outs["Y_h"].ravel(), [h2], rtol=1e-6)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_directions_and_layouts_match_onnxruntime(op, direction, layout):
    m, feeds = _case(op, direction=direction, layout=layout, init=layout == 1, seed=len(direction) + layout)
    # ONNX Runtime has no batch-major (layout 1) recurrences: onnx.reference is the oracle there.
    ops = check_both(m, feeds, oracle="ort" if layout == 0 else "reference", keep_io_layout=True)
    assert "FULLY_CONNECTED" in ops


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_constant_weights_initial_state_and_clip(op):
    m, feeds = _case(op, direction="bidirectional", init=True, const_weights=True, clip=0.7, seed=5)
    check_both(m, feeds, keep_io_layout=True)


@pytest.mark.parametrize("lbr", [0, 1])
def test_gru_linear_before_reset(lbr):
    m, feeds = _case("GRU", linear_before_reset=lbr, init=True, seed=7)
    check_both(m, feeds, keep_io_layout=True)


def test_lstm_peepholes_and_input_forget():
    m, feeds = _case("LSTM", peep=True, init=True, input_forget=1, seed=8)
    check_both(m, feeds, keep_io_layout=True)


@pytest.mark.parametrize(
    "acts",
    [
        (["Relu"], [], []),
        (["LeakyRelu"], [0.2], []),
        (["HardSigmoid"], [0.3], [0.4]),
        (["Softsign"], [], []),
        (["ScaledTanh"], [1.5], [0.5]),
    ],
)
def test_rnn_activations(acts):
    names, alpha, beta = acts
    attrs = {"activations": names}
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    m, feeds = _case("RNN", seed=9, **attrs)
    check_both(m, feeds, keep_io_layout=True)


def test_lstm_gate_activations():
    m, feeds = _case("LSTM", seed=10, activations=["HardSigmoid", "Softsign", "Tanh"],
                     activation_alpha=[0.25], activation_beta=[0.5])
    check_both(m, feeds, keep_io_layout=True)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_runtime_sequence_lens_forward(op):
    # A batch entry shorter than the sequence keeps its state and gets zeros in Y.
    m, feeds = _case(op, seq=4, batch=3, lens=[4, 2, 1], seed=11)
    check_both(m, feeds, keep_io_layout=True)


def test_unequal_constant_sequence_lens_refused():
    node = helper.make_node("RNN", ["X", "W", "R", "", "L"], ["Y"], hidden_size=2)
    m = make_model([node], [("X", F32, [3, 2, 2]), ("W", F32, [1, 2, 2]), ("R", F32, [1, 2, 2])],
                   [("Y", F32, None)], opset=14)
    m.graph.initializer.append(helper.make_tensor("L", 6, [2], [3, 1]))
    with pytest.raises(UnsupportedOperatorError, match="RNN"):
        edgelite.convert(m, keep_io_layout=True)


def test_runtime_sequence_lens_reverse_refused():
    m, _ = _case("GRU", direction="reverse", lens=[3, 3])
    with pytest.raises(UnsupportedOperatorError, match="GRU"):
        edgelite.convert(m, keep_io_layout=True)
