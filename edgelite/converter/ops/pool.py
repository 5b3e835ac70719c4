"""MaxPool and AveragePool (1-D and 2-D). Global pooling is a reduction (see ``reduce``).

Padding TF's SAME rule does not reproduce becomes an explicit pad: ``PADV2`` with
the lowest float for max pooling, ``PAD`` with zeros for average pooling that counts
the padding (``count_include_pad=1``). ``ceil_mode`` adds padding at the end.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.lower import activation_code
from edgelite.converter.ops.common import onnx_pads, same_pads
from edgelite.converter.ops.conv import as_4d, pad_input, reshape
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register


def _plan(node, x_shape, y_shape, allow_same=True):
    """(padding mode, explicit 2-D pads or None, kernel2, strides2) for a pool node."""
    nsp = len(x_shape) - 2
    kernel = list(node.attrs["kernel_shape"])
    strides = list(node.attrs.get("strides", [1] * nsp))
    spatial = list(x_shape[1:-1])
    pads = onnx_pads(node, spatial, kernel, strides, [1] * nsp)
    outs = list(y_shape[1:-1])
    # ceil_mode: the last window may hang past the end; pad the end so VALID covers it.
    pads = [(b, max(a, (outs[i] - 1) * strides[i] + kernel[i] - spatial[i] - b)) for i, (b, a) in enumerate(pads)]
    if nsp == 1:
        kernel, strides, spatial, pads, outs = [1] + kernel, [1] + strides, [1] + spatial, [(0, 0)] + pads, [1] + outs
    if all(p == (0, 0) for p in pads):
        return "VALID", None, kernel, strides
    same = [same_pads(spatial[i], kernel[i], strides[i], 1) for i in range(2)]
    if allow_same and pads == same and all(-(-spatial[i] // strides[i]) == outs[i] for i in range(2)):
        return "SAME", None, kernel, strides
    return "VALID", pads, kernel, strides


def _channels_last(shape):
    return (shape[0],) + tuple(shape[2:]) + (shape[1],)


@register("MaxPool", "AveragePool")
class Pool(ChannelsLast, OpConverter):
    """TFLite 2-D pooling where it is exact (first strategy; ``spatial_ext.PoolPatches``
    takes the rest)."""

    max_outputs = 1
    fusable = True

    def applies(self, node):
        """Float32 input, a 1-D/2-D undilated window, no MaxPool ``Indices`` output, and
        (AveragePool) a padding the count of TFLite's SAME rule reproduces. Decided on
        logical shapes."""
        if self.check(node) is not None:
            return False
        if node.op_type == "MaxPool" and len(node.outputs) > 1 and node.outputs[1] is not None:
            return False  # the Indices output: pool_indices.MaxPoolWithIndices
        x, y = node.inputs[0], node.outputs[0]
        if x.dtype is not None and np.dtype(x.dtype) != np.float32:
            return False
        if node.op_type == "AveragePool" and x.shape is not None and y.shape is not None:
            include = bool(node.attrs.get("count_include_pad", 0))
            _, pads, _, _ = _plan(node, _channels_last(x.shape), _channels_last(y.shape), allow_same=not include)
            if pads is not None and not include:
                return False  # padding excluded from the count, not TF's SAME rule
        return True

    def check(self, node):
        if "kernel_shape" not in node.attrs or len(node.attrs["kernel_shape"]) not in (1, 2):
            return "only 1-D and 2-D pooling is supported"
        if any(d != 1 for d in node.attrs.get("dilations", [1])):
            return "dilated pooling"
        if node.op_type == "MaxPool" and int(node.attrs.get("storage_order", 0)) != 0:
            return "storage_order=1"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.Padding import Padding
        from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT

        from edgelite.errors import UnsupportedOperatorError

        x, y = node.inputs[0], node.outputs[0]
        include = node.op_type == "AveragePool" and bool(node.attrs.get("count_include_pad", 0))
        mode, pads, k, s = _plan(node, x.shape, y.shape, allow_same=not include)
        x4 = as_4d(out, x, node.name)
        if pads is not None:
            if node.op_type == "MaxPool":
                x4 = pad_input(out, x4, pads, node.name, value=np.finfo(x.dtype).min)
            elif include:
                x4 = pad_input(out, x4, pads, node.name)
            else:
                raise UnsupportedOperatorError(
                    f"[lowering] {node.describe()}: AveragePool padding {pads} excluded from the count "
                    "is not TF SAME padding",
                    [(node.op_type, node.name)],
                )
        y4 = y if len(y.shape) == 4 else out.tmp(node.name + "_out4d", (y.shape[0], 1, y.shape[1], y.shape[2]), y.dtype)
        opts = Pool2DOptionsT()
        opts.padding = Padding.SAME if mode == "SAME" else Padding.VALID
        opts.strideH, opts.strideW = s
        opts.filterHeight, opts.filterWidth = k
        opts.fusedActivationFunction = activation_code(node)
        out.emit("MAX_POOL_2D" if node.op_type == "MaxPool" else "AVERAGE_POOL_2D", [x4], [y4], opts)
        if y4 is not y:
            reshape(out, y4, y)
