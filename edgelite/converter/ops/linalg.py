"""Linear algebra: Det of small matrices.

``Det`` of ``[..., n, n]`` float32 matrices with ``n <= 3`` is the Leibniz sum
``sum_sigma sign(sigma) * prod_i x[i, sigma(i)]``: the matrices flattened to
``[B, n*n]``, one constant-index ``GATHER`` per row ``i`` giving that row's factor of
every permutation (``[B, n!]``), their ``MUL``, a ``MUL`` by the signs and a ``SUM``.
For 2x2 that is ``a*d - b*c``, for 3x3 the six-term rule of Sarrus. The reference
(``numpy.linalg.det``, an LU factorization with partial pivoting) rounds differently:
both are within a few float32 steps of the exact determinant of a well-conditioned
matrix; for a nearly singular one neither float32 result has correct digits.
Larger matrices are refused (an unrolled pivoting LU would be the way there).

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "::Det" in CONVERTERS
    True
"""

from __future__ import annotations

import itertools

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_MAX_N = 3


def _permutation_sign(p) -> int:
    inversions = sum(1 for i in range(len(p)) for j in range(i + 1, len(p)) if p[i] > p[j])
    return -1 if inversions % 2 else 1


@register("Det")
class Det(OpConverter):
    def check(self, node):
        x = node.inputs[0]
        if np.dtype(x.dtype) != np.float32:
            return f"Det on {x.dtype} (float32 only)"
        n, m = x.shape[-2], x.shape[-1]
        if n != m or not 1 <= n <= _MAX_N:
            return f"Det of {n}x{m} matrices (1x1 to {_MAX_N}x{_MAX_N}: the Leibniz sum; larger would need a pivoting LU)"
        return None

    def lower(self, node, out):
        x, y = node.inputs[0], node.outputs[0]
        n = x.shape[-1]
        e = Emitter(out, node.name)
        batch = int(np.prod(x.shape[:-2]))
        flat = e.reshape(x, (batch, n * n))
        perms = list(itertools.permutations(range(n)))
        prod = None
        for i in range(n):
            idx = e.const(np.array([i * n + p[i] for p in perms], np.int32), tag=f"row{i}")
            factor = e.gather(flat, idx, axis=1)
            prod = factor if prod is None else e.mul(prod, factor)
        signs = np.array([_permutation_sign(p) for p in perms], np.float32)
        if (signs != 1).any():
            prod = e.mul(prod, e.const(signs, tag="signs"))
        det = e.reduce("SUM", prod, [1])
        e.reshape(det, y.shape, y=y)
