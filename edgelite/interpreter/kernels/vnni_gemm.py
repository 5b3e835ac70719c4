"""int8 GEMM on AVX-512 VNNI with the requantization fused into its epilogue.

The quantized CONV_2D and FULLY_CONNECTED kernels need, for every output row ``m``
and channel ``n``::

    acc[m, n] = sum_k x[m, k] * w[n, k]          (int8 x int8 -> int32, exact)
    out[m, n] = clamp(((int32(acc + bias'[n]) * q[n] + add[n]) >> total[n]) + zp, lo, hi)

``vpdpbusd`` multiplies 4 unsigned bytes by 4 signed bytes and adds the four products
to an int32 lane, 64 multiply-adds per instruction (a float32 FMA does 16). Its first
operand is unsigned, so the activations are read as ``x ^ 0x80 == x + 128`` (one
``xor`` per broadcast) and the constant ``128 * sum_k w[n, k]`` is taken off through
the bias: ``sum (x + 128) w - (128 + x_zp) sum w == sum (x - x_zp) w``. No product or
partial sum can overflow int32 for ``K < 65793`` (``|(x + 128) w| <= 32640``), so the
result equals the C kernels' int32 accumulation exactly, in any order.

Layout. The weights are packed once (``pack_weights``) as
``[n_tiles][K/4][NR][16 lanes][4 bytes]``: one 64-byte vector per 16 channels and 4
depth steps, the ``NR`` vectors of a tile adjacent, zero-padded in both K and N. A
micro-kernel (``MR`` rows x ``NR*16`` channels, all accumulators in registers) is
generated as LLVM IR by :func:`_make_tile` and inlined into the Numba driver, which
walks row tiles (in parallel over threads) and channel tiles and requantizes each
finished tile from a small int32 scratch while it is in L1. Rows past ``M`` in the
last row tile read the last valid row again and are not written.

Only where Numba is installed and the CPU (and Numba's target) has AVX-512 F/BW/VNNI
(``available()``); elsewhere the kernels keep their float-BLAS path. The numpy
reference stays the specification; tests assert equality with it.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels import vnni_gemm
    >>> vnni_gemm.pack_weights(np.ones((3, 5), np.int8), nr=1).shape   # 1 tile, K 5 -> 8
    (128,)
"""

from __future__ import annotations

import os

import numpy as np

from edgelite.interpreter.kernels.jit import HAVE_NUMBA, njit, numba_module, prange

# Channel tiles of NR vectors of 16 lanes; rows per tile chosen so that MR * NR
# accumulators plus NR weight vectors and a broadcast fit the 32 zmm registers.
TILE_ROWS = {1: 12, 2: 8, 3: 6, 4: 6}
TILES = tuple((mr, nr) for nr, mr in TILE_ROWS.items()) + ((1, 1), (1, 2), (1, 4), (1, 8))
_FEATURES = ("avx512f", "avx512bw", "avx512vnni")

# A product is split over threads only when one thread would take about 0.25 ms or
# more: waking OpenMP's sleeping workers costs 40-70 us per kernel (measured), more
# than it saves on smaller products. Estimated cost: MACs at ~150 GMAC/s, outputs at
# ~0.3 ns each (the requantizing epilogue).
PARALLEL_MIN_COST_NS = 250_000


