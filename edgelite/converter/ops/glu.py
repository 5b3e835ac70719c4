"""SwiGLU (opset 28): ``y = a * sigmoid(alpha * a) * b`` as ``MUL``/``LOGISTIC``/``MUL``.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("SwiGLU") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)


@register("SwiGLU")
class SwiGLU(OpConverter):
    def check(self, node):
        for v in node.inputs[:2]:
            if v is None or v.dtype != _F32 or v.shape is None:
                return "operands that are not float32 with static shapes"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        a, b = node.inputs[0], node.inputs[1]
        alpha = float(node.attrs.get("alpha", 1.0))
        gate_in = a if alpha == 1.0 else e.mul(a, e.scalar(alpha, _F32))
        swish = e.mul(a, e.unary("LOGISTIC", gate_in))
        e.mul(swish, b, y=node.outputs[0])
