"""Global average pooling (MEAN over H and W) in int8, written so LiteRT computes it exactly.

LiteRT runs an int8 MEAN with ``keep_dims``, a 4-D input and the axes {1, 2} through its
global-average-pool kernel, which rescales the *raw* sum of the stored integers and adds
the input zero point's share afterwards as one rounded integer:

    out = MBQM(sum(q), s_in / (n s_out)) + zp_out - round(zp_in s_in / s_out)

Two systematic errors follow, the same sign on every channel, so a FULLY_CONNECTED or a
squeeze-excite block that sums the pooled channels adds them up coherently:

* ``round(zp_in s_in / s_out)`` is off by a fraction ``d`` of a step on every output;
* the double-rounding MBQM of its SIMD path rounds the second step half up, a bias of
  about ``2^-(e+1)`` steps where ``2^-e`` is the multiplier's power of two: a tenth of a
  step for a 3x3 pool.

Every other int8 MEAN goes through LiteRT's integer ``QuantizedMeanOrSum``, which
subtracts the zero point before its single rescale (its MBQM still rounds twice, ties
away from zero). Which form is more accurate depends on the scales, so the quantizer
computes, with LiteRT's exact integer arithmetic over the input sums the calibrated
output range holds, the error of (1) the single MEAN, (2) the single MEAN with an output
scale a little larger that makes ``zp_in s_in / s_out`` an integer, and (3)
``MEAN(keep_dims=False)`` then ``RESHAPE`` back to ``(N, 1, 1, C)`` (shared parameters,
no arithmetic; static shapes only), and writes the best (``choose_global_pool``).

On the reduced MobileNetV3-Small the pooled tensors of its squeeze-excite blocks come
1-4 dB closer to the float model (``docs/quantization.md``).

Example:
    >>> s, zp = global_pool_output_params(0.00411, -128, 0.00355, -128)
    >>> zp, round(-128 * 0.00411 / s, 4)
    (-128, -148.0)
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.compute.rounding import round_half_away_scalar
from edgelite.quantize.graph import GraphEditor, qparams
from edgelite.quantize.versions import op_version
from edgelite.schema.model import TensorType


def is_global_pool(g: GraphEditor, op) -> bool:
    """Whether LiteRT would run this MEAN with its global-pool kernel (keep_dims, 4-D, axes {1, 2})."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    axes = g.const_data(op.inputs[1])
    keep = bool(getattr(op.builtin_options, "keepDims", False))
    if axes is None or not keep or len(g.tensors[op.inputs[0]].shape) != 4:
        return False
    axes = np.asarray(axes).reshape(-1)
    return axes.size == 2 and sorted(int(a) % 4 for a in axes) == [1, 2]


def is_static(g: GraphEditor, t: int) -> bool:
    tensor = g.tensors[t]
    sig = tensor.shape_signature
    return all(int(d) > 0 for d in tensor.shape) and (sig is None or all(int(d) > 0 for d in sig))


def emit_exact_global_pool(g: GraphEditor, op, x: int, params: tuple[float, int]) -> bool:
    """Emit ``MEAN(keep_dims=False)`` + ``RESHAPE`` for a global pool whose output is ``params``.

    ``x`` is the quantized input; the operator's own output tensor (already int8 with
    ``params``) becomes the RESHAPE's output, so consumers and names are unchanged.

    Returns:
        False (nothing emitted) when the shapes are not static.
    """
    out = op.outputs[0]
    if not (is_static(g, x) and is_static(g, out)):
        return False
    from edgelite.schema.fb.ReducerOptions import ReducerOptionsT
    from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT

    shape = tuple(int(d) for d in g.tensors[out].shape)
    qtype = g.tensors[x].type
    pooled = g.add_tensor(g.tensors[out].name + "_pooled", shape=(shape[0], shape[3]), type=qtype,
                          quant=qparams(*params))
    reducer = ReducerOptionsT()
    reducer.keepDims = False
    g.emit("MEAN", [x, op.inputs[1]], [pooled], reducer, version=op_version("MEAN", [qtype], [qtype]))
    new_shape = g.add_constant(g.tensors[out].name + "_shape", np.asarray(shape, np.int32))
    reshape = ReshapeOptionsT()
    reshape.newShape = list(shape)
    g.emit("RESHAPE", [pooled, new_shape], [out], reshape,
           version=op_version("RESHAPE", [qtype, TensorType.INT32], [qtype]))
    return True


