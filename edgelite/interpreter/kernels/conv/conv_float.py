"""Float32 CONV_2D.

Semantics of TFLite's builtin (``reference_ops::Conv``): input NHWC ``[N, H, W, Cin]``,
filter OHWI ``[Cout, KH, KW, Cin / groups]``, optional bias ``[Cout]``::

    out[b, oy, ox, o] = act(bias[o] + sum_{ky, kx, c} x[b, oy*sh - ph + ky*dh,
                                                        ox*sw - pw + kx*dw, g*fc + c]
                                                  * w[o, ky, kx, c])

with ``g = o // (Cout / groups)``, ``groups = Cin / fc`` and zeros outside the image.
Output size and padding follow ``conv_geometry`` (SAME / VALID, with dilation).

``prepare`` packs the filter once as a ``[KH*KW*fc, Cout]`` matrix (the layout BLAS
wants as right-hand side) and allocates the im2col scratch block. ``eval`` is the
readable numpy version (whole-image im2col, then ``matmul`` in the JIT path's row blocks:
BLAS's bits depend on a product's shape, and a first invoke, which runs ``eval``, must
give the bits of the next; one output channel: ``float_order.dot_rows``); ``eval_jit``
is the fast one: a convolution with a single output pixel is a matrix-vector product in the
order of LiteRT's (bit-exact with it: ``float_order.dot_rows``); in a dynamic-range
model (``ctx.litert_float_order``), a convolution whose output channels come in
groups of 8 over at most 320 products runs LiteRT's running sums instead of BLAS
(``float_order.running_conv_jit``, bit-exact, 2-10x slower than BLAS); a 1x1 stride-1
convolution is a single GEMM over the activation viewed as
``[N*H*W, Cin]``, anything else gathers blocks of rows into the scratch buffer and
multiplies each block; the bias and the clamp follow in one Numba pass, skipped
when the op has neither.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.conv.conv_float import Conv2DFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
    >>> opts = Conv2DOptionsT(); opts.strideW = opts.strideH = 1; opts.padding = 1  # VALID
    >>> f32 = np.dtype(np.float32)
    >>> w = np.ones((2, 3, 3, 1), np.float32)
    >>> ctx = OpContext("CONV_2D", 0, 1, opts, None, None,
    ...     [TensorInfo(0, "x", (1, 4, 4, 1), f32, 0), TensorInfo(1, "w", w.shape, f32, 0, data=w), None],
    ...     [TensorInfo(2, "y", None, f32, 0)])
    >>> k = Conv2DFloat(); p = k.prepare(ctx); ctx.output_shapes[0]
    (1, 2, 2, 2)
    >>> out = np.empty((1, 2, 2, 2), np.float32)
    >>> k.eval(p, [np.ones((1, 4, 4, 1), np.float32), w, None], [out])
    >>> float(out[0, 0, 0, 0])
    9.0
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound, float_gemm, float_order
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.compute.conv_geometry import Window2D, activation_range

F32 = np.dtype(np.float32)


def is_float32(ctx: OpContext, *indices: int) -> bool:
    """True when the given inputs (those present) and every output are float32."""
    for i in indices:
        t = ctx.optional_input(i)
        if t is not None and t.dtype != F32:
            return False
    return all(o.dtype == F32 for o in ctx.outputs)


def bias_vector(ctx: OpContext, index: int, n: int) -> np.ndarray:
    """The op's float bias as a contiguous ``[n]`` array (zeros when omitted)."""
    t = ctx.optional_input(index)
    if t is None:
        return np.zeros(n, np.float32)
    if t.data is None:
        raise ctx.fail(f"bias (input {index}) must be a constant tensor")
    if t.size != n:
        raise ctx.fail(f"bias has {t.size} elements, expected {n}")
    return np.ascontiguousarray(t.data, np.float32).reshape(n)


def strided_options(ctx: OpContext, what: str):
    """The op's options (``what`` names their table in the error), with both strides >= 1."""
    o = ctx.options
    if o is None or o.strideW < 1 or o.strideH < 1:
        raise ctx.fail(f"needs {what} with strides >= 1")
    return o


