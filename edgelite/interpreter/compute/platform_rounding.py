"""Which LiteRT build the GEMM-backed int8 kernels match: x86 or ARM.

LiteRT's builds for x86 and for ARM requantize the int32 sums of CONV_2D and
FULLY_CONNECTED (int8 and uint8) differently, so the same model gives outputs one step
apart on a few elements (about 1 in 1000-4000). Measured on ai-edge-litert 2.3
(``tests/arm64/probe_rounding.py``: each op replayed on LiteRT's own inputs, its
aarch64 wheel run under qemu on an emulated Cortex-A76 and A72):

* **x86**: ``SaturatingRoundingDoublingHighMul`` then a right shift rounding ties
  toward +infinity (``fixedpoint.ROUND_DOUBLE_UP``, two roundings);
* **ARM** (aarch64): one rounding of the 64-bit product,
  ``(x * q + 2**(30 - shift)) >> (31 - shift)`` (``fixedpoint.ROUND_SINGLE``: what
  ruy's ``MultiplyByQuantizedMultiplier`` computes; LiteRT's ARM builds do their
  GEMMs in ruy). It matched every element of every probed op, multipliers in [0.5, 2)
  included, except int8 products of one destination column (a one-pixel CONV_2D, a
  batch-1 FULLY_CONNECTED) of depth 8 or more: LiteRT's ARM GEMV takes those and rounds
  as x86 does (``gemm_mode``'s ``cols``/``rows``/``depth``; ``tests/arm64/probe_gemv.py``).

The two differ only where the x86 form's first rounding carries into a tie of its
second: there the x86 value is exactly one above the ARM one (``x86 - arm`` is 0 or 1,
before clamping). DEPTHWISE_CONV_2D (LiteRT's own NEON loops, not a GEMM) rounds the
same on both (``ROUND_DOUBLE_UP``), and so do the other quantized kernels as far as
measured.

edgelite follows the LiteRT of the machine it runs on, so that on a Raspberry Pi its
results equal LiteRT's on that Pi bit for bit: ``EDGELITE_INT8_ROUNDING`` =
``auto`` (default: ``arm`` on ARM machines, ``x86`` elsewhere), ``arm`` or ``x86``
(e.g. to reproduce on a PC what a Pi computes). Read when a model is prepared
(``allocate_tensors``).

Example:
    >>> import os
    >>> from edgelite.interpreter.compute import fixedpoint as fp, platform_rounding
    >>> os.environ["EDGELITE_INT8_ROUNDING"] = "arm"
    >>> platform_rounding.gemm_mode() == fp.ROUND_SINGLE
    True
    >>> del os.environ["EDGELITE_INT8_ROUNDING"]
"""

from __future__ import annotations

import os
import platform

from edgelite.interpreter.compute import fixedpoint as fp

ENV = "EDGELITE_INT8_ROUNDING"
TARGETS = ("x86", "arm")


def host_target() -> str:
    """``"arm"`` on ARM machines (aarch64, arm64, armv7l/armv8l), else ``"x86"``."""
    machine = platform.machine().lower()
    return "arm" if machine.startswith(("aarch64", "arm")) else "x86"


def target() -> str:
    """The LiteRT build followed: ``EDGELITE_INT8_ROUNDING``, or the host's.

    Raises:
        ValueError: the variable holds something other than auto, x86 or arm.
    """
    want = os.environ.get(ENV, "").strip().lower()
    if want in ("", "auto"):
        return host_target()
    if want not in TARGETS:
        raise ValueError(f"{ENV}={want!r}: expected auto, x86 or arm")
    return want


# LiteRT's ARM builds send an int8 product whose destination has one column to their own
# NEON GEMV (``cpu_backend_gemm``'s ``CustomGemv``: at least 4 rows, at least 8 columns of
# depth) instead of ruy; it rounds twice, as the x86 build does. Measured under qemu
# (``tests/arm64/probe_gemv.py``, CONV_2D of one output pixel and FULLY_CONNECTED of batch 1,
# 288 rows, 30 inputs each): depth 8, 16, 48 match ``ROUND_DOUBLE_UP`` on every element and
# the single form on none of the differing ones; depth 6 and 7 match the single form.
GEMV_MIN_ROWS = 4
GEMV_MIN_DEPTH = 8


def gemm_mode(*, cols: int | None = None, rows: int | None = None, depth: int | None = None,
              int8: bool = False) -> int:
    """The ``fixedpoint.ROUND_*`` code of CONV_2D and FULLY_CONNECTED (int8, uint8).

    The module-wide single-rounding switch (``fixedpoint.SINGLE_ROUNDING``) wins; else, for
    ARM, ``ROUND_SINGLE`` (ruy), except an int8 product of one destination column (``cols``:
    output pixels times batch, or FULLY_CONNECTED's batch) with at least ``GEMV_MIN_ROWS``
    rows (output channels) and ``GEMV_MIN_DEPTH`` depth, which LiteRT's ARM GEMV rounds
    as x86 does; for x86, ``fixedpoint.gemm_mode()`` (``ROUND_DOUBLE_UP``).
    """
    if fp.single_rounding_default():
        return fp.ROUND_SINGLE
    if target() == "arm":
        gemv = int8 and cols == 1 and (rows or 0) >= GEMV_MIN_ROWS and (depth or 0) >= GEMV_MIN_DEPTH
        return fp.gemm_mode() if gemv else fp.ROUND_SINGLE
    return fp.gemm_mode()


__all__ = ["ENV", "TARGETS", "GEMV_MIN_ROWS", "GEMV_MIN_DEPTH", "host_target", "target", "gemm_mode"]