def global_pool_output_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> tuple[float, int]:
    """Output parameters for an int8 MEAN that LiteRT runs as global average pooling.

    The kernel adds ``round(zp_in * s_in / s_out)`` (float32, half away from zero); its
    rounding error ``d`` costs ``s_out^2 (1/12 + d^2)`` of expected squared error per
    output instead of ``s_out^2 / 12``. This returns the slightly larger scale
    ``s' = |zp_in s_in| / m`` (``m`` the integer just below ``|zp_in s_in / s_out|``),
    which makes the term exact, when ``s'^2 / 12`` is the smaller error; else the
    calibrated parameters. The zero point is kept, so the range still covers the
    calibrated one.
    """
    f32 = np.float32
    num = f32(f32(in_zp) * f32(in_scale))

    def rounding_error(scale: np.float32) -> float:
        t = float(f32(num / f32(scale)))
        return abs(t - round_half_away_scalar(t))

    s = f32(out_scale)
    d = rounding_error(s)
    m = int(np.floor(abs(float(num) / float(s))))
    if d < 1e-4 or m < 1:
        return float(s), int(out_zp)
    cand = f32(abs(num) / f32(m))
    while cand < s:  # float32 rounding: never narrow the calibrated range
        cand = np.nextafter(cand, f32(np.inf), dtype=f32)
    if rounding_error(cand) < 1e-3 and float(cand) ** 2 / 12.0 < float(s) ** 2 * (1.0 / 12.0 + d * d):
        return float(cand), int(out_zp)
    return float(s), int(out_zp)


