"""edgelite's int8 conv-like kernels against LiteRT, per layer and on a whole model.

Builds (with random int8 weights, per-channel scales) the layers of MobileNetV2 1.0 at
224x224 as one-operator models, and the whole network as one model (CONV_2D,
DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED), then times:

* edgelite's ``eval_jit`` of each layer (the kernel alone) and LiteRT on the same
  one-op model (XNNPACK default, and the builtin kernels without delegates);
* whole models in ``edgelite.Interpreter`` and LiteRT (XNNPACK, and its built-in
  kernels with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``) at 1 and 2 threads: the TF-made
  ``models/mobilenet_v2_224_int8.tflite`` when present (``make_real_models.py``), any
  ``--model``, and the random-weight network. The three runtimes take turns, 5 rounds
  of 20 invokes, so that load changes hit all of them alike.

Prints medians in milliseconds and ratios (edgelite / LiteRT), and the machine.
Never gates anything. Run: ``python benchmarks/bench_int8_kernels.py [--layers]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from edgelite.schema.builder import ModelBuilder  # noqa: E402
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT  # noqa: E402
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT  # noqa: E402
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT  # noqa: E402
from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT  # noqa: E402
from edgelite.schema.fb.AddOptions import AddOptionsT  # noqa: E402
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT  # noqa: E402

# (expansion t, output channels c, repeats n, first stride s)
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class _Net:
    """Adds quantized layers to a ModelBuilder; activations int8, scale 0.05..0.1."""

    def __init__(self, b: ModelBuilder, rng):
        self.b, self.rng, self.n = b, rng, 0

    def _name(self, kind):
        self.n += 1
        return f"{kind}{self.n}"

    def act(self, shape):
        q = (np.float32(self.rng.uniform(0.05, 0.1)), int(self.rng.integers(-20, 20)))
        return self.b.add_tensor(self._name("a"), shape, np.int8, q), q

    def conv(self, x, xq, shape, cout, k, stride, relu6, depthwise=False):
        b, h, w, cin = shape
        oh, ow = -(-h // stride), -(-w // stride)
        oc = cin if depthwise else cout
        wshape = (1, k, k, oc) if depthwise else (oc, k, k, cin)
        wt = self.rng.integers(-127, 128, wshape).astype(np.int8)
        ws = self.rng.uniform(0.002, 0.01, oc).astype(np.float32)
        wi = self.b.add_constant(self._name("w"), wt, (ws, np.zeros(oc, np.int64), 3 if depthwise else 0))
        bs = (xq[0] * ws).astype(np.float32)
        bi = self.b.add_constant(self._name("b"), self.rng.integers(-2000, 2000, oc).astype(np.int32), (bs, np.zeros(oc, np.int64), 0))
        y, yq = self.act((b, oh, ow, oc))
        if depthwise:
            o = DepthwiseConv2DOptionsT()
            o.depthMultiplier = 1
            op, ver = "DEPTHWISE_CONV_2D", 3
        else:
            o = Conv2DOptionsT()
            op, ver = "CONV_2D", 3
        o.padding, o.strideH, o.strideW, o.fusedActivationFunction = 0, stride, stride, 3 if relu6 else 0
        self.b.add_operator(op, [x, wi, bi], [y], o, version=ver)
        return y, yq, (b, oh, ow, oc)

    def add(self, a, aq, c, shape):
        y, yq = self.act(shape)
        self.b.add_operator("ADD", [a, c], [y], AddOptionsT(), version=2)
        return y, yq


def mobilenet_v2_int8(rng, size=224, classes=1000) -> bytes:
    """A MobileNetV2 1.0 graph with random int8 weights (about 300M MACs at 224)."""
    b = ModelBuilder()
    net = _Net(b, rng)
    xq = (np.float32(0.0078125), 0)
    x = b.add_input("input", (1, size, size, 3), np.int8, xq)
    shape = (1, size, size, 3)
    x, xq, shape = net.conv(x, xq, shape, 32, 3, 2, True)
    for t, c, n, s in MOBILENET_V2:
        for i in range(n):
            stride = s if i == 0 else 1
            inp, inq, in_shape = x, xq, shape
            if t != 1:
                x, xq, shape = net.conv(x, xq, shape, shape[3] * t, 1, 1, True)
            x, xq, shape = net.conv(x, xq, shape, 0, 3, stride, True, depthwise=True)
            x, xq, shape = net.conv(x, xq, shape, c, 1, 1, False)
            if stride == 1 and in_shape[3] == c:
                x, xq = net.add(inp, inq, x, shape)
    x, xq, shape = net.conv(x, xq, shape, 1280, 1, 1, True)
    po = Pool2DOptionsT()
    po.padding, po.strideH, po.strideW, po.filterHeight, po.filterWidth = 1, 1, 1, shape[1], shape[2]
    pooled = b.add_tensor("pool", (1, 1, 1, 1280), np.int8, xq)
    b.add_operator("AVERAGE_POOL_2D", [x], [pooled], po, version=2)
    flat = b.add_tensor("flat", (1, 1280), np.int8, xq)
    ro = ReshapeOptionsT()
    ro.newShape = [1, 1280]
    b.add_operator("RESHAPE", [pooled, b.add_constant("shape", np.array([1, 1280], np.int32))], [flat], ro)
    wt = rng.integers(-127, 128, (classes, 1280)).astype(np.int8)
    ws = np.float32(0.003)
    wi = b.add_constant("fc_w", wt, (ws, 0))
    bi = b.add_constant("fc_b", rng.integers(-2000, 2000, classes).astype(np.int32), (np.float32(xq[0] * ws), 0))
    logits = b.add_tensor("logits", (1, classes), np.int8, (np.float32(0.1), 0))
    b.add_operator("FULLY_CONNECTED", [flat, wi, bi], [logits], FullyConnectedOptionsT(), version=4)
    b.mark_output(logits)
    return b.build()


def _median_ms(fn, warmup=3, reps=20) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1000 * float(np.median(ts))


def _litert(model: bytes, delegate: bool, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rt = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=rt)
    it.allocate_tensors()
    return it


def _interleaved(runners: dict, rounds: int = 5, reps: int = 20) -> dict:
    """Median of per-round medians and the fastest invoke of each runner, the runners
    taking turns round by round so that a change of machine load hits all of them."""
    per_round = {k: [] for k in runners}
    fastest = {k: float("inf") for k in runners}
    for fn in runners.values():
        for _ in range(3):
            fn()
    for _ in range(rounds):
        for name, fn in runners.items():
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            per_round[name].append(float(np.median(ts)))
            fastest[name] = min(fastest[name], min(ts))
    return {k: (1000 * float(np.median(v)), 1000 * fastest[k]) for k, v in per_round.items()}


def whole_model(model: bytes, label: str, threads_list=(1, 2)) -> None:
    """edgelite against LiteRT (XNNPACK, and its built-in kernels) on one int8 model."""
    import edgelite

    rng = np.random.default_rng(1)
    for threads in threads_list:
        its = {"litert_xnnpack": _litert(model, True, threads), "litert_builtin": _litert(model, False, threads),
               "edgelite": edgelite.Interpreter(model_content=model, num_threads=threads)}
        its["edgelite"].allocate_tensors()
        outs = {}
        d = its["litert_builtin"].get_input_details()[0]
        if np.issubdtype(d["dtype"], np.floating):
            x = rng.uniform(0, 1, d["shape"]).astype(d["dtype"])
        else:
            x = rng.integers(-128, 128, d["shape"]).astype(d["dtype"])
        for it in its.values():
            it.set_tensor(it.get_input_details()[0]["index"], x)
        res = _interleaved({k: it.invoke for k, it in its.items()})
        for k, it in its.items():
            outs[k] = it.get_tensor(it.get_output_details()[0]["index"])
        e, xnn, ref = res["edgelite"], res["litert_xnnpack"], res["litert_builtin"]
        print(f"\n{label}, {threads} thread(s): median / fastest invoke, ms")
        for k, (med, best) in res.items():
            print(f"  {k:16s} {med:8.2f} / {best:7.2f}")
        print(f"  edgelite / litert_xnnpack = {e[0] / xnn[0]:.2f}x (fastest {e[1] / xnn[1]:.2f}x; target <= 4x at 1 thread); "
              f"edgelite / litert_builtin = {e[0] / ref[0]:.2f}x (fastest {e[1] / ref[1]:.2f}x)")
        same = np.array_equal(outs["edgelite"], outs["litert_builtin"])
        print(f"  output equal to LiteRT built-in kernels: {same}; to XNNPACK: {np.array_equal(outs['edgelite'], outs['litert_xnnpack'])}")


def per_layer(rng) -> None:
    from tests.interpreter.kernels.quant_harness import Spec, TSpec, build_tflite, make_context  # noqa: PLC0415
    from edgelite.interpreter.kernels.base import select_kernel

    layers = []
    h = 112
    layers.append(("stem 3x3 s2 3->32 @224", "CONV_2D", (1, 224, 224, 3), 32, 3, 2))
    layers.append(("dw 3x3 32 @112", "DEPTHWISE_CONV_2D", (1, 112, 112, 32), 32, 3, 1))
    layers.append(("pw 32->16 @112", "CONV_2D", (1, 112, 112, 32), 16, 1, 1))
    layers.append(("pw 16->96 @112", "CONV_2D", (1, 112, 112, 16), 96, 1, 1))
    layers.append(("dw 3x3 s2 96 @112", "DEPTHWISE_CONV_2D", (1, 112, 112, 96), 96, 3, 2))
    layers.append(("pw 144->24 @56", "CONV_2D", (1, 56, 56, 144), 24, 1, 1))
    layers.append(("dw 3x3 144 @56", "DEPTHWISE_CONV_2D", (1, 56, 56, 144), 144, 3, 1))
    layers.append(("pw 192->32 @28", "CONV_2D", (1, 28, 28, 192), 32, 1, 1))
    layers.append(("pw 384->64 @14", "CONV_2D", (1, 14, 14, 384), 64, 1, 1))
    layers.append(("pw 960->160 @7", "CONV_2D", (1, 7, 7, 960), 160, 1, 1))
    layers.append(("pw 320->1280 @7", "CONV_2D", (1, 7, 7, 320), 1280, 1, 1))
    layers.append(("fc 1280->1000", "FULLY_CONNECTED", (1, 1280), 1000, 0, 0))
    del h
    print(f"\nPer layer (int8, per-channel weights), 1 thread, median ms; machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus")
    print(f"  {'layer':28s} {'edgelite jit':>12s} {'litert xnn':>11s} {'litert builtin':>15s} {'ratio/xnn':>10s}")
    for name, op, in_shape, cout, k, stride in layers:
        xq = (np.float32(0.05), 3)
        if op == "FULLY_CONNECTED":
            w = rng.integers(-127, 128, (cout, in_shape[1])).astype(np.int8)
            ws = np.full(1, 0.005, np.float32)
            wq = (ws, np.zeros(1, np.int64), 0)
            out_shape = (1, cout)
            opts = FullyConnectedOptionsT()
            ver = 4
        else:
            dw = op == "DEPTHWISE_CONV_2D"
            n = in_shape[3] if dw else cout
            w = rng.integers(-127, 128, (1, k, k, n) if dw else (n, k, k, in_shape[3])).astype(np.int8)
            ws = rng.uniform(0.002, 0.01, n).astype(np.float32)
            wq = (ws, np.zeros(n, np.int64), 3 if dw else 0)
            oh = -(-in_shape[1] // stride)
            out_shape = (1, oh, oh, n)
            opts = DepthwiseConv2DOptionsT() if dw else Conv2DOptionsT()
            if dw:
                opts.depthMultiplier = 1
            opts.padding, opts.strideH, opts.strideW, opts.fusedActivationFunction = 0, stride, stride, 3
            ver = 3
        nb = out_shape[-1]
        bias = TSpec((nb,), np.int32, ((xq[0] * np.resize(ws, nb)).astype(np.float32), np.zeros(nb, np.int64), 0),
                     rng.integers(-2000, 2000, nb).astype(np.int32), True)
        spec = Spec(op, [TSpec(in_shape, np.int8, xq), TSpec(w.shape, np.int8, wq, w, True), bias],
                    [TSpec(out_shape, np.int8, (np.float32(0.08), -5))], opts, version=ver)
        x = rng.integers(-128, 128, in_shape).astype(np.int8)
        ctx = make_context(spec, use_jit=True)
        kern = select_kernel(ctx)
        params = kern.prepare(ctx)
        out = np.empty(ctx.output_shapes[0], np.int8)
        arrays = [x, w, bias.data]
        t_el = _median_ms(lambda: kern.eval_jit(params, arrays, [out]))
        model = build_tflite(spec)
        times = []
        for delegate in (True, False):
            it = _litert(model, delegate)
            it.set_tensor(it.get_input_details()[0]["index"], x)
            times.append(_median_ms(it.invoke))
        print(f"  {name:28s} {t_el:12.3f} {times[0]:11.3f} {times[1]:15.3f} {t_el / times[0]:9.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", action="store_true", help="also time each layer alone")
    ap.add_argument("--no-model", action="store_true", help="skip the whole-model runs")
    ap.add_argument("--model", action="append", default=None,
                    help="an int8 .tflite to time (default: models/mobilenet_v2_224_int8.tflite when it exists, "
                         "made by benchmarks/make_real_models.py, and a random-weight MobileNetV2 built here)")
    ap.add_argument("--threads", default="1,2", help="thread counts of the whole-model runs (default 1,2)")
    args = ap.parse_args()
    from edgelite.interpreter.compute.jit import HAVE_NUMBA, set_num_threads

    set_num_threads(1)
    print(f"edgelite int8 kernels benchmark; numba: {HAVE_NUMBA}; python {platform.python_version()}; numpy {np.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    if args.layers:
        per_layer(rng)
    if not args.no_model:
        threads = tuple(int(t) for t in args.threads.split(","))
        paths = args.model
        if paths is None:
            default = os.path.join(os.path.dirname(__file__), "..", "models", "mobilenet_v2_224_int8.tflite")
            paths = [default] if os.path.exists(default) else []
        for path in paths:
            with open(path, "rb") as f:
                whole_model(f.read(), os.path.basename(path), threads)
        whole_model(mobilenet_v2_int8(rng), "random-weight MobileNetV2 1.0 224 int8 (built here)", threads)


if __name__ == "__main__":
    main()
