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
