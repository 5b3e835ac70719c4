"""int8 GEMM on SIMD (x86: AVX-512 VNNI or AVX2; AArch64: dot product or plain NEON) with the
requantization fused into its epilogue.

The quantized CONV_2D and FULLY_CONNECTED kernels need, for every output row ``m``
and channel ``n``::

    acc[m, n] = sum_k x[m, k] * w[n, k]          (int8 x int8 -> int32, exact)
    out[m, n] = clamp(((int32(acc + bias'[n]) * q[n] + add[n]) >> total[n]) + zp, lo, hi)

Two flavours of micro-kernel compute ``acc``; one is chosen per process from the CPU
flags (:func:`flavour`), and packing, bias correction and tiles follow it:

* ``"vnni"`` (AVX-512 VNNI, :mod:`~edgelite.interpreter.compute.gemm_vnni`): ``vpdpbusd``,
  64 multiply-adds per instruction, activations read as ``x + 128``;
* ``"avx2"`` (AVX2, :mod:`~edgelite.interpreter.compute.gemm_avx2`): ``vpmaddwd`` on
  int16 pairs, 16 multiply-adds per instruction;
* ``"dotprod"`` (AArch64 ``sdot``, Raspberry Pi 5) and ``"neon"`` (AArch64
  ``smull``/``sadalp``, Raspberry Pi 4), :mod:`~edgelite.interpreter.compute.gemm_arm`:
  signed x signed like AVX2, int8 weights; that module emits their whole register tile
  and tests their CPU features (HWCAP).

Each flavour module describes its registers and emits its multiply-add
(:class:`~edgelite.interpreter.compute.simd_flavour.Flavour`); this module holds what
they share: detection, packing, tile choice and the driver.

No product or pair sum can overflow (``|(x + 128) w| <= 32640``, ``|x w| <= 16384``)
and int32 additions wrap the same in any order, so the result equals the C kernels'
int32 accumulation exactly (``K`` is still bounded, ``Flavour.max_depth``, to keep every
partial sum in range as the C kernels' is).

Layout. The weights are packed once (``pack_weights``): VNNI as int8
``[n_tiles][K/4][NR][16 lanes][4]`` (one 64-byte vector per 16 channels and 4 depth
steps), AVX2 as int16 ``[n_tiles][K/2][NR][8 lanes][2]`` (one 32-byte vector per 8
channels and 2 depth steps); the ``NR`` vectors of a tile adjacent, zero-padded in
both K and N. A micro-kernel (``MR`` rows x ``NR`` vectors, all accumulators in
registers) is generated as LLVM IR by :func:`_make_tile` and inlined into the Numba
driver, which walks row tiles (in parallel over threads) and channel tiles and
requantizes each finished tile from a small int32 scratch while it is in L1 (VNNI: by
:func:`_make_epilogue`, explicit 16-lane vectors, masked on a partial tile; the other
flavours by a Numba loop). Rows past
``M`` in the last row tile read the last valid row again and are not written.

Only where Numba is installed and the CPU (and Numba's target) has AVX-512 F/BW/VNNI,
AVX2 or AArch64 NEON (``available()``); elsewhere the kernels keep their float-BLAS path. The numpy
reference stays the specification; tests assert equality with it.
``EDGELITE_INT8_GEMM=vnni|avx2|dotprod|neon|off`` forces a flavour (one the CPU lacks
gives ``off``); ``EDGELITE_DISABLE_VNNI=1`` is ``off``.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.compute import simd_gemm
    >>> simd_gemm.pack_weights(np.ones((3, 5), np.int8), nr=1, flavour="vnni").shape   # 1 tile, K 5 -> 8
    (128,)
    >>> simd_gemm.pack_weights(np.ones((3, 5), np.int8), nr=1, flavour="avx2").shape   # K 5 -> 6, 8 lanes
    (48,)
"""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager

import numpy as np

from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute.gemm_arm import DOTPROD, NEON
from edgelite.interpreter.compute.gemm_avx2 import AVX2, make_widen
from edgelite.interpreter.compute.gemm_vnni import VNNI
from edgelite.interpreter.compute import pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA, njit, numba_module
from edgelite.interpreter.compute.simd_flavour import Flavour


FLAVOURS = {"vnni": VNNI, "avx2": AVX2, "dotprod": DOTPROD, "neon": NEON}
_BY_DTYPE = {np.dtype(f.w_dtype): f for f in (VNNI, AVX2)}

def _split(m_tiles: int, k: int, m: int, n_pad: int, threads: int, prepared: bool = False) -> int:
    """How many chunks of row tiles the pool shares out (1: the caller runs it alone).

    Estimated one-thread cost, ``n_pad`` being ``N`` rounded up to whole register
    tiles: multiply-adds at ~150 GMAC/s and ~0.6 ns per output (the requantizing
    epilogue); within 2x of the measured times of MobileNetV2's layers (AVX-512 VNNI).
    :func:`pool.chunks_for` decides from it (``prepared``: a prepared call, see there).
    """
    cost_ns = m * k * n_pad / 150.0 + 0.6 * m * n_pad
    return pool.chunks_for(cost_ns, m_tiles, threads, prepared)


