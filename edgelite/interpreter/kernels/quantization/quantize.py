"""QUANTIZE to int8 / uint8 / int16 tensors, as LiteRT (DEQUANTIZE: ``dequantize.py``).

* QUANTIZE float32 -> int8/uint8/int16: in the vectorized part (all but the last
  ``size % 8`` elements)
  ``q = clamp(rint(x * (1 / scale)) + zp)`` in float32, rounding half to even (the
  wheel's vectorized ``AffineQuantize``); for the ``size % 8`` trailing elements
  the scalar ``round(x / double(scale))``, half away from zero (measured against
  LiteRT: each form alone differs on about 1 element in 200). The rounded value is
  converted to int32 as x86 does (NaN and values outside int32 become ``INT32_MIN``)
  and the zero point is added in int32 (wrapping) before the clamp: ``inf`` with a
  negative zero point comes out as the largest value, as in LiteRT.
* QUANTIZE between integer types (int8/uint8 -> int8/uint8, int16 -> int8/int16):
  ``clamp(MBQM(q - zp_in, s_in / s_out) + zp_out)`` (``Requantize``). Between 8-bit
  types the wheel's vectorized loop handles all but the last ``size % 8`` elements and rounds the
  final right shift half *up* (``(v + 2**(e-1)) >> e``) where the scalar tail (the
  last ``size % 8`` elements) rounds half away from zero; edgelite follows the
  same split (measured against LiteRT).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> names = [type(k).__name__ for k in kernels_for("QUANTIZE")]
    >>> "QuantizeFloat" in names and "Requantize" in names
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import fixedpoint as fp
from edgelite.interpreter.kernels.base import INT8, Kernel, OpContext, register
from edgelite.interpreter.kernels.elementwise.elementwise_quant import (
    dtype_range,
    is_quantized,
    quant_params,
)
from edgelite.interpreter.compute.jit import njit
from edgelite.interpreter.compute.rounding import round_half_away

F32 = np.dtype(np.float32)


@dataclass(frozen=True)
class QuantizeParams:
    scale: float  # per-tensor, or per-channel array below
    zp: int
    qmin: int
    qmax: int
    scales: np.ndarray | None = None  # per-channel (float64), broadcastable
    zps: np.ndarray | None = None


@register("QUANTIZE")
class QuantizeFloat(Kernel):
    """float32 -> int8/uint8/int16 (per-tensor, or per-channel along ``quantized_dimension``)."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs or ctx.inputs[0] is None:
            return False
        return np.dtype(ctx.inputs[0].dtype) == F32 and is_quantized(ctx.outputs[0])

    def prepare(self, ctx: OpContext) -> QuantizeParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        qmin, qmax = dtype_range(o.dtype)
        if o.quant.per_channel:
            d = o.quant.quantized_dimension
            shape = [1] * len(a.shape)
            shape[d] = -1
            scales = o.quant.scale.astype(np.float32).reshape(shape)
            zps = o.quant.zero_point.astype(np.int64).reshape(shape)
            return QuantizeParams(0.0, 0, qmin, qmax, scales, zps)
        s, z = quant_params(o)
        return QuantizeParams(s, z, qmin, qmax)

    def eval(self, p: QuantizeParams, inputs, outputs) -> None:
        x = inputs[0]
        if p.scales is not None:
            # reference_ops::PerChannelQuantize: round(x / scale) half away from zero
            r = round_half_away(x.astype(np.float32) / p.scales)
            outputs[0][...] = _add_zp_clamp(r, p.zps, p.qmin, p.qmax)
            return
        flat = x.reshape(-1)
        out = outputs[0].reshape(-1)
        n = flat.shape[0] - flat.shape[0] % 8
        r = np.rint(flat[:n] * (np.float32(1.0) / np.float32(p.scale)))
        # exact in float32 while |r| < 2**24; the rest (huge, inf, NaN) take the int32 path
        with np.errstate(invalid="ignore"):  # NaN: cast here, fixed below
            np.clip(r + np.float32(p.zp), p.qmin, p.qmax, out=out[:n], casting="unsafe")
            big = np.flatnonzero(~(np.abs(r) < np.float32(1 << 24)))
        if big.size:
            out[big] = _add_zp_clamp(r[big].astype(np.float64), p.zp, p.qmin, p.qmax)
        out[n:] = _add_zp_clamp(round_half_away(flat[n:].astype(np.float64) / float(p.scale)), p.zp, p.qmin, p.qmax)

    def eval_jit(self, p: QuantizeParams, inputs, outputs) -> None:
        if p.scales is not None:
            return self.eval(p, inputs, outputs)
        _quantize_kernel(inputs[0].reshape(-1), outputs[0].reshape(-1), np.float32(1.0) / np.float32(p.scale),
                         float(p.scale), p.zp, p.qmin, p.qmax)

    def bind(self, p: QuantizeParams, inputs, outputs):
        """``eval_jit``'s per-tensor path as one prepared call (``compute.bound``)."""
        if p.scales is not None or not bound.contiguous(inputs[0], outputs[0]):
            return None
        return [(_quantize_kernel, (inputs[0].reshape(-1), outputs[0].reshape(-1),
                                    np.float32(1.0) / np.float32(p.scale), float(p.scale), p.zp, p.qmin, p.qmax))]


