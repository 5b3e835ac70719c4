"""More normalizations, decomposed into TFLite builtins: GroupNormalization,
LpNormalization, MeanVarianceNormalization, BatchNormalization with run-time
parameters (inference and training mode) and LRN (``LOCAL_RESPONSE_NORMALIZATION``).

``BatchNormalization`` with constant parameters never reaches this module: the
``fold_batchnorm`` pass folds it into a convolution or turns it into ``Mul`` + ``Add``.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("GroupNormalization") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)


def _float32_only(node) -> str | None:
    x = node.inputs[0]
    if x.dtype is not None and x.dtype != _F32:
        return f"{x.dtype} input (float32 only)"
    return None


def _same_shape_output(node) -> None:
    """Output 0 has input 0's shape (ONNX's inference leaves some function-defined ops open)."""
    x, y = node.inputs[0], node.outputs[0]
    if y.shape is None and x.shape is not None:
        y.shape, y.dtype = tuple(x.shape), x.dtype


def _moments(e: Emitter, x, axes):
    """Mean and (population) variance over ``axes``, both with kept dimensions."""
    mean = e.reduce("MEAN", x, axes, keep=True)
    var = e.reduce("MEAN", e.binary("SQUARED_DIFFERENCE", x, mean), axes, keep=True)
    return mean, var


@register("GroupNormalization")
class GroupNorm(OpConverter):
    """``x`` reshaped to ``[N, G, C/G * spatial]``, normalized over the last axis, reshaped
    back; scale and bias per channel (opset 21) or per group (opset 18)."""

    def check(self, node):
        x = node.inputs[0]
        g = int(node.attrs.get("num_groups", 0))
        if g <= 0 or x.shape is None or len(x.shape) < 2 or x.shape[1] % g:
            return f"num_groups={g} does not divide the channels"
        _same_shape_output(node)
        return _float32_only(node)

    def lower(self, node, out):
        x, scale, bias = node.inputs[0], node.inputs[1], node.inputs[2]
        y = node.outputs[0]
        e = Emitter(out, node.name)
        n, c = x.shape[0], x.shape[1]
        g = int(node.attrs["num_groups"])
        spatial = int(np.prod(x.shape[2:], dtype=np.int64))
        xg = e.reshape(x, (n, g, c // g * spatial))
        mean, var = _moments(e, xg, [2])
        eps = e.scalar(node.attrs.get("epsilon", 1e-5), x.dtype)
        normed = e.mul(e.sub(xg, mean), e.unary("RSQRT", e.add(var, eps)))
        if scale.shape[0] == g and g != c:  # opset 18: one scale and bias per group
            shift = e.add(e.mul(normed, e.reshape(scale, (g, 1))), e.reshape(bias, (g, 1)))
            e.reshape(shift, None, y=y)
            return
        per_c = e.reshape(normed, (n, c, spatial))
        shift = e.add(e.mul(per_c, e.reshape(scale, (c, 1))), e.reshape(bias, (c, 1)))
        e.reshape(shift, None, y=y)


@register("LpNormalization")
class LpNorm(OpConverter):
    """``x / norm`` along ``axis`` (p = 1: sum of magnitudes, p = 2: Euclidean); a zero
    norm gives 0, as ONNX's reference."""

    def check(self, node):
        if int(node.attrs.get("p", 2)) not in (1, 2):
            return f"p={node.attrs.get('p')} (1 and 2 supported)"
        return _float32_only(node)

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        e = Emitter(out, node.name)
        axis = int(node.attrs.get("axis", -1)) % len(x.shape)
        if int(node.attrs.get("p", 2)) == 1:
            norm = e.reduce("SUM", e.unary("ABS", x), [axis], keep=True)
        else:
            norm = e.unary("SQRT", e.reduce("SUM", e.mul(x, x), [axis], keep=True))
        zero = e.scalar(0.0, x.dtype)
        safe = e.select(e.binary("EQUAL", norm, zero), e.scalar(1.0, x.dtype), norm)
        e.div(x, safe, y=y)


