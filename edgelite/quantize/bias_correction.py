"""Bias correction: remove the mean output shift that weight quantization causes.

Rounding a layer's weights to int8 changes what it computes by ``(W_q - W) x``. Its
average over the data, ``(W_q - W) E[x]``, is not zero: activations after a ReLU have
a large positive mean, and a depthwise filter has only nine taps to average its
rounding errors over. Every output of the channel then carries the same shift, and the
next layers add it up coherently. Subtracting that expected shift from the float bias
before quantizing it (Nagel et al., "Data-Free Quantization Through Weight Equalization
and Bias Correction", 2019, with ``E[x]`` measured on the calibration data as
empirical bias correction does) removes it.

``E[x]`` is the per-position mean of the layer's float input over the calibration
samples (at most ``MEAN_SAMPLES`` of them; ``calibrate(..., means=...)``), so the convolution's borders (zero padding)
are accounted for exactly: the correction of output channel ``c`` is the mean over
output positions of ``conv(E[x], W_q - W)[..., c]``.

Example:
    >>> import numpy as np
    >>> w = np.array([[0.26, -0.5]]); wq = np.array([[0.25, -0.5]])
    >>> expected_output_shift("FULLY_CONNECTED", None, np.array([[2.0, 1.0]]), w, wq).round(6)
    array([-0.02])
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edgelite.quantize.numerics import block_elements, channel_blocks, weight_kernels

CORRECTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# ``E[x]`` is taken over at most this many calibration samples, spread evenly. Summing
# every activation of every sample is memory-bound (a third of a 100-sample
# MobileNetV2 calibration), and the correction averages the means over all output
# positions and taps, so its sampling error is already far below the shift it removes.
MEAN_SAMPLES = 32
_SAME = 0  # schema Padding.SAME


def _windows(x: np.ndarray, kh: int, kw: int, options) -> np.ndarray:
    """(N, OH, OW, C, KH, KW) input windows of an NHWC tensor, as TFLite pads and strides."""
    sh, sw = int(options.strideH or 1), int(options.strideW or 1)
    dh, dw = int(getattr(options, "dilationHFactor", 1) or 1), int(getattr(options, "dilationWFactor", 1) or 1)
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    h, w = x.shape[1], x.shape[2]
    if options.padding == _SAME:
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + ekh - h, 0), max((ow - 1) * sw + ekw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    win = sliding_window_view(x, (ekh, ekw), axis=(1, 2))
    return win[:, ::sh, ::sw, :, ::dh, ::dw]


def expected_output_shift(op: str, options, mean_input: np.ndarray, w: np.ndarray, w_quant: np.ndarray) -> np.ndarray:
    """Per-output-channel mean of ``layer(E[x]; W_q) - layer(E[x]; W)`` (bias left out).

    Args:
        op: ``"CONV_2D"`` (weights OHWI), ``"DEPTHWISE_CONV_2D"`` (1HWC) or
            ``"FULLY_CONNECTED"`` (weights ``(O, I)``).
        options: the operator's builtin options (padding, strides, dilations).
        mean_input: per-position mean of the float input (NHWC for convolutions).
        w: the float weights; ``w_quant``: the quantized weights, dequantized.

    Returns:
        float64 array, one value per output channel.
    """
    return shift_of_weight_error(op, options, mean_input, np.asarray(w_quant, np.float64) - np.asarray(w, np.float64))


def shift_of_weight_error(op: str, options, mean_input: np.ndarray, dw: np.ndarray) -> np.ndarray:
    """:func:`expected_output_shift` given ``dw = W_q - W`` (float64, e.g. from
    :func:`weight_error`)."""
    x = np.asarray(mean_input, np.float64)
    if op == "FULLY_CONNECTED":
        return (x.reshape(-1, dw.shape[1]) @ dw.T).mean(axis=0)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected an NHWC mean input, got shape {x.shape}")
    kh, kw = dw.shape[1], dw.shape[2]
    win = _windows(x, kh, kw, options)
    if op == "CONV_2D":
        y = np.einsum("nyxcij,oijc->o", win, dw, optimize=True)
        return y / (win.shape[0] * win.shape[1] * win.shape[2])
    if op == "DEPTHWISE_CONV_2D":
        mult = dw.shape[3] // x.shape[3]
        per_in = np.einsum("nyxcij,ijcm->cm", win, dw[0].reshape(kh, kw, x.shape[3], mult), optimize=True)
        return per_in.reshape(-1) / (win.shape[0] * win.shape[1] * win.shape[2])
    raise ValueError(f"no bias correction for {op}")


def dequantize_weights(q: np.ndarray, scales: np.ndarray, dim: int) -> np.ndarray:
    """``q * scale`` (symmetric weights), per tensor or per channel along ``dim``."""
    q = np.asarray(q, np.float64)
    s = np.asarray(scales, np.float64)
    if s.size > 1:
        shape = [1] * q.ndim
        shape[dim] = s.size
        s = s.reshape(shape)
    else:
        s = s.reshape(())
    return q * s


def weight_error(q: np.ndarray, scales: np.ndarray, dim: int, w: np.ndarray) -> np.ndarray:
    """``dequantize_weights(q, scales, dim) - w`` in float64, element for element the
    same, computed block by block (no whole-array float64 temporaries)."""
    q, w = np.asarray(q), np.asarray(w)
    s = np.asarray(scales, np.float64).reshape(-1)
    if q.ndim == 0 or q.shape != w.shape:
        return dequantize_weights(q, scales, dim) - np.asarray(w, np.float64)
    view, blocks = channel_blocks(q.shape, dim if s.size > 1 else None, s.size)
    q3, w3, s3 = q.reshape(view), w.reshape(view), s.reshape(1, -1, 1)
    out = np.empty(q.shape, np.float64)
    out3 = out.reshape(view)
    kernels = weight_kernels()
    if kernels is not None and view[1] == s.size:  # one scale per channel of the view, as the kernel reads them
        kernels._weight_error_kernel(q3, s, w3, out3)
        return out
    wbuf = np.empty(block_elements(view, blocks), np.float64)
    for rows, chans in blocks:
        y = out3[rows, chans]
        np.copyto(y, q3[rows, chans], casting="unsafe")
        np.multiply(y, s3[:, chans], out=y)
        src = w3[rows, chans]
        wf = wbuf[: src.size].reshape(src.shape)
        np.copyto(wf, src, casting="unsafe")
        np.subtract(y, wf, out=y)
    return out
