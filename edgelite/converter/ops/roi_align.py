"""RoiAlign (opset 10, 16) with a fixed ``sampling_ratio``, as the ONNX reference computes it.

Per region ``r`` (rows of ``rois``, run-time values), in float32 and in the reference's
order of operations: the region's corners ``rois * spatial_scale - offset`` (0.5 with
``half_pixel``; otherwise the size is at least 1), bins of ``size / output_size``, and
``sampling_ratio`` sample rows and columns per bin at ``start + p * bin + (i + 0.5) * bin / s``.
Each sample, per axis: outside ``[-1, size]`` (either axis) it has zero weights at
position 0; else clamped at 0, ``low = floor``, and at or past the last pixel both taps
are the last pixel with weight 0 on the far one. Then, with the four corners' positions
``pos_i`` and weights ``w_i``:

* ``avg``: ``SUM_samples(w1 v1 + w2 v2 + w3 v3 + w4 v4) / s^2``;
* ``max``: ``MAX_samples(MAX(w1 v1, w2 v2, w3 v3, w4 v4))`` (the reference's definition).

The values ``v_i`` are ``GATHER``s of ``X[batch_indices[r]]`` viewed ``[R, C, H*W]``
(``batch_dims=1``). ``sampling_ratio=0`` takes a per-region number of samples (known only
at run time): refused.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::RoiAlign" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32, _I32 = np.dtype(np.float32), np.dtype(np.int32)


def _text(v, default: str) -> str:
    v = default if v is None else v
    return (v.decode() if isinstance(v, bytes) else str(v)).lower()


@register("RoiAlign")
class RoiAlign(OpConverter):
    def check(self, node):
        x, rois = node.inputs[0], node.inputs[1]
        if np.dtype(x.dtype) != _F32 or np.dtype(rois.dtype) != _F32:
            return f"RoiAlign on {x.dtype}/{rois.dtype} (float32 only)"
        if len(x.shape) != 4:
            return f"RoiAlign of a rank-{len(x.shape)} input"
        if int(node.attrs.get("sampling_ratio", 0)) <= 0:
            return "RoiAlign with sampling_ratio=0 (a per-region sample count, known only at run time)"
        if _text(node.attrs.get("mode"), "avg") not in ("avg", "max"):
            return f"mode {node.attrs.get('mode')!r}"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, rois, bidx = node.inputs[:3]
        y = node.outputs[0]
        n, c, h, w = (int(d) for d in x.shape)
        r = int(rois.shape[0])
        ph, pw = int(node.attrs.get("output_height", 1)), int(node.attrs.get("output_width", 1))
        s = int(node.attrs["sampling_ratio"])
        scale = float(np.float32(node.attrs.get("spatial_scale", 1.0)))
        half = _text(node.attrs.get("coordinate_transformation_mode"), "half_pixel") == "half_pixel"
        mode = _text(node.attrs.get("mode"), "avg")
        f = lambda v: e.scalar(v, _F32)  # noqa: E731

        def col(i):  # rois[:, i] * scale - offset, [R, 1]
            v = e.gather(rois, e.const(np.array([i], np.int32), tag=f"col{i}"), 1)
            v = e.mul(v, f(scale))
            return e.sub(v, f(0.5)) if half else v

        sw, sh, ew, eh = (col(i) for i in range(4))
        axes = []
        for start, end, size, pooled in ((sh, eh, h, ph), (sw, ew, w, pw)):
            length = e.sub(end, start)
            if not half:
                length = e.binary("MAXIMUM", length, f(1.0))
            bin_ = e.div(length, f(float(pooled)))
            p_idx = e.const(np.repeat(np.arange(pooled, dtype=np.float32), s).reshape(1, pooled * s), tag="bins")
            i_half = e.const(np.tile(np.arange(s, dtype=np.float32) + 0.5, pooled).reshape(1, pooled * s), tag="steps")
            coord = e.add(e.add(start, e.mul(p_idx, bin_)), e.div(e.mul(i_half, bin_), f(float(s))))  # [R, pooled*s]
            axes.append(self._axis(e, coord, size))
        (vy, ylo, yhi, ly, hy), (vx, xlo, xhi, lx, hx) = axes
        q = ph * s * pw * s

        def grid(a, b):  # [R, ph*s] x [R, pw*s] -> [R, q] in the reference's (ph, pw, iy, ix) order
            a5 = e.reshape(a, (r, ph, 1, s, 1))
            b5 = e.reshape(b, (r, 1, pw, 1, s))
            return a5, b5

        valid = e.binary("LOGICAL_AND", *grid(vy, vx))
        corners = [(ylo, xlo, hy, hx), (ylo, xhi, hy, lx), (yhi, xlo, ly, hx), (yhi, xhi, ly, lx)]
        xb = e.gather(e.reshape(x, (n, c, h * w)), e.cast(bidx, _I32), 0)  # [R, C, H*W]
        terms = []
        for yi, xi, wy, wx in corners:
            ya, xa = grid(yi, xi)
            pos = e.select(valid, e.add(e.mul(ya, e.scalar(w, _I32)), xa), e.scalar(0, _I32))
            wa, wb = grid(wy, wx)
            weight = e.select(valid, e.mul(wa, wb), f(0.0))
            vals = e.gather(xb, e.reshape(pos, (r, q)), axis=2, batch_dims=1)  # [R, C, q]
            terms.append(e.mul(e.reshape(weight, (r, 1, q)), vals))
        if mode == "avg":
            per_sample = e.add(e.add(e.add(terms[0], terms[1]), terms[2]), terms[3])
            total = e.reduce("SUM", e.reshape(per_sample, (r, c, ph, pw, s * s)), [4])
            res = e.div(total, f(float(max(s * s, 1))))
        else:
            per_sample = e.binary("MAXIMUM", e.binary("MAXIMUM", e.binary("MAXIMUM", terms[0], terms[1]), terms[2]),
                                  terms[3])
            res = e.reduce("REDUCE_MAX", e.reshape(per_sample, (r, c, ph, pw, s * s)), [4])
        e.reshape(res, y.shape, y=y)

    @staticmethod
    def _axis(e, coord, size):
        """(valid, low, high, l, 1 - l) of sample coordinates along one axis (the reference's rules)."""
        f = lambda v: e.scalar(v, _F32)  # noqa: E731
        valid = e.binary("LOGICAL_AND", e.binary("GREATER_EQUAL", coord, f(-1.0)),
                         e.binary("LESS_EQUAL", coord, f(float(size))))
        v = e.binary("MAXIMUM", coord, f(0.0))
        low = e.unary("FLOOR", v)
        edge = e.binary("GREATER_EQUAL", low, f(float(size - 1)))
        last = f(float(size - 1))
        low = e.select(edge, last, low)
        high = e.select(edge, last, e.add(low, f(1.0)))
        v = e.select(edge, low, v)
        lw = e.sub(v, low)
        hw = e.sub(f(1.0), lw)
        low_i = e.cast(e.clamp(low, 0.0, float(size - 1)), _I32)
        high_i = e.cast(e.clamp(high, 0.0, float(size - 1)), _I32)
        return valid, low_i, high_i, lw, hw