def _add_zp_clamp(r: np.ndarray, zp, qmin: int, qmax: int) -> np.ndarray:
    """``clamp(int32(r) + zp)`` with x86's conversion (NaN and values outside int32
    become ``INT32_MIN``) and a wrapping int32 add, as LiteRT's C code runs."""
    with np.errstate(invalid="ignore"):
        ok = (r >= -2147483648.0) & (r < 2147483648.0)
        q = np.where(ok, r, -2147483648.0).astype(np.int64)
    return np.clip(fp._wrap_int32(q + zp), qmin, qmax)


@njit
def _quantize_kernel(x, out, inv, scale, zp, lo, hi):
    """out = clamp(int32(round(x / scale)) + zp, lo, hi) (see the module docstring):
    ``rint(x * inv)`` in float32 on all but the last ``size % 8`` elements, then
    ``round(x / double(scale))`` half away from zero."""
    n = x.shape[0]
    nv = n - n % 8
    for i in range(nv):
        r = np.rint(x[i] * inv)
        ok = r >= -2147483648.0 and r < 2147483648.0
        q = np.int64(r) if ok else np.int64(-2147483648)
        v = np.int64(np.int32(q + zp))
        v = max(v, lo)
        out[i] = min(v, hi)
    for i in range(nv, n):
        d = np.float64(x[i]) / scale
        a = abs(d)
        f = np.floor(a)
        if a < 4503599627370496.0 and a - f >= 0.5:  # (2**52 and above, NaN: nothing to round)
            f += 1.0
        r = -f if d < 0 else f
        ok = r >= -2147483648.0 and r < 2147483648.0
        q = np.int64(r) if ok else np.int64(-2147483648)
        v = np.int64(np.int32(q + zp))
        v = max(v, lo)
        out[i] = min(v, hi)


@dataclass(frozen=True)
class RequantizeParams:
    in_zp: int
    out_zp: int
    mult: int
    shift: int
    qmin: int
    qmax: int
    single_rounding: bool
    vector_blocks: bool  # 8-bit -> 8-bit: vectorized part with a half-up final shift


@register("QUANTIZE", priority=INT8)
class Requantize(Kernel):
    """int8/uint8/int16 -> int8/uint8/int16 rescale (LiteRT ``Requantize``)."""

    def accepts(self, ctx: OpContext) -> bool:
        if not ctx.inputs or not ctx.outputs:
            return False
        a, o = ctx.inputs[0], ctx.outputs[0]
        if not (is_quantized(a) and is_quantized(o)) or a.quant.per_channel or o.quant.per_channel:
            return False
        i, u, h = np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)
        pairs = {(i, i), (i, u), (u, i), (u, u), (h, i), (h, h)}  # what LiteRT's QUANTIZE accepts
        return (np.dtype(a.dtype), np.dtype(o.dtype)) in pairs

    def prepare(self, ctx: OpContext) -> RequantizeParams:
        a, o = ctx.input(0), ctx.outputs[0]
        ctx.set_output_shape(0, a.shape)
        s_in, z_in = quant_params(a)
        s_out, z_out = quant_params(o)
        sr = fp.single_rounding_default()
        m, sh = fp.quantize_multiplier(float(s_in) / float(s_out), sr)
        qmin, qmax = dtype_range(o.dtype)
        eight = np.dtype(a.dtype).itemsize == 1 and np.dtype(o.dtype).itemsize == 1
        return RequantizeParams(z_in, z_out, m, sh, qmin, qmax, sr, eight and not sr)

    def eval(self, p: RequantizeParams, inputs, outputs) -> None:
        x = inputs[0].reshape(-1).astype(np.int64) - p.in_zp
        out = outputs[0].reshape(-1)
        n = x.shape[0] - x.shape[0] % 8 if p.vector_blocks else 0
        if n:
            e = max(-p.shift, 0)
            hi = fp.saturating_rounding_doubling_high_mul(fp._wrap_int32(x[:n] << max(p.shift, 0)), p.mult)
            out[:n] = np.clip(((hi + ((1 << e) >> 1)) >> e) + p.out_zp, p.qmin, p.qmax)
        r = fp.multiply_by_quantized_multiplier(x[n:], p.mult, p.shift, p.single_rounding) + p.out_zp
        out[n:] = np.clip(r, p.qmin, p.qmax)

    def eval_jit(self, p: RequantizeParams, inputs, outputs) -> None:
        _requantize_kernel(inputs[0].reshape(-1), outputs[0].reshape(-1), p.in_zp, p.out_zp, p.mult, p.shift,
                           p.qmin, p.qmax, p.single_rounding, p.vector_blocks)


@njit
def _requantize_kernel(x, out, in_zp, out_zp, m, sh, lo, hi, single, vector_blocks):
    """out = clamp(MBQM(x - zp_in, m, sh) + zp_out, lo, hi) (LiteRT Requantize); in
    the vectorized part (8-bit types, all but size % 8) the final shift rounds half up, as the wheel's
    vectorized loop does."""
    n = x.shape[0] - x.shape[0] % 8 if vector_blocks else 0
    left = max(0, sh)
    e = -sh if sh < 0 else 0
    for i in range(x.shape[0]):
        v = np.int64(x[i]) - in_zp
        if i < n:
            t = fp.srdhm_scalar(fp.wrap_int32_scalar(v << left), m)
            r = ((t + ((np.int64(1) << e) >> 1)) >> e) + out_zp
        else:
            r = fp.mbqm_scalar(v, m, sh, single) + out_zp
        r = max(r, lo)
        r = min(r, hi)
        out[i] = r
