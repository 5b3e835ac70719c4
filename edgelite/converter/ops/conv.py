"""Conv (1-D and 2-D, plain and depthwise) and ConvTranspose.

ONNX pads that TF's SAME rule does not reproduce (PyTorch's symmetric padding with
stride 2) become an explicit ``PAD`` before a VALID convolution. 1-D convolutions run
as 2-D ones on ``[N, 1, W, C]`` (two ``RESHAPE`` ops, no transposes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.converter.ir import Node
from edgelite.converter.ops.common import constant, i32, onnx_pads, same_pads
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.lower import activation_code


def _to_2d(vals, nsp, fill):
    """1-D attributes as 2-D ones ([fill] + vals), 2-D unchanged."""
    return ([fill] + list(vals)) if nsp == 1 else list(vals)


def pad_input(out, x, pads_2d, name, value=None):
    """Emit PAD (or PADV2 with ``value``) on NHWC ``x``; returns the padded value."""
    from edgelite.schema.fb.PadOptions import PadOptionsT
    from edgelite.schema.fb.PadV2Options import PadV2OptionsT

    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = pads_2d
    y = out.tmp(name + "_pad", (n, h + pt + pb, w + pl + pr, c), x.dtype)
    p = out.const(i32([[0, 0], [pt, pb], [pl, pr], [0, 0]]), name + "_paddings")
    if value is None:
        out.emit("PAD", [x, p], [y], PadOptionsT())
    else:
        out.emit("PADV2", [x, p, out.const(np.array(value, x.dtype), name + "_padvalue")], [y], PadV2OptionsT())
    return y


def as_4d(out, x, name):
    """A 3-D NWC value as 4-D [N, 1, W, C] (RESHAPE); 4-D values unchanged."""
    if len(x.shape) == 4:
        return x
    y = out.tmp(name + "_4d", (x.shape[0], 1, x.shape[1], x.shape[2]), x.dtype)
    reshape(out, x, y)
    return y


def reshape(out, x, y):
    from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT

    opts = ReshapeOptionsT()
    opts.newShape = [int(d) for d in y.shape]
    out.emit("RESHAPE", [x, out.const(i32(y.shape), y.name + "_shape")], [y], opts)


def resolve_padding(node, spatial, kernel, strides, dil):
    """('SAME' | 'VALID', explicit pads or None) for a conv/pool node (2-D lists)."""
    pads = onnx_pads(node, spatial, kernel, strides, dil)
    if all(p == (0, 0) for p in pads):
        return "VALID", None
    if all(pads[i] == same_pads(spatial[i], kernel[i], strides[i], dil[i]) for i in range(len(pads))):
        return "SAME", None
    return "VALID", pads


@dataclass(frozen=True)
class ConvGeometry:
    """A 1-D or 2-D convolution's window on physical NHWC / NWC data, as 2-D lists (a 1-D
    convolution runs on ``[N, 1, W, C]``): TFLite's padding mode, plus explicit pads (for a
    ``PAD`` before a VALID op) where TF's SAME rule does not give ONNX's."""

    nsp: int
    kernel: list
    strides: list
    dil: list
    padding: str  # "SAME" | "VALID"
    explicit: list | None  # [(top, bottom), (left, right)] for a PAD first, or None

    @classmethod
    def of(cls, node: Node, x_shape, w_shape) -> "ConvGeometry":
        """The geometry of ``node`` on physical input ``x_shape``, ONNX weights of ``w_shape``."""
        nsp = len(w_shape) - 2
        kernel = list(node.attrs.get("kernel_shape", w_shape[2:]))
        strides = list(node.attrs.get("strides", [1] * nsp))
        dil = list(node.attrs.get("dilations", [1] * nsp))
        pad_mode, explicit = resolve_padding(node, list(x_shape[1:-1]), kernel, strides, dil)
        if explicit is not None and nsp == 1:
            explicit = [(0, 0)] + explicit
        return cls(nsp, _to_2d(kernel, nsp, 1), _to_2d(strides, nsp, 1), _to_2d(dil, nsp, 1), pad_mode, explicit)

    def input_4d(self, out, x, name: str):
        """``x`` as the 4-D (and explicitly padded, with zeros) input of the TFLite op."""
        x4 = as_4d(out, x, name)
        return pad_input(out, x4, self.explicit, name) if self.explicit is not None else x4

    def output_hw(self, x4_shape) -> tuple[int, int]:
        """The output height and width of the op on the 4-D input ``x4_shape``."""
        hw = []
        for i in range(2):
            size = int(x4_shape[1 + i])
            if self.padding == "VALID":
                hw.append((size - (self.kernel[i] - 1) * self.dil[i] - 1) // self.strides[i] + 1)
            else:
                hw.append(-(-size // self.strides[i]))
        return hw[0], hw[1]

    def options(self, depthwise: bool, depth_multiplier: int = 1, activation: int = 0):
        """``(op, options, version)`` of the CONV_2D / DEPTHWISE_CONV_2D."""
        from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
        from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
        from edgelite.schema.fb.Padding import Padding

        if depthwise:
            opts = DepthwiseConv2DOptionsT()
            opts.depthMultiplier = depth_multiplier
            op, version = "DEPTHWISE_CONV_2D", 2 if max(self.dil) > 1 else 1
        else:
            opts, op, version = Conv2DOptionsT(), "CONV_2D", 1
        opts.padding = Padding.SAME if self.padding == "SAME" else Padding.VALID
        opts.strideH, opts.strideW = self.strides
        opts.dilationHFactor, opts.dilationWFactor = self.dil
        opts.fusedActivationFunction = activation
        return op, opts, version


def is_depthwise(w4: np.ndarray, group: int, cin: int) -> bool:
    """Whether ONNX weights ``[C_out, C_in / group, kH, kW]`` are a DEPTHWISE_CONV_2D's."""
    return group > 1 and group == cin and w4.shape[1] == 1