_UNSET = object()
_flavour = _UNSET  # Flavour | None once detected
_available: bool | None = None  # tests set it to False to force the float path


def flavour() -> str | None:
    """The int8 GEMM flavour of this process: ``"vnni"``, ``"avx2"``, ``"dotprod"``,
    ``"neon"`` or None (float path).

    Chosen once from the CPU flags (VNNI before AVX2, dot product before NEON);
    ``EDGELITE_INT8_GEMM`` overrides.
    """
    f = _current()
    return None if f is None else f.name


def _current() -> Flavour | None:
    global _flavour
    if _flavour is _UNSET:
        _flavour = _detect()
    if _available is False:
        return None
    return _flavour


def available() -> bool:
    """Whether an int8 GEMM flavour can run here (Numba, an x86 CPU with AVX-512 VNNI
    or AVX2 or a 64-bit ARM CPU with NEON, and Numba targeting the host:
    ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` unset). ``EDGELITE_INT8_GEMM=off`` or ``EDGELITE_DISABLE_VNNI=1`` turns them off."""
    global _available
    if _available is None:
        _available = _current() is not None
    return _available


def supported(name: str) -> bool:
    """Whether the flavour ``name`` can run on this host (ignoring the overrides)."""
    if not HAVE_NUMBA or os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return False
    fl = FLAVOURS[name]
    if fl.arch != _ARCH:
        return False
    if fl.arch == "arm64":
        from edgelite.interpreter.compute import gemm_arm

        return gemm_arm.supported(name)
    flags = _linux_cpu_flags()
    if flags is not None:  # cheap; llvmlite's import costs ~30 ms on the caller's path
        return fl.cpu_flags <= flags
    try:
        import llvmlite.binding as llvm
    except ImportError:  # pragma: no cover - Numba depends on llvmlite
        return False
    try:
        feats = llvm.get_host_cpu_features()
    except RuntimeError:  # llvmlite cannot read the features on this host
        return False
    return all(feats.get(f, False) for f in fl.llvm_features)


_ARCH = {"x86_64": "x86", "amd64": "x86", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())


def _detect() -> Flavour | None:
    want = os.environ.get("EDGELITE_INT8_GEMM", "").strip().lower()
    if not want and os.environ.get("EDGELITE_DISABLE_VNNI", "") in ("1", "true", "yes"):
        want = "off"
    if want in ("off", "none", "0"):
        return None
    if want and want != "auto":
        if want not in FLAVOURS:
            raise ValueError(f"EDGELITE_INT8_GEMM={want!r}: expected vnni, avx2, dotprod, neon, off or auto")
        return FLAVOURS[want] if supported(want) else None
    for name in ("vnni", "avx2", "dotprod", "neon"):
        if supported(name):
            return FLAVOURS[name]
    return None


@contextmanager
def forced(name: str | None):
    """Run a block with the flavour ``name`` (None: the float path), for tests.

    Weights packed inside the block must be used inside it.
    """
    global _flavour, _available
    saved = (_flavour, _available)
    _flavour = None if name is None else FLAVOURS[name]
    _available = None
    try:
        yield
    finally:
        _flavour, _available = saved


def _flavour_of(name: str | None) -> Flavour:
    if name is not None:
        return FLAVOURS[name]
    f = _current()
    return VNNI if f is None else f  # without a flavour, shapes follow VNNI (nothing runs them)


def usable(k: int) -> bool:
    """Whether a reduction of length ``k`` can run here on the int8 GEMM kernels."""
    if not available():
        return False
    f = _current()
    return f is not None and 0 < k <= f.max_depth


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


