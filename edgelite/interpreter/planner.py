"""Memory planning: place every non-constant tensor of a subgraph in one arena.

Each tensor needs ``size`` bytes from the step that first writes it to the step that
last reads it (its *lifetime*, inclusive, in operator-order steps). Two tensors may
share bytes only when their lifetimes do not overlap. The placement follows LiteRT's
arena planner:

1. order the tensors: those alive for the whole run first (model inputs, outputs and
   anything the caller pins), then by decreasing size, ties broken by earlier first
   use, then by tensor index so the plan is deterministic;
2. place each one at the *best-fitting* gap (the smallest gap that holds it) among
   the already placed tensors whose lifetimes overlap its own, or after the last of
   them when no gap fits;
3. align every offset to ``alignment`` bytes (64, like LiteRT's ``kDefaultTensorAlignment``).

The plan is pure data (offsets and a total), so it can be checked without running a
model: ``tests/interpreter/test_planner.py`` verifies that no two tensors whose lifetimes
overlap share a byte and that the arena is never larger than giving every tensor its
own slot.

Example:
    >>> from edgelite.interpreter.planner import TensorLifetime, plan_arena
    >>> plan = plan_arena([
    ...     TensorLifetime(index=0, size=100, first=0, last=1),
    ...     TensorLifetime(index=1, size=100, first=1, last=2),
    ...     TensorLifetime(index=2, size=100, first=2, last=3),
    ... ])
    >>> plan.offsets[0] == plan.offsets[2], plan.total_bytes
    (True, 256)
"""

from __future__ import annotations

from edgelite.quick_dataclass import dataclass

DEFAULT_ALIGNMENT = 64


@dataclass(frozen=True)
class TensorLifetime:
    """One tensor to place.

    Attributes:
        index: the tensor's index in its subgraph (used as the key of the plan).
        size: bytes needed (0 is allowed: the tensor gets an offset and no bytes).
        first: first step that uses the tensor (written or read), inclusive.
        last: last step that uses the tensor, inclusive (``last >= first``).
        whole_run: placed first, as LiteRT does for inputs, outputs and variables.
            (Its ``first``/``last`` should then span every step.)
    """

    index: int
    size: int
    first: int
    last: int
    whole_run: bool = False

    def overlaps(self, other: "TensorLifetime") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    """Where each tensor lives: ``offsets[index]`` bytes into an arena of ``total_bytes``."""

    offsets: dict[int, int]
    sizes: dict[int, int]
    total_bytes: int
    alignment: int = DEFAULT_ALIGNMENT

    @property
    def naive_bytes(self) -> int:
        """What one aligned slot per tensor would cost (the bound the plan must beat)."""
        return sum(_align(s, self.alignment) for s in self.sizes.values())


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def plan_arena(
    tensors: list[TensorLifetime],
    alignment: int = DEFAULT_ALIGNMENT,
) -> ArenaPlan:
    """Place ``tensors`` in one arena by greedy-by-size best fit.

    Args:
        tensors: one entry per tensor to place; indices must be unique.
        alignment: byte alignment of every offset (a power of two).

    Returns:
        The offsets, the sizes and the arena size (a multiple of ``alignment``).

    Raises:
        ValueError: on a negative size, ``last < first`` or a repeated index.

    Example:
        >>> from edgelite.interpreter.planner import TensorLifetime, plan_arena
        >>> plan_arena([TensorLifetime(0, 10, 0, 0), TensorLifetime(1, 10, 0, 0)]).offsets
        {0: 0, 1: 64}
    """
    if alignment <= 0 or alignment & (alignment - 1):
        raise ValueError(f"alignment must be a power of two, got {alignment}")
    seen: set[int] = set()
    for t in tensors:
        if t.size < 0 or t.last < t.first:
            raise ValueError(f"tensor {t.index}: bad size {t.size} or lifetime [{t.first}, {t.last}]")
        if t.index in seen:
            raise ValueError(f"tensor {t.index} is listed twice")
        seen.add(t.index)

    order = sorted(tensors, key=lambda t: (not t.whole_run, -t.size, t.first, t.index))
    # Placed tensors, kept sorted by offset: (offset, end, lifetime).
    placed: list[tuple[int, int, TensorLifetime]] = []
    offsets: dict[int, int] = {}
    total = 0
    for t in order:
        best_offset = -1
        best_gap = None
        cursor = 0
        for off, end, other in placed:
            if not t.overlaps(other):
                continue
            candidate = _align(cursor, alignment)
            gap = off - candidate
            if gap >= t.size and (best_gap is None or gap < best_gap):
                best_gap, best_offset = gap, candidate
            cursor = max(cursor, end)
        if best_offset < 0:
            best_offset = _align(cursor, alignment)
        offsets[t.index] = best_offset
        end = best_offset + t.size
        total = max(total, end)
        # Insert keeping the list sorted by offset (ties: shorter first, harmless).
        pos = len(placed)
        while pos > 0 and placed[pos - 1][0] > best_offset:
            pos -= 1
        placed.insert(pos, (best_offset, end, t))
    return ArenaPlan(
        offsets=offsets,
        sizes={t.index: t.size for t in tensors},
        total_bytes=_align(total, alignment),
        alignment=alignment,
    )
