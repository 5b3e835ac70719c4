"""Pooling and convolution forms TFLite's 2-D builtins cannot express: 3-D, dilated
pooling, ``ceil_mode`` / padding combinations the SAME rule does not cover, average
pooling that excludes padding, LpPool, and Conv with run-time weights or 3-D kernels.

They share one construction, *patches*: pad the ONNX-layout input ``[N, C, *S]``
(PADV2 with the pooling identity), flatten its spatial dims, and ``GATHER`` it with a
constant index table laid out ``[K, P]`` (kernel offset, output position), giving
``[N, C, K, P]``. Then

* MaxPool: ``REDUCE_MAX`` over K; AveragePool: ``SUM`` over K divided by a constant
  count per position (padding in or out, per ``count_include_pad``); LpPool:
  ``POW(SUM(POW(ABS(x), p)), 1 / p)``;
* Conv: ``BATCH_MATMUL(W[1, g, Cout/g, Cin/g * K], patches[N, g, Cin/g * K, P])`` plus
  the bias: weights may be run-time tensors, groups and dilations are plain.

The first strategy stays the 2-D builtins (``pool.py``, ``conv.py``, each with an
explicit ``applies`` predicate); the patch strategies here follow them
(``@register(..., after=...)``) and take the nodes those do not apply to.

Example:
    >>> from edgelite.converter.ops.spatial_ext import patch_table
    >>> t, padded = patch_table((4,), (2,), (2,), (1,), [(0, 0)], (2,))
    >>> t.tolist(), padded
    ([[0, 2], [1, 3]], (4,))
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import float_conv_reason, onnx_pads
from edgelite.converter.ops.conv import Conv as _Conv
from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.pool import Pool as _Pool
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register


def patch_table(spatial, kernel, strides, dil, pads, out):
    """``[K, P]`` flat indices into the padded spatial block, and the padded shape."""
    padded = tuple(int(s + b + a) for s, (b, a) in zip(spatial, pads))
    pst = np.cumprod((1,) + padded[::-1])[:-1][::-1]
    offs = np.indices(kernel).reshape(len(kernel), -1).T * np.asarray(dil)  # [K, nd]
    pos = np.indices(out).reshape(len(out), -1).T * np.asarray(strides)  # [P, nd]
    table = (offs[:, None, :] + pos[None, :, :]) @ pst  # [K, P]
    return table.astype(np.int64), padded


def _geometry(node, x_shape, y_shape, kernel):
    """(strides, dilations, per-dim (before, after) pads incl. ceil-mode overhang, out spatial)."""
    nsp = len(kernel)
    strides = [int(s) for s in node.attrs.get("strides", [1] * nsp)]
    dil = [int(d) for d in node.attrs.get("dilations", [1] * nsp)]
    spatial = [int(s) for s in x_shape[2:]]
    pads = onnx_pads(node, spatial, kernel, strides, dil)
    outs = [int(s) for s in y_shape[2:]]
    full = []
    for i, (b, a) in enumerate(pads):
        need = (outs[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - spatial[i] - b
        full.append((b, max(a, need)))
    return strides, dil, pads, full, outs


def _pad(e: Emitter, x, full, value):
    if all(p == (0, 0) for p in full):
        return x
    shape = tuple(x.shape[:2]) + tuple(s + b + a for s, (b, a) in zip(x.shape[2:], full))
    paddings = e.const(np.array([[0, 0], [0, 0]] + [list(p) for p in full], np.int32), tag="paddings")
    from edgelite.schema.fb.PadV2Options import PadV2OptionsT

    return e.op("PADV2", [x, paddings, e.const(np.asarray(value, x.dtype), tag="padvalue")], shape, x.dtype, PadV2OptionsT())


def patches(e: Emitter, x, kernel, strides, dil, full, outs, value):
    """``[N, C, K, P]`` windows of ``x`` (ONNX layout) padded with ``value``."""
    n, c = int(x.shape[0]), int(x.shape[1])
    xp = _pad(e, x, full, value)
    table, padded = patch_table(x.shape[2:], kernel, strides, dil, full, outs)
    flat = e.reshape(xp, (n, c, int(np.prod(padded))))
    k, p = table.shape
    g = e.gather(flat, e.const(table.reshape(-1).astype(np.int32), tag="windows"), 2)
    return e.reshape(g, (n, c, k, p)), table


def _count(x_shape, kernel, strides, dil, pads, full, outs, include_pad: bool) -> np.ndarray:
    """Elements each window averages over: real ones, plus explicit padding when included."""
    spatial = [int(s) for s in x_shape[2:]]
    mask = np.ones(spatial, np.float64)
    if include_pad:
        mask = np.pad(mask, pads, constant_values=1.0)
        extra = [(0, fa - a) for (b, a), (fb, fa) in zip(pads, full)]
        mask = np.pad(mask, extra, constant_values=0.0)
    else:
        mask = np.pad(mask, full, constant_values=0.0)
    table, _ = patch_table(spatial, kernel, strides, dil, full, outs)
    return mask.reshape(-1)[table].sum(0)  # [P]


def _lowest(dtype):
    dt = np.dtype(dtype)
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


class _PatchPool:
    """Pooling over patches (shared by the MaxPool/AveragePool fallback and LpPool)."""

    def layout(self, node, perms, lp):
        return LayoutPlan([lp.identity(node.inputs[0])], [lp.identity(o) for o in node.outputs])

    def lower_patches(self, node, out, kind: str):
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        kernel = [int(k) for k in node.attrs["kernel_shape"]]
        strides, dil, pads, full, outs = _geometry(node, x.shape, y.shape, kernel)
        n, c = int(x.shape[0]), int(x.shape[1])
        p_count = int(np.prod(outs))
        if kind == "max":
            win, _ = patches(e, x, kernel, strides, dil, full, outs, _lowest(x.dtype))
            red = e.reduce("REDUCE_MAX", win, [2])
        elif kind == "avg":
            win, _ = patches(e, x, kernel, strides, dil, full, outs, 0)
            include = bool(node.attrs.get("count_include_pad", 0))
            cnt = _count(x.shape, kernel, strides, dil, pads, full, outs, include)
            red = e.binary("DIV", e.reduce("SUM", win, [2]), e.const(cnt.reshape(1, 1, p_count).astype(x.dtype)))
        else:  # lp
            p = float(node.attrs.get("p", 2))
            ax = e.unary("ABS", x)
            powd = e.binary("POW", ax, e.const(np.asarray(p, x.dtype), tag="p"))
            win, _ = patches(e, powd, kernel, strides, dil, full, outs, 0)
            red = e.binary("POW", e.reduce("SUM", win, [2]), e.const(np.asarray(1.0 / p, x.dtype), tag="inv_p"))
        e.reshape(red, (n, c) + tuple(outs), y=y)


@register("MaxPool", "AveragePool", after=_Pool)
class PoolPatches(_PatchPool, OpConverter):
    """Pooling over patches, where ``pool.Pool`` (the first strategy) does not apply."""

    max_outputs = 1

    def applies(self, node):
        """Not a MaxPool with an ``Indices`` output (``pool_indices.MaxPoolWithIndices`` takes those)."""
        return not (node.op_type == "MaxPool" and len(node.outputs) > 1 and node.outputs[1] is not None)

    def check(self, node):
        if node.op_type == "MaxPool" and int(node.attrs.get("storage_order", 0)) != 0:
            return "storage_order=1"
        if "kernel_shape" not in node.attrs:
            return "no kernel_shape"
        dt = node.inputs[0].dtype
        if node.op_type == "AveragePool" and dt is not None and np.dtype(dt).kind != "f":
            return f"AveragePool of {np.dtype(dt).name}"
        return None

    def lower(self, node, out):
        self.lower_patches(node, out, "max" if node.op_type == "MaxPool" else "avg")


@register("LpPool")
class LpPool(_PatchPool, OpConverter):
    def check(self, node):
        dt = node.inputs[0].dtype
        if dt is not None and np.dtype(dt) != np.float32:
            return f"LpPool of {np.dtype(dt).name}"
        return None if "kernel_shape" in node.attrs else "no kernel_shape"

    def lower(self, node, out):
        self.lower_patches(node, out, "lp")


@register("GlobalLpPool")
class GlobalLpPool(OpConverter):
    """``POW(SUM(POW(ABS(x), p)) over spatial axes, 1 / p)`` in ONNX layout."""

    def check(self, node):
        dt = node.inputs[0].dtype
        return None if dt is None or np.dtype(dt) == np.float32 else f"GlobalLpPool of {np.dtype(dt).name}"

    def layout(self, node, perms, lp):
        return LayoutPlan([lp.identity(node.inputs[0])], [lp.identity(node.outputs[0])])

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        p = float(node.attrs.get("p", 2))
        powd = e.binary("POW", e.unary("ABS", x), e.const(np.asarray(p, x.dtype), tag="p"))
        s = e.reduce("SUM", powd, list(range(2, len(x.shape))), keep=True)
        e.binary("POW", s, e.const(np.asarray(1.0 / p, x.dtype), tag="inv_p"), y=y)


@register("Conv", after=_Conv)
class ConvPatches(OpConverter):
    """Patches + BATCH_MATMUL, where ``conv.Conv`` (constant 1-D/2-D weights) does not apply."""

    def check(self, node):
        reason = float_conv_reason(node)
        x, w = node.inputs[0], node.inputs[1]
        if reason is None and x.shape is not None and w.shape[0] % int(node.attrs.get("group", 1)):
            return f"group={node.attrs.get('group')} does not divide the {w.shape[0]} output channels"
        return reason

    def lower(self, node, out):
        from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

        e = Emitter(out, node.name)
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        b = node.input(2)
        kernel = [int(k) for k in node.attrs.get("kernel_shape", w.shape[2:])]
        strides, dil, pads, full, outs = _geometry(node, x.shape, y.shape, kernel)
        n, cin = int(x.shape[0]), int(x.shape[1])
        cout, g = int(w.shape[0]), int(node.attrs.get("group", 1))
        win, table = patches(e, x, kernel, strides, dil, full, outs, 0)
        k, p = table.shape
        cg = cin // g
        lhs = e.reshape(w, (1, g, cout // g, cg * k))  # [Cout, Cin/g, *k] row-major = [g, Cout/g, Cin/g * K]
        rhs = e.reshape(win, (n, g, cg * k, p))
        o = BatchMatMulOptionsT()
        prod = e.op("BATCH_MATMUL", [lhs, rhs], (n, g, cout // g, p), x.dtype, o, version=4)
        res = e.reshape(prod, (n, cout, p))
        if b is not None:
            res = e.binary("ADD", res, e.reshape(b, (1, cout, 1)))
        e.reshape(res, (n, cout) + tuple(outs), y=y)
