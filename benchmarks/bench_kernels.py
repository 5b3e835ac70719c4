"""Time edgelite's float conv / depthwise / FC / pooling kernels against LiteRT.

Every case is one operator at a MobileNetV2-224 size. The same single-op ``.tflite``
runs in LiteRT (default XNNPACK delegate, and the built-in kernels without it) and
through edgelite's kernel (``prepare`` once, then ``eval_jit`` on preallocated arrays,
the way the interpreter calls it). Medians of repeated runs, 1 thread by default.

``--mobilenet`` runs every layer of MobileNetV2 (52 convs, pooling, classifier) and
prints the summed per-op latency next to LiteRT's, which bounds what edgelite's
interpreter can reach on the whole network (it adds the residual ADDs and its own
per-op dispatch).

Usage::

    python benchmarks/bench_kernels.py               # representative layers
    python benchmarks/bench_kernels.py --mobilenet   # all MobileNetV2 layers, totals
    python benchmarks/bench_kernels.py --threads 2 --reps 50
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from edgelite.interpreter.kernels.base import OpContext, TensorInfo, select_kernel  # noqa: E402
from edgelite.interpreter.compute.jit import HAVE_NUMBA  # noqa: E402
from edgelite.schema.builder import ModelBuilder  # noqa: E402
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT  # noqa: E402
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT  # noqa: E402
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT  # noqa: E402
from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT  # noqa: E402
from edgelite.schema.fb.ResizeBilinearOptions import ResizeBilinearOptionsT  # noqa: E402

F32 = np.dtype(np.float32)
RELU6 = 3


@dataclass
class Case:
    name: str
    op: str
    x_shape: tuple
    consts: list  # constant inputs after x (arrays, or None for omitted)
    out_shape: tuple
    options: Any
    count: int = 1  # how many times MobileNetV2 has this layer


def conv(name, hw, cin, cout, k=1, s=1, act=RELU6, count=1):
    rng = np.random.default_rng(0)
    o = Conv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = 0, s, s, act
    w = (rng.standard_normal((cout, k, k, cin)) * 0.1).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    oh = -(-hw // s)
    return Case(name, "CONV_2D", (1, hw, hw, cin), [w, b], (1, oh, oh, cout), o, count)


def dwconv(name, hw, c, s=1, count=1):
    rng = np.random.default_rng(1)
    o = DepthwiseConv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.depthMultiplier, o.fusedActivationFunction = 0, s, s, 1, RELU6
    w = rng.standard_normal((1, 3, 3, c)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    oh = -(-hw // s)
    return Case(name, "DEPTHWISE_CONV_2D", (1, hw, hw, c), [w, b], (1, oh, oh, c), o, count)


def mobilenet_v2_cases() -> list[Case]:
    """Every conv/pool/FC layer of MobileNetV2 (alpha 1.0, 224x224)."""
    cases = [conv("stem 3x3/2 3->32", 224, 3, 32, k=3, s=2)]
    hw, cin = 112, 32
    blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    for t, c, n, s in blocks:
        for i in range(n):
            stride = s if i == 0 else 1
            mid = cin * t
            if t != 1:
                cases.append(conv(f"expand {hw} {cin}->{mid}", hw, cin, mid))
            cases.append(dwconv(f"dw {hw} {mid} s{stride}", hw, mid, stride))
            hw = -(-hw // stride)
            cases.append(conv(f"project {hw} {mid}->{c}", hw, mid, c, act=0))
            cin = c
    cases.append(conv("head 7 320->1280", 7, 320, 1280))
    p = Pool2DOptionsT()
    p.padding, p.strideH, p.strideW, p.filterHeight, p.filterWidth = 1, 1, 1, 7, 7
    cases.append(Case("avgpool 7x7", "AVERAGE_POOL_2D", (1, 7, 7, 1280), [], (1, 1, 1, 1280), p))
    f = FullyConnectedOptionsT()
    rng = np.random.default_rng(2)
    fw = (rng.standard_normal((1000, 1280)) * 0.03).astype(np.float32)
    cases.append(Case("fc 1280->1000", "FULLY_CONNECTED", (1, 1280), [fw, np.zeros(1000, np.float32)], (1, 1000), f))
    return cases


def representative_cases() -> list[Case]:
    mp = Pool2DOptionsT()
    mp.padding, mp.strideH, mp.strideW, mp.filterHeight, mp.filterWidth = 0, 2, 2, 3, 3
    rb = ResizeBilinearOptionsT()
    rb.halfPixelCenters = True
    return [
        conv("stem 3x3/2 3->32", 224, 3, 32, k=3, s=2),
        conv("expand 112 16->96", 112, 16, 96),
        conv("project 56 144->24", 56, 144, 24, act=0),
        conv("expand 14 96->576", 14, 96, 576),
        conv("head 7 320->1280", 7, 320, 1280),
        conv("resnet 3x3 56 64->64", 56, 64, 64, k=3),
        dwconv("dw 112 32 s1", 112, 32),
        dwconv("dw 112 96 s2", 112, 96, 2),
        dwconv("dw 56 144 s1", 56, 144),
        dwconv("dw 14 576 s1", 14, 576),
        dwconv("dw 7 960 s1", 7, 960),
        Case("maxpool 3x3/2 112x64", "MAX_POOL_2D", (1, 112, 112, 64), [], (1, 56, 56, 64), mp),
        Case("resize bilinear 28->56 x64", "RESIZE_BILINEAR", (1, 28, 28, 64), [np.array([56, 56], np.int32)],
             (1, 56, 56, 64), rb),
        *[c for c in mobilenet_v2_cases() if c.op == "FULLY_CONNECTED"],
    ]


def build(case: Case) -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", case.x_shape, np.float32)
    ins = [x]
    for i, c in enumerate(case.consts):
        ins.append(-1 if c is None else b.add_constant(f"c{i}", c))
    y = b.add_tensor("y", case.out_shape, np.float32)
    b.add_operator(case.op, ins, [y], options=case.options)
    b.mark_output(y)
    return b.build()


def median_time(fn, reps: int) -> float:
    fn()
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def time_litert(model: bytes, x: np.ndarray, threads: int, reps: int, delegate: bool) -> float:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rt = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=rt)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    return median_time(it.invoke, reps)


def time_edgelite(case: Case, x: np.ndarray, threads: int, reps: int) -> tuple[float, float]:
    """(median seconds of eval_jit, max |edgelite - litert-free numpy reference| / scale)."""
    infos = [TensorInfo(0, "x", case.x_shape, F32, 0)]
    for i, c in enumerate(case.consts):
        infos.append(None if c is None else TensorInfo(i + 1, f"c{i}", c.shape, c.dtype, 0 if c.dtype == F32 else 2, data=c))
    ctx = OpContext(case.op, 0, 1, case.options, None, None, infos, [TensorInfo(99, "y", None, F32, 0)],
                    num_threads=threads, use_jit=True)
    k = select_kernel(ctx)
    if k is None:
        raise SystemExit(f"no edgelite kernel accepts {case.op}")
    p = k.prepare(ctx)
    out = np.empty(ctx.output_shapes[0], np.float32)
    inputs = [x] + list(case.consts)
    fn = k.eval_jit if (HAVE_NUMBA and type(k).eval_jit is not None) else k.eval
    t = median_time(lambda: fn(p, inputs, [out]), reps)
    ref = np.empty_like(out)
    k.eval(p, inputs, [ref])
    err = float(np.abs(out - ref).max() / max(1e-30, np.abs(ref).max()))
    return t, err


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mobilenet", action="store_true", help="all MobileNetV2 layers and totals")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    args = ap.parse_args(argv)

    cases = mobilenet_v2_cases() if args.mobilenet else representative_cases()
    cases = [c for c in cases if args.filter in c.name]
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"python {platform.python_version()} numpy {np.__version__} numba={HAVE_NUMBA} threads={args.threads}")
    print(f"{'case':28s} {'edgelite':>9s} {'xnnpack':>9s} {'builtin':>9s} {'/xnn':>6s} {'/bltn':>6s}  rel.err")
    tot = np.zeros(3)
    rng = np.random.default_rng(0)
    for c in cases:
        x = rng.standard_normal(c.x_shape).astype(np.float32)
        model = build(c)
        te, err = time_edgelite(c, x, args.threads, args.reps)
        tx = time_litert(model, x, args.threads, args.reps, delegate=True)
        tb = time_litert(model, x, args.threads, args.reps, delegate=False)
        tot += np.array([te, tx, tb]) * c.count
        print(f"{c.name:28s} {te * 1e6:8.0f}u {tx * 1e6:8.0f}u {tb * 1e6:8.0f}u {te / tx:6.2f} {te / tb:6.2f}  {err:.1e}")
    print(f"{'TOTAL (weighted)':28s} {tot[0] * 1e3:8.2f}m {tot[1] * 1e3:8.2f}m {tot[2] * 1e3:8.2f}m "
          f"{tot[0] / tot[1]:6.2f} {tot[0] / tot[2]:6.2f}")


if __name__ == "__main__":
    main()
