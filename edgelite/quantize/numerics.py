"""Quantization arithmetic: ranges to (scale, zero_point), and float arrays to integers.

Follows TFLite's quantization spec: ``real = scale * (q - zero_point)``; activations
asymmetric int8 in [-128, 127] (or symmetric int16, zero point 0), weights symmetric
int8 in [-127, 127] with zero point 0, biases int32 (int64 for int16x8 convolutions)
with ``scale = input_scale * weight_scale`` and zero point 0.

Example:
    >>> scale, zp = activation_params(-1.0, 3.0, bits=8)
    >>> round(scale * 255, 6), zp
    (4.0, -64)
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-12


def activation_params(lo: float, hi: float, bits: int = 8) -> tuple[float, int]:
    """(scale, zero_point) covering [lo, hi] (always widened to include 0).

    ``bits == 8``: asymmetric int8; ``bits == 16``: symmetric int16 (zero point 0).
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if bits == 16:
        bound = max(abs(lo), abs(hi))
        return max(bound, _TINY) / 32767.0, 0
    if hi - lo < _TINY:
        hi = lo + _TINY
    scale = (hi - lo) / 255.0
    # Nudge the zero point to an integer so that 0.0 is exactly representable.
    zp = int(np.clip(np.round(-128.0 - lo / scale), -128, 127))
    return scale, zp


def symmetric_weights(w: np.ndarray, dim: int | None, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric quantization of ``w``: per channel along ``dim``, or per tensor if None.

    Returns:
        (q, scales): ``q`` int8 (or int16) in [-(2^(b-1) - 1), 2^(b-1) - 1]; ``scales``
        float32, one per channel (or one).
    """
    qmax = 2 ** (bits - 1) - 1
    w = np.asarray(w, np.float32)
    if dim is None:
        bound = np.array([np.max(np.abs(w))], np.float64) if w.size else np.zeros(1)
    else:
        axes = tuple(a for a in range(w.ndim) if a != dim)
        bound = np.max(np.abs(w), axis=axes).astype(np.float64) if w.size else np.zeros(w.shape[dim])
    # An all-zero channel gets scale 1 (any positive scale represents it exactly).
    scales = np.where(bound > 0, bound / qmax, 1.0).astype(np.float32)
    q = quantize_array(w, scales, np.zeros(len(scales), np.int64), dim, -qmax, qmax)
    return q.astype(np.int8 if bits == 8 else np.int16), scales


def quantize_array(
    x: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, dim: int | None, qmin: int, qmax: int
) -> np.ndarray:
    """round(x / scale) + zero_point, clipped to [qmin, qmax], as int64 (round half to even)."""
    x = np.asarray(x, np.float64)
    scales = np.asarray(scales, np.float64)
    zero_points = np.asarray(zero_points, np.int64)
    if dim is not None and len(scales) > 1:
        shape = [1] * x.ndim
        shape[dim] = len(scales)
        scales = scales.reshape(shape)
        zero_points = zero_points.reshape(shape)
    else:
        scales, zero_points = scales.reshape(()), zero_points.reshape(())
    # The same operations as ``clip(round(x / s) + zp)``, in place on one temporary
    # (a ResNet's weights are quantized once per candidate model: this showed up).
    if x.ndim == 0:
        return np.clip(np.round(x / scales) + zero_points, qmin, qmax).astype(np.int64)
    y = np.divide(x, scales)
    np.round(y, out=y)
    np.add(y, zero_points, out=y)
    np.clip(y, qmin, qmax, out=y)
    return y.astype(np.int64)


def quantize_bias(bias: np.ndarray, input_scale: float, weight_scales: np.ndarray, bits: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Bias as int32 (or int64) with ``scale = input_scale * weight_scale`` per channel."""
    # float32 product, as TFLite's quantizer computes it.
    scales = np.float32(input_scale) * np.asarray(weight_scales, np.float32)
    info = np.iinfo(np.int32 if bits == 32 else np.int64)
    dim = 0 if len(scales) > 1 else None
    q = quantize_array(bias, scales.astype(np.float64), np.zeros(len(scales), np.int64), dim, info.min, info.max)
    return q.astype(np.int32 if bits == 32 else np.int64), scales


def dequantize(q: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, dim: int = 0) -> np.ndarray:
    """scale * (q - zero_point), per tensor or per channel along ``dim``, as float32."""
    q = np.asarray(q, np.float64)
    scales = np.asarray(scales, np.float64)
    zps = np.asarray(zero_points, np.float64)
    if len(scales) > 1:
        shape = [1] * q.ndim
        shape[dim] = len(scales)
        scales, zps = scales.reshape(shape), zps.reshape(shape)
    else:
        scales, zps = scales.reshape(()), zps.reshape(())
    return ((q - zps) * scales).astype(np.float32)


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when identical)."""
    ref = np.asarray(reference, np.float64)
    err = ref - np.asarray(approx, np.float64)
    noise = float(np.sum(err * err))
    signal = float(np.sum(ref * ref))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)
