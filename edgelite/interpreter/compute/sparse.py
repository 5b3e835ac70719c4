"""Turning stored constant encodings into the dense arrays kernels read.

Two encodings reach the interpreter from ``.tflite`` files:

* **TACO sparsity** (``Tensor.sparsity``): the buffer holds only the kept values; the
  tensor's ``traversal_order``, ``block_map`` and per-dimension ``dim_metadata``
  (DENSE with a size, or SPARSE_CSR with segment and index vectors) say where each
  one goes. Dimensions ``0..n-1`` of the traversal are the original dimensions
  (divided by their block size when blocked); dimensions ``n..`` are the block
  dimensions, ``block_map[k]`` naming the original dimension block ``k`` splits.
* **INT4**: two signed 4-bit values per byte, low nibble first.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.sparse import unpack_int4
    >>> unpack_int4(np.array([0x21, 0x0F], np.uint8), (3,))
    array([ 1,  2, -1], dtype=int8)
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ModelFormatError

_DENSE = 0


def unpack_int4(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unpack low-nibble-first signed 4-bit values into an int8 array of ``shape``."""
    raw = np.asarray(packed, dtype=np.uint8).reshape(-1)
    count = int(np.prod(shape, dtype=np.int64))
    nibbles = np.empty(raw.size * 2, dtype=np.uint8)
    nibbles[0::2] = raw & 0x0F
    nibbles[1::2] = raw >> 4
    values = nibbles[:count].astype(np.int8)
    values[values > 7] -= 16
    return values.reshape(shape)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity, name: str = "") -> np.ndarray:
    """Expand a TACO-encoded constant into a dense array of ``shape``.

    Args:
        values: the kept values, in traversal order (the tensor's buffer).
        shape: the dense shape (the tensor's ``shape``).
        sparsity: a ``edgelite.schema.model.SparsityParameters``.
        name: tensor name, for error messages.

    Returns:
        A new dense array of ``values.dtype``; positions not stored are zero.

    Raises:
        ModelFormatError: when the encoding does not fit the shape or the values.
    """
    n = len(shape)
    order = list(sparsity.traversal_order) or list(range(n))
    block_map = list(sparsity.block_map)
    dims = list(sparsity.dim_metadata)
    if len(order) != n + len(block_map) or len(dims) != len(order) or sorted(order) != list(range(len(order))):
        raise ModelFormatError(
            f"tensor {name!r}: sparsity has traversal_order {order}, block_map {block_map} and "
            f"{len(dims)} dim_metadata entries for a rank-{n} tensor"
        )
    # Size of each expanded dimension (original dims divided by their block size).
    block_size = {}
    for k, orig in enumerate(block_map):
        level = order.index(n + k)
        block_size[orig] = int(dims[level].dense_size)
        if block_size[orig] <= 0 or orig >= n or shape[orig] % block_size[orig]:
            raise ModelFormatError(f"tensor {name!r}: block size {block_size[orig]} does not divide dimension {orig}")

    # Walk the levels with every stored position at once: `pos` is the position in
    # the current level's segment space, `coords[:, level]` the coordinate taken.
    pos = np.zeros(1, dtype=np.int64)
    coords = np.zeros((1, 0), dtype=np.int64)
    for level, dm in enumerate(dims):
        if dm.format == _DENSE:
            size = int(dm.dense_size)
            pos = (pos[:, None] * size + np.arange(size, dtype=np.int64)).reshape(-1)
            new = np.tile(np.arange(size, dtype=np.int64), coords.shape[0])
            coords = np.repeat(coords, size, axis=0)
        else:
            seg = np.asarray(dm.array_segments, dtype=np.int64)
            idx = np.asarray(dm.array_indices, dtype=np.int64)
            if pos.size and pos.max() + 1 >= seg.size:
                raise ModelFormatError(f"tensor {name!r}: CSR segments too short at level {level}")
            starts, stops = seg[pos], seg[pos + 1]
            counts = stops - starts
            if np.any(counts < 0) or (stops.size and stops.max() > idx.size):
                raise ModelFormatError(f"tensor {name!r}: CSR segments out of range at level {level}")
            total = int(counts.sum())
            # Concatenated aranges starts[i]..stops[i].
            offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            pos = np.arange(total, dtype=np.int64) + offsets
            new = idx[pos]
            coords = np.repeat(coords, counts, axis=0)
        coords = np.concatenate([coords, new[:, None]], axis=1)

    flat_values = np.asarray(values).reshape(-1)
    if pos.size != flat_values.size:
        raise ModelFormatError(
            f"tensor {name!r}: sparsity encodes {pos.size} values but the buffer holds {flat_values.size}"
        )
    dense_index = []
    for d in range(n):
        c = coords[:, order.index(d)]
        if d in block_size:
            c = c * block_size[d] + coords[:, order.index(n + block_map.index(d))]
        if c.size and (c.min() < 0 or c.max() >= shape[d]):
            raise ModelFormatError(f"tensor {name!r}: sparse index out of range in dimension {d}")
        dense_index.append(c)
    out = np.zeros(shape, dtype=flat_values.dtype)
    if n:
        out[tuple(dense_index)] = flat_values[pos]
    return out
