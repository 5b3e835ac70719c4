"""The AArch64 int8 GEMM flavours: what can be measured without a Raspberry Pi.

1. Instructions (any host; llvmlite carries LLVM's AArch64 back end): the inner loop of
   each register tile the ``dotprod`` flavour (compiled for the Cortex-A76, Pi 5) and the
   ``neon`` flavour (Cortex-A72, Pi 4) use, as LLVM emits it: instructions, multiply
   instructions and loads per 64 int8 multiply-adds. A count, not a speed: cycles depend
   on the core's pipelines.
2. Relative time (on an AArch64 CPU, e.g. under ``tests/arm64/run.sh``'s qemu-user
   emulation): the int8 GEMM (each flavour this CPU runs) against the float path the
   kernels take without it (exact float32 BLAS + requantization), on conv-shaped
   products, and a whole int8 model with and without it. Under emulation these are
   ratios of qemu's translated code, NOT the speed of a Pi: qemu maps NEON/``sdot`` to
   generic helpers and float BLAS to other helpers, so the ratio says little about
   hardware.

Part 2 also times LiteRT (its aarch64 wheel under emulation: built-in kernels, and
XNNPACK) on the same fixtures (``BENCH_MODELS``, comma-separated fixture names).

Run: ``python benchmarks/bench_arm_gemm.py`` (part 2 only on AArch64); under emulation:
``sudo tests/arm64/run.sh pi5 --bench``.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from edgelite.interpreter.compute import fixedpoint as fp  # noqa: E402
from edgelite.interpreter.compute import gemm_arm, int_gemm, platform_rounding, simd_gemm  # noqa: E402

CORES = {"dotprod": "cortex-a76", "neon": "cortex-a72"}
SHAPES = [(2304, 144, 32), (576, 288, 64), (144, 576, 128), (1, 1280, 1000)]  # (M, K, N) of conv-like layers


def instruction_counts() -> None:
    print("== inner loop per register tile (LLVM's AArch64 output; instructions, not time)")
    print(f"{'flavour':8} {'core':11} {'tile':6} {'instr':>5} {'mul':>4} {'loads':>5}  instr/64 MAC  mul/64 MAC")
    for name, cpu in CORES.items():
        fl = simd_gemm.FLAVOURS[name]
        tiles = sorted({(mr, nr) for nr, mr in fl.tile_rows.items()} | {(1, nr) for nr in fl.single_row})
        for mr, nr in tiles:
            body = gemm_arm.inner_loop(gemm_arm.tile_asm(name, mr, nr, cpu=cpu))
            ops = [ln.split()[0] for ln in body]
            muls = sum(ops.count(o) for o in ("sdot", "smull", "smull2"))
            loads = sum(1 for o in ops if o.startswith(("ld", "ldr", "ldp")))
            # MACs per pass of the loop: each sdot does 16, each smull 8
            macs = 16 * ops.count("sdot") + 8 * (ops.count("smull") + ops.count("smull2"))
            print(f"{name:8} {cpu:11} {mr}x{nr:<4} {len(body):5} {muls:4} {loads:5}  "
                  f"{64 * len(body) / macs:12.2f}  {64 * muls / macs:10.2f}")


def _median_s(fn, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def gemm_vs_float(reps: int) -> None:
    rng = np.random.default_rng(0)
    names = [n for n in ("dotprod", "neon") if simd_gemm.supported(n)]
    print(f"== int8 GEMM vs the float path, median of {reps} (relative only)")
    print(f"{'M x K x N':>18}  {'float path ms':>13}  " + "  ".join(f"{n + ' ms':>10} {'ratio':>6}" for n in names))
    for m, k, n in SHAPES:
        x = rng.integers(-128, 128, (m, k)).astype(np.int8)
        w = rng.integers(-127, 128, (n, k)).astype(np.int8)
        bias = rng.integers(-5000, 5000, n).astype(np.int64)
        q, s = fp.quantize_multiplier_array(list(rng.uniform(1e-4, 0.01, n)))
        tables = int_gemm.fast_requant_tables(q, s, platform_rounding.gemm_mode())
        out = np.empty((m, n), np.int8)
        cols = x.astype(np.float32)
        wt = w.astype(np.float32).T.copy()
        acc = np.empty((m, n), np.float32)
        bias_f = bias - 3 * w.astype(np.int64).sum(axis=1)  # the input zero point 3 folded in

        def float_path():
            np.matmul(cols, wt, out=acc)
            int_gemm.requantize_rows_fast(acc, bias_f, q, tables, 0, -128, 127, out)

        t_float = _median_s(float_path, reps)
        cells = []
        for name in names:
            with simd_gemm.forced(name):
                tile = simd_gemm.choose_tile(m, n)
                bp = simd_gemm.pack_weights(w, tile[1])
                a = np.zeros((m, -(-k // 4) * 4), np.int8)
                a[:, :k] = x
                b2 = bias + simd_gemm.bias_correction(w, 3)
                t = _median_s(lambda: simd_gemm.gemm_requant(a, bp, k, tile, b2, q, tables, 0, -128, 127, out), reps)
            cells.append(f"{t * 1e3:10.2f} {t / t_float:6.2f}")
        print(f"{f'{m} x {k} x {n}':>18}  {t_float * 1e3:13.2f}  " + "  ".join(cells))


def _feed(details, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        if np.dtype(d["dtype"]).kind == "f":
            out.append(rng.random(d["shape"], dtype=np.float32))
        else:
            info = np.iinfo(d["dtype"])
            out.append(rng.integers(info.min, info.max + 1, d["shape"]).astype(d["dtype"]))
    return out


def _timed(it, reps: int) -> float:
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), _feed(it.get_input_details())):
        it.set_tensor(d["index"], x)
    return _median_s(it.invoke, reps)


def whole_model(path: str, reps: int) -> None:
    """edgelite (float path and each int8 GEMM flavour) and LiteRT on one model, one thread."""
    import edgelite
    from edgelite.interpreter.compute import jit

    jit.wait_until_warm()
    print(f"== whole model {os.path.basename(path)}, median of {reps} invokes, 1 thread (relative only)")
    times = {}
    for name in [None] + [n for n in ("dotprod", "neon") if simd_gemm.supported(n)]:
        with simd_gemm.forced(name):
            times[f"edgelite, {name or 'float path'}"] = _timed(edgelite.Interpreter(model_path=path, num_threads=1), reps)
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        litert = None
    if litert is not None:
        times["LiteRT, built-in kernels"] = _timed(litert.Interpreter(
            model_path=path, num_threads=1,
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES), reps)
        times["LiteRT, XNNPACK (default)"] = _timed(litert.Interpreter(model_path=path, num_threads=1), reps)
    base = times["edgelite, float path"]
    for name, t in times.items():
        print(f"  {name:28} {t * 1e3:9.1f} ms  {t / base:5.2f}x edgelite's float path")


def main() -> None:
    qemu = os.environ.get("QEMU_CPU")
    print(f"machine: {platform.machine()}, python {platform.python_version()}, numpy {np.__version__}"
          + (f", under qemu-user emulation as {qemu}" if qemu else ""))
    if platform.machine().lower() in ("aarch64", "arm64"):
        print(f"CPU features: {' '.join(sorted(gemm_arm.cpu_features()))}; int8 GEMM chosen: {simd_gemm.flavour()}")
    instruction_counts()
    if platform.machine().lower() not in ("aarch64", "arm64"):
        print("(timings need an AArch64 CPU: run under tests/arm64/run.sh pi5 --bench)")
        return
    reps = int(os.environ.get("BENCH_REPS", "5"))
    gemm_vs_float(reps)
    for name in os.environ.get("BENCH_MODELS", "int8_cnn,mobilenet_v2_035_96_int8").split(","):
        whole_model(os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", f"{name}.tflite"), reps)


if __name__ == "__main__":
    main()
