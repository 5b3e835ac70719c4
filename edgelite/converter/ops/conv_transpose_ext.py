"""ConvTranspose forms TFLite's TRANSPOSE_CONV cannot express: 1-D and 3-D kernels,
groups, dilations, ``output_padding`` past the end padding, ``auto_pad`` /
``output_shape``, and run-time weights.

A transposed convolution is a plain correlation once its geometry is written per
output position: output ``o`` (after the begin padding is cropped, full coordinate
``f = o + pad_begin``) receives ``x[i] * w[k]`` for every input position ``i`` and
kernel offset ``k`` with ``i * stride + k * dilation == f``. So with static shapes a
constant table ``[K, P]`` says, for each kernel offset and output position, which
input element (or a zero slot appended after the last one) it reads. Then

    windows = GATHER(PAD(x_flat, one zero), table)      # [N, C_in, K, P]
    y = BATCH_MATMUL(W^T[1, g, C_out/g, C_in/g * K], windows[N, g, C_in/g * K, P]) + bias

in ONNX layout, with ``W[C_in, C_out/g, *K]`` regrouped to ``[g, C_out/g, C_in/g, K]``.
The first strategy stays TRANSPOSE_CONV (``conv.py``, with an explicit ``applies``);
this one follows it (``after=``) and takes the nodes it does not apply to.

Example:
    >>> from edgelite.converter.ops.conv_transpose_ext import transpose_table
    >>> transpose_table((2,), (2,), (2,), (1,), (0,), (4,)).tolist()   # slot 2 = zero
    [[0, 2, 1, 2], [2, 0, 2, 1]]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import float_conv_reason
from edgelite.converter.ops.conv import ConvTranspose as _ConvTranspose
from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register


def transpose_table(spatial, kernel, strides, dil, begin, out) -> np.ndarray:
    """``[K, P]`` flat input index read by kernel offset k at output position p; ``prod(spatial)`` = zero."""
    spatial, kernel = [int(s) for s in spatial], [int(k) for k in kernel]
    zero = int(np.prod(spatial))
    offs = np.indices(kernel).reshape(len(kernel), -1).T  # [K, nd]
    pos = np.indices(out).reshape(len(out), -1).T + np.asarray(begin)  # [P, nd] full coordinates
    num = pos[None, :, :] - offs[:, None, :] * np.asarray(dil)  # i * stride
    st = np.asarray(strides)
    idx = num // st
    ok = np.all((num % st == 0) & (idx >= 0) & (idx < np.asarray(spatial)), axis=-1)
    pst = np.cumprod([1] + spatial[::-1])[:-1][::-1]
    flat = (np.where(ok[..., None], idx, 0) * pst).sum(-1)
    return np.where(ok, flat, zero).astype(np.int64)


def begin_pads(node, x_shape, kernel, strides, dil) -> list[int]:
    """Cropped leading positions per spatial dim, as ONNX's reference ConvTranspose decides them."""
    nsp = len(kernel)
    auto = node.attrs.get("auto_pad", "NOTSET")
    pads = node.attrs.get("pads")
    if pads is not None or auto not in ("SAME_UPPER", "SAME_LOWER"):
        pads = list(pads) if pads is not None else [0] * (2 * nsp)
        return [int(p) for p in pads[:nsp]]
    opad = list(node.attrs.get("output_padding", [0] * nsp))
    oshape = node.attrs.get("output_shape")
    spatial = [int(s) for s in x_shape[2:]]
    if oshape is None:
        oshape = [spatial[i] * strides[i] for i in range(nsp)]
    oshape = list(oshape)[-nsp:]
    out = []
    for i in range(nsp):
        total = strides[i] * (spatial[i] - 1) + int(opad[i]) + (kernel[i] - 1) * dil[i] + 1 - int(oshape[i])
        out.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return out


@register("ConvTranspose", after=_ConvTranspose)
class ConvTransposeGather(OpConverter):
    """The gathered-table GEMM, where ``conv.ConvTranspose`` (TRANSPOSE_CONV) does not apply."""

    def check(self, node):
        reason = float_conv_reason(node)
        if reason is not None:
            return reason
        x, w = node.inputs[0], node.inputs[1]
        if x.shape is not None and w.shape[0] != x.shape[1]:
            return f"weights for {w.shape[0]} input channels, input has {x.shape[1]}"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        b = node.input(2)
        nsp = len(x.shape) - 2
        kernel = [int(k) for k in node.attrs.get("kernel_shape", w.shape[2:])]
        strides = [int(s) for s in node.attrs.get("strides", [1] * nsp)]
        dil = [int(d) for d in node.attrs.get("dilations", [1] * nsp)]
        begin = begin_pads(node, x.shape, kernel, strides, dil)
        outs = [int(s) for s in y.shape[2:]]
        table = transpose_table(x.shape[2:], kernel, strides, dil, begin, outs)
        n, cin = int(x.shape[0]), int(x.shape[1])
        g = int(node.attrs.get("group", 1))
        cog, cg = int(w.shape[1]), cin // g
        k, p = table.shape
        s_flat = int(np.prod(x.shape[2:]))
        flat = e.reshape(x, (n, cin, s_flat))
        padded = e._tmp("zpad", (n, cin, s_flat + 1), x.dtype, None)
        from edgelite.schema.fb.PadOptions import PadOptionsT

        out.emit("PAD", [flat, e.const(np.array([[0, 0], [0, 0], [0, 1]], np.int32), tag="zslot")], [padded], PadOptionsT())
        win = e.gather(padded, e.const(table.reshape(-1).astype(np.int32), tag="table"), 2)  # [N, Cin, K*P]
        rhs = e.reshape(win, (n, g, cg * k, p))
        w5 = e.reshape(w, (g, cg, cog, k))
        lhs = e.reshape(e.transpose(w5, (0, 2, 1, 3)), (1, g, cog, cg * k))
        prod = e.matmul(lhs, rhs)  # [N, g, Cout/g, P]
        res = e.reshape(prod, (n, g * cog, p))
        if b is not None:
            res = e.add(res, e.reshape(b, (1, g * cog, 1)))
        e.reshape(res, tuple(y.shape), y=y)
