"""GridSample (opset 16, 20, 22): sample ``X [N, C, *S]`` at the points of ``grid [N, *O, D]``.

Following the ONNX reference (``onnx/reference/ops/op_grid_sample.py``) step by step,
each spatial dimension ``i`` (grid channel ``D-1-i``):

1. denormalize: ``x = (g + 1) / 2 * (S - 1)`` with ``align_corners``, else
   ``((g + 1) * S - 1) / 2``; ``nearest`` rounds half to even (ROUND);
2. a coordinate outside ``[lo, hi]`` (``[0, S-1]`` with ``align_corners``, else
   ``[-0.5, S-0.5]``) is clamped to ``[0, S-1]`` (``border``) or reflected off the
   borders (``reflection``); ``zeros`` leaves it;
3. taps: ``floor(x) + k`` with linear weights (k in 0..1) or Keys cubic weights
   (alpha -0.75, k in -1..2), or the rounded ``x`` alone (``nearest``);
4. each tap index follows the padding rule again: out of range reads 0 (``zeros``),
   the nearest edge (``border``) or its reflection, truncated (``reflection``).

The output is the weighted sum over all tap combinations of one ``GATHER`` each
(``X`` viewed as ``[N, C, prod(S)]``, the flat index per batch, ``batch_dims`` 1).
Float32 only; cubic for 2-D inputs only.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("GridSample") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import itertools

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)
_MODES = {"bilinear": "linear", "linear": "linear", "bicubic": "cubic", "cubic": "cubic", "nearest": "nearest"}
_A = -0.75  # Keys cubic


def _attrs(node):
    mode = node.attrs.get("mode", "linear")  # (opset 16 says "bilinear": the same)
    return _MODES.get(mode), node.attrs.get("padding_mode", "zeros"), bool(node.attrs.get("align_corners", 0))


@register("GridSample")
class GridSample(OpConverter):
    def check(self, node):
        x, grid = node.input(0), node.input(1)
        if x is None or grid is None or x.shape is None or grid.shape is None:
            return "inputs without static shapes"
        if x.dtype != _F32 or grid.dtype != _F32:
            return f"GridSample on {x.dtype}/{grid.dtype} (float32 only)"
        mode, pad, _ = _attrs(node)
        d = len(x.shape) - 2
        if mode is None:
            return f"mode {node.attrs.get('mode')!r}"
        if pad not in ("zeros", "border", "reflection"):
            return f"padding_mode {pad!r}"
        if d not in (2, 3) or len(grid.shape) != d + 2 or grid.shape[-1] != d or grid.shape[0] != x.shape[0]:
            return f"input {list(x.shape)} with grid {list(grid.shape)}"
        if mode == "cubic" and d != 2:
            return "cubic sampling of a volume"
        if 0 in x.shape or 0 in grid.shape:
            return "an empty input or grid"
        if pad == "reflection" and _attrs(node)[2] and 1 in x.shape[2:]:
            return "reflection off the corners of a size-1 dimension (the reference divides by zero)"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, grid = node.inputs[0], node.inputs[1]
        mode, pad, align = _attrs(node)
        n, c = int(x.shape[0]), int(x.shape[1])
        sizes = [int(s) for s in x.shape[2:]]
        d = len(sizes)
        q = int(np.prod(grid.shape[1:-1]))
        g = e.reshape(grid, (n, q, d))
        strides = [int(np.prod(sizes[i + 1:])) for i in range(d)]
        per_dim = []  # per dim: list of (flat index part int32 [n, q], weight f32 [n, q] or None)
        for i, size in enumerate(sizes):
            gi = e.gather(g, e.const(np.array(d - 1 - i, np.int32)), axis=2)  # [n, q]
            coord = self._denormalize(e, gi, size, align)
            if mode == "nearest":
                coord = e.unary("ROUND", coord)
            lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
            coord = self._outside(e, coord, pad, size, lo, hi)
            taps = []
            if mode == "nearest":
                taps.append((coord, None))
            else:
                base = e.unary("FLOOR", coord)
                frac = e.sub(coord, base)
                ks = (0, 1) if mode == "linear" else (-1, 0, 1, 2)
                weights = self._weights(e, frac, mode)
                for k, w in zip(ks, weights):
                    taps.append((e.add(base, e.scalar(float(k), _F32)) if k else base, w))
            per_dim.append([self._fetch(e, idx, w, pad, size, lo, hi, strides[i]) for idx, w in taps])
        xf = e.reshape(x, (n, c, int(np.prod(sizes))))
        total = None
        for combo in itertools.product(*per_dim):
            flat = combo[0][0]
            weight = combo[0][1]
            for idx, w in combo[1:]:
                flat = e.add(flat, idx)
                weight = w if weight is None else (weight if w is None else e.mul(weight, w))
            vals = e.gather(xf, flat, axis=2, batch_dims=1)  # [n, c, q]
            if weight is not None:
                vals = e.mul(vals, e.reshape(weight, (n, 1, q)))
            total = vals if total is None else e.add(total, vals)
        e.reshape(total, node.outputs[0].shape, y=node.outputs[0])

    @staticmethod
    def _denormalize(e, g, size, align):
        t = e.add(g, e.scalar(1.0, _F32))
        if align:
            return e.mul(e.mul(t, e.scalar(0.5, _F32)), e.scalar(float(size - 1), _F32))
        t = e.sub(e.mul(t, e.scalar(float(size), _F32)), e.scalar(1.0, _F32))
        return e.mul(t, e.scalar(0.5, _F32))

    @staticmethod
    def _reflect(e, v, lo, hi):
        """The reference's ``_gs_reflect``: fold ``v`` into ``[lo, hi]`` off the nearer border."""
        rng = hi - lo
        below = e.binary("LESS", v, e.scalar(lo, _F32))
        dx = e.select(below, e.sub(e.scalar(lo, _F32), v), e.sub(v, e.scalar(hi, _F32)))
        dx = e.binary("MAXIMUM", dx, e.scalar(0.0, _F32))
        k = e.unary("FLOOR", e.div(dx, e.scalar(rng, _F32)))
        r = e.sub(dx, e.mul(k, e.scalar(rng, _F32)))
        odd = e.binary("EQUAL", e.binary("FLOOR_MOD", k, e.scalar(2.0, _F32)), e.scalar(1.0, _F32))
        from_lo = e.add(e.scalar(lo, _F32), r)
        from_hi = e.sub(e.scalar(hi, _F32), r)
        # below: lo + r (even) / hi - r (odd); above: hi - r (even) / lo + r (odd)
        use_lo = e.binary("NOT_EQUAL", below, odd)
        folded = e.select(use_lo, from_lo, from_hi)
        inside = e.binary("LOGICAL_AND", e.binary("GREATER_EQUAL", v, e.scalar(lo, _F32)),
                          e.binary("LESS_EQUAL", v, e.scalar(hi, _F32)))
        return e.select(inside, v, folded)

    def _outside(self, e, coord, pad, size, lo, hi):
        if pad == "zeros":
            return coord
        if pad == "border":
            outside = e.binary("LOGICAL_OR", e.binary("LESS", coord, e.scalar(lo, _F32)),
                               e.binary("GREATER", coord, e.scalar(hi, _F32)))
            return e.select(outside, e.clamp(coord, 0.0, float(size - 1)), coord)
        return self._reflect(e, coord, lo, hi)

    @staticmethod
    def _weights(e, t, mode):
        one = e.scalar(1.0, _F32)
        if mode == "linear":
            return [e.sub(one, t), t]

        def near(s):  # |s| <= 1: ((A + 2) s - (A + 3)) s^2 + 1
            inner = e.sub(e.mul(e.scalar(_A + 2.0, _F32), s), e.scalar(_A + 3.0, _F32))
            return e.add(e.mul(e.mul(inner, s), s), one)

        def far(s):  # 1 < s < 2: ((A s - 5A) s + 8A) s - 4A
            inner = e.sub(e.mul(e.scalar(_A, _F32), s), e.scalar(5.0 * _A, _F32))
            return e.sub(e.mul(e.add(e.mul(inner, s), e.scalar(8.0 * _A, _F32)), s), e.scalar(4.0 * _A, _F32))

        return [far(e.add(t, one)), near(t), near(e.sub(one, t)), far(e.sub(e.scalar(2.0, _F32), t))]

    def _fetch(self, e, idx, w, pad, size, lo, hi, stride):
        """(flat index part, weight) of one tap index along one dimension."""
        if pad == "zeros":
            valid = e.binary("LOGICAL_AND", e.binary("GREATER_EQUAL", idx, e.scalar(0.0, _F32)),
                             e.binary("LESS_EQUAL", idx, e.scalar(float(size - 1), _F32)))
            vf = e.cast(valid, _F32)
            w = vf if w is None else e.mul(w, vf)
            idx = e.clamp(idx, 0.0, float(size - 1))
        elif pad == "border":
            idx = e.clamp(idx, 0.0, float(size - 1))
        else:
            # int() of the reflected value: it lies in [lo, hi], so truncation is floor of max(r, 0).
            idx = e.unary("FLOOR", e.binary("MAXIMUM", self._reflect(e, idx, lo, hi), e.scalar(0.0, _F32)))
            idx = e.clamp(idx, 0.0, float(size - 1))
        flat = e.cast(idx, _I32)
        if stride != 1:
            flat = e.mul(flat, e.scalar(stride, _I32))
        return flat, w
