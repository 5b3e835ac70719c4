"""BitCast: the TFLite ``BITCAST`` builtin (same bytes, another element type).

ONNX's shape rule is TFLite's: equal element sizes keep the shape, a narrower type
appends a dimension, a wider one consumes the last. Element types a ``.tflite``
tensor cannot hold (bfloat16, float8, 4-bit and 2-bit integers, strings) are refused.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("BitCast") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.registry import OpConverter, register

# numpy kinds/sizes with a TFLite tensor type that LiteRT's BITCAST accepts.
_OK = {np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.float16, np.int32,
                             np.uint32, np.float32, np.int64, np.uint64, np.float64)}


@register("BitCast")
class BitCast(OpConverter):
    def check(self, node):
        x, y = node.inputs[0], node.outputs[0]
        for what, v in (("input", x), ("output", y)):
            if v.dtype is None or v.dtype not in _OK:
                return f"{what} type {v.dtype} (TFLite tensors cannot hold it)"
        if y.shape is None:
            return "output without a static shape"
        return None

    def lower(self, node, out):
        from edgelite.schema.fb.BitcastOptions import BitcastOptionsT

        out.emit("BITCAST", [node.inputs[0]], [node.outputs[0]], BitcastOptionsT())
