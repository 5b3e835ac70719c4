"""Same input, same output bits, on every invoke of a process.

A fresh process's first invoke runs the reference (numpy) kernels while Numba loads in
the background; later invokes run the JIT kernels (``edgelite.interpreter.compute.jit``).
The two must agree bit for bit, or a user sees two answers for one input. Kernel-level
checks live in the float kernel tests (``assert_bit_identical``); here whole models run
both ways: every tensor, not only the outputs, must match; single float CONV_2D and
FULLY_CONNECTED layers at one and two threads check the shapes where BLAS's bits depend on
how a product is called (its row blocks and its thread count).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import edgelite
from edgelite.interpreter.compute import jit
from edgelite.interpreter.interpreter import OpResolverType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
# Float models covering conv, depthwise, transpose conv, resize, pooling, fully connected,
# activations and the dequantize of float16 weights; hybrid and int8 ones for the rest.
MODELS = [
    "unet_small_64_float32",
    "keras3_segnet_small_float32",
    "mobilenet_v2_035_96_float16",
    "efficientnet_small_96_float32",
    "resnet_small_64_float32",
    "text_embedding",
    "mobilenet_v2_035_96_dynamic",
    "mobilenet_v2_035_96_int8",
]

needs_numba = pytest.mark.skipif(not jit.HAVE_NUMBA, reason="Numba is not installed: only the reference kernels exist")


def _inputs(it) -> None:
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        dt = np.dtype(d["dtype"])
        if dt.kind == "f":
            x = rng.standard_normal(d["shape"]).astype(dt)
        else:
            x = rng.integers(max(np.iinfo(dt).min, -100), min(np.iinfo(dt).max, 100), d["shape"]).astype(dt)
        it.set_tensor(d["index"], x)


def _all_tensors(path: Path, resolver: OpResolverType) -> dict[int, bytes]:
    it = edgelite.Interpreter(model_path=str(path), experimental_op_resolver_type=resolver,
                              experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    _inputs(it)
    it.invoke()
    out = {}
    for t in it.get_tensor_details():
        try:
            out[t["index"]] = it.get_tensor(t["index"]).tobytes()
        except ValueError:  # a tensor without data (e.g. an optional input slot)
            pass
    return out


@needs_numba
@pytest.mark.parametrize("name", MODELS)
def test_reference_and_jit_kernels_give_the_same_bits(name):
    path = FIXTURES / f"{name}.tflite"
    ref = _all_tensors(path, OpResolverType.BUILTIN_REF)
    # Else the process's first invoke would run the reference kernels here too.
    assert jit.wait_until_warm(timeout=300)
    fast = _all_tensors(path, OpResolverType.BUILTIN)
    differ = [i for i in ref if i in fast and ref[i] != fast[i]]
    assert not differ, f"{name}: tensors {differ[:10]} differ between the reference and the JIT kernels"


CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import edgelite
    from edgelite.interpreter.compute import jit
    it = edgelite.Interpreter(model_path=sys.argv[1])
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        it.set_tensor(d["index"], rng.standard_normal(d["shape"]).astype(d["dtype"]))
    outs, warm = [], []
    for _ in range(3):
        warm.append(jit.is_warm())
        it.invoke()
        outs.append([it.get_tensor(o["index"]).tobytes().hex() for o in it.get_output_details()])
    print(json.dumps({"outs": outs, "warm_before": warm, "warm_at_end": jit.is_warm()}))
    """
)