def _split(m: int, k: int, n: int, threads: int) -> int:
    """How many row chunks to run in parallel (1: serial)."""
    cost_ns = m * k * n / 150.0 + 0.3 * m * n
    if threads <= 1 or cost_ns < PARALLEL_MIN_COST_NS:
        return 1
    return max(1, min(int(threads), m // 64))
_available: bool | None = None


def available() -> bool:
    """Whether the VNNI kernels can run here (Numba, an x86 CPU with AVX-512 VNNI, and
    Numba targeting the host: ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` unset).
    ``EDGELITE_DISABLE_VNNI=1`` turns them off."""
    global _available
    if _available is None:
        _available = _detect()
    return _available


def _detect() -> bool:
    if not HAVE_NUMBA or os.environ.get("EDGELITE_DISABLE_VNNI", "") in ("1", "true", "yes"):
        return False
    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return False
    flags = _linux_cpu_flags()
    if flags is not None:  # cheap; llvmlite's import costs ~30 ms on the caller's path
        return {"avx512f", "avx512bw", "avx512_vnni"} <= flags
    try:
        import llvmlite.binding as llvm
    except ImportError:  # pragma: no cover - Numba depends on llvmlite
        return False
    try:
        feats = llvm.get_host_cpu_features()
    except RuntimeError:  # llvmlite cannot read the features on this host
        return False
    return all(feats.get(f, False) for f in _FEATURES)


MAX_DEPTH = 65792  # K below which no int32 partial sum of (x + 128) * w can overflow


def usable(k: int) -> bool:
    """Whether a reduction of length ``k`` can run here on the VNNI kernels."""
    return 0 < k <= MAX_DEPTH and available()


def _linux_cpu_flags() -> set[str] | None:
    """The first CPU's flags from ``/proc/cpuinfo``, or None where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def choose_nr(n: int, widths=(4, 3, 2, 1)) -> int:
    """Vectors per channel tile: the least zero padding of ``n``, then the widest tile."""
    best, best_pad = widths[0], None
    for nr in widths:
        width = 16 * nr
        pad = -(-n // width) * width - n
        if best_pad is None or pad < best_pad:
            best, best_pad = nr, pad
    return best


def choose_tile(m: int, n: int) -> tuple[int, int]:
    """``(rows, vectors)`` of the register tile for an ``(m, K) x (K, n)`` product.

    Tall products use 6-12 rows (the weights loaded once serve them all); with fewer
    than 6 rows a one-row tile of up to 8 vectors wastes no work on repeated rows.
    """
    if m < 6:
        # one row: independent accumulators hide vpdpbusd's latency, so take the widest
        # tile that pads ``n`` by at most a quarter
        for nr in (8, 4, 2):
            if -(-n // (16 * nr)) * 16 * nr - n <= n // 4:
                return 1, nr
        return 1, 1
    nr = choose_nr(n)
    return TILE_ROWS[nr], nr


def pack_weights(w: np.ndarray, nr: int) -> np.ndarray:
    """``(N, K)`` int8 weights -> the flat int8 layout the micro-kernel reads.

    ``[n_tiles][K4][nr][16][4]`` with ``K4 = ceil(K / 4)``, zeros in the padding.
    """
    w = np.asarray(w, np.int8)
    n, k = w.shape
    k4 = -(-k // 4)
    width = 16 * nr
    n_tiles = -(-n // width)
    full = np.zeros((n_tiles * width, k4 * 4), np.int8)
    full[:n, :k] = w
    # (tile, nr, lane, k4, 4) -> (tile, k4, nr, lane, 4)
    t = full.reshape(n_tiles, nr, 16, k4, 4).transpose(0, 3, 1, 2, 4)
    return np.ascontiguousarray(t).reshape(-1)


def bias_correction(w: np.ndarray, in_zp: int) -> np.ndarray:
    """``-(128 + in_zp) * sum_k w[n, k]`` (int64): what the ``x + 128`` reading adds."""
    return -(128 + int(in_zp)) * np.asarray(w, np.int64).sum(axis=1)


# --------------------------------------------------------------------------------------
# The micro-kernel, generated as LLVM IR
# --------------------------------------------------------------------------------------


def _make_tile(mr: int, nr: int):
    """A Numba intrinsic ``tile(a, a_off, lda, rows, b, b_off, k4, c)``:

    ``c[r * nr*16 + j] = sum_{kk < k4} sum_{t < 4} (a[a_off + min(r, rows-1)*lda + 4kk + t] ^ 0x80)
    * b[b_off + (kk*nr*16 + j)*4 + t]`` for ``r < mr``, ``j < nr*16`` (int32).
    """
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    v16 = ir.VectorType(i32, 16)

    @intrinsic
    def tile(typingctx, a, a_off, lda, rows, b, b_off, k4, c):
        sig = types.void(a, a_off, lda, rows, b, b_off, k4, c)

        def codegen(context, builder, signature, args):
            a_v, a_off_v, lda_v, rows_v, b_v, b_off_v, k4_v, c_v = args
            a_ptr = context.make_array(signature.args[0])(context, builder, a_v).data
            b_ptr = context.make_array(signature.args[4])(context, builder, b_v).data
            c_ptr = context.make_array(signature.args[7])(context, builder, c_v).data
            module = builder.module
            fnty = ir.FunctionType(v16, [v16, v16, v16])
            dp = module.globals.get("llvm.x86.avx512.vpdpbusd.512")
            if dp is None:
                dp = ir.Function(module, fnty, name="llvm.x86.avx512.vpdpbusd.512")
            last = builder.sub(rows_v, ir.Constant(i64, 1))
            row_ptrs = []
            for r in range(mr):
                rr = ir.Constant(i64, r)
                use = builder.select(builder.icmp_signed("<", rr, rows_v), rr, last)
                off = builder.add(a_off_v, builder.mul(use, lda_v))
                row_ptrs.append(builder.gep(a_ptr, [off]))
            b_base = builder.gep(b_ptr, [b_off_v])
            zero = ir.Constant(v16, None)
            flip = ir.Constant(i32, 0x80808080 - (1 << 32))
            bcast_mask = ir.Constant(ir.VectorType(i32, 16), [0] * 16)
            undef = ir.Constant(v16, ir.Undefined)

            pre = builder.block
            loop = builder.append_basic_block("vnni.loop")
            done = builder.append_basic_block("vnni.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            kk = builder.phi(i64, "kk")
            kk.add_incoming(ir.Constant(i64, 0), pre)
            accs = []
            for idx in range(mr * nr):
                phi = builder.phi(v16, f"acc{idx}")
                phi.add_incoming(zero, pre)
                accs.append(phi)
            bvecs = []
            step = builder.mul(kk, ir.Constant(i64, nr * 64))
            for j in range(nr):
                p = builder.gep(b_base, [builder.add(step, ir.Constant(i64, j * 64))])
                p = builder.bitcast(p, v16.as_pointer())
                ld = builder.load(p)
                ld.align = 1
                bvecs.append(ld)
            a_step = builder.mul(kk, ir.Constant(i64, 4))
            new = []
            for r in range(mr):
                p = builder.bitcast(builder.gep(row_ptrs[r], [a_step]), i32.as_pointer())
                ld = builder.load(p)
                ld.align = 1
                av = builder.xor(ld, flip)
                vec = builder.insert_element(undef, av, ir.Constant(i32, 0))
                vec = builder.shuffle_vector(vec, undef, bcast_mask)
                for j in range(nr):
                    new.append(builder.call(dp, [accs[r * nr + j], vec, bvecs[j]]))
            nxt = builder.add(kk, ir.Constant(i64, 1))
            cur = builder.block
            kk.add_incoming(nxt, cur)
            for phi, v in zip(accs, new):
                phi.add_incoming(v, cur)
            builder.cbranch(builder.icmp_signed("<", nxt, k4_v), loop, done)
            builder.position_at_end(done)
            cvec = builder.bitcast(c_ptr, v16.as_pointer())
            for idx, v in enumerate(new):
                st = builder.store(v, builder.gep(cvec, [ir.Constant(i64, idx)]))
                st.align = 4
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _gemm_body(a, lda, m_total, bp, k4, n_total, bias, q, add, total, out_zp, lo, hi, out, n_chunks):
    """For ``A[m] = a[m*lda : m*lda + 4*k4]`` read as int8 and ``bp`` from ``pack_weights``:

    * requantizing build: ``out[m, n] = clamp(((int32(A[m] . W[n] + bias[n]) * q[n] + add[n])
      >> total[n]) + out_zp, lo, hi)``;
    * int32 build (``_INT32_OUT``): ``out[m, n] = int32(A[m] . W[n] + bias[n])`` (``q, add,
      total, out_zp, lo, hi`` unused).

    ``_MR``, ``_NR``, ``_TILE`` and ``_INT32_OUT`` are compile-time constants: each tile
    shape gets its own build (see ``_install``); with them as run-time values LLVM neither
    kept the accumulators in registers nor vectorized the epilogue (8x slower, measured).
    """
    width = _NR * 16
    n_tiles = (n_total + width - 1) // width
    m_tiles = (m_total + _MR - 1) // _MR
    per = (m_tiles + n_chunks - 1) // n_chunks
    tile_bytes = k4 * _NR * 64
    for ch in prange(n_chunks):
        c = np.empty(_MR * width, np.int32)
        t0 = ch * per
        t1 = min(m_tiles, t0 + per)
        for mt in range(t0, t1):
            m0 = mt * _MR
            rows = min(_MR, m_total - m0)
            for nt in range(n_tiles):
                _TILE(a, m0 * lda, lda, rows, bp, nt * tile_bytes, k4, c)
                n0 = nt * width
                cols = min(width, n_total - n0)
                for r in range(rows):
                    orow = out[m0 + r]
                    for j in range(cols):
                        n = n0 + j
                        xl = np.int32(np.int64(c[r * width + j]) + bias[n])  # wraps like C's int32
                        if _INT32_OUT:
                            orow[n] = xl
                        else:
                            v = ((np.int64(xl) * np.int64(q[n]) + add[n]) >> total[n]) + out_zp
                            v = lo if v < lo else v
                            v = hi if v > hi else v
                            orow[n] = v


_MR = _NR = _TILE = _INT32_OUT = None  # bound per build in _install
_drivers: dict[tuple[int, int], object] = {}
_int32_drivers: dict[tuple[int, int], object] = {}


def _install() -> None:
    """Generate the micro-kernels and one driver build per tile shape (once)."""
    if _drivers:
        return
    import types

    numba_module()
    for mr, nr in TILES:
        tile = _make_tile(mr, nr)
        for int32_out, table, kind in ((False, _drivers, "requant"), (True, _int32_drivers, "int32")):
            g = dict(globals())
            g.update(_MR=mr, _NR=nr, _TILE=tile, _INT32_OUT=int32_out)
            body = _gemm_body
            fn = types.FunctionType(body.__code__, g, f"_gemm_{kind}_{mr}x{nr}", body.__defaults__, body.__closure__)
            fn.__qualname__ = fn.__name__
            fn.__module__ = body.__module__
            table[(mr, nr)] = njit(fn, parallel=True)


def gemm_requant(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], bias: np.ndarray, q: np.ndarray,
                 tables, out_zp: int, lo: int, hi: int, out2d: np.ndarray, threads: int = 1) -> None:
    """Run the fused GEMM + requantization (see the module docstring).

    Args:
        a2d: ``(M, lda)`` int8 rows, C-contiguous, ``lda >= K`` rounded up to 4 (bytes
            past ``K`` are read but meet zero weights).
        bp: ``pack_weights(w, tile[1])``.
        tile: ``choose_tile(M, N)``.
        k: the reduction length ``K``.
        bias: ``(N,)`` int64, the bias with every zero-point correction folded in
            (``bias - in_zp * sum(w) + bias_correction``, i.e. ``bias - (128 + in_zp) * sum(w)``).
        q, tables: the multipliers and ``int_gemm.fast_requant_tables`` (add, total).
        out2d: ``(M, N)`` int8 output.
    """
    _install()
    m, lda = a2d.shape
    k4 = -(-k // 4)
    n = out2d.shape[1]
    n_chunks = _split(m, k, n, threads)
    driver = _drivers[tile]
    if n_chunks == 1:
        driver = driver.serial()
    driver(a2d.reshape(-1), np.int64(lda), np.int64(m), bp, np.int64(k4), np.int64(out2d.shape[1]),
                 bias, q, tables[0], tables[1], np.int64(out_zp), np.int64(lo), np.int64(hi), out2d,
                 np.int64(n_chunks))


def gemm_int32(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], corr: np.ndarray,
               out2d: np.ndarray, threads: int = 1) -> None:
    """``out2d[m, n] = sum_k x[m, k] * w[n, k] + corr[n] + 128 * sum_k w[n, k]`` as int32.

    With ``corr = bias_correction(w, 0)`` (``-128 * sum(w)``) that is the exact int8
    product ``x @ w.T``; add ``-in_zp * sum(w)`` to ``corr`` to centre the input.

    Args:
        a2d, bp, k, tile: as for :func:`gemm_requant`.
        corr: ``(N,)`` int64 per-channel term.
        out2d: ``(M, N)`` int32 output.
    """
    _install()
    m, lda = a2d.shape
    k4 = -(-k // 4)
    n = out2d.shape[1]
    n_chunks = _split(m, k, n, threads)
    driver = _int32_drivers[tile]
    if n_chunks == 1:
        driver = driver.serial()
    unused = np.zeros(1, np.int64)
    driver(a2d.reshape(-1), np.int64(lda), np.int64(m), bp, np.int64(k4), np.int64(n), corr, unused, unused, unused,
           np.int64(0), np.int64(0), np.int64(0), out2d, np.int64(n_chunks))
