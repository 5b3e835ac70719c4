"""NonMaxSuppression as TFLite builtins: greedy selection unrolled over the (static) box count.

TFLite's NON_MAX_SUPPRESSION_V4/V5 handle one class of one batch and order ties
differently, so ONNX's algorithm is written out densely, vectorised over batches
and classes (``[B, C, N]`` tensors):

1. ``rank[i]`` = number of boxes before box ``i`` in ONNX's order (higher score
   first, ties by lower index): a ``[N, N]`` comparison summed.
2. ``over[j, i]`` = IoU(j, i) > ``iou_threshold`` with ONNX's rules (no suppression
   when the intersection, an area or the union is not positive; min/max of the
   corners, so flipped boxes work; ``center_point_box`` boxes converted first).
3. For ``t = 0 .. N - 1``: the box of rank ``t`` is kept when it passes
   ``score_threshold``, no kept box suppresses it and fewer than
   ``max_output_boxes_per_class`` are kept yet: ~10 small ops per step.
4. ``WHERE`` over the kept mask in rank order gives ``(batch, class, rank)`` rows in
   ONNX's output order; ``GATHER_ND`` turns ranks into box indices.

The unrolled loop grows with ``N``; models with more than ``MAX_BOXES`` boxes are
refused at conversion. The output row count is value-dependent (dynamic).

Example:
    >>> from edgelite.converter.ops.nms import onnx_rank
    >>> onnx_rank([0.5, 0.9, 0.5]).tolist()
    [1, 0, 2]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register

MAX_BOXES = 128


def onnx_rank(scores) -> np.ndarray:
    """Numpy model of step 1: position of each box in ONNX's selection order."""
    s = np.asarray(scores)
    n = len(s)
    j, i = np.arange(n)[:, None], np.arange(n)[None, :]
    return ((s[:, None] > s[None, :]) | ((s[:, None] == s[None, :]) & (j < i))).sum(0)