@needs_numba
def test_fresh_process_gives_the_same_bits_on_every_invoke():
    # unet: TRANSPOSE_CONV, whose two kernels once summed in different orders.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("EDGELITE_JIT_WARMUP", None)
    res = subprocess.run([sys.executable, "-c", CHILD, str(FIXTURES / "unet_small_64_float32.tflite")],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    got = json.loads(res.stdout.strip().splitlines()[-1])
    # The first invoke ran before Numba was loaded (the reference kernels), the later ones after.
    assert got["warm_before"][0] is False and got["warm_at_end"] is True
    assert got["outs"][0] == got["outs"][1] == got["outs"][2]


def _first_and_later(model: bytes, threads: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The single-output model's output on its reference kernels (a first invoke) and on
    its JIT kernels (the invokes after it), same input, ``threads`` threads."""
    assert jit.wait_until_warm(timeout=300)
    it = edgelite.Interpreter(model_content=model, num_threads=threads)
    it.allocate_tensors()
    d, o = it.get_input_details()[0], it.get_output_details()[0]["index"]
    x = np.random.default_rng(seed).standard_normal(d["shape"]).astype(np.float32)
    it.set_tensor(d["index"], x)
    it._runtime(0).invoke(reference=True)
    first = it.get_tensor(o).copy()
    it.set_tensor(d["index"], x)
    it.invoke()
    assert it._runtime(0).has_jit_steps
    return first, it.get_tensor(o)


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape and got.tobytes() == want.tobytes(), (
        f"{what}: {int((got.view(np.uint32) != want.view(np.uint32)).sum())} of {got.size} outputs differ in their bits")


def _conv_model(h: int, cin: int, cout: int, k: int, s: int) -> bytes:
    from edgelite.schema.builder import ModelBuilder

    rng = np.random.default_rng(h * cout + k)
    b = ModelBuilder()
    x = b.add_input("x", (1, h, h, cin), np.float32)
    w = b.add_constant("w", (rng.standard_normal((cout, k, k, cin)) * 0.3).astype(np.float32))
    bias = b.add_constant("b", rng.standard_normal(cout).astype(np.float32))
    y = b.add_tensor("y", (1, -(-h // s), -(-h // s), cout), np.float32)
    from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT

    o = Conv2DOptionsT()
    o.strideH = o.strideW = s
    o.padding = 0  # SAME
    o.dilationHFactor = o.dilationWFactor = 1
    b.add_operator("CONV_2D", [x, w, bias], [y], o)
    b.mark_output(y)
    return b.build()


@needs_numba
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cout", [2, 3, 8, 32])
@pytest.mark.parametrize("h,cin,k,s", [(256, 8, 3, 1), (96, 4, 5, 1), (64, 32, 3, 1), (28, 64, 3, 1), (160, 16, 1, 1)])
def test_first_invoke_and_later_ones_give_the_same_bits(threads, cout, h, cin, k, s):
    """A process's first invoke runs ``eval`` (numpy), later ones ``eval_jit``, with one or
    two threads. BLAS's bits depend on a product's shape (OpenBLAS's small-matrix and edge
    kernels), so both paths make the same calls: ``eval`` multiplies in the JIT path's row
    blocks, and a thread split is kept only where a probe shows it gives those bits. Before,
    up to 80% of these outputs differed between the first invoke and the next."""
    first, later = _first_and_later(_conv_model(h, cin, cout, k, s), threads, seed=1)
    _same_bits(later, first, f"cout {cout}, {h}x{h}x{cin}, {k}x{k}/{s}, {threads} thread(s)")


def _fc_model(m: int, k: int, n: int) -> bytes:
    from edgelite.schema.builder import ModelBuilder
    from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

    rng = np.random.default_rng(m + k + n)
    b = ModelBuilder()
    x = b.add_input("x", (m, k), np.float32)
    w = b.add_constant("w", (rng.standard_normal((n, k)) * 0.05).astype(np.float32))
    bias = b.add_constant("b", rng.standard_normal(n).astype(np.float32))
    y = b.add_tensor("y", (m, n), np.float32)
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y], FullyConnectedOptionsT())
    b.mark_output(y)
    return b.build()


@needs_numba
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(1, 1280, 1000), (1, 2048, 1001), (16, 1024, 500), (256, 528, 88)])
def test_fully_connected_first_invoke_and_later_ones_give_the_same_bits(threads, m, k, n):
    """MobileNetV2's classifier (1 x 1280 -> 1000) at two threads: the first invoke's numpy
    kernels called BLAS with two threads and the JIT runs with one (their own split), and
    OpenBLAS's two-thread matrix-vector product summed differently. The reference kernels
    of a JIT runtime now take the JIT runs' BLAS thread count."""
    first, later = _first_and_later(_fc_model(m, k, n), threads, seed=2)
    _same_bits(later, first, f"FC {m}x{k} -> {n}, {threads} thread(s)")
