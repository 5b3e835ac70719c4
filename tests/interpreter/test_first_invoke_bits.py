"""Same input, same output bits, on every invoke of a process.

A fresh process's first invoke runs the reference (numpy) kernels while Numba loads in
the background; later invokes run the JIT kernels (``edgelite.interpreter.compute.jit``).
The two must agree bit for bit, or a user sees two answers for one input. Kernel-level
checks live in the float kernel tests (``assert_bit_identical``); here whole models run
both ways: every tensor, not only the outputs, must match.
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
