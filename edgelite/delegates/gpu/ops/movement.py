"""Data movement: RESHAPE & co (aliases), index-map gathers and scatters, RESIZE_*.

* RESHAPE, SQUEEZE, EXPAND_DIMS keep the elements in order: the output *aliases*
  the input's buffer (no dispatch).
* Every other pure data-movement operator (SLICE, STRIDED_SLICE, TRANSPOSE, PAD,
  PADV2, MIRROR_PAD, SPACE_TO_DEPTH, DEPTH_TO_SPACE, GATHER with constant indices,
  TILE, BROADCAST_TO, SPLIT, SPLIT_V, UNPACK, CONCATENATION, PACK) is an index map
  computed once at prepare by running the interpreter's own CPU kernel on *element
  codes* (input element ``j`` holds ``j + 1``, float32, exact below 2**24 elements):
  the output's codes say where each element comes from (0: a padding cell). One
  gather per output (``y[i] = x[idx[i]]`` or the pad value), or for several data
  inputs one scatter per input (``y[pos[j]] = x[src[j]]``). So the GPU moves data
  exactly as the CPU kernels do, for every option those kernels accept.
* RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR read the CPU kernel's per-axis index
  and weight tables (TFLite's arithmetic, float32) and blend on the GPU.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgelite.delegates.gpu.ops import gpu_op
from edgelite.delegates.gpu.checks import check_activation
from edgelite.delegates.gpu.shaders import f32, kernel
from edgelite.errors import DelegateError
from edgelite.interpreter.kernels.base import OpContext, select_kernel
from edgelite.interpreter.kernels.common import option

MAX_CODES = 1 << 24  # float32 holds every integer below this exactly

# op -> positions of its data inputs (None: every input)
_DATA = {
    "SLICE": (0,), "STRIDED_SLICE": (0,), "TRANSPOSE": (0,), "PAD": (0,), "PADV2": (0,),
    "MIRROR_PAD": (0,), "SPACE_TO_DEPTH": (0,), "DEPTH_TO_SPACE": (0,), "GATHER": (0,),
    "TILE": (0,), "BROADCAST_TO": (0,), "SPLIT": (1,), "SPLIT_V": (0,), "UNPACK": (0,),
    "CONCATENATION": None, "PACK": None,
}


@gpu_op("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
class Alias:
    def check(self, ctx):
        if ctx.inputs[0] is None or ctx.inputs[0].data is not None:
            return "input must be a run-time tensor"
        return None

    def build(self, ctx, b):
        b.alias(ctx.outputs[0], ctx.inputs[0])


def _data_positions(ctx) -> list[int]:
    d = _DATA[ctx.op_name]
    return list(range(len(ctx.inputs))) if d is None else list(d)


def _run_on_codes(ctx, codes: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Run the CPU kernel of ``ctx`` with ``codes`` as its data inputs."""
    # codes are float32 whatever the tensors' type (int8 tensors hold real values on the GPU)
    inputs = [t if (t is None or p not in codes) else _as_float(t) for p, t in enumerate(ctx.inputs)]
    if ctx.op_name == "PADV2" and len(inputs) > 2 and inputs[2] is not None:
        inputs[2] = replace(inputs[2], data=np.zeros_like(np.asarray(inputs[2].data)))
    fresh = OpContext(op_name=ctx.op_name, op_index=ctx.op_index, version=ctx.version, options=ctx.options,
                      options2=ctx.options2, custom_options=ctx.custom_options, inputs=inputs, outputs=[_as_float(t) for t in ctx.outputs])
    k = select_kernel(fresh)
    if k is None:
        raise DelegateError(f"GPU delegate: {ctx.op_name} (operator {ctx.op_index}): no CPU kernel to derive its index map")
    params = k.prepare(fresh)
    ins = [codes[p] if p in codes else (None if t is None else t.data) for p, t in enumerate(inputs)]
    outs = [np.zeros(s, np.float32) for s in fresh.output_shapes]
    ret = k.eval(params, ins, outs) or {}
    return [np.asarray(ret.get(p, o)) for p, o in enumerate(outs)]


def _as_float(t):
    return replace(t, dtype=np.dtype(np.float32), type=0, quant=None)  # TensorType.FLOAT32


