"""Ops of the ``ai.onnx.ml`` domain that TFLite builtins compute exactly.

* ``Binarizer``: ``y = 1 if x > threshold else 0`` in ``x``'s dtype, as
  ``SELECT_V2(GREATER(x, t), 1, 0)`` (NaN gives 0, as in the reference). For int32
  ``x`` the float threshold becomes ``floor(threshold)``: for an integer ``x``,
  ``x > t`` exactly when ``x > floor(t)``. int64 is refused: the reference compares it
  in float64, which rounds beyond 2**53, and an exact int64 comparison would differ there;
  float64 has no LiteRT kernels.
* ``ArrayFeatureExtractor``: ``x[..., indices.ravel()]`` (a rank-1 ``x`` gives ``[1, n]``),
  one ``GATHER`` on the last axis, negative indices wrapped (``FLOOR_MOD``) as numpy
  does in the reference.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "ai.onnx.ml::Binarizer" in CONVERTERS and "ai.onnx.ml::ArrayFeatureExtractor" in CONVERTERS
    True
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.indexing import index_dtype_reason, wrap_indices
from edgelite.converter.ops.registry import OpConverter, register

_F32, _I32, _I64 = (np.dtype(t) for t in (np.float32, np.int32, np.int64))


@register("Binarizer", domain="ai.onnx.ml")
class Binarizer(OpConverter):
    def check(self, node):
        dt = np.dtype(node.inputs[0].dtype)
        if dt not in (_F32, _I32):
            return f"Binarizer on {dt} (float32/int32: the reference compares int64 in float64; no float64 kernels)"
        return None

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        e = Emitter(out, node.name)
        t = float(np.float32(node.attrs.get("threshold", 0.0)))
        if x.dtype == _I32:
            # x > t  <=>  x >= floor(t) + 1 for an integer x (never for NaN or +inf, always for -inf)
            lo, hi = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)
            k = hi + 1 if math.isnan(t) or t == math.inf else lo if t == -math.inf else math.floor(t) + 1
            if k > hi:
                above = e.binary("GREATER", x, e.scalar(hi, _I32))  # always false
            else:
                above = e.binary("GREATER_EQUAL", x, e.scalar(max(k, lo), _I32))
        else:
            above = e.binary("GREATER", x, e.scalar(t, _F32))
        e.select(above, e.scalar(1, x.dtype), e.scalar(0, x.dtype), y=y)


@register("ArrayFeatureExtractor", domain="ai.onnx.ml")
class ArrayFeatureExtractor(OpConverter):
    def check(self, node):
        x, idx = node.inputs[0], node.inputs[1]
        if np.dtype(x.dtype) not in (_F32, _I32, _I64):
            return f"ArrayFeatureExtractor on {x.dtype} (GATHER: float32/int32/int64 here)"
        return index_dtype_reason(idx)

    def lower(self, node, out):
        x, idx, y = node.inputs[0], node.inputs[1], node.outputs[0]
        e = Emitter(out, node.name)
        n = int(np.prod(idx.shape))
        flat = e.reshape(idx, (n,))
        flat = wrap_indices(e, flat, x.shape[-1])
        g = e.gather(x, flat, axis=-1)
        e.reshape(g, y.shape, y=y)
