"""Issue #15's whole table in one run: edgelite against LiteRT+XNNPACK on every model.

For each model present (absent ones are listed with the reason), three runtimes are
loaded in this process on the same file and the same random input, and *alternated
run by run* so that load from other processes slows them alike:

* ``xnnpack``: LiteRT default resolver (XNNPACK delegate),
* ``builtin``: LiteRT ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (its reference-grade kernels;
  only at the first thread count unless ``--builtin-all``),
* ``edgelite``: this project's interpreter.

Models:

* full size (``models/``, written by ``benchmarks/make_real_models.py``): MobileNetV2,
  MobileNetV1, ResNet50 and EfficientNet-B0 at 224x224, float32, int8 (full integer)
  and dynamic-range; target <= 1.2x XNNPACK (dynamic-range <= 1.5x) at 1 thread;
* small (per-operator overhead dominates): MediaPipe face detection and face landmark
  (``tests/fixtures/fetch_mediapipe.py``), the bundled digits CNN quantized to int8 in
  this process, the text CNN fixture ``tests/fixtures/text_embedding.tflite``; target
  <= 1.5x.

Per model and thread count it prints median and p90 wall latency of each runtime, the
ratio edgelite / XNNPACK, the target and whether it is met, the same ratio of the
calling thread's CPU time (at 1 thread less sensitive to other processes than wall
time; at 2 threads it misses the helper threads' work), and the largest output
difference from LiteRT's built-in kernels (int8: in quantized steps). Then, when the
scripts exist, it runs the other parts of the issue (``--coldstart``,
``--calibration``, ``--scaling``: ``bench_coldstart.py``, ``bench_calibration.py``,
``bench_threads.py``) and appends their output. The CPU model, its SIMD flags and the
load average before and after are printed: benchmarks never gate CI, and a busy
machine inflates every time (the ratios are the figures to compare).

Usage::

    python benchmarks/bench_parity.py                       # everything, 1 and 2 threads
    python benchmarks/bench_parity.py --quick               # fewer runs, 1 thread
    python benchmarks/bench_parity.py --models mobilenet_v2 resnet50_224_int8 --threads 1
    python benchmarks/bench_parity.py --markdown docs/parity-table.md --coldstart --calibration --scaling
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgelite.interpreter import Interpreter  # noqa: E402
from edgelite.interpreter.cli_run import random_input  # noqa: E402

FULL_ARCHS = ("mobilenet_v2_224", "mobilenet_v1_224", "resnet50_224", "efficientnet_b0_224")
FULL_MODES = ("float32", "int8", "dynamic")
MEDIAPIPE = Path(os.environ.get("EDGELITE_MEDIAPIPE_DIR", Path.home() / ".cache" / "edgelite" / "mediapipe"))
HOOKS = {  # flag -> (script, its arguments in --quick mode, in a full run): the other parts of issue #15
    "coldstart": ("bench_coldstart.py", ["--repeats", "2"], []),
    "calibration": ("bench_calibration.py", ["--repeats", "1"], []),
    "scaling": ("bench_threads.py", ["--runs", "20"], []),
}
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
              "avx512_bf16", "amx_int8", "neon", "asimddp")


@dataclass(frozen=True)
class Case:
    """One model of the table: where its bytes come from and what ratio it must reach."""

    name: str
    group: str  # "full" or "small"
    target: float  # edgelite / XNNPACK at 1 thread
    load: Callable[[], bytes]  # raises _Absent with the reason when the model is not there


class _Absent(Exception):
    pass


def _file(path: Path, how: str) -> Callable[[], bytes]:
    def load() -> bytes:
        if not path.exists():
            raise _Absent(f"{path} not found ({how})")
        return path.read_bytes()

    return load


def _digits_int8() -> bytes:
    """The bundled digits CNN converted and quantized to int8 as quickstart does it."""
    import edgelite
    from edgelite.quantize import quantize_model
    from edgelite.quickstart import CALIBRATION, MODEL, _nhwc

    calibration = _nhwc(np.load(CALIBRATION)["image"])
    return quantize_model(edgelite.convert(str(MODEL)), mode="int8", calibration=[x[None] for x in calibration])


def cases() -> list[Case]:
    make = "run benchmarks/make_real_models.py from a TensorFlow virtualenv"
    out = []
    for arch in FULL_ARCHS:
        for mode in FULL_MODES:
            path = ROOT / "models" / f"{arch}_{mode}.tflite"
            out.append(Case(f"{arch}_{mode}", "full", 1.5 if mode == "dynamic" else 1.2, _file(path, make)))
    fetch = "run tests/fixtures/fetch_mediapipe.py"
    out.append(Case("mediapipe_face_detection_short", "small", 1.5,
                    _file(MEDIAPIPE / "modules/face_detection/face_detection_short_range.tflite", fetch)))
    out.append(Case("mediapipe_face_landmark", "small", 1.5,
                    _file(MEDIAPIPE / "modules/face_landmark/face_landmark.tflite", fetch)))
    out.append(Case("digits_cnn_int8", "small", 1.5, _digits_int8))
    out.append(Case("text_cnn_float32", "small", 1.5,
                    _file(ROOT / "tests/fixtures/text_embedding.tflite", "a committed fixture")))
    return out


def _litert(data: bytes, threads: int, builtin: bool):
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType

    kind = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if builtin else OpResolverType.AUTO
    return LiteRT(model_content=data, num_threads=threads, experimental_op_resolver_type=kind)


def _outputs(it) -> list[np.ndarray]:
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _diff(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Largest |difference| over the outputs; for integer outputs in quantized steps."""
    worst = 0.0
    for g, w in zip(got, want):
        if g.size:
            worst = max(worst, float(np.abs(g.astype(np.float64) - w.astype(np.float64)).max()))
    return worst


