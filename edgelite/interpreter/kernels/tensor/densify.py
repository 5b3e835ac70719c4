"""DENSIFY: expand a constant sparse tensor (TACO format, as in the TFLite schema's
``SparsityParameters``) into its dense form.

The encoding walks the tensor's dimensions in ``traversal_order``; the first ``n`` entries
are the original dimensions (divided by their block size when blocked), the remaining
``k`` are the inner dimensions of blocks, which ``block_map`` ties to original
dimensions. Each level is DENSE (every coordinate ``0..dense_size-1``) or SPARSE_CSR
(``array_segments[p]..array_segments[p+1]`` of ``array_indices`` below parent ``p``).
The stored values are the leaves of that walk, in order.

The interpreter expands sparse constants when it loads a model
(``edgelite.interpreter.compute.sparse.densify``), so the kernel usually receives the dense
array already and copies it. A ``TensorInfo`` given a ``sparsity`` attribute (the
stored values as ``data``) is expanded here.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.model import DimensionMetadata, SparsityParameters
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.tensor.densify import Densify
    >>> sp = SparsityParameters([0, 1], [], [DimensionMetadata(0, 2),
    ...     DimensionMetadata(1, 0, np.array([0, 1, 2]), np.array([2, 0]))])
    >>> x = TensorInfo(0, "w", (2, 3), np.dtype(np.float32), 0, data=np.array([5.0, 7.0], np.float32))
    >>> x.sparsity = sp
    >>> ctx = OpContext("DENSIFY", 0, 1, None, None, None, [x], [TensorInfo(1, "y", None, x.dtype, 0)])
    >>> k = Densify(); p = k.prepare(ctx); out = np.empty((2, 3), np.float32)
    >>> k.eval(p, [x.data], [out]); out.tolist()
    [[0.0, 0.0, 5.0], [7.0, 0.0, 0.0]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import ModelFormatError
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.compute.sparse import densify


@dataclass(frozen=True)
class DensifyParams:
    dense: np.ndarray


@register("DENSIFY")
class Densify(Kernel):
    """A constant sparse input (float32, float16 or int8) to its dense output."""

    def accepts(self, ctx: OpContext) -> bool:
        x = ctx.optional_input(0)
        return x is not None and x.is_constant and x.dtype == ctx.outputs[0].dtype

    def prepare(self, ctx: OpContext) -> DensifyParams:
        x = ctx.input(0)
        data = np.asarray(x.data)
        sparsity = getattr(x, "sparsity", None)
        if sparsity is not None:
            try:
                dense = densify(data, tuple(x.shape), sparsity, x.name)
            except ModelFormatError as e:
                raise ctx.fail(str(e)) from None
        elif data.size == x.size:
            dense = data.reshape(x.shape)  # already expanded by the interpreter
        else:
            raise ctx.fail(f"input {x.name!r} holds {data.size} values for shape {x.shape} and no sparsity")
        ctx.set_output_shape(0, x.shape)
        return DensifyParams(dense)

    def eval(self, params: DensifyParams, inputs, outputs):
        np.copyto(outputs[0], params.dense)
