"""The AArch64 flavours of the int8 GEMM micro-kernel: dot product and plain NEON.

``simd_gemm`` owns the GEMM (flavour choice, weight packing, the driver that walks the
tiles and requantizes); this module gives it, for 64-bit ARM, the two flavours, the feature test
and the register-tile micro-kernel, as LLVM IR. Both compute the exact int32 sums
``acc[m, n] = sum_k x[m, k] * w[n, k]`` of signed int8 operands, like the AVX2 flavour
(so the bias correction is ``-x_zp * sum_k w[n, k]``, no ``+ 128``):

* ``"dotprod"`` (ARMv8.2 dot product, ``asimddp``: Cortex-A76 in the Raspberry Pi 5, most
  phones since 2019): ``sdot v.4s, w.16b, x.16b`` multiplies 4 signed bytes by 4 signed
  bytes and adds the four products to each of 4 int32 lanes, 16 multiply-adds per
  instruction. Weights packed as int8 ``[n_tiles][K/4][NR][4 lanes][4]`` (one 16-byte
  vector per 4 channels and 4 depth steps, the VNNI layout on 4 lanes); a row's 4 bytes
  are broadcast to all lanes.
* ``"neon"`` (plain ARMv8 Advanced SIMD: Cortex-A72 in the Raspberry Pi 4, Cortex-A53/A55):
  ``smull``/``smull2`` multiply 8 byte pairs into exact int16 products
  (``|x w| <= 16384``) and ``sadalp`` adds neighbouring products into int32 lanes, 16
  multiply-adds per 4 instructions. Weights packed as int8 ``[n_tiles][K/2][NR][8 lanes][2]``
  (one 16-byte vector per 8 channels and 2 depth steps, held as two int32x4 accumulators);
  a row's 2 bytes are broadcast. ``smlal`` on int16 pairs (ruy's trick of summing two
  products in int16 first) is not used: ``2 * 128 * 128`` overflows int16 when both
  operands can be -128, which int8 activations against activations (BATCH_MATMUL) can.

No product, pair sum or 4-sum overflows, and int32 lanes wrap alike in any order, so
the sums equal the x86 flavours' bit for bit; ``simd_gemm``'s epilogue then
requantizes them the same way on every flavour.

Chosen at run time from the kernel's HWCAP bits (``getauxval(AT_HWCAP)``; under
qemu-user, the emulated core's), falling back to ``/proc/cpuinfo``'s ``Features``. The
dot-product flavour also needs Numba's LLVM to target a dot-product core (it reads the
host CPU from ``/proc/cpuinfo``), else the ``sdot`` intrinsic could not be compiled.
``EDGELITE_INT8_GEMM=dotprod|neon|off`` overrides (see ``simd_gemm``).

Example:
    >>> from edgelite.interpreter.compute import gemm_arm
    >>> sorted(gemm_arm.KINDS)
    ['dotprod', 'neon']
    >>> asm = gemm_arm.tile_asm("dotprod", 2, 2, cpu="cortex-a76")   # compiles for AArch64 anywhere
    >>> asm.count("sdot") >= 4
    True
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from edgelite.interpreter.compute.simd_flavour import Flavour

# kind -> (lanes per vector, depth steps per vector, int32x4 accumulators per vector,
# /proc/cpuinfo features needed). The Flavour of the same name below agrees (a test checks).
KINDS = {
    "dotprod": (4, 4, 1, frozenset({"asimd", "asimddp"})),
    "neon": (8, 2, 2, frozenset({"asimd"})),
}

# 32 vector registers; NEON holds two int32x4 accumulators and two weight halves per vector
# (its 3x4 tile spilled: tests/interpreter/compute/test_gemm_arm.py checks every tile)
_ARM = dict(input_offset=0, widen_rows=False, madd_signature=None, load_word=None, as_operand=None, madd=None,
            arch="arm64")
DOTPROD = Flavour("dotprod", 4, 4, 16, np.int8, {1: 12, 2: 8, 3: 6, 4: 5}, (8, 4, 2), 131071,
                  frozenset({"asimd", "asimddp"}), ("dotprod",), **_ARM)
NEON = Flavour("neon", 8, 2, 16, np.int8, {1: 12, 2: 6, 3: 4, 4: 2}, (8, 4, 2), 131071,
               frozenset({"asimd"}), ("neon",), **_ARM)

_AT_HWCAP = 16
# Bits of AT_HWCAP on Linux arm64 (arch/arm64/include/uapi/asm/hwcap.h), named as in
# /proc/cpuinfo's Features line.
_HWCAP_BITS = {"fp": 0, "asimd": 1, "aes": 3, "pmull": 4, "sha1": 5, "sha2": 6, "crc32": 7, "atomics": 8,
               "fphp": 9, "asimdhp": 10, "asimdrdm": 12, "asimddp": 20, "sve": 22}


def cpu_features(hwcap: int | None = None) -> frozenset[str]:
    """The CPU's AArch64 features, named as in ``/proc/cpuinfo`` (``asimd``, ``asimddp``, ...).

    From ``hwcap`` when given (for tests), else ``getauxval(AT_HWCAP)`` (what the kernel,
    or qemu-user, says this process may use), else the ``Features`` line of ``/proc/cpuinfo``;
    empty where neither exists (e.g. macOS).
    """
    if hwcap is None:
        hwcap = _getauxval_hwcap()
    if hwcap:
        return frozenset(name for name, bit in _HWCAP_BITS.items() if hwcap >> bit & 1)
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Features"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _getauxval_hwcap() -> int:
    try:
        libc = ctypes.CDLL(None)
        fn = libc.getauxval
    except (OSError, AttributeError):  # not glibc/musl on Linux
        return 0
    fn.restype, fn.argtypes = ctypes.c_ulong, [ctypes.c_ulong]
    return int(fn(_AT_HWCAP))


def supported(kind: str) -> bool:
    """Whether the micro-kernel ``kind`` can run here: the CPU has its features and, for
    ``dotprod``, Numba's LLVM targets a core with them (``NUMBA_CPU_NAME`` unset)."""
    if not KINDS[kind][3] <= cpu_features():
        return False
    if kind == "dotprod":
        if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
            return False
        try:
            import llvmlite.binding as llvm

            feats = llvm.get_host_cpu_features()
            name = llvm.get_host_cpu_name()
        except (ImportError, RuntimeError):
            return False
        return llvm_targets_dotprod(name, dict(feats))
    return True


