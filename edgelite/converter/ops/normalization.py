"""LayerNormalization, RMSNormalization and InstanceNormalization, decomposed as TFLite models express them.

LayerNorm: ``MEAN``, ``SQUARED_DIFFERENCE``, ``MEAN``, ``ADD`` (epsilon), ``RSQRT``,
``SUB``, ``MUL`` (normalize), ``MUL`` (gamma), ``ADD`` (beta); RMSNorm: ``MUL``
(square), ``MEAN``, ``ADD``, ``RSQRT``, ``MUL``, ``MUL`` (scale). The normalized axes
must be the trailing ones (the layout rule keeps ONNX's layout); InstanceNorm
normalizes the spatial axes of channels-last data.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import i32
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register


def _binary(out, op, a, b, shape, dtype, name, y=None):
    from edgelite.schema.fb import AddOptions, MulOptions, SubOptions

    opts = {"ADD": AddOptions.AddOptionsT, "MUL": MulOptions.MulOptionsT, "SUB": SubOptions.SubOptionsT}.get(op)
    y = y if y is not None else out.tmp(name, shape, dtype)
    out.emit(op, [a, b], [y], opts() if opts else None)
    return y


def _mean(out, x, axes, name, y=None):
    from edgelite.schema.fb.ReducerOptions import ReducerOptionsT

    o = ReducerOptionsT()
    o.keepDims = True
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    y = y if y is not None else out.tmp(name, shape, x.dtype)
    out.emit("MEAN", [x, out.const(i32(axes), name + "_axes")], [y], o)
    return y


def _float32_only(node):
    x = node.inputs[0]
    if x.dtype is not None and x.dtype != np.dtype(np.float32):
        return f"{x.dtype} input (float32 only)"
    return None


@register("LayerNormalization", "RMSNormalization")
class LayerNorm(OpConverter):
    max_outputs = 3  # LayerNormalization's Mean and InvStdDev; RMSNormalization has one output

    def check(self, node):
        if node.input(1) is None:
            return "no scale input"
        return _float32_only(node)

    def lower(self, node, out):
        x = node.inputs[0]
        r = len(x.shape)
        axis = int(node.attrs.get("axis", -1)) % r
        normalize(out, node, list(range(axis, r)), rms=node.op_type == "RMSNormalization")


@register("InstanceNormalization")
class InstanceNorm(ChannelsLast, OpConverter):
    # Scale and bias are [C]: they broadcast over the channels-last data as they are.
    def check(self, node):
        return _float32_only(node)

    def lower(self, node, out):
        normalize(out, node, list(range(1, len(node.inputs[0].shape) - 1)), rms=False)


def normalize(out, node, axes, rms):
    """``(x - mean) * rsqrt(var + eps) * scale + bias`` over ``axes`` (no centering for RMS)."""
    x, y = node.inputs[0], node.outputs[0]
    eps = np.array(node.attrs.get("epsilon", 1e-5), x.dtype)
    n = node.name
    scale, bias = node.inputs[1], node.input(2)
    # LayerNormalization's optional Mean and InvStdDev outputs
    extra = node.outputs[1:] if node.op_type == "LayerNormalization" else []
    if not rms:
        mean = _mean(out, x, axes, n + "_mean", extra[0] if extra else None)
        sq = out.tmp(n + "_sqdiff", x.shape, x.dtype)
        out.emit("SQUARED_DIFFERENCE", [x, mean], [sq])
        var = _mean(out, sq, axes, n + "_var")
        centered = _binary(out, "SUB", x, mean, x.shape, x.dtype, n + "_centered")
    else:
        sq = _binary(out, "MUL", x, x, x.shape, x.dtype, n + "_square")
        var = _mean(out, sq, axes, n + "_meansq")
        centered = x
    ve = _binary(out, "ADD", var, out.const(eps, n + "_eps"), var.shape, x.dtype, n + "_var_eps")
    rs = extra[1] if len(extra) > 1 else out.tmp(n + "_rsqrt", var.shape, x.dtype)
    out.emit("RSQRT", [ve], [rs])
    last = bias is None
    # A unit scale (LayerNorm without gamma, as passes/layernorm.py writes it) needs no MUL.
    unit = scale.is_constant and bool(np.all(np.asarray(scale.data) == 1))
    normed = _binary(out, "MUL", centered, rs, x.shape, x.dtype, n + "_normed", y if unit and last else None)
    scaled = normed if unit else _binary(out, "MUL", normed, scale, x.shape, x.dtype, n + "_scaled", y if last else None)
    if not last:
        _binary(out, "ADD", scaled, bias, x.shape, x.dtype, n + "_shifted", y)