def float_conv_window(ctx: OpContext, n: int, h: int, w: int, kh: int, kw: int, cout: int) -> tuple[Window2D, float, float]:
    """The window of a float CONV_2D / DEPTHWISE_CONV_2D over its ``n x h x w`` input
    (strides, dilations, padding from the options), with the output shape set, and the
    clamp range of its fused activation."""
    o = ctx.options
    dh, dw = max(1, o.dilationHFactor), max(1, o.dilationWFactor)
    win = Window2D.build(h, w, kh, kw, o.strideH, o.strideW, dh, dw, o.padding)
    if win.out_h < 0 or win.out_w < 0:
        raise ctx.fail(f"filter {kh}x{kw} (dilation {dh}x{dw}) does not fit input {h}x{w} with VALID padding")
    ctx.set_output_shape(0, (n, win.out_h, win.out_w, cout))
    # LiteRT's float conv kernels ignore a fused TANH/SIGN_BIT; so do we (strict=False).
    lo, hi = activation_range(o.fusedActivationFunction, ctx.op_name, strict=False)
    return win, lo, hi


@dataclass(frozen=True)
class Conv2DParams:
    """What ``eval`` needs for one float CONV_2D."""

    win: Window2D  # kernel, strides, dilations, padding, output size
    groups: int
    pointwise: bool  # 1x1, stride 1: a single GEMM over [N*H*W, Cin]
    w: np.ndarray | None  # [KH*KW*Cin, Cout] (groups == 1) or [groups, KH*KW*fc, Cout/groups]; None: pack in eval
    bias: np.ndarray  # [Cout] float32, zeros when the op has none
    has_bias: bool
    lo: np.float32
    hi: np.float32
    cols: np.ndarray  # im2col scratch block [rows, KH*KW*fc]
    tmp: np.ndarray  # grouped conv: per-group output block [rows, Cout/groups]
    block: int  # rows per im2col block
    epilogue: bool  # a bias or a clamp to apply after the product
    par_block: int | None = None  # num_threads > 1, pointwise: rows per thread
    w_rows: np.ndarray | None = None  # single output pixel: the filter as [Cout, K] rows
    w_running: np.ndarray | None = None  # LiteRT-order running sums: the filter as [KH, KW, Cin, Cout]
    cols_par: np.ndarray | None = None  # num_threads > 1, im2col: one scratch block per thread
    col_bounds: np.ndarray | None = None  # num_threads > 1, few rows: split by these output-column blocks
    w_cols: np.ndarray | None = None  # ... the filter packed by them (``float_gemm.pack_columns``)
    col_tmp: np.ndarray | None = None  # ... one product block per thread
    cols_full: np.ndarray | None = None  # ... im2col of one whole image (not pointwise)
    one_channel: bool = False  # Cout 1: products by ``float_order.dot_rows`` (see ``prepare``)


def pack_filter(w: np.ndarray, groups: int) -> np.ndarray:
    """OHWI filter -> ``[KH*KW*fc, Cout]`` (groups 1) or ``[groups, KH*KW*fc, og]``."""
    cout = w.shape[0]
    k = w.shape[1] * w.shape[2] * w.shape[3]
    if groups == 1:
        return np.ascontiguousarray(w.reshape(cout, k).T, np.float32)
    og = cout // groups
    return np.ascontiguousarray(w.reshape(groups, og, k).transpose(0, 2, 1), np.float32)


