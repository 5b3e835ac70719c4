"""Resize/Upsample (bilinear and nearest, on H and W) and DepthToSpace/SpaceToDepth.

The output size comes from the (static) output shape; ONNX's coordinate modes map to
TFLite's two flags: ``align_corners`` -> ``alignCorners``, ``half_pixel`` /
``pytorch_half_pixel`` -> ``halfPixelCenters``, ``asymmetric`` -> neither.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.common import i32
from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register


def _coord_mode(node) -> str:
    if node.op_type == "Upsample":
        return "asymmetric"
    return node.attrs.get("coordinate_transformation_mode", "half_pixel")


@register("Resize", "Upsample")
class Resize(ChannelsLast, OpConverter):
    """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR where they are exact (first strategy;
    ``resize_ext.ResizeGather`` and ``resize_runtime.ResizeRuntime`` follow)."""

    def applies(self, node):
        scales = node.input(2) if node.op_type == "Resize" else node.input(1)
        if scales is not None and not scales.is_constant and int(np.prod(scales.shape or (1,))) > 0:
            return False  # TFLite resizes by out/in, ONNX by the given scale
        y = node.outputs[0]
        cm = node.attrs.get("coordinate_transformation_mode", "half_pixel")
        if cm == "pytorch_half_pixel" and y.shape is not None and 1 in tuple(y.shape[2:]):
            return False  # ONNX samples coordinate -0.5 for a length-1 output, TFLite the centre
        return self.check(node) is None

    def check(self, node):
        x, y = node.inputs[0], node.outputs[0]
        if x.shape is None or len(x.shape) != 4:
            return "only 4-D Resize is supported"
        if y.shape is not None and tuple(y.shape[:2]) != tuple(x.shape[:2]):
            return "Resize that changes the batch or channel dimension"
        mode = node.attrs.get("mode", "nearest")
        cm = _coord_mode(node)
        if mode == "cubic":
            return "cubic interpolation"
        if mode in ("linear", "bilinear") and cm not in (
            "align_corners",
            "half_pixel",
            "pytorch_half_pixel",
            "asymmetric",
        ):
            return f"linear resize with coordinate_transformation_mode={cm}"
        if mode == "nearest":
            nm = node.attrs.get("nearest_mode", "round_prefer_floor")
            ok = (
                (cm == "asymmetric" and nm == "floor")
                or (cm == "align_corners" and nm == "round_prefer_ceil")
                or (cm in ("half_pixel", "tf_half_pixel_for_nn") and nm == "round_prefer_ceil")
            )
            if node.op_type == "Upsample":
                ok = True
            if not ok:
                return f"nearest resize with {cm}/{nm}"
        if node.attrs.get("antialias", 0):
            return "antialias=1"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.ResizeBilinearOptions import ResizeBilinearOptionsT
        from edgelite.schema.fb.ResizeNearestNeighborOptions import ResizeNearestNeighborOptionsT

        y = node.outputs[0]
        size = out.const(i32(y.shape[1:3]), node.name + "_size")
        cm = _coord_mode(node)
        if node.attrs.get("mode", "nearest") in ("linear", "bilinear"):
            o = ResizeBilinearOptionsT()
            op = "RESIZE_BILINEAR"
        else:
            o = ResizeNearestNeighborOptionsT()
            op = "RESIZE_NEAREST_NEIGHBOR"
        o.alignCorners = cm == "align_corners"
        o.halfPixelCenters = cm in ("half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn")
        out.emit(op, [node.inputs[0], size], [y], o, version=3 if o.halfPixelCenters else 1)


@register("DepthToSpace", "SpaceToDepth")
class DepthToSpace(ChannelsLast, OpConverter):
    """TFLite's DEPTH_TO_SPACE / SPACE_TO_DEPTH order channels as ONNX's DCR mode
    (block offset major, channel minor). CRD (channel major) is the same movement with
    the channels permuted: a GATHER on the channel axis before DEPTH_TO_SPACE or after
    SPACE_TO_DEPTH."""

    def check(self, node):
        if node.attrs.get("mode", "DCR") not in ("DCR", "CRD"):
            return f"{node.op_type} mode {node.attrs.get('mode')!r}"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.DepthToSpaceOptions import DepthToSpaceOptionsT
        from edgelite.schema.fb.SpaceToDepthOptions import SpaceToDepthOptionsT

        to_space = node.op_type == "DepthToSpace"
        o = DepthToSpaceOptionsT() if to_space else SpaceToDepthOptionsT()
        b = int(node.attrs["blocksize"])
        o.blockSize = b
        op = "DEPTH_TO_SPACE" if to_space else "SPACE_TO_DEPTH"
        x, y = node.inputs[0], node.outputs[0]
        if node.attrs.get("mode", "DCR") == "DCR":
            out.emit(op, [x], [y], o)
            return
        e = Emitter(out, node.name)
        depth = int((x if to_space else y).shape[-1])  # the channels of the deep side
        c = depth // (b * b)
        # CRD channel c * b*b + k holds what DCR keeps in channel k * C + c.
        crd_to_dcr = np.array([k * c + ch for ch in range(c) for k in range(b * b)], np.int32)
        if to_space:
            dcr_to_crd = np.argsort(crd_to_dcr).astype(np.int32)
            x = e.gather(x, e.const(dcr_to_crd, tag="dcr_order"), -1)
            out.emit(op, [x], [y], o)
        else:
            t = e.tmp(y.shape, y.dtype, tag="dcr")
            out.emit(op, [x], [t], o)
            e.gather(t, e.const(crd_to_dcr, tag="crd_order"), -1, y=y)
