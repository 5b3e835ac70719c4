"""The AArch64 micro-kernels: feature detection and the code LLVM makes of them.

Their results are checked bit for bit by ``test_simd_gemm`` (and the whole-model tests)
on an ARM CPU, which here means under emulation: ``tests/arm64/run.sh``. These tests run
anywhere llvmlite carries LLVM's AArch64 back end: they compile every register tile the
flavours use for the Raspberry Pi 5's and 4's cores and check the inner loop is made of
the intended instructions and keeps its accumulators in registers.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import gemm_arm, simd_gemm

pytest.importorskip("llvmlite", reason="the AArch64 assembly checks need llvmlite (Numba's LLVM)")


def _aarch64_backend() -> bool:
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    try:
        llvm.Target.from_triple("aarch64-unknown-linux-gnu")
    except RuntimeError:
        return False
    return True


needs_backend = pytest.mark.skipif(not _aarch64_backend(), reason="this llvmlite has no AArch64 back end")


def test_cpu_features_from_hwcap_bits():
    # HWCAP of a Cortex-A76 (Pi 5) has ASIMDDP (bit 20); a Cortex-A72's (Pi 4) has not
    a76 = gemm_arm.cpu_features(hwcap=(1 << 0) | (1 << 1) | (1 << 7) | (1 << 20))
    assert a76 == {"fp", "asimd", "crc32", "asimddp"}
    a72 = gemm_arm.cpu_features(hwcap=0b11)
    assert a72 == {"fp", "asimd"}
    assert gemm_arm.KINDS["dotprod"][3] <= a76 and not gemm_arm.KINDS["dotprod"][3] <= a72
    assert gemm_arm.KINDS["neon"][3] <= a72


def test_dotprod_needs_llvm_to_target_it():
    # what llvmlite reports under qemu as a Cortex-A76: no dotprod feature, the CPU name decides
    a76 = {"aes": True, "crc": True, "fp-armv8": True, "lse": True, "neon": True, "sha2": True, "sve": False}
    assert gemm_arm.llvm_targets_dotprod("cortex-a76", a76)
    assert not gemm_arm.llvm_targets_dotprod("cortex-a72", {"neon": True})
    assert not gemm_arm.llvm_targets_dotprod("generic", {"neon": True})
    assert not gemm_arm.llvm_targets_dotprod("cortex-a76", {"dotprod": False})  # disabled explicitly
    assert gemm_arm.llvm_targets_dotprod("generic", {"dotprod": True})


@pytest.mark.parametrize("kind", sorted(gemm_arm.KINDS))
def test_kinds_agree_with_the_gemm_flavours(kind):
    lanes, step, per_vec, features = gemm_arm.KINDS[kind]
    fl = simd_gemm.FLAVOURS[kind]
    assert (fl.lanes, fl.k_step, fl.vec_elems, fl.arch) == (lanes, step, 16, "arm64")
    assert np.dtype(fl.w_dtype) == np.int8 and fl.cpu_flags == features
    assert per_vec * 4 == lanes  # int32x4 accumulators per packed vector


def test_arm_flavours_not_chosen_on_other_cpus():
    if simd_gemm._ARCH == "arm64":
        pytest.skip("on an ARM CPU the ARM flavours are the ones chosen")
    assert not simd_gemm.supported("dotprod") and not simd_gemm.supported("neon")


def _tiles(name):
    fl = simd_gemm.FLAVOURS[name]
    return sorted({(mr, nr) for nr, mr in fl.tile_rows.items()} | {(1, nr) for nr in (1,) + fl.single_row})


@needs_backend
@pytest.mark.parametrize("mr, nr", _tiles("dotprod"))
def test_dotprod_tile_is_sdot_in_registers(mr, nr):
    """Cortex-A76 (Pi 5): one ``sdot`` per accumulator and depth step of 4 (LLVM may unroll
    the loop: a whole number of steps per pass), no stack traffic (spills) in the loop."""
    body = gemm_arm.inner_loop(gemm_arm.tile_asm("dotprod", mr, nr, cpu="cortex-a76"))
    ops = [ln.split()[0] for ln in body]
    assert ops.count("sdot") % (mr * nr) == 0 and ops.count("sdot") > 0
    assert ops.count("ld1r") == ops.count("sdot") // nr  # one broadcast per row and step
    assert not any("[sp" in ln for ln in body), body
    assert "smull" not in ops and "mul" not in ops


@needs_backend
@pytest.mark.parametrize("mr, nr", _tiles("neon"))
def test_neon_tile_is_smull_sadalp_in_registers(mr, nr):
    """Cortex-A72 (Pi 4): ``smull``(2) + ``sadalp`` per 4 lanes and 2 depth steps, nothing
    from ARMv8.2 (an A72 would raise SIGILL), no spills."""
    body = gemm_arm.inner_loop(gemm_arm.tile_asm("neon", mr, nr, cpu="cortex-a72"))
    ops = [ln.split()[0] for ln in body]
    steps = ops.count("sadalp") // (2 * mr * nr)
    assert steps > 0 and ops.count("sadalp") == 2 * mr * nr * steps
    assert ops.count("smull") + ops.count("smull2") == 2 * mr * nr * steps
    assert "sdot" not in ops and "udot" not in ops
    assert not any("[sp" in ln for ln in body), body


def test_inner_loop_parser():
    asm = "tile:\n\tmov x8, xzr\n.LBB0_1:\n\tldr q0, [x1]\n\tsdot v0.4s, v1.16b, v2.16b\n\tb.lt .LBB0_1\n\tret\n"
    assert gemm_arm.inner_loop(asm) == ["ldr q0, [x1]", "sdot v0.4s, v1.16b, v2.16b", "b.lt .LBB0_1"]
    with pytest.raises(ValueError):
        gemm_arm.inner_loop("tile:\n\tret\n")
