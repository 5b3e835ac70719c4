"""CastLike, and the dtype check every cast shares.

``CastLike(x, like)`` only reads the dtype of ``like``: the folding pass rewrites it
to ``Cast(x, to=dtype(like))`` as soon as that dtype is known, so that a cast of a
constant (the common case in ONNX function bodies: ``CastLike(alpha, X)``) folds
away. The converter below lowers any CastLike left over to one ``CAST``.

TFLite tensors cannot hold ONNX's float8 / float4 / int2 / uint2 types, and LiteRT's
``CAST`` kernel refuses ``UINT64`` and strings: such a cast is reported at conversion
(``unsupported_cast``), never written. LiteRT's ``CAST`` reads INT4 and UINT4 and reads
and writes BFLOAT16 only to and from FLOAT32 (measured on ai-edge-litert 2.3), so:

* int4 / uint4 to any castable type is ``CAST`` to float32 (exact: 16 small integers),
  then to the target; casts *to* int4 / uint4 are refused (edgelite writes no 4-bit
  tensors at run time);
* bfloat16 to and from float32 is one ``CAST``; other casts from bfloat16 go through
  float32, which holds every bfloat16 value; casts to bfloat16 go through float32 from
  the types it holds exactly (float16, bool, 8/16-bit integers), so they round once.
  int32 / int64 / float64 to bfloat16 would round twice: refused.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ir import Node, Value
    >>> x = Value("x", (2,), np.dtype("float32"))
    >>> y = Value("y", (2,), np.dtype("uint64"))
    >>> unsupported_cast(Node("Cast", "c", [x], [y]))
    'cast to uint64 (LiteRT CAST supports no UINT64)'
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.registry import LayoutPlan, OpConverter, register

# dtypes LiteRT's CAST kernel reads and writes (measured on ai-edge-litert 2.3: every pair works).
_CASTABLE = {
    np.dtype(t)
    for t in (
        np.float32,
        np.float16,
        np.float64,
        np.int8,
        np.uint8,
        np.int16,
        np.uint16,
        np.int32,
        np.uint32,
        np.int64,
        np.bool_,
    )
}


def _describe(dtype) -> str:
    return "an unknown dtype" if dtype is None else str(np.dtype(dtype))


_F32 = np.dtype(np.float32)
_FOUR_BIT = ("int4", "uint4")
_EXACT_IN_FLOAT32 = {"float32", "float16", "bool", "int8", "uint8", "int16", "uint16"}


def _via_float32(src, dst) -> str | None:
    """For casts that pass through float32: None when they are exact (module docstring),
    else why not; ``"direct"`` when no float32 step is needed."""
    s, d = np.dtype(src).name, np.dtype(dst).name
    if s == d:  # a copy; of bfloat16, a CAST to float32 and back (both exact)
        return "direct" if s != "bfloat16" else None
    if d in _FOUR_BIT:
        return f"cast to {d} (edgelite writes no 4-bit tensors at run time)"
    if s in _FOUR_BIT:
        return None if np.dtype(dst) in _CASTABLE else f"cast from {s} to {d}"
    if s == "bfloat16":  # float32 holds every bfloat16 value: one CAST on from there
        return None if np.dtype(dst) in _CASTABLE else f"cast from bfloat16 to {d}"
    if d == "bfloat16":  # float32 must hold the source exactly, so that only the last CAST rounds
        return None if s in _EXACT_IN_FLOAT32 else f"cast from {s} to bfloat16 (would round twice)"
    return "direct"


def unsupported_cast(node) -> str | None:
    """Why ``node`` (Cast/CastLike) cannot become a TFLite ``CAST``, or None when it can."""
    x, y = node.inputs[0], node.outputs[0]
    if x is not None and y is not None and x.dtype is not None and y.dtype is not None:
        via = _via_float32(x.dtype, y.dtype)
        if via != "direct":
            return via
    for what, v in (("from", x), ("to", y)):
        if v is None or v.dtype is None:
            continue  # the static-shape check reports unknown dtypes with a better message
        dt = np.dtype(v.dtype)
        if dt == np.uint64:
            return f"cast {what} uint64 (LiteRT CAST supports no UINT64)"
        if dt not in _CASTABLE and (x.dtype is None or y.dtype is None or np.dtype(x.dtype) != np.dtype(y.dtype)):
            return f"cast {what} {_describe(dt)} (no TFLite tensor type / CAST kernel for it)"
    return None


def emit_cast(out, x, y) -> None:
    """``y = CAST(x)``, or a plain copy (RESHAPE) when the dtypes already agree."""
    from edgelite.converter.lower import _tensor_type
    from edgelite.schema.fb.CastOptions import CastOptionsT

    if np.dtype(x.dtype) == np.dtype(y.dtype) and np.dtype(x.dtype).name != "bfloat16":
        from edgelite.converter.ops.conv import reshape

        reshape(out, x, y)
        return
    if _via_float32(x.dtype, y.dtype) is None and _F32 not in (np.dtype(x.dtype), np.dtype(y.dtype)):
        wide = out.tmp(f"{y.name}_f32", x.shape, _F32)
        emit_cast(out, x, wide)
        x = wide
    opts = CastOptionsT()
    opts.inDataType, opts.outDataType = _tensor_type(x.dtype), _tensor_type(y.dtype)
    out.emit("CAST", [x], [y], opts)


@register("CastLike")
class CastLike(Elementwise, OpConverter):
    """``CAST`` to the dtype of input 1 (only its dtype is read, never its data)."""

    def check(self, node):
        return unsupported_cast(node)

    def layout(self, node, perms, lp):
        # Only input 0 flows to the output; input 1 contributes its dtype alone.
        p = perms[0] if perms and perms[0] is not None else lp.identity(node.outputs[0])
        return LayoutPlan([p, None], [p])

    def lower(self, node, out):
        emit_cast(out, node.inputs[0], node.outputs[0])
