"""What an int8 GEMM micro-kernel flavour (one instruction set) tells the shared driver.

:mod:`edgelite.interpreter.compute.simd_gemm` walks the tiles, packs the weights and
requantizes; a flavour module (``gemm_vnni``, ``gemm_avx2``) says how wide its vectors
are, how many rows and vectors fit its registers, and emits its multiply-add as LLVM IR
through the hooks below (``gemm_arm`` emits its whole tile instead: NEON keeps two
accumulators per vector). Adding an instruction set is adding one such module and
naming it in ``simd_gemm.FLAVOURS``.

Example:
    >>> from edgelite.interpreter.compute.gemm_vnni import VNNI
    >>> VNNI.lanes, VNNI.k_step, VNNI.input_offset
    (16, 4, 128)
"""

from __future__ import annotations

from typing import Callable

from edgelite.quick_dataclass import dataclass


@dataclass(frozen=True)
class Flavour:
    """One micro-kernel family: its vector shape, tiles and limits."""

    name: str
    lanes: int  # int32 accumulator lanes per vector
    k_step: int  # depth steps per multiply-add instruction (4 bytes / 2 int16)
    vec_elems: int  # packed weight elements per vector (lanes * k_step)
    w_dtype: type  # dtype of the packed weights
    tile_rows: dict  # NR -> MR: MR * NR accumulators + NR weights + a broadcast fit the registers
    single_row: tuple  # NR tried, widest first, for one-row tiles
    max_depth: int  # K up to which no int32 partial sum can overflow
    cpu_flags: frozenset  # /proc/cpuinfo flags needed
    llvm_features: tuple  # the same as llvmlite's host feature names
    input_offset: int  # added to every activation as read (VNNI reads x + 128 as unsigned)
    widen_rows: bool  # the driver widens int8 rows to int16 once per row tile
    # LLVM IR hooks (llvmlite's ``ir`` module is passed in: it is imported lazily):
    madd_signature: Callable  # (ir, vacc) -> (operand vector type, intrinsic name, function type)
    load_word: Callable  # (builder, ir, ptr) -> the int32 word of one row's k-step, as read
    as_operand: Callable  # (builder, broadcast int32 vector, operand type) -> operand
    madd: Callable  # (builder, fn, acc, a, b) -> acc + a . b
    arch: str = "x86"  # "x86", or "arm64": then cpu_flags are gemm_arm.cpu_features() names and
    # gemm_arm emits the whole tile (the four IR hooks above are None)