@register("MeanVarianceNormalization")
class MeanVarianceNorm(OpConverter):
    """``(x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)`` over ``axes`` (default 0, 2, 3)."""

    def check(self, node):
        _same_shape_output(node)
        return _float32_only(node)

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        e = Emitter(out, node.name)
        axes = [int(a) % len(x.shape) for a in node.attrs.get("axes", [0, 2, 3])]
        mean = e.reduce("MEAN", x, axes, keep=True)
        mean_sq = e.reduce("MEAN", e.mul(x, x), axes, keep=True)
        std = e.unary("SQRT", e.sub(mean_sq, e.mul(mean, mean)))
        e.div(e.sub(x, mean), e.add(std, e.scalar(1e-9, x.dtype)), y=y)


@register("BatchNormalization")
class BatchNorm(ChannelsLast, OpConverter):
    """Run-time scale, bias, mean and variance (channels last, so each ``[C]`` parameter
    broadcasts as it is). With ``training_mode=1`` the batch statistics normalize and the
    running mean and variance outputs are ``momentum`` blends."""

    def layout(self, node, perms, lp):
        plan = super().layout(node, perms, lp)
        plan.outputs = [plan.outputs[0]] + [lp.identity(o) for o in node.outputs[1:]]
        return plan

    def check(self, node):
        training = int(node.attrs.get("training_mode", 0))
        if not training and len(node.outputs) > 1:
            return "more than one output outside training mode"
        if training and len(node.outputs) > 3:
            return "saved mean/variance outputs (opset < 14) are not supported"
        return _float32_only(node)

    def lower(self, node, out):
        x, scale, bias, mean, var = node.inputs[:5]
        e = Emitter(out, node.name)
        eps = e.scalar(node.attrs.get("epsilon", 1e-5), x.dtype)
        if int(node.attrs.get("training_mode", 0)):
            axes = list(range(len(x.shape) - 1))
            bmean, bvar = _moments(e, x, axes)
            momentum = float(node.attrs.get("momentum", 0.9))
            m, rest = e.scalar(momentum, x.dtype), e.scalar(1.0 - momentum, x.dtype)
            c = (x.shape[-1],)
            outs = list(node.outputs[1:]) + [None, None]
            e.add(e.mul(mean, m), e.mul(e.reshape(bmean, c), rest), y=outs[0])
            e.add(e.mul(var, m), e.mul(e.reshape(bvar, c), rest), y=outs[1])
            mean, var = bmean, bvar
        inv = e.mul(e.unary("RSQRT", e.add(var, eps)), scale)
        e.add(e.mul(e.sub(x, mean), inv), bias, y=node.outputs[0])


@register("LRN")
class LRN(ChannelsLast, OpConverter):
    """TFLite's ``LOCAL_RESPONSE_NORMALIZATION`` on channels-last 4-D data: ONNX's window
    of ``size`` channels is TFLite's ``radius = (size - 1) / 2`` and its ``alpha / size``."""

    def check(self, node):
        size = int(node.attrs.get("size", 0))
        if size <= 0 or size % 2 == 0:
            return f"size={size} (an odd window is needed: TFLite's window is symmetric)"
        if node.inputs[0].shape is not None and len(node.inputs[0].shape) != 4:
            return "LRN on a tensor that is not 4-D"
        return _float32_only(node)

    def lower(self, node, out):
        size = int(node.attrs["size"])
        opts = _options(
            "LocalResponseNormalizationOptions",
            radius=(size - 1) // 2,
            bias=float(node.attrs.get("bias", 1.0)),
            alpha=float(node.attrs.get("alpha", 1e-4)) / size,
            beta=float(node.attrs.get("beta", 0.75)),
        )
        out.emit("LOCAL_RESPONSE_NORMALIZATION", [node.inputs[0]], node.outputs, opts)

