"""Which requantization LiteRT uses for single-column int8 products (a probe, not a test).

LiteRT's ``cpu_backend_gemm`` sends a product whose destination has one column (a
FULLY_CONNECTED of batch 1, a CONV_2D with one output pixel) to its own GEMV kernel
instead of ruy, on some shapes. This builds such single-op int8 models (rows = output
channels, depth = input channels; multipliers as ``rounding_models`` draws them, every
4th an exact power of two) and replays them with ``probe_rounding.probe``: each rounding
form's mismatches against LiteRT's own outputs, over many inputs.

    sudo tests/arm64/run.sh pi5 --py tests/arm64/probe_gemv.py     # LiteRT aarch64 under qemu
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edgelite.schema.builder import ModelBuilder  # noqa: E402
from tests.arm64.probe_rounding import FORMS, probe  # noqa: E402
from tests.interpreter.compute import rounding_models as rm  # noqa: E402


def build(kind: str, rows: int, depth: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    out_scale = 0.1
    fs = rm._filter_scales(rng, rows, out_scale, False)
    if kind == "fc":
        x = b.add_input("x", (1, depth), np.int8, (rm.IN_SCALE, rm.IN_ZP))
        y_shape, w_shape = (1, rows), (rows, depth)
    else:
        x = b.add_input("x", (1, 1, 1, depth), np.int8, (rm.IN_SCALE, rm.IN_ZP))
        y_shape, w_shape = (1, 1, 1, rows), (rows, 1, 1, depth)
    w = rng.integers(-127, 128, w_shape).astype(np.int8)
    if kind == "fc":  # FULLY_CONNECTED: per-tensor weights
        fs = fs[:1]
    wq = (fs, np.zeros(fs.size, np.int64), 0)
    bias_scale = (rm.IN_SCALE * fs.astype(np.float64)).astype(np.float32)
    bias = rng.integers(-3000, 3000, rows).astype(np.int32)
    wi = b.add_constant("w", w, wq)
    bi = b.add_constant("b", bias, (bias_scale, np.zeros(bias_scale.size, np.int64), 0))
    y = b.add_tensor("y", y_shape, np.int8, (out_scale, rm.OUT_ZP))
    if kind == "fc":
        b.add_operator("FULLY_CONNECTED", [x, wi, bi], [y], rm._opt("FullyConnectedOptions"))
    else:
        o = rm._opt("Conv2DOptions", padding=0, strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
        b.add_operator("CONV_2D", [x, wi, bi], [y], o, version=3)
    b.mark_output(y)
    return b.build()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    for kind in ("conv", "fc"):
        for rows, depth in ((2, 48), (3, 48), (4, 48), (8, 48), (288, 48), (288, 6), (288, 7), (288, 8), (288, 16)):
            content = build(kind, rows, depth)
            feeds = [[np.random.default_rng(1000 + s).integers(-128, 128, (1, depth) if kind == "fc"
                                                                else (1, 1, 1, depth)).astype(np.int8)]
                     for s in range(runs)]
            import contextlib, io
            with contextlib.redirect_stdout(io.StringIO()):
                totals = probe(f"{kind} rows={rows} depth={depth}", content, feeds)
            print(f"{kind} rows={rows:4d} depth={depth:3d} x {runs} inputs: "
                  + " ".join(f"{k}={v}" for k, v in totals.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
