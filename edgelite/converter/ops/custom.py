"""CUSTOM operators for ONNX ops edgelite cannot convert, when ``allow_custom`` is set.

The support check renames such nodes to ``edgelite::Custom`` and keeps the ONNX op
type in ``ann.custom_code``; they run in ONNX's layout, and the runtime must provide
a kernel registered under that name.
"""

from __future__ import annotations

from edgelite.converter.ops.registry import OpConverter, register


@register("Custom", domain="edgelite")
class Custom(OpConverter):
    def lower(self, node, out):
        out.emit("CUSTOM", node.inputs, node.outputs, custom_code=node.ann.custom_code, custom_options=b"")