def measure(data: bytes, threads: int, runs: int, seconds: float, warmup: int, builtin: bool) -> dict:
    """Alternate the runtimes invoke by invoke; per runtime: sorted wall times (ms) and outputs."""
    its = {"xnnpack": _litert(data, threads, builtin=False), "edgelite": Interpreter(model_content=data,
                                                                                      num_threads=threads)}
    if builtin:
        its["builtin"] = _litert(data, threads, builtin=True)
    rng = np.random.default_rng(0)
    feeds = {d["index"]: random_input(d, rng) for d in its["xnnpack"].get_input_details()}
    for it in its.values():
        it.allocate_tensors()
        for i, v in feeds.items():
            it.set_tensor(i, v)
        for _ in range(warmup):
            it.invoke()
    outs = {n: _outputs(it) for n, it in its.items()}
    times = {n: [] for n in its}
    cpu = {n: [] for n in its}
    start = time.perf_counter()
    for k in range(runs):
        for name, it in its.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            it.invoke()
            c1, t1 = time.thread_time(), time.perf_counter()
            times[name].append(1e3 * (t1 - t0))
            cpu[name].append(1e3 * (c1 - c0))
        if k >= 4 and time.perf_counter() - start > seconds:
            break
    return {"times": {n: sorted(t) for n, t in times.items()}, "cpu": {n: statistics.median(c) for n, c in cpu.items()},
            "outs": outs}


def _p90(sorted_ms: list[float]) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(0.9 * len(sorted_ms)))]