# LLVM's AArch64 CPU names whose definition includes the dot-product extension (ARMv8.2+
# cores with it; llvm/lib/Target/AArch64/AArch64Processors.td). On Linux, LLVM names the host
# CPU from /proc/cpuinfo's "CPU part" but reads only a few features from it (aes, crc, lse,
# neon, sha2, ...; not dotprod), so Numba, which compiles for that name, can emit ``sdot``
# exactly when the name is one of these or a feature says so.
_DOTPROD_CPUS = frozenset(
    "cortex-a55 cortex-a65 cortex-a65ae cortex-a75 cortex-a76 cortex-a76ae cortex-a77 cortex-a78 cortex-a78ae "
    "cortex-a78c cortex-a510 cortex-a520 cortex-a710 cortex-a715 cortex-a720 cortex-a725 cortex-r82 cortex-x1 "
    "cortex-x1c cortex-x2 cortex-x3 cortex-x4 cortex-x925 neoverse-e1 neoverse-n1 neoverse-n2 neoverse-n3 "
    "neoverse-512tvb neoverse-v1 neoverse-v2 neoverse-v3 ampere1 ampere1a ampere1b carmel exynos-m4 exynos-m5 "
    "kryo tsv110 oryon-1 apple-a13 apple-a14 apple-a15 apple-a16 apple-a17 apple-m1 apple-m2 apple-m3 apple-m4".split()
)


def llvm_targets_dotprod(cpu_name: str, features: dict) -> bool:
    """Whether LLVM, compiling for ``cpu_name`` with ``features`` (llvmlite's host values),
    may emit the dot-product instructions."""
    if "dotprod" in features:
        return bool(features["dotprod"])
    return cpu_name in _DOTPROD_CPUS


