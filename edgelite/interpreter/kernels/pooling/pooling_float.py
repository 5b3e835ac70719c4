"""Float32 AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D.

Semantics of TFLite's builtins (``reference_ops::AveragePool`` / ``MaxPool`` /
``L2Pool``), input and output NHWC. The window of output ``(oy, ox)`` starts at input
``(oy*sh - ph, ox*sw - pw)`` and is clipped to the image; padded cells take no part:

* average: ``sum(valid cells) / count(valid cells)``;
* max: ``max(valid cells)`` (the lowest float when none is valid);
* L2: ``sqrt(sum(valid cells ** 2) / count(valid cells))``;

then the fused activation clamp. Output size and padding come from ``conv_geometry``.

``eval`` is numpy (one strided view of the padded input per window cell, plus a count
map); ``eval_jit`` is a Numba loop over output rows, channels innermost, with a
parallel twin used when the interpreter has more than one thread and the operator is big
enough to be worth splitting (``float_gemm.worth_splitting``).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.pooling.pooling_float import Pool2DFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT
    >>> o = Pool2DOptionsT(); o.strideW = o.strideH = 2; o.filterWidth = o.filterHeight = 2
    >>> f32 = np.dtype(np.float32)
    >>> ctx = OpContext("AVERAGE_POOL_2D", 0, 1, o, None, None, [TensorInfo(0, "x", (1, 3, 3, 1), f32, 0)],
    ...                 [TensorInfo(1, "y", None, f32, 0)])
    >>> k = Pool2DFloat(); p = k.prepare(ctx); ctx.output_shapes[0]   # SAME padding
    (1, 2, 2, 1)
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1); out = np.empty((1, 2, 2, 1), np.float32)
    >>> k.eval(p, [x], [out]); out[0, :, :, 0].tolist()   # edge windows average their valid cells only
    [[2.0, 3.5], [6.5, 8.0]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import float_gemm
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.conv.conv_float import is_float32
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range
from edgelite.interpreter.compute.jit import njit, prange, serial_build

AVERAGE, MAX, L2 = 0, 1, 2
_KINDS = {"AVERAGE_POOL_2D": AVERAGE, "MAX_POOL_2D": MAX, "L2_POOL_2D": L2}
_LOWEST = np.float32(np.finfo(np.float32).min)


@dataclass(frozen=True)
class PoolParams:
    """What ``eval`` needs for one float pooling op."""

    kind: int  # AVERAGE, MAX or L2
    win: Window2D  # filter (kh, kw), strides, padding, output size
    lo: np.float32
    hi: np.float32
    parallel: bool


def _pool_rows(x, out, kind, fh, fw, sh, sw, pad_h, pad_w, lo, hi):
    """Pooling over clipped windows (TFLite reference semantics), rows split over threads.

    x [N, H, W, C], out [N, OH, OW, C]. kind 0: sum/count; 1: max; 2: sqrt(sum sq/count).
    """
    nb, h, w, ch = x.shape
    oh = out.shape[1]
    ow = out.shape[2]
    lowest = np.float32(-3.4028234663852886e38)
    for r in prange(nb * oh):
        b = r // oh
        oy = r - b * oh
        iy0 = oy * sh - pad_h
        fy0 = max(0, -iy0)
        fy1 = min(fh, h - iy0)
        for ox in range(ow):
            ix0 = ox * sw - pad_w
            fx0 = max(0, -ix0)
            fx1 = min(fw, w - ix0)
            o = out[b, oy, ox]
            if kind == 1:
                for c in range(ch):
                    o[c] = lowest
            else:
                for c in range(ch):
                    o[c] = 0.0
            for fy in range(fy0, fy1):
                for fx in range(fx0, fx1):
                    xr = x[b, iy0 + fy, ix0 + fx]
                    if kind == 0:
                        for c in range(ch):
                            o[c] += xr[c]
                    elif kind == 1:
                        for c in range(ch):
                            o[c] = max(o[c], xr[c])
                    else:
                        for c in range(ch):
                            o[c] += xr[c] * xr[c]
            count = np.float32(max(0, fy1 - fy0) * max(0, fx1 - fx0))
            if kind == 0:
                for c in range(ch):
                    o[c] = min(max(o[c] / count, lo), hi)
            elif kind == 1:
                for c in range(ch):
                    o[c] = min(max(o[c], lo), hi)
            else:
                for c in range(ch):
                    o[c] = min(max(np.sqrt(o[c] / count), lo), hi)


_pool = njit(_pool_rows, parallel=True)


@register("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
class Pool2DFloat(Kernel):
    """The three 2-D pooling ops on float32 tensors."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0)

    def prepare(self, ctx: OpContext) -> PoolParams:
        x = ctx.input(0)
        o = ctx.options
        if o is None or o.strideW < 1 or o.strideH < 1 or o.filterWidth < 1 or o.filterHeight < 1:
            raise ctx.fail("needs Pool2DOptions with strides and filter sizes >= 1")
        if x.shape is None or len(x.shape) != 4:
            raise ctx.fail(f"input {x.shape} must be 4-D NHWC")
        n, h, w, c = x.shape
        win = Window2D.build(h, w, o.filterHeight, o.filterWidth, o.strideH, o.strideW, 1, 1, o.padding)
        if win.out_h < 0 or win.out_w < 0:
            raise ctx.fail(f"filter {o.filterHeight}x{o.filterWidth} does not fit input {h}x{w} with VALID padding")
        ctx.set_output_shape(0, (n, win.out_h, win.out_w, c))
        lo, hi = activation_range(o.fusedActivationFunction, ctx.op_name, strict=False)
        return PoolParams(
            kind=_KINDS[ctx.op_name], win=win,
            lo=np.float32(lo), hi=np.float32(hi),
            parallel=float_gemm.worth_splitting(
                ctx.num_threads, 2.0 * n * win.out_h * win.out_w * c * o.filterHeight * o.filterWidth,
                float_gemm.STENCIL_FLOPS_PER_SECOND,
            ),
        )

    def eval(self, p: PoolParams, inputs, outputs) -> None:
        x, out = inputs[0], outputs[0]
        n, h, w, c = x.shape
        pb = max(0, (p.win.out_h - 1) * p.win.sh + p.win.kh - h - p.win.pad_h)
        pr = max(0, (p.win.out_w - 1) * p.win.sw + p.win.kw - w - p.win.pad_w)
        pads = ((0, 0), (p.win.pad_h, pb), (p.win.pad_w, pr), (0, 0))
        fill = _LOWEST if p.kind == MAX else 0.0
        xp = np.pad(x * x if p.kind == L2 else x, pads, constant_values=fill)
        valid = np.pad(np.ones((1, h, w, 1), np.float32), pads)
        acc = np.full(out.shape, fill, np.float32)
        count = np.zeros((1, p.win.out_h, p.win.out_w, 1), np.float32)
        for fy in range(p.win.kh):
            for fx in range(p.win.kw):
                sl = (slice(None), slice(fy, fy + (p.win.out_h - 1) * p.win.sh + 1, p.win.sh),
                       slice(fx, fx + (p.win.out_w - 1) * p.win.sw + 1, p.win.sw), slice(None))
                if p.kind == MAX:
                    np.maximum(acc, xp[sl], out=acc)
                else:
                    acc += xp[sl]
                count += valid[sl]
        if p.kind == AVERAGE:
            acc /= count
        elif p.kind == L2:
            acc = np.sqrt(acc / count)
        np.clip(acc, p.lo, p.hi, out=out)

    def eval_jit(self, p: PoolParams, inputs, outputs) -> None:
        fn = _pool if p.parallel else serial_build(_pool)
        fn(inputs[0], outputs[0], p.kind, p.win.kh, p.win.kw, p.win.sh, p.win.sw, p.win.pad_h, p.win.pad_w, p.lo, p.hi)

    def bind(self, p: PoolParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        fn = _pool if p.parallel else bound.Deferred(lambda: serial_build(_pool))
        return [(fn, (inputs[0], outputs[0], p.kind, p.win.kh, p.win.kw, p.win.sh, p.win.sw, p.win.pad_h, p.win.pad_w,
                      p.lo, p.hi))]
