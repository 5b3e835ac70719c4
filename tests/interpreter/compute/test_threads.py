"""Thread policy: decided by the executor for each run, never inside a kernel."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.compute import jit, threads
from edgelite.interpreter.compute.threads import ThreadPlan, plan_threads
from edgelite.schema.builder import ModelBuilder

KERNELS = Path(__file__).resolve().parents[3] / "edgelite" / "interpreter" / "kernels"


@pytest.mark.parametrize("n, use_jit, blas_parallel, want", [
    (1, True, False, ThreadPlan(1, 1)),
    (4, True, False, ThreadPlan(4, 1)),
    (4, True, True, ThreadPlan(4, 4)),
    (4, False, False, ThreadPlan(4, 4)),
    (None, True, False, ThreadPlan(1, 1)),
    (0, False, True, ThreadPlan(1, 1)),
])
def test_num_threads_is_a_ceiling_for_both_pools(n, use_jit, blas_parallel, want):
    plan = plan_threads(n, use_jit=use_jit, blas_parallel=blas_parallel)
    assert plan == want
    assert plan.numba <= max(1, n or 1) and plan.blas <= max(1, n or 1)


def test_no_kernel_sets_thread_counts():
    """Kernels split work up to ctx.num_threads but never touch the process-wide pools."""
    calls = []
    for path in KERNELS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("set_num_threads", "set_blas_threads", "apply"):
                    calls.append(f"{path.relative_to(KERNELS)}:{node.lineno} {name}")
    assert not calls, calls


def _add_model() -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    y = b.add_input("y", (1, 4), np.float32)
    z = b.add_tensor("z", (1, 4), np.float32)
    b.add_operator("ADD", [x, y], [z])
    b.mark_output(z)
    return b.build()


@pytest.mark.parametrize("n", [1, 2])
def test_invoke_applies_the_interpreters_threads(n, monkeypatch):
    seen = []
    monkeypatch.setattr(threads, "set_blas_threads", lambda k: seen.append(("blas", k)))
    monkeypatch.setattr(threads, "set_num_threads", lambda k: seen.append(("numba", k)))
    it = Interpreter(model_content=_add_model(), num_threads=n)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.ones((1, 4), np.float32))
    it.invoke()
    assert ("numba", n) in seen
    blas = [k for what, k in seen if what == "blas"]
    assert blas and max(blas) <= n
    assert jit is not None


# ------------------------------------------- the ceiling, counted on the OS's threads

_CEILING_SCRIPT = r"""
import json, os, sys, threading, time
import numpy as np
from edgelite.interpreter import Interpreter
from edgelite.interpreter.compute import pool, threads
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT

def ticks():
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        out[int(tid)] = (comm, int(st[11]) + int(st[12]))
    return out

def float_model():
    # a 1x1 conv big enough for the pool, then a depthwise conv big enough for Numba's
    rng = np.random.default_rng(1)
    b = ModelBuilder()
    x = b.add_input("x", (1, 64, 64, 48), np.float32)
    c = Conv2DOptionsT(); c.strideW = c.strideH = 1; c.fusedActivationFunction = 3
    y = b.add_tensor("y", (1, 64, 64, 96), np.float32)
    b.add_operator("CONV_2D", [x, b.add_constant("w", rng.standard_normal((96, 1, 1, 48)).astype(np.float32)),
                               b.add_constant("b", np.zeros(96, np.float32))], [y], c)
    d = DepthwiseConv2DOptionsT(); d.strideW = d.strideH = 1; d.depthMultiplier = 1
    z = b.add_tensor("z", (1, 64, 64, 96), np.float32)
    b.add_operator("DEPTHWISE_CONV_2D", [y, b.add_constant("dw", rng.standard_normal((1, 3, 3, 96)).astype(np.float32)),
                                         b.add_constant("db", np.zeros(96, np.float32))], [z], d)
    b.mark_output(z)
    return b.build()

models = {"float": dict(model_content=float_model()), "int8": dict(model_path=sys.argv[1])}
me = threading.get_native_id()
report = {}
for n in (1, 2):
    for name, src in models.items():
        it = Interpreter(**src, num_threads=n)
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], np.random.default_rng(0).uniform(-1, 1, d["shape"]).astype(d["dtype"]))
        start = ticks()
        for _ in range(3):
            it.invoke()
        before = ticks()
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(int(sys.argv[2])):
            it.invoke()
        c1, t1 = time.process_time(), time.perf_counter()
        after = ticks()
        active = {tid: comm for tid, (comm, t) in after.items() if t > before.get(tid, (comm, 0))[1]}
        numba_threads = None
        if "numba" in sys.modules:
            import numba
            numba_threads = numba.get_num_threads()
        blas = []
        try:
            from threadpoolctl import threadpool_info
            blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        except ImportError:
            pass
        report[f"{name}/{n}"] = dict(
            new_threads=sorted(set(after) - set(start)), others_active=sorted(c for t, c in active.items() if t != me),
            caller_active=me in active, cpu=c1 - c0, wall=t1 - t0, numba=numba_threads, blas=blas,
            pool_helpers=pool.pool().size, plan=[threads.plan_threads(n, use_jit=True, blas_parallel=False).numba])
