"""RFFT2D (float32 -> complex64 over the two innermost dimensions) against numpy and LiteRT,
plus the complex tensors it feeds: SQUEEZE moves them, CAST to float32 takes the real part."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from edgelite.errors import ShapeError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.CastOptions import CastOptionsT
from edgelite.schema.fb.SqueezeOptions import SqueezeOptionsT
from edgelite.schema.model import TensorType
from tests.interpreter.kernels.oracle import Const, Out, run_kernel, run_litert, single_op_model

C64 = np.complex64


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_rfft2d_of_a_cosine_is_two_spikes():
    n = np.arange(8, dtype=np.float32)
    x = np.cos(2 * np.pi * 2 * n / 8)[None]  # 2 cycles over 8 samples
    y = run_kernel("RFFT2D", [x, Const(np.array([1, 8], np.int32))], outputs=[Out(C64)])[0]
    assert y.shape == (1, 5) and y.dtype == C64
    np.testing.assert_allclose(np.abs(y[0]), [0, 0, 4, 0, 0], atol=1e-5)


# (input shape, fft_length): exact fit, zero-padding, cropping, batch dimensions
CASES = [((4, 8), (4, 8)), ((3, 5), (4, 8)), ((8, 16), (2, 8)), ((2, 3, 4, 8), (4, 8)), ((1, 1, 1, 2048), (1, 2048))]


@pytest.mark.parametrize("shape,length", CASES, ids=[f"{s}-{n}" for s, n in CASES])
def test_rfft2d_matches_numpy_and_litert(shape, length):
    x = _x(shape)
    inputs = [x, Const(np.array(length, np.int32))]
    ours = run_kernel("RFFT2D", inputs, outputs=[Out(C64)])[0]
    want = np.fft.rfft2(x.astype(np.float64), s=length, axes=(-2, -1))
    assert ours.shape == want.shape
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    theirs = run_litert(single_op_model("RFFT2D", inputs, [Out(C64, shape=ours.shape)]), inputs)[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("length", [(3, 8), (4, 6), (4, 0)])
def test_rfft2d_refuses_lengths_that_are_not_powers_of_two(length):
    with pytest.raises(ShapeError, match="power of two"):
        run_kernel("RFFT2D", [_x((4, 8)), Const(np.array(length, np.int32))], outputs=[Out(C64)])


def _spectrum_model(runtime_shape: bool) -> bytes:
    """x -> [RESHAPE by a run-time shape] -> RFFT2D -> SQUEEZE (complex) -> CAST to float32."""
    b = ModelBuilder()
    x = b.add_input("x", (1, 16), np.float32)
    src = x
    if runtime_shape:  # RFFT2D then runs deferred (its input shape is known only at invoke)
        shape_in = b.add_input("shape", (3,), np.int32)
        src = b.add_tensor("framed", (1, 1, 16), np.float32, shape_signature=(-1, -1, -1))
        b.add_operator("RESHAPE", [x, shape_in], [src])
    else:
        shape_c = b.add_constant("shape", np.array([1, 1, 16], np.int32))
        framed = b.add_tensor("framed", (1, 1, 16), np.float32)
        b.add_operator("RESHAPE", [x, shape_c], [framed])
        src = framed
    length = b.add_constant("fft_length", np.array([1, 16], np.int32))
    spec = b.add_tensor("spec", (1, 1, 9), TensorType.COMPLEX64)
    b.add_operator("RFFT2D", [src, length], [spec])
    sq = b.add_tensor("squeezed", (1, 9), TensorType.COMPLEX64)
    o = SqueezeOptionsT()
    o.squeezeDims = [1]
    b.add_operator("SQUEEZE", [spec], [sq], o)
    real = b.add_tensor("real", (1, 9), np.float32)
    c = CastOptionsT()
    c.inDataType, c.outDataType = int(TensorType.COMPLEX64), int(TensorType.FLOAT32)
    b.add_operator("CAST", [sq], [real], c)
    b.mark_output(real)
    return b.build()


def _run(interp, feeds):
    interp.allocate_tensors()
    for d, v in zip(interp.get_input_details(), feeds):
        interp.set_tensor(d["index"], v)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("runtime_shape", [False, True], ids=["static", "deferred"])
def test_spectrum_chain_matches_litert(runtime_shape):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")
    data = _spectrum_model(runtime_shape)
    feeds = [_x((1, 16), 3)] + ([np.array([1, 1, 16], np.int32)] if runtime_shape else [])
    ours = _run(edgelite.Interpreter(model_content=data), feeds)
    np.testing.assert_allclose(ours, np.fft.rfft(feeds[0][0].astype(np.float64)).real[None], rtol=1e-5, atol=1e-5)
    theirs = _run(litert.Interpreter(model_content=data), feeds)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
