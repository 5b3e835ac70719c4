"""DFT as a constant-matrix FULLY_CONNECTED: the matrix against numpy's FFT by hand, then
LiteRT and edgelite vs onnx.reference over axes, real/complex input, onesided, inverse,
dft_length and a run-time axis."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

from edgelite.converter.ops.spectral import dft_matrix

F32 = np.float32


def test_matrix_matches_numpy_rfft_and_irfft():
    x = np.array([0.5, -1.0, 2.0, 0.25, 3.0, -2.0])
    y = (dft_matrix(6, 6, 1, 2, inverse=False, onesided=True) @ x).reshape(4, 2)
    np.testing.assert_allclose(y[:, 0] + 1j * y[:, 1], np.fft.rfft(x), atol=1e-12)
    spec = np.fft.rfft(x)
    inter = np.stack([spec.real, spec.imag], -1).reshape(-1)
    back = dft_matrix(4, 6, 2, 1, inverse=True, onesided=True) @ inter
    np.testing.assert_allclose(back, x, atol=1e-12)


def _model(shape, opset, axis=None, inverse=0, onesided=0, length=None, runtime_axis=False, out_shape=None):
    ins = ["x", "n" if length is not None else ""]
    inputs = [("x", F32, list(shape))]
    attrs = {"inverse": inverse, "onesided": onesided}
    inits = {}
    if length is not None:
        inits["n"] = np.array(length, np.int64)
    if opset >= 20:
        ins.append("axis")
        if runtime_axis:
            inputs.append(("axis", np.int64, []))
        else:
            inits["axis"] = np.array(axis, np.int64)
    else:
        attrs["axis"] = axis
    node = helper.make_node("DFT", ins, ["y"], **attrs)
    return make_model([node], inputs, [("y", F32, out_shape)], inits=inits, opset=opset)


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("axis", [1, 2, -2])
# (signal channels, inverse, onesided): a one-sided forward DFT takes a real signal
@pytest.mark.parametrize("c,inverse,onesided", [(1, 0, 0), (2, 0, 0), (1, 0, 1), (1, 1, 0), (2, 1, 0)])
def test_dft_matches_reference(opset, axis, c, inverse, onesided):
    rng = np.random.default_rng(abs(axis) + 3 * c)
    feeds = {"x": rng.standard_normal((2, 5, 6, c)).astype(F32)}
    check_both(_model((2, 5, 6, c), opset, axis, inverse, onesided), feeds, oracle="reference", rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("length", [4, 9])
def test_dft_length_truncates_or_pads(length):
    feeds = {"x": np.random.default_rng(1).standard_normal((3, 6, 2)).astype(F32)}
    check_both(_model((3, 6, 2), 17, 1, length=length), feeds, oracle="reference", rtol=1e-4, atol=1e-4)


def test_irfft_matches_reference():
    spec = np.fft.rfft(np.random.default_rng(2).standard_normal((2, 8, 3)), axis=1)
    feeds = {"x": np.stack([spec.real, spec.imag], -1).astype(F32)}
    check_both(_model((2, 5, 3, 2), 17, 1, inverse=1, onesided=1), feeds, oracle="reference", rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("axis", [1, 2, -2, -3])
def test_runtime_axis_selects_the_right_transform(axis):
    feeds = {"x": np.random.default_rng(4).standard_normal((1, 4, 4, 2)).astype(F32), "axis": np.array(axis, np.int64)}
    m = _model((1, 4, 4, 2), 20, runtime_axis=True, out_shape=[1, 4, 4, 2])
    check_both(m, feeds, oracle="reference", rtol=1e-4, atol=1e-4)
