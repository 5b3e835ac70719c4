"""Hybrid EMBEDDING_LOOKUP: int32 ids, an int8 table (per-tensor scale, or one scale
per row on dim 0, zero point 0), float32 output.

LiteRT (``embedding_lookup.cc`` ``EvalHybrid``) dequantizes only the rows it looks
up: ``out[i, ...] = float32(table[ids[i], ...]) * scale`` with the float32 scale of
the table (or of row ``ids[i]``). Ids outside ``[0, rows)`` are an error, as in
LiteRT (``eval`` raises ``IndexError`` naming the id).

Example:
    >>> from edgelite.interpreter.kernels.base import kernels_for
    >>> any(type(k).__name__ == "EmbeddingLookupHybrid" for k in kernels_for("EMBEDDING_LOOKUP"))
    True
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import HYBRID, Kernel, OpContext, register

_F32, _I8, _I32 = np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.int32)


@dataclass(frozen=True)
class EmbeddingHybridParams:
    rows: int
    scale: np.ndarray  # (rows,) float32: every row's scale


@register("EMBEDDING_LOOKUP", priority=HYBRID)
class EmbeddingLookupHybrid(Kernel):
    """Inputs ``(ids, table)``: int32 ids, int8 quantized table, float32 output."""

    def accepts(self, ctx: OpContext) -> bool:
        ids, table = ctx.optional_input(0), ctx.optional_input(1)
        return (
            ids is not None and table is not None and np.dtype(ids.dtype) == _I32
            and np.dtype(table.dtype) == _I8 and table.quant is not None
            and np.dtype(ctx.outputs[0].dtype) == _F32
        )

    def prepare(self, ctx: OpContext) -> EmbeddingHybridParams:
        ids, table = ctx.input(0), ctx.input(1)
        if ids.shape is None or len(ids.shape) != 1 or table.shape is None or len(table.shape) < 2:
            raise ctx.fail(f"ids must be 1-D and the table at least 2-D, got {ids.shape} and {table.shape}")
        if np.any(table.quant.zero_point != 0):
            raise ctx.fail("the int8 table must be symmetric (zero point 0)")
        rows = table.shape[0]
        s = np.asarray(table.quant.scale, np.float32).reshape(-1)
        if s.size not in (1, rows):
            raise ctx.fail(f"{s.size} table scales for {rows} rows (per-row scales go on dimension 0)")
        ctx.set_output_shape(0, (ids.shape[0],) + tuple(table.shape[1:]))
        return EmbeddingHybridParams(rows, np.ascontiguousarray(np.broadcast_to(s, (rows,)), np.float32))

    def eval(self, p: EmbeddingHybridParams, inputs, outputs) -> None:
        ids, table = inputs[0], inputs[1]
        bad = (ids < 0) | (ids >= p.rows)
        if bad.any():
            raise IndexError(f"EMBEDDING_LOOKUP: id {int(ids[bad][0])} is outside [0, {p.rows - 1}]")
        rows = table[ids].astype(np.float32)
        scale = p.scale[ids].reshape((-1,) + (1,) * (rows.ndim - 1))
        np.multiply(rows, scale, out=outputs[0])