def machine() -> tuple[str, str]:
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
        flags = set(next((ln.split(":", 1)[1].split() for ln in lines
                          if ln.startswith(("flags", "Features"))), []))
    except OSError:
        pass
    import ai_edge_litert
    import numba

    have = " ".join(f for f in SIMD_FLAGS if f in flags) or "?"
    soft = (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
            f"Numba {numba.__version__}, LiteRT {getattr(ai_edge_litert, '__version__', '?')}, "
            f"EDGELITE_INT8_GEMM={os.environ.get('EDGELITE_INT8_GEMM', '(auto)')}")
    return f"{cpu}; SIMD: {have}", soft


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_hooks(args, out: list[str]) -> None:
    for flag, (script, quick_args, full_args) in HOOKS.items():
        if not getattr(args, flag):
            continue
        path = ROOT / "benchmarks" / script
        out.append(f"\n### {flag} (`benchmarks/{script}`)\n")
        if not path.exists():
            out.append(f"skipped: benchmarks/{script} is not in this tree.")
            print(out[-1], flush=True)
            continue
        cmd = [sys.executable, str(path), *(quick_args if args.quick else full_args)]
        print(f"running {' '.join(cmd[1:])} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        text = proc.stdout.strip() or "(no output)"
        if proc.returncode:
            text += f"\n(exit status {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]})"
        out.append(text)
        print(text, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 runs / 3 s per model, 1 thread unless --threads")
    ap.add_argument("--models", nargs="*", default=None,
                    help="substrings of model names to keep (e.g. mobilenet_v2 int8 face)")
    ap.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default 1 2)")
    ap.add_argument("--runs", type=int, default=None, help="most alternated runs per model (default 40)")
    ap.add_argument("--seconds", type=float, default=None, help="stop a model after this long (default 8)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--builtin-all", action="store_true", help="LiteRT built-in kernels at every thread count")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the report to this file")
    for flag, (script, _, _) in HOOKS.items():
        ap.add_argument(f"--{flag}", action="store_true", help=f"also run benchmarks/{script} if present")
    args = ap.parse_args(argv)
    threads = args.threads or ([1] if args.quick else [1, 2])
    runs = args.runs or (10 if args.quick else 40)
    seconds = args.seconds or (3.0 if args.quick else 8.0)

    cpu, soft = machine()
    load_before = _load()
    print(f"CPU: {cpu}\n{soft}\nload average before: {load_before}", flush=True)
    head = ("| model | threads | XNNPACK median / p90 ms | edgelite median / p90 ms | built-in median ms "
            "| edgelite / XNNPACK | target | met | CPU-time ratio | max diff vs built-in |")
    rows = [head, "|" + "---|" * 10]
    absent = []
    print(head, flush=True)
    wall0 = time.perf_counter()
    for case in cases():
        if args.models and not any(s in case.name for s in args.models):
            continue
        try:
            data = case.load()
        except _Absent as why:
            absent.append(f"{case.name}: {why}")
            print(f"skipped {case.name}: {why}", flush=True)
            continue
        for n in threads:
            try:
                r = measure(data, n, runs, seconds, args.warmup, builtin=args.builtin_all or n == threads[0])
            except Exception as err:  # noqa: BLE001 -- a benchmark reports a model it cannot run and goes on
                absent.append(f"{case.name} @{n}: {type(err).__name__}: {str(err).splitlines()[0][:160]}")
                print(f"failed {case.name} @{n}: {absent[-1]}", flush=True)
                break
            t = r["times"]
            x, e = statistics.median(t["xnnpack"]), statistics.median(t["edgelite"])
            ratio = e / x
            target = f"<= {case.target}x" if n == 1 else "-"
            met = ("yes" if ratio <= case.target else "no") if n == 1 else "-"
            b = f"{statistics.median(t['builtin']):.2f}" if "builtin" in t else "-"
            ref = r["outs"].get("builtin")
            diff = f"{_diff(r['outs']['edgelite'], ref):.3g}" if ref is not None else "-"
            row = (f"| {case.name} | {n} | {x:.2f} / {_p90(t['xnnpack']):.2f} | {e:.2f} / {_p90(t['edgelite']):.2f} "
                   f"| {b} | **{ratio:.2f}x** | {target} | {met} | {r['cpu']['edgelite'] / r['cpu']['xnnpack']:.2f}x "
                   f"| {diff} |")
            rows.append(row)
            print(row, flush=True)
    load_after = _load()
    report = [f"CPU: {cpu}", "", soft, "",
              f"load average (1/5/15 min) before: {load_before}; after: {load_after} "
              f"({'idle' if max(map(float, load_before.split()[:1] + load_after.split()[:1])) < 0.5 else 'NOT idle'}"
              f" by the 1-minute load average)", "",
              f"{len(rows) - 2} rows in {time.perf_counter() - wall0:.0f} s; up to {runs} alternated runs or "
              f"{seconds:.0f} s per row after {args.warmup} warm-up invokes each", "", *rows]
    if absent:
        report += ["", "Not measured:", *[f"- {a}" for a in absent]]
    run_hooks(args, report)
    print(f"\nload average after: {load_after}")
    if args.markdown:
        args.markdown.write_text("\n".join(report) + "\n")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
