"""STFT against the ONNX reference and ONNX Runtime, in edgelite and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.ext_helpers import assert_close, oracle  # noqa: E402
from tests.converter.helpers import op_names, run_tflite  # noqa: E402

rng = np.random.default_rng(17)


def stft_model(feeds, consts, out_shape, onesided=None):
    """STFT(signal, step, window, length) with ``feeds`` as graph inputs, ``consts`` as initializers."""
    attrs = {} if onesided is None else {"onesided": onesided}
    slots = ["signal", "step", "window", "length"]
    given = set(feeds) | set(consts)
    ins = [n if n in given else "" for n in slots]
    while ins[-1] == "":
        ins.pop()
    node = helper.make_node("STFT", ins, ["y"], **attrs)
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)) for k, v in feeds.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    g = helper.make_graph([node], "t", vis, [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 10
    return m


def check(m, feeds, oracles=("reference", "ort")):
    tfl = edgelite.convert(m, keep_io_layout=True)
    scale = float(np.abs(feeds["signal"]).sum(axis=1).max())
    for which in oracles:
        want = oracle(m, feeds, use_reference=which == "reference")[0]
        for runtime in ("edgelite", "litert"):
            got = np.asarray(run_tflite(tfl, feeds, runtime)[0])
            assert_close(got, want, rtol=1e-5, atol=1e-6 * scale)
    return tfl


def test_hand_checked_dc_and_alternating():
    # frames of length 4, step 2: [1,1,1,1] -> DC 4; [1,-1,1,-1] -> Nyquist 4
    x = np.array([1, 1, 1, 1, -1, 1, -1, 1], np.float32).reshape(1, 8, 1)
    m = stft_model({"signal": x}, {"step": np.array(4, np.int64), "length": np.array(4, np.int64)}, (1, 2, 3, 2), 1)
    tfl = edgelite.convert(m, keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        got = np.asarray(run_tflite(tfl, {"signal": x}, runtime)[0])
        np.testing.assert_allclose(got[0, :, :, 0], [[4, 0, 0], [0, 0, -4]], atol=1e-6)
        np.testing.assert_allclose(got[0, :, :, 1], 0, atol=1e-6)


@pytest.mark.parametrize("c", [1, 2])
@pytest.mark.parametrize("onesided", [1, 0])
def test_constant_step_and_window(c, onesided):
    x = rng.standard_normal((2, 50, c)).astype(np.float32)
    win = np.hanning(12).astype(np.float32)
    bins = 7 if onesided else 12
    m = stft_model({"signal": x}, {"step": np.array(5, np.int64), "window": win}, (2, 8, bins, 2), onesided)
    # ONNX Runtime refuses a one-sided STFT of a complex signal: the reference alone there
    oracles = ("reference",) if c == 2 and onesided else ("reference", "ort")
    assert "FULLY_CONNECTED" in op_names(check(m, {"signal": x}, oracles))


def test_runtime_step_and_length():
    x = rng.standard_normal((1, 64, 1)).astype(np.float32)
    feeds = {"signal": x, "step": np.array(6, np.int64), "length": np.array(10, np.int64)}
    m = stft_model(feeds, {}, (1, 10, 6, 2))  # 1 + (64 - 10) // 6 = 10 frames, 6 bins
    tfl = check(m, feeds)
    # values that contradict the declared output shape give NaN, not another framing
    bad = dict(feeds, step=np.array(7, np.int64))
    for runtime in ("edgelite", "litert"):
        assert np.isnan(np.asarray(run_tflite(tfl, bad, runtime)[0])).all()


def test_runtime_step_with_runtime_window():
    x = rng.standard_normal((1, 40, 1)).astype(np.float32)
    feeds = {"signal": x, "step": np.array(3, np.int64), "window": rng.random(8).astype(np.float32)}
    check(stft_model(feeds, {}, (1, 11, 5, 2)), feeds)


def test_refuses_shape_no_framing_gives():
    x = np.zeros((1, 16, 1), np.float32)
    feeds = {"signal": x, "step": np.array(4, np.int64)}
    m = stft_model(feeds, {"length": np.array(4, np.int64)}, (1, 6, 3, 2))  # 1 + 12 // s is never 6
    with pytest.raises(UnsupportedOperatorError, match="no frame_length / frame_step"):
        edgelite.convert(m)


def test_refuses_default_onesided_with_constant_framing():
    # ONNX's shape inference gives 4 bins (onesided read as 0); the reference computes 3
    x = np.zeros((1, 8, 1), np.float32)
    m = stft_model({"signal": x}, {"step": np.array(4, np.int64), "length": np.array(4, np.int64)}, (1, 2, 3, 2))
    with pytest.raises(UnsupportedOperatorError, match="give onesided explicitly"):
        edgelite.convert(m)
