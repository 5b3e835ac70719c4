"""Cold start of a new process, edgelite next to LiteRT: time and memory to the first result.

Each measurement is a fresh Python process that imports the runtime, loads the model,
allocates, sets a zero input and invokes twice. edgelite and LiteRT processes
*alternate* (edgelite, LiteRT, edgelite, ...) so that a busy machine slows both alike.
Per process it records:

* CPU to the 1st / 2nd result: the process's CPU time (all threads, Python's own
  start-up included) when the invoke returns; steadier than wall time on a busy machine;
* wall to the 1st / 2nd result: from just before the parent starts the process;
* peak RSS (``ru_maxrss``) after the 1st and after the 2nd result;
* whether invoke 1 and invoke 2 gave the same output bits.

Two cache states for edgelite's Numba kernels: ``warm`` (``NUMBA_CACHE_DIR`` filled by a
priming process first, as after one earlier run) and ``empty`` (a new empty directory
for every process: the first run after ``pip install``, which compiles what it runs).
``.pyc`` files are written and reused in both (``PYTHONDONTWRITEBYTECODE`` is dropped).

Models: ``models/mobilenet_v2_224_{float32,int8}.tflite`` (``benchmarks/make_real_models.py``)
when present, else the ``tests/fixtures`` MobileNetV2 0.35 96x96 (float16 weights, int8).

``--baseline TREE`` adds a third runtime, ``baseline``: edgelite imported from another
checkout (e.g. the main branch), in the same alternation. ``.pyc`` files of every tree go
to a temporary ``PYTHONPYCACHEPREFIX``, so no checkout is written to.

Usage:
    python benchmarks/bench_coldstart.py                 # 5 pairs per model and cache state
    python benchmarks/bench_coldstart.py --baseline /path/to/main/checkout
    python benchmarks/bench_coldstart.py --repeats 3 --json
    python benchmarks/bench_coldstart.py model.tflite --cache warm
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    t_spawn = float(sys.argv[3])
    runtime, path = sys.argv[1], sys.argv[2]
    if runtime in ("edgelite", "baseline"):
        from edgelite.interpreter import Interpreter
    else:
        from ai_edge_litert.interpreter import Interpreter
    import numpy as np
    it = Interpreter(model_path=path, num_threads=1)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    out1 = [it.get_tensor(o["index"]).tobytes() for o in it.get_output_details()]
    wall1, cpu1 = time.time() - t_spawn, time.process_time()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    it.invoke()
    out2 = [it.get_tensor(o["index"]).tobytes() for o in it.get_output_details()]
    wall2, cpu2 = time.time() - t_spawn, time.process_time()
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"cpu1_ms": 1e3 * cpu1, "wall1_ms": 1e3 * wall1, "rss1_mib": rss1 / 1024,
                      "cpu2_ms": 1e3 * cpu2, "wall2_ms": 1e3 * wall2, "rss2_mib": rss2 / 1024,
                      "same_bits": out1 == out2}))
    """
)
KEYS = ("cpu1_ms", "wall1_ms", "rss1_mib", "cpu2_ms", "wall2_ms", "rss2_mib")


def machine() -> str:
    model, flags = platform.processor(), ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and not model.strip():
                model = line.split(":", 1)[1].strip()
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                flags = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in have)
                break
    except OSError:
        pass
    return f"{model} [{flags}], {os.cpu_count()} CPUs, Python {platform.python_version()}"


TREES = {"edgelite": ROOT, "litert": ROOT}
PYC = Path(tempfile.gettempdir()) / "edgelite-bench-pyc"


def run_child(runtime: str, model: Path, cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    tree = TREES[runtime]
    env.update(PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPYCACHEPREFIX=str(PYC / runtime),
               NUMBA_CACHE_DIR=cache_dir)  # entries are keyed by source path: trees do not mix
    env.pop("EDGELITE_JIT_WARMUP", None)
    t = time.time()
    # cwd outside every checkout: ``python -c`` puts the working directory first on
    # sys.path, which would import the tree the benchmark was started from.
    out = subprocess.run([sys.executable, "-c", CHILD, runtime, str(model.resolve()), repr(t)],
                         capture_output=True, text=True, env=env, check=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(model: Path, cache: str, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgelite-numba-") as warm_dir:
        rows = {rt: [] for rt in TREES}
        if cache == "warm":
            for rt in rows:
                run_child(rt, model, warm_dir)  # prime the compile cache (and the .pyc files)
        for _ in range(repeats):
            for runtime in rows:
                if cache == "warm":
                    rows[runtime].append(run_child(runtime, model, warm_dir))
                else:
                    with tempfile.TemporaryDirectory(prefix="edgelite-numba-empty-") as empty:
                        rows[runtime].append(run_child(runtime, model, empty))
    med = {rt: {k: statistics.median(r[k] for r in rs) for k in KEYS} for rt, rs in rows.items()}
    for rt, rs in rows.items():
        med[rt]["same_bits"] = all(r["same_bits"] for r in rs)
    return {"median": med, "runs": rows}


def default_models() -> list[Path]:
    real = [ROOT / "models" / f"mobilenet_v2_224_{m}.tflite" for m in ("float32", "int8")]
    fixtures = [ROOT / "tests" / "fixtures" / f"mobilenet_v2_035_96_{m}.tflite" for m in ("float16", "int8")]
    return [r if r.exists() else f for r, f in zip(real, fixtures)]


def print_table(name: str, cache: str, res: dict) -> None:
    e, l = res["median"]["edgelite"], res["median"]["litert"]
    print(f"\n== {name}, Numba cache {cache} (medians of {len(res['runs']['edgelite'])} processes each)")
    print(f"{'':<10}" + "".join(f"{k:>11}" for k in KEYS) + f"{'same bits':>11}")
    for rt, r in res["median"].items():
        print(f"{rt:<10}" + "".join(f"{r[k]:>11.1f}" for k in KEYS) + f"{str(r['same_bits']):>11}")
    print(f"{'ratio':<10}" + "".join(f"{e[k] / l[k]:>11.2f}" for k in KEYS))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--repeats", type=int, default=5, help="process pairs per model and cache state")
    ap.add_argument("--cache", choices=("warm", "empty", "both"), default="both")
    ap.add_argument("--baseline", type=Path, help="another checkout of edgelite, run alternately as 'baseline'")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.baseline:
        TREES["baseline"] = args.baseline.resolve()
    report = {"machine": machine(), "load_before": os.getloadavg(), "results": {}}
    print(f"machine: {report['machine']}\nload average before: {report['load_before']}")
    caches = ("warm", "empty") if args.cache == "both" else (args.cache,)
    for model in args.models or default_models():
        for cache in caches:
            res = measure(model, cache, args.repeats)
            report["results"][f"{model.name} {cache}"] = res["median"]
            print_table(model.name, cache, res)
    report["load_after"] = os.getloadavg()
    print(f"\nload average after: {report['load_after']}")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
