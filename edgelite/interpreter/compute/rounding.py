"""Rounding half away from zero (C's ``round`` / ``std::round``), exactly, in one place.

LiteRT rounds quantized values with C's ``round``: ties go away from zero. The obvious
``floor(|v| + 0.5)`` is wrong when the addition itself rounds (``0.49999999999999994 +
0.5 == 1.0`` in float64), so these take the fraction apart instead:
``floor(|v|) + (|v| - floor(|v|) >= 0.5)``, with the sign put back. (Kernels that follow
LiteRT's *vectorized* loops round half to even with ``rint`` instead, on purpose; their
docstrings say so. Fixed-point rounding of integers is in ``fixedpoint``.)

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute.rounding import round_half_away, round_half_away_scalar
    >>> round_half_away(np.array([-2.5, -0.5, 0.49999999999999994, 1.5])).tolist()
    [-3.0, -1.0, 0.0, 2.0]
    >>> round_half_away_scalar(2.5), round_half_away_scalar(-0.49999999999999994)
    (3.0, -0.0)
"""

from __future__ import annotations

import math

import numpy as np


def round_half_away(v) -> np.ndarray:
    """``round(v)`` element-wise, ties away from zero, as float64 (inf and NaN kept)."""
    v = np.asarray(v, np.float64)
    a = np.abs(v)
    f = np.floor(a)
    with np.errstate(invalid="ignore"):  # inf - inf: the result stays inf / NaN
        return np.copysign(f + (a - f >= 0.5), v)


def round_half_away_scalar(v: float) -> float:
    """``round(v)`` of one Python float, ties away from zero (a float: may be huge;
    inf and NaN are returned as they are)."""
    if not math.isfinite(v):
        return v
    a = abs(v)
    f = math.floor(a)
    return math.copysign(f + (1.0 if a - f >= 0.5 else 0.0), v)
