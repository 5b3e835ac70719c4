"""RFFT2D: the 2-D real-input FFT over the two innermost dimensions.

TFLite's ``RFFT2D`` (``rfft2d.cc``) takes a float32 tensor ``[..., H, W]`` and a
constant int32 ``fft_length = [fh, fw]`` (powers of two), crops or zero-pads the two
innermost dimensions to ``[fh, fw]`` and writes complex64 ``[..., fh, fw / 2 + 1]``:
``X[k, l] = sum_{m, n} x[m, n] exp(-2 pi i (k m / fh + l n / fw))``. LiteRT computes in
double precision (Ooura's fft2d) and rounds to complex64; so does this kernel (numpy's
``rfft2`` in float64). Audio models use it for the STFT of their spectrogram front end
(BirdNET).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.spectral.rfft_float import Rfft2d
    >>> x = TensorInfo(0, "x", (1, 4), np.dtype(np.float32), 0)
    >>> n = TensorInfo(1, "n", (2,), np.dtype(np.int32), 2, data=np.array([1, 4], np.int32))
    >>> ctx = OpContext("RFFT2D", 0, 1, None, None, None, [x, n], [TensorInfo(2, "y", None, np.dtype(np.complex64), 8)])
    >>> k = Rfft2d(); p = k.prepare(ctx); out = np.empty((1, 3), np.complex64)
    >>> k.eval(p, [np.array([[1, 0, -1, 0]], np.float32), None], [out]); out.tolist()
    [[0j, (2+0j), 0j]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import is_quantized


@dataclass(frozen=True)
class RfftParams:
    fft_length: tuple[int, int]


@register("RFFT2D")
class Rfft2d(Kernel):
    """float32 ``[..., H, W]`` -> complex64 ``[..., fh, fw / 2 + 1]``."""

    def accepts(self, ctx: OpContext) -> bool:
        x, n, y = ctx.optional_input(0), ctx.optional_input(1), ctx.outputs[0]
        return (x is not None and n is not None and not is_quantized(x)
                and x.dtype == np.float32 and n.dtype == np.int32 and y.dtype == np.complex64)

    def prepare(self, ctx: OpContext) -> RfftParams:
        x, n = ctx.input(0), ctx.input(1)
        if n.data is None:
            raise ctx.fail("fft_length (input 1) must be a constant")
        length = [int(v) for v in np.asarray(n.data).ravel()]
        if len(length) != 2 or len(x.shape) < 2:
            raise ctx.fail(f"needs a rank >= 2 input and 2 FFT lengths, got shape {x.shape} and {length}")
        for v in length:
            if v < 1 or v & (v - 1):
                # LiteRT's Ooura FFT takes powers of two only
                raise ctx.fail(f"fft_length {length}: each length must be a power of two")
        ctx.set_output_shape(0, (*x.shape[:-2], length[0], length[1] // 2 + 1))
        return RfftParams((length[0], length[1]))

    def eval(self, params: RfftParams, inputs, outputs) -> None:
        x = np.asarray(inputs[0], np.float64)
        outputs[0][...] = np.fft.rfft2(x, s=params.fft_length, axes=(-2, -1))