@register("NonMaxSuppression")
class NonMaxSuppression(OpConverter):
    def check(self, node):
        boxes, scores = node.inputs[0], node.inputs[1]
        if boxes.shape is not None and int(boxes.shape[1]) > MAX_BOXES:
            return f"{boxes.shape[1]} boxes (the unrolled selection is limited to {MAX_BOXES})"
        if scores.dtype is not None and np.dtype(scores.dtype) != np.float32:
            return f"scores of type {np.dtype(scores.dtype).name}"
        return None

    def layout(self, node, perms, lp):
        return LayoutPlan([lp.identity(v) if v is not None else None for v in node.inputs],
                          [lp.identity(o) for o in node.outputs])

    def lower(self, node, out):
        e = Emitter(out, node.name)
        boxes, scores = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        b, c, n = (int(d) for d in scores.shape)
        f32, i32 = np.float32, np.int32
        over = self._overlaps(e, boxes, node)  # [B, 1, N, N] bool: j suppresses i
        # 1. ranks in ONNX's order
        s4j, s4i = e.reshape(scores, (b, c, n, 1)), e.reshape(scores, (b, c, 1, n))
        earlier = np.arange(n)[:, None] < np.arange(n)[None, :]
        ahead = e.binary("LOGICAL_OR", e.binary("GREATER", s4j, s4i),
                         e.binary("LOGICAL_AND", e.binary("EQUAL", s4j, s4i), e.const(earlier.reshape(1, 1, n, n), tag="earlier")))
        rank = e.reduce("SUM", e.cast(ahead, i32), [2], keep=False)  # [B, C, N]
        # 2. candidates
        cand = None
        thr = node.input(4)
        if thr is not None and int(np.prod(thr.shape)) > 0:
            cand = e.binary("GREATER", scores, e.reshape(e.cast(thr, f32), (1, 1, 1)))
        kmax = node.input(2)
        if kmax is not None and int(np.prod(kmax.shape)) > 0:
            limit = e.reshape(e.cast(e.binary("MINIMUM", kmax, e.const(np.array(n, kmax.dtype), tag="n")), i32), (1, 1, 1))
        else:
            limit = e.const(np.zeros((1, 1, 1), i32), tag="no_output")  # ONNX: default 0 boxes
        # 3. greedy selection, one rank at a time
        keep = e.const(np.zeros((b, c, n), np.bool_), tag="keep0")
        count = e.const(np.zeros((b, c, 1), i32), tag="count0")
        for t in range(n):
            sel = e.binary("EQUAL", rank, e.const(np.array(t, i32), tag="t"))
            hit = e.binary("LOGICAL_AND", e.reshape(keep, (b, c, n, 1)), over)  # [B, C, N(j), N(i)]
            supp = e.reduce("REDUCE_ANY", hit, [2], keep=False)
            ok = e.binary("LOGICAL_AND", sel, e.unary("LOGICAL_NOT", supp))
            ok = e.binary("LOGICAL_AND", ok, e.binary("LESS", count, limit))
            if cand is not None:
                ok = e.binary("LOGICAL_AND", ok, cand)
            keep = e.binary("LOGICAL_OR", keep, ok)
            count = e.add(count, e.reduce("SUM", e.cast(ok, i32), [2], keep=True))
        # 4. kept boxes in rank order -> (batch, class, box) rows
        onehot = e.binary("EQUAL", e.reshape(rank, (b, c, n, 1)), e.const(np.arange(n, dtype=i32).reshape(1, 1, 1, n), tag="ranks"))
        ranked = e.reduce("REDUCE_ANY", e.binary("LOGICAL_AND", onehot, e.reshape(keep, (b, c, n, 1))), [2], keep=False)
        order = e.reduce("SUM", e.select(onehot, e.const(np.arange(n, dtype=i32).reshape(1, 1, n, 1), tag="index"),
                                         e.const(np.array(0, i32), tag="zero")), [2], keep=False)  # [B, C, N(rank)]
        num = int(y.shape[0])
        coords = e._tmp("where", (num, 3), np.dtype(np.int64), None)
        out.emit("WHERE", [ranked], [coords])
        box = e._tmp("box", (num,), np.dtype(i32), None)
        out.emit("GATHER_ND", [order, e.cast(coords, i32)], [box])
        from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT
        from edgelite.schema.fb.SliceOptions import SliceOptionsT

        bc = e._tmp("bc", (num, 2), np.dtype(np.int64), None)
        out.emit("SLICE", [coords, e.const(np.array([0, 0], i32), tag="begin"), e.const(np.array([-1, 2], i32), tag="size")],
                 [bc], SliceOptionsT())
        col = e._tmp("col", (num, 1), np.dtype(np.int64), None)
        ro = ReshapeOptionsT()
        ro.newShape = [-1, 1]
        out.emit("RESHAPE", [e.cast(box, np.int64), e.const(np.array([-1, 1], i32), tag="shape")], [col], ro)
        e.concat([bc, col], 1, y=y)

    def _overlaps(self, e, boxes, node):
        """``[B, 1, N, N]``: IoU(box j, box i) > threshold under ONNX's rules."""
        b, n = int(boxes.shape[0]), int(boxes.shape[1])
        f32 = np.float32
        parts = [e.slice(boxes, [0, 0, k], [b, n, 1]) for k in range(4)]  # [B, N, 1] each
        if int(node.attrs.get("center_point_box", 0)):
            xc, yc, w, h = parts
            hw, hh = e.mul(w, e.scalar(0.5, f32)), e.mul(h, e.scalar(0.5, f32))
            x0, x1, y0, y1 = e.sub(xc, hw), e.add(xc, hw), e.sub(yc, hh), e.add(yc, hh)
        else:
            ya, xa, yb, xb = parts
            y0, y1 = e.binary("MINIMUM", ya, yb), e.binary("MAXIMUM", ya, yb)
            x0, x1 = e.binary("MINIMUM", xa, xb), e.binary("MAXIMUM", xa, xb)

        def pair(v):  # [B, N(j), 1] and [B, 1, N(i)]
            return e.reshape(v, (b, n, 1)), e.reshape(v, (b, 1, n))

        (x0j, x0i), (x1j, x1i), (y0j, y0i), (y1j, y1i) = pair(x0), pair(x1), pair(y0), pair(y1)
        iw = e.sub(e.binary("MINIMUM", x1j, x1i), e.binary("MAXIMUM", x0j, x0i))
        ih = e.sub(e.binary("MINIMUM", y1j, y1i), e.binary("MAXIMUM", y0j, y0i))
        zero = e.scalar(0.0, f32)
        inter = e.mul(iw, ih)
        area = e.mul(e.sub(x1, x0), e.sub(y1, y0))
        aj, ai = pair(area)
        union = e.sub(e.add(aj, ai), inter)
        valid = e.binary("LOGICAL_AND", e.binary("GREATER", iw, zero), e.binary("GREATER", ih, zero))
        valid = e.binary("LOGICAL_AND", valid, e.binary("GREATER", e.binary("MINIMUM", aj, ai), zero))
        valid = e.binary("LOGICAL_AND", valid, e.binary("GREATER", union, zero))
        safe = e.select(valid, union, e.scalar(1.0, f32))
        iou = e.div(inter, safe)
        thr = node.input(3)
        t = e.reshape(e.cast(thr, f32), (1, 1, 1)) if thr is not None and int(np.prod(thr.shape)) > 0 else e.scalar(0.0, f32)
        over = e.binary("LOGICAL_AND", valid, e.binary("GREATER", iou, t))
        return e.reshape(over, (b, 1, n, n))