@gpu_op(*_DATA)
class IndexMap:
    def check(self, ctx):
        data = _data_positions(ctx)
        for p, t in enumerate(ctx.inputs):
            if t is None:
                continue
            if p in data:
                if t.data is not None:
                    return "data input must be a run-time tensor"
                if int(np.prod(t.shape)) >= MAX_CODES:
                    return f"more than {MAX_CODES} elements"
            elif t.data is None:
                return f"input {p} ({t.name!r}) must be constant"
        if ctx.op_name == "CONCATENATION":
            return check_activation(ctx)
        if ctx.op_name == "PADV2" and len(ctx.inputs) > 2 and ctx.inputs[2] is not None:
            if np.asarray(ctx.inputs[2].data).size != 1:
                return "pad value must be a scalar"
        return None

    def build(self, ctx, b):
        data = _data_positions(ctx)
        codes, ranges, start = {}, {}, 1
        for p in data:
            n = int(np.prod(ctx.inputs[p].shape))
            codes[p] = (np.arange(start, start + n, dtype=np.float64)).astype(np.float32).reshape(ctx.inputs[p].shape)
            ranges[p] = (start, start + n)
            start += n
        if start >= MAX_CODES:
            raise DelegateError(f"GPU delegate: {ctx.op_name} (operator {ctx.op_index}): too many elements for an index map")
        results = _run_on_codes(ctx, codes)
        pad = 0.0
        if ctx.op_name == "PADV2" and len(ctx.inputs) > 2 and ctx.inputs[2] is not None:
            from edgelite.delegates.gpu.runtime import dequantized

            pad = float(dequantized(ctx.inputs[2]).reshape(-1)[0])
        for out_t, res in zip(ctx.outputs, results):
            code = res.reshape(-1).astype(np.int64)
            y = b.output(out_t)
            if len(data) == 1:
                p = data[0]
                idx = (code - ranges[p][0]).astype(np.int32)
                idx[code == 0] = -1
                body = f"  let j = idx[i];\n  y[i] = select(T({f32(pad)}), x0[max(j, 0)], j >= 0);"
                n = idx.size
                src = kernel(b.T, [("x0", "T", "read"), ("idx", "i32", "read"), ("y", "T", "read_write")], n, body)
                b.dispatch(src, [b.tensor(ctx.inputs[p]), b.const(idx, "i32"), y], n, ctx.op_name)
                continue
            for p in data:
                lo, hi = ranges[p]
                pos = np.nonzero((code >= lo) & (code < hi))[0].astype(np.uint32)
                if pos.size == 0:
                    continue
                src_idx = (code[pos] - lo).astype(np.uint32)
                body = "  y[pos[i]] = x0[src[i]];"
                binds = [("x0", "T", "read"), ("pos", "u32", "read"), ("src", "u32", "read"), ("y", "T", "read_write")]
                src = kernel(b.T, binds, pos.size, body)
                b.dispatch(src, [b.tensor(ctx.inputs[p]), b.const(pos, "u32"), b.const(src_idx, "u32"), y], pos.size,
                           ctx.op_name)


@gpu_op("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
class Resize:
    def check(self, ctx):
        if len(ctx.inputs[0].shape) != 4:
            return "input must be 4D"
        if ctx.inputs[1] is None or ctx.inputs[1].data is None:
            return "size must be constant"
        return None

    def build(self, ctx, b):
        from edgelite.interpreter.kernels.resize.resize_float import bilinear_tables, nearest_indices

        x = ctx.inputs[0]
        _, H, W, C = x.shape
        out_shape = tuple(ctx.output_shapes[0])
        _, OH, OW, _ = out_shape
        align = bool(option(ctx, "alignCorners", False))
        half = bool(option(ctx, "halfPixelCenters", False))
        n = int(np.prod(out_shape))
        coords_src = f"""  let c = i % {C}u; let ox = (i / {C}u) % {OW}u; let oy = (i / {C * OW}u) % {OH}u; let nb = i / {C * OW * OH}u;
  let row = nb * {H}u;"""
        if ctx.op_name == "RESIZE_NEAREST_NEIGHBOR":
            yi = nearest_indices(H, OH, align, half).astype(np.int32)
            xi = nearest_indices(W, OW, align, half).astype(np.int32)
            body = coords_src + f"\n  y[i] = x0[((row + u32(ty[oy])) * {W}u + u32(tx[ox])) * {C}u + c];"
            binds = [("x0", "T", "read"), ("ty", "i32", "read"), ("tx", "i32", "read"), ("y", "T", "read_write")]
            bufs = [b.tensor(x), b.const(yi, "i32"), b.const(xi, "i32"), b.output(ctx.outputs[0])]
        else:
            y0, y1, fy = bilinear_tables(H, OH, align, half)
            x0, x1, fx = bilinear_tables(W, OW, align, half)
            ty = np.stack([y0, y1]).astype(np.int32).T.reshape(-1)
            tx = np.stack([x0, x1]).astype(np.int32).T.reshape(-1)
            fw = np.concatenate([np.asarray(fy, np.float32), np.asarray(fx, np.float32)])
            body = coords_src + f"""
  let a0 = ty[2u * oy]; let a1 = ty[2u * oy + 1u]; let b0 = tx[2u * ox]; let b1 = tx[2u * ox + 1u];
  let wy = fw[oy]; let wx = fw[{OH}u + ox];
  let p00 = f32(x0[((row + u32(a0)) * {W}u + u32(b0)) * {C}u + c]);
  let p01 = f32(x0[((row + u32(a0)) * {W}u + u32(b1)) * {C}u + c]);
  let p10 = f32(x0[((row + u32(a1)) * {W}u + u32(b0)) * {C}u + c]);
  let p11 = f32(x0[((row + u32(a1)) * {W}u + u32(b1)) * {C}u + c]);
  var acc: f32 = 0.0;
  acc = acc + p00 * ((1.0 - wy) * (1.0 - wx));
  acc = acc + p01 * ((1.0 - wy) * wx);
  acc = acc + p10 * (wy * (1.0 - wx));
  acc = acc + p11 * (wy * wx);
  y[i] = T(acc);"""
            binds = [("x0", "T", "read"), ("ty", "i32", "read"), ("tx", "i32", "read"), ("fw", "f32", "read"),
                     ("y", "T", "read_write")]
            bufs = [b.tensor(x), b.const(ty, "i32"), b.const(tx, "i32"), b.const(fw, "f32"), b.output(ctx.outputs[0])]
        b.dispatch(kernel(b.T, binds, n, body), bufs, n, ctx.op_name)
