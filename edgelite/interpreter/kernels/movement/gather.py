"""Indexing by a tensor of indices: GATHER (``axis``, ``batch_dims``), GATHER_ND and
EMBEDDING_LOOKUP (a table of the output's dtype; the int8-table "hybrid" lookup with a
float output is a different kernel).

Pure data movement for every dtype; quantized tables only when the output shares their
scale and zero point.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.movement.gather import gather
    >>> gather(np.arange(6).reshape(2, 3), np.array([[2, 0], [1, 1]]), axis=1, batch_dims=1).tolist()
    [[2, 0], [4, 4]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import InvocationError
from edgelite.interpreter.compute import bound
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import movement_accepts, option

_INDEX_TYPES = (np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int16))


@dataclass(frozen=True)
class GatherParams:
    axis: int
    batch_dims: int


def check_indices(indices: np.ndarray, size: int, op: str) -> None:
    """Run-time index check (LiteRT's GATHER fails its invoke; numpy would wrap negatives)."""
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise InvocationError(f"{op}: index {int(indices.min()) if indices.min() < 0 else int(indices.max())} "
                              f"is out of range [0, {size}) for the gathered axis")


def gather(params: np.ndarray, indices: np.ndarray, axis: int, batch_dims: int, out: np.ndarray | None = None):
    """``tf.gather(params, indices, axis, batch_dims)`` for non-negative ``axis >= batch_dims``."""
    check_indices(indices, params.shape[axis], "GATHER")
    if batch_dims == 0:
        return np.take(params, indices, axis=axis, out=out)
    bshape = params.shape[:batch_dims]
    nb = int(np.prod(bshape, dtype=np.int64))
    p = params.reshape((nb,) + params.shape[batch_dims:])
    ind = indices.reshape((nb,) + indices.shape[batch_dims:])
    shape = bshape + params.shape[batch_dims:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:]
    result = out if out is not None else np.empty(shape, params.dtype)
    r = result.reshape((nb,) + shape[batch_dims:])
    for b in range(nb):
        np.take(p[b], ind[b], axis=axis - batch_dims, out=r[b])
    return result


@register("GATHER")
class Gather(Kernel):
    """Inputs ``(params, indices)``; GatherOptions ``axis`` and ``batchDims``."""

    def accepts(self, ctx: OpContext) -> bool:
        ind = ctx.optional_input(1)
        return ind is not None and ind.dtype in _INDEX_TYPES and movement_accepts(ctx, strings=True)

    def prepare(self, ctx: OpContext) -> GatherParams:
        pshape, ishape = ctx.input(0).shape, ctx.input(1).shape
        batch_dims = int(option(ctx, "batchDims", 0))
        if batch_dims < 0:
            batch_dims += len(ishape)
        axis = int(option(ctx, "axis", 0))
        if axis < 0:
            axis += len(pshape)
        if not 0 <= axis < len(pshape):
            raise ctx.fail(f"axis {option(ctx, 'axis', 0)} is out of range for params of rank {len(pshape)}")
        if not 0 <= batch_dims <= min(axis, len(ishape)):
            raise ctx.fail(f"batch_dims {batch_dims} must be in [0, min(axis {axis}, indices rank {len(ishape)})]")
        if pshape[:batch_dims] != ishape[:batch_dims]:
            raise ctx.fail(f"params {pshape} and indices {ishape} differ in the first {batch_dims} dimensions")
        ctx.set_output_shape(0, pshape[:axis] + ishape[batch_dims:] + pshape[axis + 1:])
        return GatherParams(axis, batch_dims)

    def eval(self, params: GatherParams, inputs, outputs):
        gather(inputs[0], inputs[1], params.axis, params.batch_dims, out=outputs[0])

    def bind(self, params: GatherParams, inputs, outputs):
        """``batch_dims == 0`` as one prepared call (``compute.bound``): ``np.take`` of the
        indices read as unsigned, so a negative index is out of range like any other
        (``mode="raise"`` then refuses it: no separate min/max pass); None otherwise."""
        x, ind, out = inputs[0], inputs[1], outputs[0]
        if params.batch_dims or x.dtype == object or not bound.contiguous(x, ind, out):
            return None
        unsigned = ind.view(ind.dtype.str.replace("i", "u"))
        return [(_take_checked, (x, unsigned, params.axis, out))]


def _take_checked(x: np.ndarray, unsigned: np.ndarray, axis: int, out: np.ndarray) -> None:
    try:
        np.take(x, unsigned, axis, out, "raise")
    except IndexError:
        signed = unsigned.view(unsigned.dtype.str.replace("u", "i"))
        check_indices(signed, x.shape[axis], "GATHER")  # raises InvocationError with the index
        raise


@register("GATHER_ND")
class GatherNd(Kernel):
    """Inputs ``(params, indices)``: ``out[i...] = params[indices[i..., :]]``."""

    def accepts(self, ctx: OpContext) -> bool:
        ind = ctx.optional_input(1)
        return ind is not None and ind.dtype in _INDEX_TYPES and movement_accepts(ctx, strings=True)

    def prepare(self, ctx: OpContext):
        pshape, ishape = ctx.input(0).shape, ctx.input(1).shape
        if len(ishape) < 1 or ishape[-1] > len(pshape):
            raise ctx.fail(f"indices {ishape} need a last dimension of at most params' rank {len(pshape)}")
        ctx.set_output_shape(0, ishape[:-1] + pshape[ishape[-1]:])

    def eval(self, params, inputs, outputs):
        x, ind = inputs[0], inputs[1]
        for d in range(ind.shape[-1]):
            check_indices(ind[..., d], x.shape[d], "GATHER_ND")
        np.copyto(outputs[0], x[tuple(np.moveaxis(ind, -1, 0))])


@register("EMBEDDING_LOOKUP")
class EmbeddingLookup(Kernel):
    """Inputs ``(ids, table)``: ``out[i] = table[ids[i]]``; int32 ids, 1-D."""

    def accepts(self, ctx: OpContext) -> bool:
        ids = ctx.optional_input(0)
        return ids is not None and ids.dtype == np.int32 and movement_accepts(ctx, (1,))

    def prepare(self, ctx: OpContext):
        ids, table = ctx.input(0).shape, ctx.input(1).shape
        if len(ids) != 1 or len(table) < 1:
            raise ctx.fail(f"ids must be 1-D and the table at least 1-D, got {ids} and {table}")
        ctx.set_output_shape(0, ids + table[1:])

    def eval(self, params, inputs, outputs):
        check_indices(inputs[0], inputs[1].shape[0], "EMBEDDING_LOOKUP")
        np.take(inputs[1], inputs[0], axis=0, out=outputs[0])
