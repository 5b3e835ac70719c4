"""Float32 BATCH_MATMUL.

Semantics of TFLite's builtin: ``out[..., i, j] = sum_k L[..., i, k] * R[..., k, j]``
where ``L`` is the left input, transposed in its last two axes when ``adj_x``, and ``R``
the right one, transposed when ``adj_y``. Both have rank 2 to 5; their batch
dimensions (all but the last two) broadcast as numpy's do.

There is no separate Numba version: numpy's ``matmul`` already hands every batch
to BLAS and writes straight into the output.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.matmul.batch_matmul_float import BatchMatMulFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT
    >>> o = BatchMatMulOptionsT(); o.adjY = True; f32 = np.dtype(np.float32)
    >>> ctx = OpContext("BATCH_MATMUL", 0, 1, o, None, None,
    ...     [TensorInfo(0, "a", (2, 1, 3), f32, 0), TensorInfo(1, "b", (4, 3), f32, 0)],
    ...     [TensorInfo(2, "y", None, f32, 0)])
    >>> k = BatchMatMulFloat(); p = k.prepare(ctx); ctx.output_shapes[0]
    (2, 1, 4)
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.conv.conv_float import is_float32


@dataclass(frozen=True)
class BatchMatMulParams:
    adj_x: bool
    adj_y: bool


def adjoint(a: np.ndarray, adj: bool) -> np.ndarray:
    return np.swapaxes(a, -1, -2) if adj else a


def batch_matmul_shape(ctx: OpContext, adj_x: bool, adj_y: bool) -> tuple[int, ...]:
    """The output shape of BATCH_MATMUL (rank 2 to 5, broadcast batch dimensions), set on
    ``ctx``; raises ShapeError for shapes LiteRT refuses. Shared by every variant."""
    a, b = ctx.input(0), ctx.input(1)
    if a.shape is None or b.shape is None or not (2 <= len(a.shape) <= 5 and 2 <= len(b.shape) <= 5):
        raise ctx.fail(f"inputs {a.shape} and {b.shape} must have rank 2 to 5")
    rows, ka = (a.shape[-1], a.shape[-2]) if adj_x else (a.shape[-2], a.shape[-1])
    kb, cols = (b.shape[-1], b.shape[-2]) if adj_y else (b.shape[-2], b.shape[-1])
    if ka != kb:
        raise ctx.fail(f"contracted dimensions differ: {ka} (lhs {a.shape}, adj_x={adj_x}) vs "
                       f"{kb} (rhs {b.shape}, adj_y={adj_y})")
    try:
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise ctx.fail(f"batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    out = tuple(batch) + (rows, cols)
    ctx.set_output_shape(0, out)
    return out


@register("BATCH_MATMUL")
class BatchMatMulFloat(Kernel):
    """BATCH_MATMUL on float32 tensors."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0, 1)

    def prepare(self, ctx: OpContext) -> BatchMatMulParams:
        o = ctx.options
        adj_x = bool(o.adjX) if o is not None else False
        adj_y = bool(o.adjY) if o is not None else False
        batch_matmul_shape(ctx, adj_x, adj_y)
        return BatchMatMulParams(adj_x, adj_y)

    def eval(self, p: BatchMatMulParams, inputs, outputs) -> None:
        np.matmul(adjoint(inputs[0], p.adj_x), adjoint(inputs[1], p.adj_y), out=outputs[0])