def _blocked_products(cols: np.ndarray, w: np.ndarray, out2d: np.ndarray, pixels: int, scratch: np.ndarray,
                      tmp: np.ndarray | None, col0: int) -> None:
    """``out2d[:, col0:col0 + w.shape[1]] = cols @ w`` as ``eval_jit`` multiplies it: each
    image's ``pixels`` rows in blocks of ``scratch.shape[0]``, every block copied into
    ``scratch`` first (and, with ``tmp``, the product made there), so that BLAS gets the
    very calls of the JIT path. A product's bits depend on the call's shape: OpenBLAS
    takes other kernels for small products (measured: the whole image against the JIT
    path's blocks differed in up to 80% of a 256x256 layer's outputs with 2-4 output
    channels, and in a few with 8-32), so ``eval`` (a process's first invoke) differed
    from ``eval_jit``."""
    block = scratch.shape[0]
    n = w.shape[1]
    if pixels == 0:  # an empty image: nothing to multiply
        return
    for i0 in range(0, out2d.shape[0], pixels):  # one image at a time
        for r0 in range(i0, i0 + pixels, block):
            r1 = min(i0 + pixels, r0 + block)
            blk = scratch[: r1 - r0]
            np.copyto(blk, cols[r0:r1])
            if tmp is None:
                np.matmul(blk, w, out=out2d[r0:r1])
            else:
                t = tmp[: r1 - r0]
                np.matmul(blk, w, out=t)
                out2d[r0:r1, col0 : col0 + n] = t


def _one_channel_jit(p: Conv2DParams, x: np.ndarray, out: np.ndarray) -> None:
    """``eval_jit`` for one output channel: im2col by row blocks, each block's products by
    ``float_order.dot_rows_jit`` (the order of ``eval``'s ``dot_rows``), then bias and clamp."""
    nb, h, wd, cin = x.shape
    pixels = out.shape[1] * out.shape[2]
    xf = x.reshape(nb * h, wd * cin)
    x2 = x.reshape(-1, cin)
    w = p.w[:, 0]
    block = p.block
    for b in range(nb):
        ob = out[b].reshape(pixels, 1)
        for r0 in range(0, pixels, block):
            r1 = min(pixels, r0 + block)
            if p.pointwise:
                blk = x2[b * pixels + r0 : b * pixels + r1]
            else:
                blk = p.cols[: r1 - r0]
                float_gemm.im2col_rows_jit(xf, h, wd, cin, 0, cin, b, r0, r1, p.win.out_w, *p.win.taps, blk)
            o = ob[r0:r1]
            float_order.dot_rows_jit(blk, w, o.reshape(-1))
            if p.epilogue:
                float_gemm.bias_act_jit(o, p.bias, p.lo, p.hi)