def _quantize_multiplier(real: float) -> tuple[int, int]:
    """LiteRT's ``QuantizeMultiplier``: ``real ~= q * 2^(shift - 31)``, ``q`` in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    f, shift = np.frexp(real)
    q = int(np.floor(abs(f) * (1 << 31) + 0.5)) * (1 if f > 0 else -1)
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, int(shift)


def _mbqm(x: np.ndarray, q: int, shift: int, ties_up: bool = False) -> np.ndarray:
    """LiteRT's default (double rounding) ``MultiplyByQuantizedMultiplier``, int64 in and out.

    ``ties_up``: the second rounding sends ties toward +infinity, as the SIMD blocks of
    the global-pool kernel do, instead of away from zero.
    """
    left, right = max(shift, 0), max(-shift, 0)
    ab = (x.astype(np.int64) << left) * np.int64(q)
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    v = ab + nudge
    high = np.where(v >= 0, v >> 31, -((-v) >> 31))  # divide by 2^31 rounding toward zero
    if right == 0:
        return high
    if ties_up:
        return (high + (1 << (right - 1))) >> right
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)




def _sums(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int, max_points: int) -> np.ndarray:
    """The zero-point-free input sums whose means the output range holds (a fixed sample if many)."""
    lo = (-128 - out_zp) * out_scale * count / in_scale
    hi = (127 - out_zp) * out_scale * count / in_scale
    x_lo = max(int(np.ceil(lo)), count * (-128 - in_zp))
    x_hi = min(int(np.floor(hi)), count * (127 - in_zp))
    sums = np.arange(x_lo, max(x_hi, x_lo) + 1, dtype=np.int64)
    if sums.size > max_points:
        sums = np.sort(np.random.default_rng(0).choice(sums, max_points, replace=False))
    return sums


def _mse(out: np.ndarray, out_scale: float, out_zp: int, exact: np.ndarray) -> float:
    err = float(np.float32(out_scale)) * (out - out_zp) - exact
    return float(np.mean(err * err))


def integer_mean_outputs(in_scale: float, out_scale: float, out_zp: int, count: int, sums: np.ndarray) -> np.ndarray:
    """LiteRT's integer MEAN (``QuantizedMeanOrSum``) of zero-point-free sums, int8.

    ``MBQM(sum(q - zp_in), M) + zp_out`` clamped, ``M = s_in / s_out`` with ``1 / count``
    folded into the multiplier (``q' = (q << k) / count``, ``shift' = shift - k``).
    """
    f32 = np.float32
    q, shift = _quantize_multiplier(float(f32(in_scale)) / float(f32(out_scale)))
    k = min(int(count).bit_length() - 1, 32, 31 + shift)
    q, shift = (q << k) // count, shift - k
    return np.clip(_mbqm(np.asarray(sums, np.int64), q, shift) + out_zp, -128, 127)


def global_pool_outputs(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int,
                        sums: np.ndarray, ties_up: bool) -> np.ndarray:
    """LiteRT's global-pool MEAN of zero-point-free sums ``sums``, int8.

    ``MBQM(raw sum, s_in / (count s_out)) + zp_out - round(zp_in s_in / s_out)``, the
    multiplier and the rounded term in float32; ``ties_up`` for the channels of a
    16-wide SIMD block, else the scalar form.
    """
    f32 = np.float32
    temp = f32(f32(f32(in_zp) * f32(in_scale)) / f32(out_scale))
    bias = out_zp - int(temp + f32(0.5) if temp > 0 else temp - f32(0.5))
    q, shift = _quantize_multiplier(float(f32(in_scale) / f32(f32(count) * f32(out_scale))))
    raw = np.asarray(sums, np.int64) + count * in_zp
    return np.clip(_mbqm(raw, q, shift, ties_up=ties_up) + bias, -128, 127)


def _exact(in_scale: float, count: int, sums: np.ndarray) -> np.ndarray:
    return float(np.float32(in_scale)) * sums / count


def global_pool_mse(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int, depth: int,
                    sums: np.ndarray) -> float:
    """Mean squared error (real units) of the global-pool MEAN over ``sums``, one thread.

    One thread runs the channels in blocks of 16 (ties of the second rounding up) and
    the ``depth % 16`` left over one by one (ties away from zero).
    """
    exact = _exact(in_scale, count, sums)
    blocked = 16 * (depth // 16)
    up = _mse(global_pool_outputs(in_scale, in_zp, out_scale, out_zp, count, sums, True), out_scale, out_zp, exact)
    away = _mse(global_pool_outputs(in_scale, in_zp, out_scale, out_zp, count, sums, False), out_scale, out_zp, exact)
    return (blocked * up + (depth - blocked) * away) / max(depth, 1)


def choose_global_pool(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int, depth: int,
                       allow_integer: bool = True, allow_rescale: bool = True,
                       max_points: int = 65536) -> tuple[str, float]:
    """How to write an int8 global average pool: ``("keep" | "integer", output scale)``.

    Compares, by LiteRT's exact integer arithmetic over the input sums the calibrated
    output range holds, the single MEAN with the calibrated scale, the single MEAN with
    the scale ``global_pool_output_params`` proposes, and ``MEAN(keep_dims=False)``
    + ``RESHAPE`` (``"integer"``, unless ``allow_integer`` is False), and returns the
    one with the least squared error. ``allow_rescale=False`` keeps the output scale
    (parameters that came with the model, as from a QDQ import).
    """
    s = float(np.float32(out_scale))
    sums = _sums(float(np.float32(in_scale)), in_zp, s, out_zp, count, max_points)
    best = ("keep", s, global_pool_mse(in_scale, in_zp, s, out_zp, count, depth, sums))
    adjusted = global_pool_output_params(in_scale, in_zp, s, out_zp)[0] if allow_rescale else s
    if adjusted != s:
        err = global_pool_mse(in_scale, in_zp, adjusted, out_zp, count, depth, sums)
        if err < best[2]:
            best = ("keep", adjusted, err)
    err = (_mse(integer_mean_outputs(in_scale, s, out_zp, count, sums), s, out_zp, _exact(in_scale, count, sums))
           if allow_integer else np.inf)
    if err < best[2]:
        best = ("integer", s, err)
    return best[0], best[1]
