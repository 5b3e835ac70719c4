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

import sys

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


def abs_max(w: np.ndarray, dim: int | None) -> np.ndarray:
    """max |w| per channel along ``dim`` (or one value if None), as float64; 0 when empty."""
    w = np.asarray(w, np.float32)
    if not w.size:
        return np.zeros(1 if dim is None else w.shape[dim])
    if dim is None:
        return np.array([np.max(np.abs(w))], np.float64)
    axes = tuple(a for a in range(w.ndim) if a != dim)
    return np.max(np.abs(w), axis=axes).astype(np.float64)


def symmetric_weights(w: np.ndarray, dim: int | None, bits: int = 8,
                      bound: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric quantization of ``w``: per channel along ``dim``, or per tensor if None.

    Args:
        bound: ``abs_max(w, dim)`` when the caller has it already.

    Returns:
        (q, scales): ``q`` int8 (or int16) in [-(2^(b-1) - 1), 2^(b-1) - 1]; ``scales``
        float32, one per channel (or one).
    """
    qmax = 2 ** (bits - 1) - 1
    w = np.asarray(w, np.float32)
    if bound is None:
        bound = abs_max(w, dim)
    # An all-zero channel gets scale 1 (any positive scale represents it exactly).
    scales = np.where(bound > 0, bound / qmax, 1.0).astype(np.float32)
    kernels = weight_kernels()
    if kernels is not None and bits == 8 and w.size and np.isfinite(bound).all() and (scales > 0).all():
        # Finite weights, positive scales: what the kernel requires (see its docstring).
        view, _ = channel_blocks(w.shape, dim, len(scales))
        q = np.empty(w.shape, np.int8)
        kernels._symmetric_kernel(w.reshape(view), scales.astype(np.float64), qmax, q.reshape(view))
        return q, scales
    q = quantize_array(w, scales, np.zeros(len(scales), np.int64), dim, -qmax, qmax,
                       dtype=np.int8 if bits == 8 else np.int16)
    return q, scales


def weight_kernels():
    """``edgelite.quantize.weight_kernels`` when Numba is already loaded, else None.

    Looked up without importing the interpreter: if its JIT module was never
    imported, Numba is not loaded, and the numpy code below runs.
    """
    jit = sys.modules.get("edgelite.interpreter.compute.jit")
    if jit is None or not (jit.HAVE_NUMBA and jit.is_warm()):
        return None
    from edgelite.quantize import weight_kernels as kernels  # noqa: PLC0415 (needs the interpreter's jit)

    return kernels


# Elements per block of the blocked loops below: a block's float64 temporaries stay in
# the L2 cache. Whole-array float64 temporaries made quantizing a ResNet18's 11.7M
# weights ~10 passes over 94 MB (0.13 s of a 1.7 s quantization).
_BLOCK = 1 << 14


def channel_blocks(shape: tuple[int, ...], dim: int | None, channels: int):
    """The array as ``(pre, C, post)`` (``C`` = the ``channels`` along ``dim``; one
    channel when ``dim`` is None or ``channels`` is 1) and the ``(pre, C)`` slice pairs of
    blocks of at most about ``_BLOCK`` elements (one row of ``post`` at least) that
    cover it, in order.

    Example:
        >>> view, blocks = channel_blocks((4, 3), 0, 4)
        >>> view, blocks[:1]
        ((1, 4, 3), [(slice(0, 1, None), slice(0, 4, None))])
    """
    size = int(np.prod(shape, dtype=np.int64))
    if dim is None or channels == 1:
        view = (size, 1, 1)
    else:
        pre = int(np.prod(shape[:dim], dtype=np.int64))
        view = (pre, int(shape[dim]), int(np.prod(shape[dim + 1:], dtype=np.int64)))
    pre, c, post = view
    if c * post <= _BLOCK:
        rows = max(1, _BLOCK // max(1, c * post))
        return view, [(slice(p, min(p + rows, pre)), slice(0, c)) for p in range(0, pre, rows)]
    step = max(1, _BLOCK // max(1, post))
    return view, [(slice(p, p + 1), slice(k, min(k + step, c))) for p in range(pre) for k in range(0, c, step)]


def block_elements(view: tuple[int, int, int], blocks) -> int:
    """Elements of the largest of ``channel_blocks``' blocks (the scratch they need)."""
    return max(((r.stop - r.start) * (c.stop - c.start) * view[2] for r, c in blocks), default=0)


def quantize_array(
    x: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, dim: int | None, qmin: int, qmax: int,
    dtype=np.int64,
) -> np.ndarray:
    """round(x / scale) + zero_point, clipped to [qmin, qmax] (round half to even).

    Computed in float64 (``x`` and the scales widened exactly) and returned as int64,
    or as ``dtype`` (the int64 values cast down: give a ``dtype`` that holds [qmin, qmax]).
    """
    scales = np.asarray(scales, np.float64)
    zero_points = np.asarray(zero_points, np.int64)
    per_channel = dim is not None and len(scales) > 1
    if np.ndim(x) == 0:
        x = np.asarray(x, np.float64)
        scales, zero_points = scales.reshape(()), zero_points.reshape(())
        return np.clip(np.round(x / scales) + zero_points, qmin, qmax).astype(np.int64).astype(dtype)
    x = np.asarray(x)
    if not per_channel:
        scales, zero_points = scales.reshape(1), zero_points.reshape(1)
    view, blocks = channel_blocks(x.shape, dim if per_channel else None, len(scales))
    x3 = x.reshape(view)
    out = np.empty(x.shape, dtype)
    out3 = out.reshape(view)
    s3, z3 = scales.reshape(1, -1, 1), zero_points.reshape(1, -1, 1)
    buf = np.empty(block_elements(view, blocks), np.float64)
    ibuf = np.empty(len(buf), np.int64) if np.dtype(dtype) != np.int64 else None
    # Block by block, the same operations as ``clip(round(x / s) + zp).astype(int64)``
    # on whole arrays, element for element.
    for rows, chans in blocks:
        src = x3[rows, chans]
        y = buf[: src.size].reshape(src.shape)
        np.copyto(y, src, casting="unsafe")
        np.divide(y, s3[:, chans], out=y)
        np.round(y, out=y)
        np.add(y, z3[:, chans], out=y)
        np.clip(y, qmin, qmax, out=y)
        if ibuf is None:
            np.copyto(out3[rows, chans], y, casting="unsafe")
        else:
            iy = ibuf[: src.size].reshape(src.shape)
            np.copyto(iy, y, casting="unsafe")
            np.copyto(out3[rows, chans], iy, casting="unsafe")
    return out


def quantize_bias(bias: np.ndarray, input_scale: float, weight_scales: np.ndarray, bits: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Bias as int32 (or int64) with ``scale = input_scale * weight_scale`` per channel."""
    # float32 product, as TFLite's quantizer computes it.
    scales = np.float32(input_scale) * np.asarray(weight_scales, np.float32)
    info = np.iinfo(np.int32 if bits == 32 else np.int64)
    dim = 0 if len(scales) > 1 else None
    q = quantize_array(bias, scales.astype(np.float64), np.zeros(len(scales), np.int64), dim, info.min, info.max,
                       dtype=np.int32 if bits == 32 else np.int64)
    return q, scales


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