@register("CONV_2D")
class Conv2DFloat(Kernel):
    """CONV_2D with float32 input, filter, bias and output."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0, 1, 2)

    def prepare(self, ctx: OpContext) -> Conv2DParams:
        x, f = ctx.input(0), ctx.input(1)
        o = strided_options(ctx, "Conv2DOptions")
        if x.shape is None or len(x.shape) != 4 or f.shape is None or len(f.shape) != 4:
            raise ctx.fail(f"input {x.shape} and filter {f.shape} must both be 4-D (NHWC, OHWI)")
        n, h, w, cin = x.shape
        cout, kh, kw, fc = f.shape
        if fc <= 0 or cin % fc != 0:
            raise ctx.fail(f"input channels {cin} are not a multiple of filter channels {fc}")
        groups = cin // fc
        if cout % groups != 0:
            raise ctx.fail(f"output channels {cout} are not a multiple of groups {groups}")
        win, lo, hi = float_conv_window(ctx, n, h, w, kh, kw, cout)
        dh, dw = win.dh, win.dw
        k = kh * kw * fc
        pointwise = kh == kw == 1 and o.strideH == o.strideW == 1 and groups == 1
        rows = min(float_gemm.rows_per_block(cout // groups, k), max(1, win.out_h * win.out_w))
        has_bias = ctx.optional_input(2) is not None
        w_packed = pack_filter(f.data, groups) if f.data is not None else None
        par_block = cols_par = col_bounds = w_cols = col_tmp = cols_full = None
        threads = ctx.num_threads
        single = n * win.out_h * win.out_w == 1 and groups == 1 and f.data is not None
        running = (ctx.litert_float_order and not single and groups == 1 and dh == dw == 1 and w_packed is not None
                   and cout % float_order.SEQ_CHANNEL_GROUP == 0 and k <= float_order.SEQ_MAX_DEPTH)
        # One output channel: numpy hands a [M, K] x [K, 1] product to BLAS's matrix-vector
        # routine, whose sums depend on M (OpenBLAS's sgemv, measured: the whole image in
        # ``eval`` and row blocks in ``eval_jit`` differed in the last bits of 20 outputs of
        # MediaPipe's pose landmark model, so a first invoke differed from the next; a zero
        # second column did not help: OpenBLAS then takes its small-matrix kernel for a
        # block and not for the image). Both paths run ``float_order.dot_rows`` instead,
        # one fixed order per output.
        one_channel = groups == 1 and cout == 1 and w_packed is not None and not single and not running
        pixels = win.out_h * win.out_w
        flops = 2.0 * n * pixels * k * cout
        if (ctx.use_jit and groups == 1 and w_packed is not None and not one_channel
                and float_gemm.worth_splitting(threads, flops)
                and float_gemm.load_numba_blas()):
            # Every split is kept only where it gives the one-thread path's bits
            # (float_gemm's probes): the serial product is one call when pointwise, else
            # blocks of ``rows`` pixels per image (``eval`` and ``eval_jit`` alike).
            m = n * pixels if pointwise else pixels  # rows of one product
            serial = m if pointwise else rows
            col_bounds = float_gemm.exact_column_bounds(cout, m, k, threads, serial)
            if col_bounds is not None:  # few rows: split by output columns
                w_cols = float_gemm.pack_columns(w_packed, col_bounds)
                col_tmp = float_gemm.column_scratch(m, col_bounds, threads)
                cols_full = None if pointwise else np.empty((pixels, k), np.float32)
            elif pointwise:
                par_block = float_gemm.parallel_rows_block(m, threads)
                if par_block is not None and not float_gemm.row_split_is_exact(
                        m, k, cout, float_gemm.rows_per_chunk(m, k, cout, -(-m // par_block), m)):
                    par_block = None
            else:
                block = max(1, min(float_gemm.rows_per_block(cout, k), -(-pixels // threads)))
                if float_gemm.row_split_is_exact(pixels, k, cout, float_gemm.rows_per_chunk(pixels, k, cout, threads, block),
                                                 serial):
                    cols_par = np.empty((threads, block, k), np.float32)
        # One output pixel (the squeeze-excitation convs of EfficientNet-like nets): LiteRT
        # runs a matrix-vector product, whose summation order is cheap to follow exactly.
        # (``single`` above.) In a dynamic-range model, LiteRT's exact order where it is
        # known (``running`` above; slower than BLAS).
        w_rows = np.ascontiguousarray(f.data.reshape(cout, k), np.float32) if single else None
        return Conv2DParams(
            w_rows=w_rows,
            w_running=w_packed.reshape(kh, kw, fc, cout) if running else None,
            win=win,
            groups=groups, pointwise=pointwise,
            w=w_packed,
            bias=bias_vector(ctx, 2, cout), has_bias=has_bias,
            lo=np.float32(lo), hi=np.float32(hi),
            cols=np.empty((0 if pointwise else rows, k), np.float32),
            tmp=np.empty((rows if groups > 1 else 0, cout // groups), np.float32),
            one_channel=one_channel,
            block=rows,
            epilogue=has_bias or lo != -np.inf or hi != np.inf,
            par_block=par_block, cols_par=cols_par,
            col_bounds=col_bounds, w_cols=w_cols, col_tmp=col_tmp, cols_full=cols_full,
        )

    def eval(self, p: Conv2DParams, inputs, outputs) -> None:
        x, out = inputs[0], outputs[0]
        if p.w_rows is not None:
            col = float_gemm.im2col(x, *p.win.im2col_args)[0]
            out.reshape(-1)[:] = float_order.dot_rows(p.w_rows, col)
            float_gemm.bias_act_inplace(out, p.bias if p.has_bias else None, float(p.lo), float(p.hi))
            return
        if p.w_running is not None:
            cols = float_gemm.im2col(x, *p.win.im2col_args)
            out.reshape(cols.shape[0], -1)[...] = float_order.running_matmul(cols, p.w)
            float_gemm.bias_act_inplace(out, p.bias if p.has_bias else None, float(p.lo), float(p.hi))
            return
        w = p.w if p.w is not None else pack_filter(inputs[1], p.groups)
        cin = x.shape[3]
        cout = out.shape[3]
        pixels = out.shape[1] * out.shape[2]
        if p.one_channel:
            cols = float_gemm.im2col(x, *p.win.im2col_args)
            out.reshape(-1)[:] = float_order.dot_rows(cols, w[:, 0])
        elif p.groups == 1 and p.pointwise:
            np.matmul(x.reshape(-1, cin), w, out=out.reshape(-1, cout))
        elif p.groups == 1:
            _blocked_products(float_gemm.im2col(x, *p.win.im2col_args), w, out.reshape(-1, cout), pixels, p.cols, None, 0)
        else:
            fc, og = cin // p.groups, cout // p.groups
            for g in range(p.groups):
                cols = float_gemm.im2col(x[..., g * fc : (g + 1) * fc], *p.win.im2col_args)
                _blocked_products(cols, w[g], out.reshape(-1, cout), pixels, p.cols, p.tmp, g * og)
        float_gemm.bias_act_inplace(out, p.bias if p.has_bias else None, float(p.lo), float(p.hi))

    def eval_jit(self, p: Conv2DParams, inputs, outputs) -> None:
        x, out = inputs[0], outputs[0]
        if p.w_rows is not None:
            if p.pointwise:
                col = x.reshape(-1)
            else:
                col = p.cols[0]
                float_gemm.im2col_rows_jit(x.reshape(x.shape[1], -1), x.shape[1], x.shape[2], x.shape[3], 0, x.shape[3], 0, 0, 1,
                                     p.win.out_w, *p.win.taps, p.cols[:1])
            o = out.reshape(1, -1)
            float_order.dot_rows_jit(p.w_rows, col, o[0])
            if p.epilogue:
                float_gemm.bias_act_jit(o, p.bias, p.lo, p.hi)
            return
        if p.w_running is not None:
            float_order.running_conv_jit(x, p.w_running, p.bias, p.lo, p.hi, out, p.win.sh, p.win.sw, p.win.pad_h, p.win.pad_w)
            return
        w = p.w if p.w is not None else pack_filter(inputs[1], p.groups)
        if p.one_channel:
            _one_channel_jit(p, x, out)
            return
        if p.col_bounds is not None and p.w is not None:
            if p.pointwise:
                float_gemm.gemm_cols_parallel(x.reshape(-1, x.shape[3]), p.w_cols, p.col_bounds, p.bias, p.lo, p.hi,
                                              out.reshape(-1, out.shape[3]), p.col_tmp, p.epilogue)
            else:
                nb, h, wd, cin = x.shape
                xf = x.reshape(nb * h, wd * cin)
                pixels = p.cols_full.shape[0]
                for b in range(nb):
                    float_gemm.im2col_rows_jit(xf, h, wd, cin, 0, cin, b, 0, pixels, p.win.out_w, *p.win.taps,
                                               p.cols_full)
                    float_gemm.gemm_cols_parallel(p.cols_full, p.w_cols, p.col_bounds, p.bias, p.lo, p.hi,
                                                  out[b].reshape(pixels, out.shape[3]), p.col_tmp, p.epilogue)
        elif p.par_block is not None:
            float_gemm.gemm_rows_parallel(
                x.reshape(-1, x.shape[3]), w, p.bias, p.lo, p.hi, out.reshape(-1, out.shape[3]), p.par_block, p.epilogue
            )
        elif p.cols_par is not None:
            nb, h, wd, cin = x.shape
            xf = x.reshape(nb * h, wd * cin)
            for b in range(nb):
                float_gemm.conv_im2col_parallel(
                    xf, h, wd, cin, w, p.bias, p.lo, p.hi, out[b].reshape(-1, out.shape[3]), p.cols_par, b,
                    p.win.out_w, *p.win.taps, p.epilogue,
                )
        elif p.pointwise:
            float_gemm.gemm_bias_act_fast(
                x.reshape(-1, x.shape[3]), w, p.bias, p.lo, p.hi, out.reshape(-1, out.shape[3]), p.epilogue
            )
        elif p.groups == 1:
            float_gemm.conv_im2col_fast(
                x, w, p.bias, p.lo, p.hi, out, p.cols, *p.win.taps, p.epilogue
            )
        else:
            float_gemm.grouped_conv_fast(
                x, w, p.bias, p.lo, p.hi, out, p.cols, p.tmp, *p.win.taps
            )

    def bind(self, p: Conv2DParams, inputs, outputs):
        """``eval_jit``'s BLAS paths (pointwise, im2col by row blocks, and the thread
        pool's row and column splits) as prepared calls (``compute.bound``): the same
        functions on the same views with the same chunks, made once (on a small layer the
        views and the branch to reach them cost more than the product; a split one goes
        to the helpers waiting in native code); None for every other path."""
        x, out = inputs[0], outputs[0]
        if (p.w_rows is not None or p.w_running is not None or p.w is None or p.one_channel or p.groups != 1
                or not bound.contiguous(x, out)):
            return None
        cout = out.shape[3]
        calls: list = []
        if p.col_bounds is not None:
            if p.pointwise:
                return [float_gemm.gemm_cols_call(x.reshape(-1, x.shape[3]), p.w_cols, p.col_bounds, p.bias, p.lo, p.hi,
                                                  out.reshape(-1, cout), p.col_tmp, p.epilogue)]
            nb, h, wd, cin = x.shape
            xf = x.reshape(nb * h, wd * cin)
            pixels = p.cols_full.shape[0]
            for b in range(nb):
                calls.append((float_gemm.im2col_rows_jit, (xf, h, wd, cin, 0, cin, b, 0, pixels, p.win.out_w,
                                                           *p.win.taps, p.cols_full)))
                calls.append(float_gemm.gemm_cols_call(p.cols_full, p.w_cols, p.col_bounds, p.bias, p.lo, p.hi,
                                                       out[b].reshape(pixels, cout), p.col_tmp, p.epilogue))
            return calls
        if p.par_block is not None:
            return [float_gemm.gemm_rows_call(x.reshape(-1, x.shape[3]), p.w, p.bias, p.lo, p.hi, out.reshape(-1, cout),
                                              p.par_block, p.epilogue)]
        if p.cols_par is not None:
            nb, h, wd, cin = x.shape
            xf = x.reshape(nb * h, wd * cin)
            return [float_gemm.conv_im2col_call(xf, h, wd, cin, p.w, p.bias, p.lo, p.hi, out[b].reshape(-1, cout),
                                                p.cols_par, b, p.win.out_w, *p.win.taps, p.epilogue)
                    for b in range(nb)]

        def product(a, o):
            calls.append((np.matmul, (a, p.w, o)))
            if p.epilogue:
                calls.append((float_gemm.bias_act_jit, (o, p.bias, p.lo, p.hi)))

        if p.pointwise:
            product(x.reshape(-1, x.shape[3]), out.reshape(-1, cout))
            return calls
        nb, h, wd, cin = x.shape
        xf = x.reshape(nb * h, wd * cin)
        pixels = out.shape[1] * out.shape[2]
        block = p.cols.shape[0]
        for b in range(nb):
            ob = out[b].reshape(pixels, cout)
            for r0 in range(0, pixels, block):  # conv_im2col_fast's loop, unrolled
                r1 = min(pixels, r0 + block)
                blk = p.cols[: r1 - r0]
                calls.append((float_gemm.im2col_rows_jit, (xf, h, wd, cin, 0, cin, b, r0, r1, p.win.out_w,
                                                           *p.win.taps, blk)))
                product(blk, ob[r0:r1])
        return calls


__all__ = ["Conv2DFloat", "Conv2DParams", "pack_filter", "is_float32", "bias_vector"]
