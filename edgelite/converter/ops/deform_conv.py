"""DeformConv (opset 19, 22), 2-D, as the ONNX reference computes it.

The reference samples ``X`` for every output position ``p`` and kernel offset ``k`` at
``(top(p) + k * dilation + offset[n, og, k, :, p])`` by GridSample (bilinear,
``align_corners=1``, zero padding: a tap outside the image reads 0), multiplies by
``mask`` and sums against ``W`` per output channel, plus ``B``. Here, with ``G`` offset
groups of ``Cg`` channels, ``K`` kernel offsets and ``P`` output positions:

1. coordinates ``h, w [N*G, K*P]``: a constant grid plus the offsets (float32);
2. the four taps ``floor + {0, 1}`` per axis, weights ``1 - frac`` / ``frac``, indices
   clamped; ``X`` viewed ``[N*G, Cg, H*W]`` and ``GATHER``-ed with ``batch_dims=1`` per
   tap, weighted, 0 where the tap is outside, summed, times ``mask``: ``[N, C, K, P]``;
3. the convolution is the ``BATCH_MATMUL`` of ``spatial_ext.ConvPatches``:
   ``W[1, g, Cout/g, Cin/g * K]`` by ``[N, g, Cin/g * K, P]``, plus ``B``.

The reference normalizes coordinates by ``H - 1`` and ``W - 1``: an input of height or
width 1 is refused (it divides by zero there). Float32 only.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::DeformConv" in CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32, _I32 = np.dtype(np.float32), np.dtype(np.int32)


@register("DeformConv")
class DeformConv(OpConverter):
    def check(self, node):
        x, w = node.inputs[0], node.inputs[1]
        if any(v is not None and np.dtype(v.dtype) != _F32 for v in node.inputs):
            return "DeformConv on non-float32 tensors"
        if len(x.shape) != 4:
            return f"DeformConv of a rank-{len(x.shape)} input (2-D only, as the reference)"
        if 1 in tuple(x.shape[2:]):
            return "DeformConv of an input of height or width 1 (the reference divides by zero there)"
        group, og = int(node.attrs.get("group", 1)), int(node.attrs.get("offset_group", 1))
        cin, cout = int(x.shape[1]), int(w.shape[0])
        if cin % group or cout % group or cin % og or w.shape[1] * group != cin:
            return f"DeformConv channels {cin} -> {cout} with group={group}, offset_group={og}"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

        e = Emitter(out, node.name)
        x, w, off = node.inputs[0], node.inputs[1], node.inputs[2]
        b, mask = node.input(3), node.input(4)
        y = node.outputs[0]
        n, cin, ih, iw = (int(d) for d in x.shape)
        cout = int(w.shape[0])
        kh, kw = (int(k) for k in node.attrs.get("kernel_shape", w.shape[2:]))
        sh, sw = (int(s) for s in node.attrs.get("strides", [1, 1]))
        dh, dw = (int(d) for d in node.attrs.get("dilations", [1, 1]))
        pads = [int(p) for p in node.attrs.get("pads", [0, 0, 0, 0])]
        group, og = int(node.attrs.get("group", 1)), int(node.attrs.get("offset_group", 1))
        oh, ow = (int(d) for d in off.shape[2:])
        k, p, cg = kh * kw, oh * ow, cin // og
        # 1. sampling coordinates [N*G, K*P]
        ki, kj = np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij")
        pi, pj = np.meshgrid(np.arange(oh) * sh - pads[0], np.arange(ow) * sw - pads[1], indexing="ij")
        base_h = (ki.reshape(k, 1) + pi.reshape(1, p)).reshape(1, k * p).astype(np.float32)
        base_w = (kj.reshape(k, 1) + pj.reshape(1, p)).reshape(1, k * p).astype(np.float32)
        off4 = e.reshape(off, (n * og, k, 2, p))
        coords = []
        for axis, base in ((0, base_h), (1, base_w)):
            o = e.reshape(e.gather(off4, e.const(np.array(axis, np.int32), tag="axis"), 2), (n * og, k * p))
            coords.append(e.add(o, e.const(base, tag="base")))
        # 2. bilinear taps, zero outside
        taps = [self._taps(e, c, size) for c, size in zip(coords, (ih, iw))]
        xg = e.reshape(x, (n * og, cg, ih * iw))
        sampled = None
        for hi, hw_, h_in in taps[0]:
            for wi, ww, w_in in taps[1]:
                flat = e.add(e.mul(hi, e.scalar(iw, _I32)), wi)
                vals = e.gather(xg, flat, axis=2, batch_dims=1)  # [N*G, Cg, K*P]
                vals = e.mul(vals, e.reshape(e.mul(hw_, ww), (n * og, 1, k * p)))
                # a tap outside reads 0 (not 0 times the clamped pixel, which may be inf)
                inside = e.reshape(e.binary("LOGICAL_AND", h_in, w_in), (n * og, 1, k * p))
                vals = e.select(inside, vals, e.scalar(0.0, _F32))
                sampled = vals if sampled is None else e.add(sampled, vals)
        if mask is not None:
            sampled = e.mul(sampled, e.reshape(mask, (n * og, 1, k * p)))
        # 3. the convolution over (input channel, kernel offset)
        cgc = cin // group
        rhs = e.reshape(sampled, (n, group, cgc * k, p))
        lhs = e.reshape(w, (1, group, cout // group, cgc * k))
        prod = e.op("BATCH_MATMUL", [lhs, rhs], (n, group, cout // group, p), _F32, BatchMatMulOptionsT(), version=4)
        res = e.reshape(prod, (n, cout, p))
        if b is not None:
            res = e.add(res, e.reshape(b, (1, cout, 1)))
        e.reshape(res, y.shape, y=y)

    @staticmethod
    def _taps(e, coord, size):
        """[(clamped int32 index, float32 weight, inside)] for ``floor`` and ``floor + 1``."""
        lo = e.unary("FLOOR", coord)
        frac = e.sub(coord, lo)
        out = []
        for idx, weight in ((lo, e.sub(e.scalar(1.0, _F32), frac)), (e.add(lo, e.scalar(1.0, _F32)), frac)):
            inside = e.binary("LOGICAL_AND", e.binary("GREATER_EQUAL", idx, e.scalar(0.0, _F32)),
                              e.binary("LESS_EQUAL", idx, e.scalar(float(size - 1), _F32)))
            out.append((e.cast(e.clamp(idx, 0.0, float(size - 1)), _I32), weight, inside))
        return out