def emit_tile(builder, kind: str, mr: int, nr: int, a_ptr, a_off, lda, rows, b_ptr, b_off, ks, c_ptr) -> None:
    """Emit, at ``builder``, the ``mr x nr`` register tile of flavour ``kind``.

    With ``L, S`` the kind's lanes and depth steps, ``A[r] = a_ptr + a_off + min(r, rows-1) * lda``
    (int8) and ``B = b_ptr + b_off`` (int8, ``pack_weights``' layout)::

        c[r * nr*L + j] = sum_{kk < ks} sum_{t < S} A[r][S*kk + t] * B[(kk*nr*L + j)*S + t]

    for ``r < mr``, ``j < nr*L`` as int32 (``c_ptr``: i32*); offsets are i64 values.
    """
    from llvmlite import ir

    lanes, step, per_vec, _ = KINDS[kind]
    i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
    v4i32, v16i8 = ir.VectorType(i32, 4), ir.VectorType(i8, 16)
    module = builder.module

    def declare(name, ret, args):
        fn = module.globals.get(name)
        return fn if fn is not None else ir.Function(module, ir.FunctionType(ret, args), name=name)

    if kind == "dotprod":
        sdot = declare("llvm.aarch64.neon.sdot.v4i32.v16i8", v4i32, [v4i32, v16i8, v16i8])
        word_t, splat_t = i32, v4i32
    else:
        v8i8, v8i16 = ir.VectorType(i8, 8), ir.VectorType(i16, 8)
        smull = declare("llvm.aarch64.neon.smull.v8i16", v8i16, [v8i8, v8i8])
        saddlp = declare("llvm.aarch64.neon.saddlp.v4i32.v8i16", v4i32, [v8i16])
        word_t, splat_t = i16, ir.VectorType(i16, 8)
        low = ir.Constant(ir.VectorType(i32, 8), list(range(8)))
        high = ir.Constant(ir.VectorType(i32, 8), list(range(8, 16)))

    last = builder.sub(rows, ir.Constant(i64, 1))
    row_ptrs = []
    for r in range(mr):
        rr = ir.Constant(i64, r)
        use = builder.select(builder.icmp_signed("<", rr, rows), rr, last)
        row_ptrs.append(builder.gep(a_ptr, [builder.add(a_off, builder.mul(use, lda))]))
    b_base = builder.gep(b_ptr, [b_off])
    n_acc = mr * nr * per_vec
    zero = ir.Constant(v4i32, None)
    undef = ir.Constant(splat_t, ir.Undefined)
    splat_mask = ir.Constant(ir.VectorType(i32, splat_t.count), [0] * splat_t.count)

    pre = builder.block
    loop = builder.append_basic_block("armgemm.loop")
    done = builder.append_basic_block("armgemm.done")
    builder.branch(loop)
    builder.position_at_end(loop)
    kk = builder.phi(i64, "kk")
    kk.add_incoming(ir.Constant(i64, 0), pre)
    # the row and weight pointers advance by themselves, so that every load can be a
    # post-increment one (ld1r has no register-offset form)
    a_cur, b_cur = [], builder.phi(b_base.type, "bptr")
    b_cur.add_incoming(b_base, pre)
    for r in range(mr):
        phi = builder.phi(row_ptrs[r].type, f"arow{r}")
        phi.add_incoming(row_ptrs[r], pre)
        a_cur.append(phi)
    accs = []
    for idx in range(n_acc):
        phi = builder.phi(v4i32, f"acc{idx}")
        phi.add_incoming(zero, pre)
        accs.append(phi)
    bvecs = []
    for j in range(nr):
        p = builder.gep(b_cur, [ir.Constant(i64, 16 * j)])
        ld = builder.load(builder.bitcast(p, v16i8.as_pointer()))
        ld.align = 1
        bvecs.append(ld)
    if kind == "neon":
        halves = [(builder.shuffle_vector(b, b, low), builder.shuffle_vector(b, b, high)) for b in bvecs]
    new = []
    for r in range(mr):
        word = builder.load(builder.bitcast(a_cur[r], word_t.as_pointer()))
        word.align = 1
        vec = builder.insert_element(undef, word, ir.Constant(i32, 0))
        vec = builder.shuffle_vector(vec, undef, splat_mask)  # the row's S bytes in every lane
        if kind == "dotprod":
            x16 = builder.bitcast(vec, v16i8)
            for j in range(nr):
                new.append(builder.call(sdot, [accs[r * nr + j], bvecs[j], x16]))
        else:
            x16 = builder.bitcast(vec, v16i8)
            # both halves of both operands, so LLVM can use smull2 on the high ones
            x8 = (builder.shuffle_vector(x16, x16, low), builder.shuffle_vector(x16, x16, high))
            for j in range(nr):
                for h in range(2):  # lanes 0-3 (smull) and 4-7 (smull2)
                    prod = builder.call(smull, [halves[j][h], x8[h]])
                    acc = accs[(r * nr + j) * 2 + h]
                    new.append(builder.add(acc, builder.call(saddlp, [prod])))  # sadalp
    nxt = builder.add(kk, ir.Constant(i64, 1))
    cur = builder.block
    kk.add_incoming(nxt, cur)
    b_cur.add_incoming(builder.gep(b_cur, [ir.Constant(i64, 16 * nr)]), cur)
    for phi in a_cur:
        phi.add_incoming(builder.gep(phi, [ir.Constant(i64, step)]), cur)
    for phi, v in zip(accs, new):
        phi.add_incoming(v, cur)
    builder.cbranch(builder.icmp_signed("<", nxt, ks), loop, done)
    builder.position_at_end(done)
    cvec = builder.bitcast(c_ptr, v4i32.as_pointer())
    for idx, v in enumerate(new):
        st = builder.store(v, builder.gep(cvec, [ir.Constant(i64, idx)]))
        st.align = 4