def choose_nr(n: int, widths=(4, 3, 2, 1), lanes: int = 16) -> int:
    """Vectors per channel tile: the least zero padding of ``n``, then the widest tile."""
    best, best_pad = widths[0], None
    for nr in widths:
        width = lanes * nr
        pad = -(-n // width) * width - n
        if best_pad is None or pad < best_pad:
            best, best_pad = nr, pad
    return best


def choose_tile(m: int, n: int, flavour: str | None = None) -> tuple[int, int]:
    """``(rows, vectors)`` of the register tile for an ``(m, K) x (K, n)`` product.

    Tall products use the flavour's multi-row tiles (the weights loaded once serve
    them all); with fewer than 6 rows a one-row tile of up to 8 vectors wastes no work
    on repeated rows. ``flavour`` defaults to this process's.
    """
    fl = _flavour_of(flavour)
    if m < 6:
        # one row: independent accumulators hide the multiply-add's latency, so take
        # the widest tile that pads ``n`` by at most a quarter
        for nr in fl.single_row:
            if -(-n // (fl.lanes * nr)) * fl.lanes * nr - n <= n // 4:
                return 1, nr
        return 1, 1
    nr = choose_nr(n, lanes=fl.lanes)
    return fl.tile_rows[nr], nr


def pack_weights(w: np.ndarray, nr: int, flavour: str | None = None) -> np.ndarray:
    """``(N, K)`` int8 weights -> the flat layout the flavour's micro-kernel reads.

    VNNI: int8 ``[n_tiles][K4][nr][16][4]`` with ``K4 = ceil(K / 4)``; AVX2: int16
    ``[n_tiles][K2][nr][8][2]`` with ``K2 = ceil(K / 2)``; dot product: int8
    ``[n_tiles][K4][nr][4][4]``; NEON: int8 ``[n_tiles][K2][nr][8][2]``; zeros in the padding.
    ``flavour`` defaults to this process's; the kernels read the flavour from the
    packed dtype.
    """
    fl = _flavour_of(flavour)
    w = np.asarray(w, np.int8)
    n, k = w.shape
    ks = -(-k // fl.k_step)
    width = fl.lanes * nr
    n_tiles = -(-n // width)
    full = np.zeros((n_tiles * width, ks * fl.k_step), fl.w_dtype)
    full[:n, :k] = w
    # (tile, nr, lane, ks, step) -> (tile, ks, nr, lane, step). The step values stay
    # together, so each group of them moves as one wider integer: the transpose then
    # copies 2-4 byte items instead of single bytes (about 7x faster, measured).
    group = np.dtype(f"i{full.itemsize * fl.k_step}")
    t = full.view(group).reshape(n_tiles, nr, fl.lanes, ks).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(t).reshape(-1).view(fl.w_dtype)


class PackedWeights:
    """:func:`pack_weights` made on first use, then kept.

    Kernels prepare their SIMD-GEMM weights as this so that ``allocate_tensors`` does
    not pay for packing a fresh process's first invoke never reads: that invoke runs
    the numpy reference kernels while Numba loads (``compute.jit``); the JIT kernels
    (and the executor's call plan, made on their first run) call :meth:`array`. The
    flavour is fixed at construction, as ``pack_weights`` would fix it then.

    Example:
        >>> import numpy as np
        >>> from edgelite.interpreter.compute import simd_gemm
        >>> pw = simd_gemm.PackedWeights(np.ones((3, 5), np.int8), nr=1, flavour="vnni")
        >>> pw.array().shape
        (128,)
    """

    __slots__ = ("_w", "_nr", "_flavour", "_packed")

    def __init__(self, w: np.ndarray, nr: int, flavour: str | None = None):
        self._w = w
        self._nr = nr
        self._flavour = _flavour_of(flavour).name
        self._packed: np.ndarray | None = None

    def array(self) -> np.ndarray:
        """The packed weights (``pack_weights(w, nr, flavour)``), packed on the first call."""
        packed = self._packed
        if packed is None:
            # two threads racing here both pack the same bytes; either result is kept
            packed = self._packed = pack_weights(self._w, self._nr, self._flavour)
        return packed

    @property
    def packed(self) -> bool:
        """Whether :meth:`array` has run."""
        return self._packed is not None


def bias_correction(w: np.ndarray | None, in_zp: int, flavour: str | None = None, *,
                    sums: np.ndarray | None = None) -> np.ndarray:
    """The per-channel int64 term that centres the input and undoes the flavour's reading
    of it: VNNI ``-(128 + in_zp) * sum_k w[n, k]`` (it reads ``x + 128``), AVX2
    ``-in_zp * sum_k w[n, k]``. ``sums``: those row sums (int64) when the caller has
    them already (then ``w`` is not read)."""
    if sums is None:
        sums = np.asarray(w).sum(axis=1, dtype=np.int64)
    return -(_flavour_of(flavour).input_offset + int(in_zp)) * sums


# --------------------------------------------------------------------------------------
# The micro-kernels, generated as LLVM IR
# --------------------------------------------------------------------------------------


def _make_tile(fl: Flavour, mr: int, nr: int):
    """A Numba intrinsic ``tile(a, a_off, lda, rows, b, b_off, ks, c)``, with
    ``S = fl.k_step``, ``L = fl.lanes`` and ``A[r] = a[a_off + min(r, rows-1)*lda:]``:

    * VNNI: ``c[r * nr*L + j] = sum_{kk < ks} sum_{t < 4} (A[r][4kk + t] ^ 0x80) * b[b_off + (kk*nr*L + j)*4 + t]``;
    * AVX2: ``c[r * nr*L + j] = sum_{kk < ks} sum_{t < 2} A[r][2kk + t] * b[b_off + (kk*nr*L + j)*2 + t]``

    for ``r < mr``, ``j < nr*L`` (int32; ``a`` and ``b`` int8 for VNNI, int16 for AVX2:
    the driver widens the rows once per row tile, so each broadcast is one load).
    """
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    i32, i64 = ir.IntType(32), ir.IntType(64)
    lanes = fl.lanes
    vacc = ir.VectorType(i32, lanes)
    vin, name, fnty = fl.madd_signature(ir, vacc)
    bcast_mask = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)

    @intrinsic
    def tile(typingctx, a, a_off, lda, rows, b, b_off, ks, c):
        sig = types.void(a, a_off, lda, rows, b, b_off, ks, c)

        def codegen(context, builder, signature, args):
            a_v, a_off_v, lda_v, rows_v, b_v, b_off_v, ks_v, c_v = args
            a_ptr = context.make_array(signature.args[0])(context, builder, a_v).data
            b_ptr = context.make_array(signature.args[4])(context, builder, b_v).data
            c_ptr = context.make_array(signature.args[7])(context, builder, c_v).data
            module = builder.module
            fn = module.globals.get(name)
            if fn is None:
                fn = ir.Function(module, fnty, name=name)
            last = builder.sub(rows_v, ir.Constant(i64, 1))
            row_ptrs = []
            for r in range(mr):
                rr = ir.Constant(i64, r)
                use = builder.select(builder.icmp_signed("<", rr, rows_v), rr, last)
                off = builder.add(a_off_v, builder.mul(use, lda_v))
                row_ptrs.append(builder.gep(a_ptr, [off]))
            b_base = builder.gep(b_ptr, [b_off_v])
            zero = ir.Constant(vacc, None)
            undef = ir.Constant(vacc, ir.Undefined)

            pre = builder.block
            loop = builder.append_basic_block("gemm.loop")
            done = builder.append_basic_block("gemm.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            kk = builder.phi(i64, "kk")
            kk.add_incoming(ir.Constant(i64, 0), pre)
            accs = []
            for idx in range(mr * nr):
                phi = builder.phi(vacc, f"acc{idx}")
                phi.add_incoming(zero, pre)
                accs.append(phi)
            bvecs = []
            step = builder.mul(kk, ir.Constant(i64, nr * fl.vec_elems))
            for j in range(nr):
                p = builder.gep(b_base, [builder.add(step, ir.Constant(i64, j * fl.vec_elems))])
                ld = builder.load(builder.bitcast(p, vin.as_pointer()))
                ld.align = 1
                bvecs.append(ld)
            a_step = builder.mul(kk, ir.Constant(i64, fl.k_step))
            new = []
            for r in range(mr):
                p = builder.gep(row_ptrs[r], [a_step])
                word = fl.load_word(builder, ir, p)
                vec = builder.insert_element(undef, word, ir.Constant(i32, 0))
                vec = builder.shuffle_vector(vec, undef, bcast_mask)
                vec = fl.as_operand(builder, vec, vin)
                for j in range(nr):
                    new.append(fl.madd(builder, fn, accs[r * nr + j], vec, bvecs[j]))
            nxt = builder.add(kk, ir.Constant(i64, 1))
            cur = builder.block
            kk.add_incoming(nxt, cur)
            for phi, v in zip(accs, new):
                phi.add_incoming(v, cur)
            builder.cbranch(builder.icmp_signed("<", nxt, ks_v), loop, done)
            builder.position_at_end(done)
            cvec = builder.bitcast(c_ptr, vacc.as_pointer())
            for idx, v in enumerate(new):
                st = builder.store(v, builder.gep(cvec, [ir.Constant(i64, idx)]))
                st.align = 4
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _make_epilogue(lanes: int, nr: int, int32_out: bool, masked: bool = False):
    """A Numba intrinsic ``epi(c, rows, bias, q, add, total, n0, cols, zp, lo, hi, out, off, ldo)``:
    the driver's epilogue for one tile (``nr * lanes`` columns from ``n0``, of which the
    first ``cols`` are written), as explicit ``lanes``-wide vectors: for ``r < rows`` and
    ``j < cols``, with ``x = int32(c[r * nr*lanes + j] + bias[n0 + j])`` (wrapping),

    * requantizing build: ``out[r, j] = int8(clamp(((int64(x) * q[n0+j] + add[n0+j]) >> total[n0+j]) + zp, lo, hi))``;
    * int32 build: ``out[r, j] = x`` (``q, add, total, zp, lo, hi`` not read),

    where ``out[r, j]`` is the element at byte ``off + r * ldo + j * itemsize`` of ``out``.
    Unless ``masked``, ``cols`` must be the whole tile; ``masked`` reads the tables and
    writes the output through lane masks (``llvm.masked.load`` / ``llvm.masked.store``),
    so nothing past column ``n0 + cols`` is read or written: a partial tile (N = 24 is
    a 32-wide tile with 8 columns masked off; the element loop was 4x slower per output).
    The same integer operations as the driver's loop, so the same bits; the caller
    guarantees every ``q`` fits int32, which lets LLVM multiply with ``vpmuldq`` (one
    uop) instead of ``vpmullq`` (three). LLVM's loop vectorizer, tuned to prefer 256-bit
    vectors on AVX-512 CPUs, made that loop 4 int64 lanes wide with a run-time alias check
    per row: 75% of a small-K GEMM's time (perf, MobileNetV2's 12544x16x96).
    """
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
    v32, v64, v8 = ir.VectorType(i32, lanes), ir.VectorType(i64, lanes), ir.VectorType(i8, lanes)
    vmask = ir.VectorType(i1, lanes)
    width = nr * lanes

    def masked_intrinsic(builder, op, vty):
        """``llvm.masked.load`` / ``llvm.masked.store`` for vectors of ``vty``."""
        elem = f"v{lanes}i{vty.element.width}"
        name = f"llvm.masked.{op}.{elem}.p0{elem}"
        fn = builder.module.globals.get(name)
        if fn is None:
            ptr = vty.as_pointer()
            fnty = (ir.FunctionType(vty, [ptr, i32, vmask, vty]) if op == "load"
                    else ir.FunctionType(ir.VoidType(), [vty, ptr, i32, vmask]))
            fn = ir.Function(builder.module, fnty, name=name)
        return fn

    @intrinsic
    def epi(typingctx, c, rows, bias, q, add, total, n0, cols, zp, lo, hi, out, off, ldo):
        sig = types.void(c, rows, bias, q, add, total, n0, cols, zp, lo, hi, out, off, ldo)

        def codegen(context, builder, signature, args):
            c_v, rows_v, bias_v, q_v, add_v, tot_v, n0_v, cols_v, zp_v, lo_v, hi_v, out_v, off_v, ldo_v = args
            tys = signature.args

            def data(k, val):
                return context.make_array(tys[k])(context, builder, val).data

            def splat(val, vty=v64):
                vec = builder.insert_element(ir.Constant(vty, ir.Undefined), val, ir.Constant(i32, 0))
                return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), ir.Constant(v32, [0] * lanes))

            # lane masks of the tile's vectors: lane l of vector j is column j*lanes + l < cols
            masks = []
            if masked:
                iota = ir.Constant(v64, list(range(lanes)))
                for j in range(nr):
                    left = builder.sub(cols_v, ir.Constant(i64, j * lanes))
                    masks.append(builder.icmp_signed("<", iota, splat(left)))

            def vload(ptr, index, vty, align, j=None):
                p = builder.bitcast(builder.gep(ptr, [index]), vty.as_pointer())
                if j is None or not masked:
                    ld = builder.load(p)
                    ld.align = align
                    return ld
                return builder.call(masked_intrinsic(builder, "load", vty),
                                    [p, ir.Constant(i32, align), masks[j], ir.Constant(vty, None)])

            def vstore(val, ptr, j):
                p = builder.bitcast(ptr, val.type.as_pointer())
                if masked:
                    builder.call(masked_intrinsic(builder, "store", val.type), [val, p, ir.Constant(i32, 1), masks[j]])
                else:
                    st = builder.store(val, p)
                    st.align = 1

            def lanes_of(k, ptr, index, j):
                """``lanes`` elements of argument ``k`` (an int32 or int64 array) from ``index``, as int64."""
                bits = tys[k].dtype.bitwidth
                if bits not in (32, 64) or not isinstance(tys[k].dtype, types.Integer):
                    raise TypeError(f"epilogue argument {k}: int32 or int64 array expected, got {tys[k]}")
                vec = vload(ptr, index, v64 if bits == 64 else v32, bits // 8, j)
                return vec if bits == 64 else builder.sext(vec, v64)

            c_ptr, bias_ptr = data(0, c_v), data(2, bias_v)
            out_ptr = builder.bitcast(data(11, out_v), ir.IntType(8).as_pointer())
            firsts = [builder.add(n0_v, ir.Constant(i64, j * lanes)) for j in range(nr)]
            biases = [builder.trunc(lanes_of(2, bias_ptr, firsts[j], j), v32) for j in range(nr)]
            if not int32_out:
                q_ptr, add_ptr, tot_ptr = data(3, q_v), data(4, add_v), data(5, tot_v)
                # int32 values held in int64 lanes (sign-extended): what vpmuldq multiplies
                qs = [builder.sext(builder.trunc(lanes_of(3, q_ptr, firsts[j], j), v32), v64) for j in range(nr)]
                adds = [lanes_of(4, add_ptr, firsts[j], j) for j in range(nr)]
                tots = [lanes_of(5, tot_ptr, firsts[j], j) for j in range(nr)]
                zps, los, his = splat(zp_v), splat(lo_v), splat(hi_v)

            pre = builder.block
            loop = builder.append_basic_block("epi.loop")
            done = builder.append_basic_block("epi.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            r = builder.phi(i64, "r")
            r.add_incoming(ir.Constant(i64, 0), pre)
            c_row = builder.mul(r, ir.Constant(i64, width))
            o_row = builder.gep(out_ptr, [builder.add(off_v, builder.mul(r, ldo_v))])
            for j in range(nr):
                x = builder.add(vload(c_ptr, builder.add(c_row, ir.Constant(i64, j * lanes)), v32, 4), biases[j])
                if int32_out:
                    vstore(x, builder.gep(o_row, [ir.Constant(i64, 4 * j * lanes)]), j)
                else:
                    v = builder.mul(builder.sext(x, v64), qs[j])
                    v = builder.add(builder.ashr(builder.add(v, adds[j]), tots[j]), zps)
                    v = builder.select(builder.icmp_signed("<", v, los), los, v)
                    v = builder.select(builder.icmp_signed(">", v, his), his, v)
                    vstore(builder.trunc(v, v8), builder.gep(o_row, [ir.Constant(i64, j * lanes)]), j)
            nxt = builder.add(r, ir.Constant(i64, 1))
            r.add_incoming(nxt, builder.block)
            builder.cbranch(builder.icmp_signed("<", nxt, rows_v), loop, done)
            builder.position_at_end(done)
            return context.get_dummy_value()

        return sig, codegen

    return epi


def _gemm_body(a, lda, m_total, bp, ks, n_total, bias, q, add, total, out_zp, lo, hi, out, n_chunks, ctr):
    """For ``A[m] = a[m*lda : m*lda + _KSTEP*ks]`` read as int8 and ``bp`` from ``pack_weights``:

    * requantizing build: ``out[m, n] = clamp(((int32(A[m] . W[n] + bias[n]) * q[n] + add[n])
      >> total[n]) + out_zp, lo, hi)``;
    * int32 build (``_INT32_OUT``): ``out[m, n] = int32(A[m] . W[n] + bias[n])`` (``q, add,
      total, out_zp, lo, hi`` unused).

    ``_MR``, ``_NR``, ``_LANES``, ``_VEC``, ``_TILE``, ``_INT32_OUT`` and ``_WIDEN`` are compile-time
    constants: each flavour and tile shape gets its own build (see ``_driver``); with them
    as run-time values LLVM neither kept the accumulators in registers nor vectorized the
    epilogue (8x slower, measured).

    The row tiles are cut into ``n_chunks`` chunks that the calling thread and the pool's
    helpers claim from ``ctr`` (:mod:`~edgelite.interpreter.compute.pool`); alone, the
    caller claims them all.
    """
    width = _NR * _LANES
    n_tiles = (n_total + width - 1) // width
    m_tiles = (m_total + _MR - 1) // _MR
    per = (m_tiles + n_chunks - 1) // n_chunks
    tile_elems = ks * _NR * _VEC
    kw = 2 * ks  # AVX2: int16 row length of the widened tile rows
    c = np.empty(_MR * width, np.int32)
    a16 = np.empty(_MR * kw if _WIDEN else 1, np.int16)
    # Tiles go to the vector epilogue (``_EPI``, masked on a partial tile) where it is used (VNNI), the output's
    # rows are contiguous and, requantizing, every multiplier fits int32 (it always does
    # for LiteRT's multipliers, < 2^31; anything else keeps the loop below).
    direct = _HAS_EPI and out.strides[1] == out.itemsize
    if direct and not _INT32_OUT:
        for j in range(n_total):
            if q[j] < -2147483648 or q[j] > 2147483647:
                direct = False
    ldo = out.strides[0]
    while True:
        ch = _FETCH_ADD(ctr, 0, 1)
        if ch >= n_chunks:
            break
        t0 = ch * per
        t1 = min(m_tiles, t0 + per)
        for mt in range(t0, t1):
            m0 = mt * _MR
            rows = min(_MR, m_total - m0)
            if _WIDEN:
                # int8 -> int16 once per row tile (rows past M repeat the last one); the
                # micro-kernel then broadcasts each int16 pair straight from memory
                for r in range(_MR):
                    src = (m0 + min(r, rows - 1)) * lda
                    t = 0
                    while t + 16 <= kw:
                        _WIDEN16(a, src + t, a16, r * kw + t)
                        t += 16
                    if t < kw and kw >= 16:  # the tail as one more, overlapping, vector
                        _WIDEN16(a, src + kw - 16, a16, r * kw + kw - 16)
                        t = kw
                    while t < kw:
                        a16[r * kw + t] = a[src + t]
                        t += 1
            for nt in range(n_tiles):
                if _WIDEN:
                    _TILE(a16, 0, kw, _MR, bp, nt * tile_elems, ks, c)
                else:
                    _TILE(a, m0 * lda, lda, rows, bp, nt * tile_elems, ks, c)
                n0 = nt * width
                cols = min(width, n_total - n0)
                if direct:
                    if cols == width:
                        _EPI(c, rows, bias, q, add, total, n0, cols, out_zp, lo, hi, out, m0 * ldo + n0 * out.itemsize,
                             ldo)
                    else:
                        _EPI_MASKED(c, rows, bias, q, add, total, n0, cols, out_zp, lo, hi, out,
                                    m0 * ldo + n0 * out.itemsize, ldo)
                    continue
                # Slices indexed from 0: an index n0 + j (signed, maybe negative to Numba)
                # kept this loop scalar, 3-5x slower on small-K layers (measured).
                bs = bias[n0 : n0 + cols]
                qs = q[n0 : n0 + cols]
                adds = add[n0 : n0 + cols]
                tots = total[n0 : n0 + cols]
                if width >= 32 and cols == width:
                    # (The flavours without the vector epilogue.) A whole tile of 2 or more vectors: ``width`` is a compile-time constant
                    # here, so the loop has no scalar remainder (with the run-time ``cols``,
                    # LLVM's 32-element vector loop left a 48-wide tile's last 16 scalar):
                    # 1.05-1.17x on the GEMMs of MobileNetV2's shapes. A 16-wide tile ran
                    # 2.5x slower this way (measured), so it keeps the loop below.
                    for r in range(rows):
                        orow = out[m0 + r, n0 : n0 + width]
                        cr = c[r * width : r * width + width]
                        for j in range(width):
                            xl = np.int32(np.int64(cr[j]) + bs[j])  # wraps like C's int32
                            if _INT32_OUT:
                                orow[j] = xl
                            else:
                                v = ((np.int64(xl) * np.int64(qs[j]) + adds[j]) >> tots[j]) + out_zp
                                v = lo if v < lo else v
                                v = hi if v > hi else v
                                orow[j] = v
                    continue
                for r in range(rows):
                    orow = out[m0 + r, n0 : n0 + cols]
                    cr = c[r * width : r * width + cols]
                    for j in range(cols):
                        xl = np.int32(np.int64(cr[j]) + bs[j])  # wraps like C's int32
                        if _INT32_OUT:
                            orow[j] = xl
                        else:
                            v = ((np.int64(xl) * np.int64(qs[j]) + adds[j]) >> tots[j]) + out_zp
                            v = lo if v < lo else v
                            v = hi if v > hi else v
                            orow[j] = v
        _FETCH_ADD(ctr, 1, 1)


_MR = _NR = _LANES = _VEC = _TILE = _INT32_OUT = _WIDEN = _WIDEN16 = _FETCH_ADD = _EPI = _EPI_MASKED = _HAS_EPI = None  # bound per build in _driver
_drivers: dict[tuple[str, int, int, bool], object] = {}


def _driver(fl: Flavour, tile: tuple[int, int], int32_out: bool):
    """The driver build for one flavour, tile shape and output kind (made once, compiled
    on its first call)."""
    key = (fl.name, tile[0], tile[1], int32_out)
    d = _drivers.get(key)
    if d is None:
        import types

        numba_module()
        mr, nr = tile
        g = dict(globals())
        if fl.arch == "arm64":
            from edgelite.interpreter.compute import gemm_arm

            tile_fn = gemm_arm.make_tile(fl.name, mr, nr)
        else:
            tile_fn = _make_tile(fl, mr, nr)
        g.update(_MR=mr, _NR=nr, _LANES=fl.lanes, _VEC=fl.vec_elems, _TILE=tile_fn,
                 _INT32_OUT=int32_out, _WIDEN=fl.widen_rows, _WIDEN16=make_widen(), _FETCH_ADD=pool.fetch_add_intrinsic(),
                 _EPI=_make_epilogue(fl.lanes, nr, int32_out), _EPI_MASKED=_make_epilogue(fl.lanes, nr, int32_out, True),
                 _HAS_EPI=fl.name == "vnni")
        body = _gemm_body
        kind = "int32" if int32_out else "requant"
        fn = types.FunctionType(body.__code__, g, f"_gemm_{fl.name}_{kind}_{mr}x{nr}", body.__defaults__,
                                body.__closure__)
        fn.__qualname__ = fn.__name__
        fn.__module__ = body.__module__
        d = _drivers.setdefault(key, njit(fn))
    return d


def _packed_flavour(bp: np.ndarray) -> Flavour:
    fl = _flavour if isinstance(_flavour, Flavour) and bp.dtype == _flavour.w_dtype else _BY_DTYPE.get(bp.dtype)
    if fl is None:
        raise TypeError(f"packed weights of dtype {bp.dtype}: expected pack_weights' int8 (VNNI, dot product, NEON) "
                        "or int16 (AVX2)")
    return fl


def _tile_chunks(fl: Flavour, tile: tuple[int, int], m: int, k: int, n: int, threads: int,
                 prepared: bool = False) -> int:
    """:func:`_split` for an ``(M, K) x (K, N)`` product cut into ``tile`` register tiles."""
    width = tile[1] * fl.lanes
    return _split(-(-m // tile[0]), k, m, -(-n // width) * width, threads, prepared)


def _prologue(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], out2d: np.ndarray, threads: int,
              int32_out: bool):
    """The shared set-up of both public GEMMs: the driver, its size arguments and the pool's chunk count.

    Returns:
        ``(driver, lda, m, ks, n, n_chunks)``: ``ks`` is ``K`` in the flavour's k-steps.
    """
    fl = _packed_flavour(bp)
    m, lda = a2d.shape
    ks = -(-k // fl.k_step)
    n = out2d.shape[1]
    n_chunks = _tile_chunks(fl, tile, m, k, n, threads)
    driver = _driver(fl, tile, int32_out)
    return driver, lda, m, ks, n, n_chunks


def gemm_requant(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], bias: np.ndarray, q: np.ndarray,
                 tables, out_zp: int, lo: int, hi: int, out2d: np.ndarray, threads: int = 1) -> None:
    """Run the fused GEMM + requantization (see the module docstring).

    Args:
        a2d: ``(M, lda)`` int8 rows, C-contiguous, ``lda >= K`` rounded up to 4 (bytes
            past ``K`` are read but meet zero weights).
        bp: ``pack_weights(w, tile[1])`` (its dtype says the flavour).
        tile: ``choose_tile(M, N)``.
        k: the reduction length ``K``.
        bias: ``(N,)`` int64, the bias with every zero-point correction folded in
            (``bias + bias_correction(w, in_zp)``).
        q, tables: the multipliers and ``int_gemm.fast_requant_tables`` (add, total).
        out2d: ``(M, N)`` int8 output.
    """
    driver, lda, m, ks, n, n_chunks = _prologue(a2d, bp, k, tile, out2d, threads, False)
    pool.run(driver, (a2d.reshape(-1), np.int64(lda), np.int64(m), bp, np.int64(ks), np.int64(n),
                      bias, q, tables[0], tables[1], np.int64(out_zp), np.int64(lo), np.int64(hi), out2d,
                      np.int64(n_chunks)), n_chunks, threads)


def gemm_requant_call(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], bias: np.ndarray, q: np.ndarray,
                      tables, out_zp: int, lo: int, hi: int, out2d: np.ndarray, threads: int = 1):
    """:func:`gemm_requant` as a prepared call ``(fn, args)`` (``compute.bound``): the same
    driver build, arguments and chunk count (the pool's split), worked out once for
    arrays that stay the same."""
    fl = _packed_flavour(bp)
    m, lda = a2d.shape
    n = out2d.shape[1]
    n_chunks = _tile_chunks(fl, tile, m, k, n, threads, prepared=True)
    driver = bound.Deferred(lambda: _driver(fl, tile, False))  # (building it imports Numba)
    return bound.pooled(driver, (
        a2d.reshape(-1), np.int64(lda), np.int64(m), bp, np.int64(-(-k // fl.k_step)), np.int64(n), bias, q,
        tables[0], tables[1], np.int64(out_zp), np.int64(lo), np.int64(hi), out2d, np.int64(n_chunks)),
        n_chunks, threads)


_UNUSED_TABLE = np.zeros(1, np.int64)  # the requantization tables the int32 build never reads


def gemm_int32(a2d: np.ndarray, bp: np.ndarray, k: int, tile: tuple[int, int], corr: np.ndarray,
               out2d: np.ndarray, threads: int = 1) -> None:
    """``out2d[m, n] = sum_k x[m, k] * w[n, k] + corr[n] - bias_correction(w, 0)[n]`` as int32.

    With ``corr = bias_correction(w, 0)`` that is the exact int8 product ``x @ w.T``;
    add ``-in_zp * sum(w)`` to ``corr`` to centre the input.

    Args:
        a2d, bp, k, tile: as for :func:`gemm_requant`.
        corr: ``(N,)`` int64 per-channel term.
        out2d: ``(M, N)`` int32 output.
    """
    driver, lda, m, ks, n, n_chunks = _prologue(a2d, bp, k, tile, out2d, threads, True)
    unused = _UNUSED_TABLE
    pool.run(driver, (a2d.reshape(-1), np.int64(lda), np.int64(m), bp, np.int64(ks), np.int64(n), corr, unused,
                      unused, unused, np.int64(0), np.int64(0), np.int64(0), out2d, np.int64(n_chunks)),
             n_chunks, threads)