print(json.dumps(report))
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to count threads")
@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="Numba not installed or disabled: no thread pool to count")
def test_num_threads_is_a_ceiling_on_the_os_threads():
    """Counted on the OS: at num_threads=1 only the calling thread runs (no BLAS, OpenMP
    or pool worker takes any CPU, none is even started); at 2 only the caller and the
    pool's one helper run, Numba's pool and every BLAS are limited to 2 threads, and the
    process uses at most 2 CPUs."""
    import json
    import os
    import subprocess
    import sys

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "mobilenet_v2_035_96_int8.tflite"
    env = dict(os.environ, EDGELITE_JIT_WARMUP="sync")
    # Twice: on an empty Numba cache, compiling a kernel (even a plain serial @njit one)
    # starts one native thread inside Numba/LLVM, which never runs a kernel; the first
    # run fills the cache so that the second counts only what running the model starts.
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _CEILING_SCRIPT, str(fixture), "100"], capture_output=True,
                             text=True, env=env, timeout=600, cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    import importlib.util

    blas_readable = importlib.util.find_spec("threadpoolctl") is not None  # (the OS counts hold without it)
    for name in ("float", "int8"):
        one, two = rep[f"{name}/1"], rep[f"{name}/2"]
        assert one["others_active"] == [], (name, one)
        assert one["new_threads"] == [], (name, one)
        assert one["cpu"] <= 1.1 * one["wall"] + 0.05, (name, one)
        assert not blas_readable or (one["blas"] and max(one["blas"]) == 1), (name, one)
        assert two["pool_helpers"] <= 1, (name, two)
        # these kernels all share work through the pool: no OpenMP or BLAS worker runs either
        assert set(two["others_active"]) <= {"edgelite-pool"}, (name, two)
        assert len(two["new_threads"]) <= 1, (name, two)
        assert two["numba"] is None or two["numba"] <= 2, (name, two)
        assert not blas_readable or (two["blas"] and max(two["blas"]) <= 2), (name, two)
        assert two["cpu"] <= 2.1 * two["wall"] + 0.05, (name, two)
    float_two = rep["float/2"]
    assert "edgelite-pool" in float_two["others_active"], ("the big 1x1 conv is shared with the pool", float_two)


_NO_THREADPOOLCTL_SCRIPT = r"""
import json, sys
import numpy as np
sys.modules["threadpoolctl"] = None  # as if it were not installed
from edgelite.interpreter.compute import threads
threads.set_blas_threads(1)
found = len(threads._openblas_setters())
del sys.modules["threadpoolctl"]
from threadpoolctl import threadpool_info
print(json.dumps({"found": found, "blas": [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]}))
"""


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc to find the loaded OpenBLAS")
def test_blas_is_limited_without_threadpoolctl_too():
    """Without threadpoolctl, OpenBLAS's own setter limits numpy's BLAS (read back here
    with threadpoolctl, imported only afterwards)."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl", reason="threadpoolctl is needed to read the limit back")
    out = subprocess.run([sys.executable, "-c", _NO_THREADPOOLCTL_SCRIPT], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="2"), cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    if rep["found"] == 0:
        pytest.skip("numpy's BLAS here is not OpenBLAS: no setter to call")
    assert rep["blas"] and max(rep["blas"]) == 1, rep


_OPENBLAS_ONLY_SCRIPT = r"""
import json, sys
import numpy as np
from edgelite.interpreter.compute import threads
threads.set_blas_threads(1)
imported = "threadpoolctl" in sys.modules
only_openblas = bool(threads._openblas_setters(only_if_all_openblas=True))
from threadpoolctl import threadpool_info
one = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
threads.set_blas_threads(2)
two = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"imported": imported, "only_openblas": only_openblas, "one": one, "two": two}))
"""


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc to find the loaded OpenBLAS")
def test_openblas_only_process_is_limited_without_threadpoolctl():
    """numpy's OpenBLAS alone: its own setter limits it (threadpoolctl, a few ms of
    start-up, is not imported), to 1 and back to 2, as read back by threadpoolctl."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl", reason="threadpoolctl is needed to read the limit back")
    out = subprocess.run([sys.executable, "-c", _OPENBLAS_ONLY_SCRIPT], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="4"), cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    if not rep["only_openblas"]:
        pytest.skip("numpy's BLAS here is not (only) OpenBLAS: threadpoolctl limits it")
    assert not rep["imported"], rep
    assert rep["one"] and max(rep["one"]) == 1 and min(rep["two"]) == 2, rep
