"""Small models, where per-operator overhead dominates: edgelite next to LiteRT, in one run.

Models (each skipped, with the reason printed, when it cannot be made here):

* ``digits_int8`` / ``digits_float32``: the bundled digits CNN, as ``edgelite quickstart``
  converts and quantizes it (made once under ``--cache``);
* ``text_cnn``: a small text CNN (int64 tokens [1, 16] -> embedding GATHER -> Conv1D(64, 3) ->
  ReLU -> max over time -> dense -> softmax), written here as ONNX and converted by edgelite;
* ``text_embedding``: the ``tests/fixtures`` embedding -> mean -> dense -> softmax model;
* ``face_detection`` / ``face_landmark``: MediaPipe's short-range face detector (128x128)
  and face landmark (192x192), float, when ``tests/fixtures/fetch_mediapipe.py`` has
  cached them.

Runtimes, *alternated* batch by batch (``--rounds`` rounds of ``--batch`` invokes each, the
order rotated every round) so that load from other processes falls on all of them alike:
LiteRT with XNNPACK (its default), LiteRT's built-in kernels
(``BUILTIN_WITHOUT_DEFAULT_DELEGATES``), edgelite from this tree, and with ``--before
PATH`` edgelite from another checkout (e.g. ``main``). Each edgelite tree runs in its own
worker process (two versions of a package cannot share one); LiteRT runs here. Every invoke
is timed in wall time and in CPU time of the calling thread (``time.thread_time``, which
other processes' load inflates far less at one thread). All runtimes get the same inputs.

Usage:
    python benchmarks/bench_small_models.py
    python benchmarks/bench_small_models.py --before /path/to/main --rounds 20 --batch 25
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIAPIPE = Path.home() / ".cache" / "edgelite" / "mediapipe" / "modules"
MODELS = ("digits_int8", "digits_float32", "text_cnn", "text_embedding", "face_detection", "face_landmark")


# ----------------------------------------------------------------------------- models


def _text_cnn_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)
    vocab, emb, length, filters, classes = 1000, 32, 16, 64, 4
    inits = [nh.from_array((rng.standard_normal((vocab, emb)) * 0.1).astype(np.float32), "emb"),
             nh.from_array((rng.standard_normal((filters, emb, 3)) * 0.1).astype(np.float32), "cw"),
             nh.from_array((rng.standard_normal(filters) * 0.1).astype(np.float32), "cb"),
             nh.from_array((rng.standard_normal((filters, classes)) * 0.1).astype(np.float32), "fw"),
             nh.from_array((rng.standard_normal(classes) * 0.1).astype(np.float32), "fb"),
             nh.from_array(np.array([2], np.int64), "ax")]
    nodes = [h.make_node("Gather", ["emb", "tokens"], ["e"], axis=0),
             h.make_node("Transpose", ["e"], ["et"], perm=[0, 2, 1]),
             h.make_node("Conv", ["et", "cw", "cb"], ["c"], pads=[1, 1]),
             h.make_node("Relu", ["c"], ["r"]),
             h.make_node("ReduceMax", ["r", "ax"], ["m"], keepdims=0),
             h.make_node("MatMul", ["m", "fw"], ["l"]),
             h.make_node("Add", ["l", "fb"], ["lb"]),
             h.make_node("Softmax", ["lb"], ["probs"], axis=-1)]
    graph = h.make_graph(nodes, "text_cnn", [h.make_tensor_value_info("tokens", TensorProto.INT64, [1, length])],
                         [h.make_tensor_value_info("probs", TensorProto.FLOAT, [1, classes])], inits)
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 18)]), str(path))


def _edgelite_cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "edgelite", *args], capture_output=True, text=True, env=env)


def prepare_models(cache: Path, wanted) -> list[tuple[str, Path]]:
    """``(name, path)`` of the models that could be made; prints why any other is skipped."""
    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for name in wanted:
        path = None
        if name.startswith("digits_"):
            path = cache / f"{name}.tflite"
            if not path.exists():
                r = _edgelite_cli(["quickstart", "--out", str(cache)])
                if r.returncode != 0:
                    print(f"skipped {name}: edgelite quickstart failed: {r.stderr[-300:]}")
                    continue
        elif name == "text_cnn":
            path = cache / "text_cnn.tflite"
            if not path.exists():
                _text_cnn_onnx(cache / "text_cnn.onnx")
                r = _edgelite_cli(["convert", str(cache / "text_cnn.onnx"), "-o", str(path)])
                if r.returncode != 0:
                    print(f"skipped {name}: conversion failed: {r.stderr[-300:]}")
                    continue
        elif name == "text_embedding":
            path = ROOT / "tests" / "fixtures" / "text_embedding.tflite"
        elif name == "face_detection":
            path = MEDIAPIPE / "face_detection" / "face_detection_short_range.tflite"
        elif name == "face_landmark":
            path = MEDIAPIPE / "face_landmark" / "face_landmark.tflite"
        if path is None or not path.exists():
            print(f"skipped {name}: {path} not found (MediaPipe models: python tests/fixtures/fetch_mediapipe.py)")
            continue
        found.append((name, path))
    return found


def make_inputs(details: list[dict], seed: int) -> list[np.ndarray]:
    """The same inputs for every runtime: N(0, 1) floats, full-range 8-bit, small ids."""
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        shape, dt = tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"])
        if dt.kind == "f":
            out.append(rng.standard_normal(shape).astype(dt))
        elif dt.itemsize == 1:
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max + 1, shape).astype(dt))
        else:
            out.append(rng.integers(0, 100, shape).astype(dt))
    return out


def timed(invoke, n: int) -> list[tuple[int, int]]:
    """``n`` invokes, each as ``(wall ns, calling-thread CPU ns)``."""
    out = []
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for _ in range(n):
        w0, c0 = wall(), cpu()
        invoke()
        c1, w1 = cpu(), wall()
        out.append((w1 - w0, c1 - c0))
    return out


# ------------------------------------------------------------------- edgelite worker


def worker(tree: str, paths: list[str], threads: int) -> None:
    """Load every model with edgelite from ``tree``, then answer ``model_index n`` lines."""
    sys.path.insert(0, tree)
    from edgelite.interpreter import Interpreter
    from edgelite.interpreter.compute.jit import wait_until_warm

    wait_until_warm()
    its = []
    for p in paths:
        it = Interpreter(model_path=p, num_threads=threads)
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), make_inputs(it.get_input_details(), 0)):
            it.set_tensor(d["index"], x)
        for _ in range(20):
            it.invoke()
        its.append(it)
    print("ready", flush=True)
    for line in sys.stdin:
        i, n = (int(v) for v in line.split())
        print(json.dumps(timed(its[i].invoke, n)), flush=True)


class EdgeliteWorker:
    def __init__(self, label: str, tree: Path, paths: list[Path], threads: int):
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(tree), "--threads", str(threads),
             *map(str, paths)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(tree),
            env={**os.environ, "PYTHONPATH": str(tree)},
        )
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"edgelite worker for {tree} failed to start")

    def run(self, i: int, n: int) -> list[tuple[int, int]]:
        self.proc.stdin.write(f"{i} {n}\n")
        self.proc.stdin.flush()
        return [tuple(v) for v in json.loads(self.proc.stdout.readline())]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class LiteRT:
    def __init__(self, label: str, paths: list[Path], threads: int, builtin: bool):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.label = label
        kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin else {}
        self.its = []
        for p in paths:
            it = Interpreter(model_path=str(p), num_threads=threads, **kw)
            it.allocate_tensors()
            for d, x in zip(it.get_input_details(), make_inputs(it.get_input_details(), 0)):
                it.set_tensor(d["index"], x)
            for _ in range(20):
                it.invoke()
            self.its.append(it)

    def run(self, i: int, n: int) -> list[tuple[int, int]]:
        return timed(self.its[i].invoke, n)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------ report


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "flags": ""}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for ln in text.splitlines():
            if ln.startswith("model name") and info["cpu"] in ("", platform.machine(), platform.processor()):
                info["cpu"] = ln.split(":", 1)[1].strip()
            if ln.startswith("flags"):
                have = set(ln.split(":", 1)[1].split())
                info["flags"] = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni")
                                         if f in have)
                break
    except OSError:
        pass
    info["cpus"] = os.cpu_count()
    info["python"] = platform.python_version()
    info["numpy"] = np.__version__
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=list(MODELS), help=f"any of {', '.join(MODELS)} (default: all)")
    ap.add_argument("--before", type=Path, help="another edgelite checkout to run beside this one")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=int, default=20, help="invokes per runtime per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "edgelite" / "bench_small_models")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.models, args.threads)
        return 0

    models = prepare_models(args.cache, args.models)
    if not models:
        raise SystemExit("no model to run")
    paths = [p for _, p in models]
    m = machine()
    print(f"CPU: {m['cpu']} ({m['cpus']} logical CPUs; {m['flags'] or 'no AVX2'}); Python {m['python']}, "
          f"numpy {m['numpy']}; {args.threads} thread(s)")
    load0 = os.getloadavg()
    runtimes = [LiteRT("litert+xnnpack", paths, args.threads, builtin=False),
                LiteRT("litert-builtin", paths, args.threads, builtin=True),
                EdgeliteWorker("edgelite", ROOT, paths, args.threads)]
    if args.before is not None:
        runtimes.append(EdgeliteWorker("edgelite-before", args.before.resolve(), paths, args.threads))
    samples = {(i, r.label): [] for i in range(len(models)) for r in runtimes}
    try:
        for rnd in range(args.rounds):
            order = runtimes[rnd % len(runtimes):] + runtimes[: rnd % len(runtimes)]
            for i in range(len(models)):
                for r in order:
                    samples[(i, r.label)].extend(r.run(i, args.batch))
    finally:
        for r in runtimes:
            r.close()
    load1 = os.getloadavg()
    busy = max(load0[0], load1[0]) > 0.5
    print(f"load average {load0[0]:.2f} before, {load1[0]:.2f} after"
          + (": measured under load from other jobs" if busy else ""))

    def med(i, label, k):
        return statistics.median(s[k] for s in samples[(i, label)]) / 1e3

    labels = [r.label for r in runtimes]
    print(f"\nmedians of {args.rounds * args.batch} invokes, us (wall / calling-thread CPU)")
    head = f"{'model':16s}" + "".join(f"{lb:>24s}" for lb in labels) + f"{'CPU vs xnnpack':>16s}{'CPU vs builtin':>16s}"
    if args.before is not None:
        head += f"{'CPU after/before':>18s}"
    print(head)
    for i, (name, _) in enumerate(models):
        row = f"{name:16s}" + "".join(f"{med(i, lb, 0):11.1f} / {med(i, lb, 1):10.1f}" for lb in labels)
        e = med(i, "edgelite", 1)
        row += f"{e / med(i, 'litert+xnnpack', 1):15.2f}x{e / med(i, 'litert-builtin', 1):15.2f}x"
        if args.before is not None:
            row += f"{e / med(i, 'edgelite-before', 1):17.2f}x"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