def make_tile(kind: str, mr: int, nr: int):
    """A Numba intrinsic ``tile(a, a_off, lda, rows, b, b_off, ks, c)`` running
    :func:`emit_tile` on the arrays' data (``a``, ``b`` int8, ``c`` int32, the rest int64)."""
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic
    def tile(typingctx, a, a_off, lda, rows, b, b_off, ks, c):
        sig = types.void(a, a_off, lda, rows, b, b_off, ks, c)

        def codegen(context, builder, signature, args):
            a_v, a_off_v, lda_v, rows_v, b_v, b_off_v, ks_v, c_v = args
            data = [context.make_array(signature.args[i])(context, builder, args[i]).data for i in (0, 4, 7)]
            emit_tile(builder, kind, mr, nr, data[0], a_off_v, lda_v, rows_v, data[1], b_off_v, ks_v, data[2])
            return context.get_dummy_value()

        return sig, codegen

    return tile


def tile_asm(kind: str, mr: int, nr: int, cpu: str = "cortex-a76") -> str:
    """The AArch64 assembly of one tile as a standalone function, compiled with LLVM for
    ``cpu`` on any host (llvmlite carries the AArch64 back end): to read or count the
    instructions of the inner loop (``benchmarks/bench_arm_gemm.py``) without an ARM machine."""
    import llvmlite.binding as llvm
    from llvmlite import ir

    i8p, i32p, i64 = ir.IntType(8).as_pointer(), ir.IntType(32).as_pointer(), ir.IntType(64)
    module = ir.Module(name=f"tile_{kind}_{mr}x{nr}")
    module.triple = "aarch64-unknown-linux-gnu"
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i64, i64, i64, i8p, i64, i64, i32p])
    fn = ir.Function(module, fnty, name="tile")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    emit_tile(builder, kind, mr, nr, *fn.args)
    builder.ret_void()
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    features = "+neon,+dotprod" if kind == "dotprod" else "+neon"
    tm = llvm.Target.from_triple(module.triple).create_target_machine(cpu=cpu, features=features, opt=3)
    mod = llvm.parse_assembly(str(module))
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return tm.emit_assembly(mod)


def inner_loop(asm: str) -> list[str]:
    """The instructions of the tile's k loop (the basic block that branches back to itself)."""
    lines = [ln.strip() for ln in asm.splitlines()]
    label, body = None, []
    for ln in lines:
        if ln.endswith(":") and not ln.startswith("."):
            label, body = ln[:-1], []
        elif ln.startswith(".LBB") and ln.endswith(":"):
            label, body = ln[:-1], []
        elif ln and not ln.startswith((".", "//", "@")):
            body.append(ln.split("//")[0].strip())
            if label and ln.startswith("b.") and ln.split()[-1] == label:
                return body
    raise ValueError("no self-looping block in the tile's assembly")