def filter_of(w4: np.ndarray, depthwise: bool) -> np.ndarray:
    """The TFLite filter of ONNX weights ``[C_out, C_in, kH, kW]``: ``[C_out, kH, kW, C_in]``
    for CONV_2D, ``[1, kH, kW, C_out]`` for DEPTHWISE_CONV_2D."""
    return np.ascontiguousarray(w4.transpose((1, 2, 3, 0) if depthwise else (0, 2, 3, 1)))


@register("Conv")
class Conv(ChannelsLast, OpConverter):
    """CONV_2D / DEPTHWISE_CONV_2D for constant 1-D/2-D weights (first strategy for Conv;
    ``spatial_ext.ConvPatches`` takes the rest)."""

    fusable = True

    def applies(self, node):
        return self.check(node) is None

    def check(self, node):
        if node.input(1) is None or not node.inputs[1].is_constant:
            return "weights must be constant"
        w = node.inputs[1].data
        if w.ndim not in (3, 4):
            return f"only 1-D and 2-D convolutions are supported (weight rank {w.ndim})"
        group = int(node.attrs.get("group", 1))
        xs = node.inputs[0].shape
        cin = xs[1] if xs is not None and len(xs) > 1 else None
        if cin is not None and (cin % group or w.shape[0] % group):
            return f"group={group} does not divide the channels"
        if node.input(2) is not None and not node.inputs[2].is_constant:
            return "bias must be constant"
        return None

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        w = constant(node, 1, "weights")
        geom = ConvGeometry.of(node, x.shape, w.shape)
        x4 = geom.input_4d(out, x, node.name)
        if w.ndim == 3:
            w = w[:, :, None, :]
        cout = w.shape[0]
        bias = constant(node, 2, "bias") if node.input(2) is not None else np.zeros(cout, w.dtype)
        group = int(node.attrs.get("group", 1))
        oh, ow = geom.output_hw(x4.shape)
        y4 = y if len(y.shape) == 4 else out.tmp(node.name + "_out4d", (x4.shape[0], oh, ow, cout), y.dtype)
        depthwise = is_depthwise(w, group, x4.shape[3])
        op, opts, version = geom.options(depthwise, cout // group, activation_code(node))
        if op == "CONV_2D" and group > 1:
            _grouped_conv(out, node, x4, w, bias, group, y4, opts)
        else:
            filt = out.const(filter_of(w, depthwise), node.name + "_filter")
            out.emit(op, [x4, filt, out.const(bias.astype(w.dtype), node.name + "_bias")], [y4], opts, version)
        if y4 is not y:
            reshape(out, y4, y)


def _grouped_conv(out, node, x4, w, bias, group, y4, opts):
    """Grouped convolution: SPLIT the channels, one CONV_2D per group, CONCATENATION."""
    from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
    from edgelite.schema.fb.SplitOptions import SplitOptionsT

    n, h, wd, cin = x4.shape
    parts = [out.tmp(f"{node.name}_g{i}", (n, h, wd, cin // group), x4.dtype) for i in range(group)]
    so = SplitOptionsT()
    so.numSplits = group
    out.emit("SPLIT", [out.const(np.array(3, np.int32), node.name + "_split_axis"), x4], parts, so)
    cg = w.shape[0] // group
    outs = []
    for i, part in enumerate(parts):
        wi = np.ascontiguousarray(w[i * cg : (i + 1) * cg].transpose(0, 2, 3, 1))
        yi = out.tmp(f"{node.name}_gout{i}", y4.shape[:3] + (cg,), y4.dtype)
        out.emit(
            "CONV_2D",
            [
                part,
                out.const(wi, f"{node.name}_filter{i}"),
                out.const(bias[i * cg : (i + 1) * cg].astype(w.dtype), f"{node.name}_bias{i}"),
            ],
            [yi],
            opts,
        )
        outs.append(yi)
    co = ConcatenationOptionsT()
    co.axis = 3
    out.emit("CONCATENATION", outs, [y4], co)


@register("ConvTranspose")
class ConvTranspose(ChannelsLast, OpConverter):
    def applies(self, node):
        return self.check(node) is None

    def check(self, node):
        if node.input(1) is None or not node.inputs[1].is_constant or node.inputs[1].data.ndim != 4:
            return "only 2-D ConvTranspose with constant weights is supported"
        if int(node.attrs.get("group", 1)) != 1:
            return "grouped ConvTranspose"
        if any(d != 1 for d in node.attrs.get("dilations", [1, 1])):
            return "dilated ConvTranspose"
        if node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or "output_shape" in node.attrs:
            return "auto_pad / output_shape attributes"
        pads = node.attrs.get("pads", [0, 0, 0, 0])
        op = node.attrs.get("output_padding", [0, 0])
        if len(pads) != 4 or len(op) != 2:
            return "pads / output_padding of another rank"
        if any(op[i] > pads[i + 2] for i in range(2)):
            return "output_padding larger than the end padding"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.Padding import Padding
        from edgelite.schema.fb.SliceOptions import SliceOptionsT
        from edgelite.schema.fb.TransposeConvOptions import TransposeConvOptionsT

        x, y = node.inputs[0], node.outputs[0]
        w = constant(node, 1, "weights")  # [C_in, C_out, kH, kW]
        k = list(node.attrs.get("kernel_shape", w.shape[2:]))
        s = list(node.attrs.get("strides", [1, 1]))
        pads = list(node.attrs.get("pads", [0, 0, 0, 0]))
        n, h, wd, _ = x.shape
        cout = w.shape[1]
        full = (n, (h - 1) * s[0] + k[0], (wd - 1) * s[1] + k[1], cout)
        cropped = full != tuple(y.shape)
        mid = out.tmp(node.name + "_full", full, y.dtype) if cropped else y
        opts = TransposeConvOptionsT()
        opts.padding, opts.strideH, opts.strideW = Padding.VALID, s[0], s[1]
        bias = constant(node, 2, "bias") if node.input(2) is not None else np.zeros(cout, w.dtype)
        filt = out.const(np.ascontiguousarray(w.transpose(1, 2, 3, 0)), node.name + "_filter")
        out.emit(
            "TRANSPOSE_CONV",
            [
                out.const(i32(full), node.name + "_output_shape"),
                filt,
                x,
                out.const(bias.astype(w.dtype), node.name + "_bias"),
            ],
            [mid],
            opts,
            version=3,
        )
        if cropped:
            begin = out.const(i32([0, pads[0], pads[1], 0]), node.name + "_crop_begin")
            size = out.const(i32(y.shape), node.name + "_crop_size")
            out.emit("SLICE", [mid, begin, size], [y], SliceOptionsT())
