"""Structure behind the interpreter's start-up time (no timing asserts).

* The kernel index (read from the ``@register`` lines, see
  ``tests/interpreter/kernels/test_registry.py``) says which module registers each
  operator, so a model imports only the modules it needs; kernel choice (by priority)
  does not depend on the order in which modules happened to be imported.
* Numba is imported only when a JIT kernel runs, and a second process loads every
  compiled kernel from the on-disk cache instead of compiling it again.
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

from edgelite.interpreter.kernels import kernel_modules, load_all, modules_for
from edgelite.interpreter.kernels.base import _REGISTRY, FLOAT, kernels_for
from edgelite.interpreter.compute.jit import HAVE_NUMBA
from edgelite.schema.builder import ModelBuilder

ROOT = Path(__file__).resolve().parents[2]
PKG = "edgelite.interpreter.kernels."


def _run(code: str, env: dict | None = None, timeout: int = 300) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


# --------------------------------------------------------------------- the kernel index


def test_kernel_order_does_not_depend_on_import_order():
    """A fresh process resolving ops in reverse order tries kernels in the same order."""
    load_all()
    ops = sorted(_REGISTRY)
    want = {op: [type(k).__qualname__ for k in kernels_for(op)] for op in ops if not op.startswith("EdgeliteTest")}
    got = json.loads(_run(f"""
        import json
        from edgelite.interpreter.kernels.base import kernels_for
        ops = {sorted(want)[::-1]!r}
        print(json.dumps({{op: [type(k).__qualname__ for k in kernels_for(op)] for op in ops}}))
    """))
    assert got == want


# ------------------------------------------------------------------------ lazy imports


def _conv_relu_model(path: Path) -> None:
    from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT

    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.add_input("x", (1, 8, 8, 3), np.float32)
    w = b.add_constant("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    bias = b.add_constant("b", rng.standard_normal(4).astype(np.float32))
    y = b.add_tensor("y", (1, 8, 8, 4), np.float32)
    z = b.add_tensor("z", (1, 8, 8, 4), np.float32)
    o = Conv2DOptionsT()
    o.strideW = o.strideH = 1
    b.add_operator("CONV_2D", [x, w, bias], [y], o)
    b.add_operator("RELU", [y], [z])
    b.mark_output(z)
    path.write_bytes(b.build())


def test_import_and_load_do_not_import_numba_or_unused_kernels(tmp_path):
    model = tmp_path / "m.tflite"
    _conv_relu_model(model)
    state = json.loads(_run(f"""
        import json, sys
        import edgelite
        after_import = "numpy" in sys.modules
        from edgelite.interpreter import Interpreter
        it = Interpreter(model_path={str(model)!r})
        it.allocate_tensors()
        kernels = sorted(m[len("{PKG}"):] for m in sys.modules if m.startswith("{PKG}"))
        print(json.dumps({{"numpy_on_import": after_import, "numba": "numba" in sys.modules,
                           "scipy": "scipy" in sys.modules, "kernels": kernels}}))
    """))
    assert not state["numpy_on_import"], "`import edgelite` should not import numpy"
    assert not state["numba"], "loading and allocating must not import numba"
    assert not state["scipy"]
    # a float model: the modules registering its operators at FLOAT (select_kernel skips
    # the int8 and hybrid ones, which decline every float operator)
    needed = set(modules_for("CONV_2D", FLOAT)) | set(modules_for("RELU", FLOAT))
    imported = set(state["kernels"]) & set(kernel_modules())
    assert needed <= imported
    assert not {m for m in imported if m.endswith(("_quant", "_hybrid"))}, imported
    assert "elementwise.elementwise_float" not in imported and "conv.transpose_conv_float" not in imported, imported


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed")
def test_second_process_loads_every_kernel_from_the_numba_cache(tmp_path):
    """Run a model in two fresh processes sharing a cache dir: the second compiles nothing."""
    model = tmp_path / "m.tflite"
    _conv_relu_model(model)
    code = f"""
        import json, sys
        import numpy as np
        from edgelite.interpreter import Interpreter
        from edgelite.interpreter.compute.jit import LazyJit
        it = Interpreter(model_path={str(model)!r})
        it.allocate_tensors()
        it.set_tensor(0, np.ones((1, 8, 8, 3), np.float32))
        it.invoke()  # reference kernels; Numba starts loading in the background
        it.invoke()  # waits for Numba, then the JIT kernels
        import numba.core.registry
        from numba.core.dispatcher import Dispatcher
        stats = {{}}
        for name, mod in list(sys.modules.items()):
            if name.startswith("edgelite.") and mod is not None:
                for attr, v in vars(mod).items():
                    if isinstance(v, Dispatcher) and v.signatures:
                        s = v.stats
                        stats[name + "." + attr] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
        print(json.dumps(stats))
    """
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    first = json.loads(_run(code, env))
    second = json.loads(_run(code, env))
    assert first, "no JIT kernel ran"
    assert sum(m for _, m in first.values()) > 0 or sum(h for h, _ in first.values()) > 0
    misses = {k: v for k, v in second.items() if v[1] > 0}
    assert not misses, f"compiled again in the second process: {misses}"
    assert all(h > 0 for h, _ in second.values()), second


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed")
def test_lazy_jit_builds_on_first_call_and_binds_callees(tmp_path, monkeypatch):
    (tmp_path / "lazy_demo.py").write_text(textwrap.dedent("""
        from edgelite.interpreter.compute.jit import njit, prange

        @njit
        def helper(a, i):
            return a[i] * 2.0

        @njit(parallel=True)
        def outer(a, out):
            for i in prange(a.shape[0]):
                out[i] = helper(a, i) + 1.0
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    import lazy_demo

    from edgelite.interpreter.compute.jit import LazyJit

    from edgelite.interpreter.compute import jit

    lazy = lazy_demo.outer
    assert isinstance(lazy, LazyJit) and lazy._dispatcher is None
    a = np.arange(5.0)
    out = np.empty(5)
    old_threads = jit._wanted_threads
    try:
        jit.set_num_threads(1)
        lazy(a, out)
        np.testing.assert_array_equal(out, a * 2 + 1)
        # one thread: the serial build ran, the parallel one was never compiled
        assert lazy._serial.signatures and not lazy._dispatcher.signatures
        jit.set_num_threads(2)
        out[:] = 0
        lazy(a, out)
        np.testing.assert_array_equal(out, a * 2 + 1)
        assert lazy._dispatcher.signatures, "two threads: the parallel build ran"
    finally:
        jit._wanted_threads = old_threads
        jit._apply_threads()
    # a parallel kernel stays the LazyJit (it picks a build per call); the callee
    # (serial) was bound to its dispatcher
    assert lazy_demo.outer is lazy
    assert not isinstance(lazy_demo.helper, LazyJit), "the callee was bound to its dispatcher"
    sys.modules.pop("lazy_demo", None)
    # Numba read NUMBA_CACHE_DIR into its config while compiling. Remove the variable and
    # make Numba read its config again now. Left stale, the config named this test's folder
    # until some later reload (another thread's compile) reset it to "": a dispatcher set up
    # at that moment passed Numba's "is a cache folder given" check with the old value and
    # then joined "" with its cache subfolder, writing `compute_<hash>/` into the working
    # directory (found by tracing os.makedirs through a full run).
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    import numba.core.config

    numba.core.config.reload_config()


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed")
@pytest.mark.parametrize("who", ["edgelite kernel", "user's own numba function"])
def test_compiling_while_the_background_warm_up_runs_does_not_deadlock(who):
    """A JIT call (edgelite's, or a user's own Numba code) right after the background
    warm-up started used to deadlock: the warm-up took Numba's compiler lock and then a
    context's lazy-property lock, a compile takes them in the other order."""
    call = (
        "from edgelite.interpreter.compute import lut\n"
        "lut.apply_lut_8bit_jit(np.arange(256).astype(np.int8), np.zeros(4, np.int8), np.empty(4, np.int8))"
        if who == "edgelite kernel" else
        "import numba\nnumba.njit(lambda v: v + 1)(1)"
    )
    code = (
        "import numpy as np\n"
        "from edgelite.interpreter.compute import jit\n"
        "jit.start_warm_up()\n" + call + "\nprint('done')"
    )
    try:
        assert _run(code, timeout=120) == "done"
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: the call never returned")


# ----------------------------------------------------------------- thread splitting


def _single_op_model(kind: str) -> tuple[bytes, tuple[int, ...]]:
    from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
    from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
    from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

    rng = np.random.default_rng(1)
    b = ModelBuilder()
    if kind == "fc":
        shape, w_shape = (256, 512), (384, 512)
        o, op, out_shape = FullyConnectedOptionsT(), "FULLY_CONNECTED", (256, 384)
    elif kind == "dw":
        shape, w_shape = (1, 64, 64, 96), (1, 3, 3, 96)
        o, op, out_shape = DepthwiseConv2DOptionsT(), "DEPTHWISE_CONV_2D", (1, 64, 64, 96)
        o.depthMultiplier = 1
    else:
        k = 1 if kind == "pointwise" else 3
        shape, w_shape = (1, 64, 64, 48), (96, k, k, 48)
        o, op, out_shape = Conv2DOptionsT(), "CONV_2D", (1, 64, 64, 96)
    if kind != "fc":
        o.strideW = o.strideH = 1
    o.fusedActivationFunction = 3  # RELU6
    x = b.add_input("x", shape, np.float32)
    w = b.add_constant("w", rng.standard_normal(w_shape).astype(np.float32) * 0.2)
    bias = b.add_constant("b", rng.standard_normal(w_shape[0] if kind != "dw" else 96).astype(np.float32))
    y = b.add_tensor("y", out_shape, np.float32)
    b.add_operator(op, [x, w, bias], [y], o)
    b.mark_output(y)
    return b.build(), shape


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed: no thread splitting")
@pytest.mark.parametrize("kind", ["pointwise", "im2col", "dw", "fc"])
def test_two_threads_split_big_ops_and_match_one_thread(kind):
    from edgelite.interpreter import Interpreter
    from edgelite.interpreter.compute import float_gemm, pool

    model, shape = _single_op_model(kind)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    outs = []
    for threads in (1, 2):
        it = Interpreter(model_content=model, num_threads=threads)
        it.allocate_tensors()
        p = it._runtime(0).steps[0].params
        split = getattr(p, "par_block", None) is not None or getattr(p, "cols_par", None) is not None \
            or getattr(p, "parallel", False) or (kind == "dw" and p.threads > 1 and pool.chunks_for(
                1e9 * p.flops / float_gemm.STENCIL_FLOPS_PER_SECOND, 64, p.threads) > 1)
        assert split == (threads == 2), (kind, threads, p)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)


def test_small_ops_stay_on_one_thread(monkeypatch):
    from edgelite.interpreter.compute import float_gemm, pool

    assert not float_gemm.worth_splitting(2, 2 * 49 * 32 * 160)  # a tiny pointwise layer, ~6 us
    assert not float_gemm.worth_splitting(1, 1e12)
    # a 7x7-ish pointwise layer, ~70 us: split only where the native helpers take it
    assert float_gemm.worth_splitting(2, 2 * 49 * 96 * 576) == pool.native_helpers()
    monkeypatch.setenv("EDGELITE_NATIVE_POOL", "0")
    assert not float_gemm.worth_splitting(2, 2 * 49 * 96 * 576)
    assert float_gemm.parallel_rows_block(49, 2) is None
    assert float_gemm.parallel_rows_block(12544, 2) == 6272


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed")
def test_first_invoke_does_not_wait_for_numba(tmp_path):
    """A fresh process's first invoke runs the reference kernels; the next ones the JIT ones."""
    model = tmp_path / "m.tflite"
    _conv_relu_model(model)
    state = json.loads(_run(f"""
        import json, sys
        import numpy as np
        from edgelite.interpreter import Interpreter
        from edgelite.interpreter.compute import jit
        it = Interpreter(model_path={str(model)!r})
        it.allocate_tensors()
        x = np.random.default_rng(0).standard_normal((1, 8, 8, 3)).astype(np.float32)
        it.set_tensor(0, x)
        seen = {{}}
        for name in ("eval", "eval_jit"):
            kernel = it._specs[0].ops[0].kernel
            orig = getattr(kernel, name)
            def spy(*a, _orig=orig, _name=name):
                seen[_name] = seen.get(_name, 0) + 1
                return _orig(*a)
            setattr(kernel, name, spy)
        it._runtime(0).allocated = False
        it.allocate_tensors()  # rebuild the steps with the spies
        it.invoke()
        out = it.get_output_details()[0]["index"]
        first, warm_after_first = it.get_tensor(out), jit.is_warm()
        after_first = dict(seen)
        it.invoke()
        second = it.get_tensor(out)
        rt = it._runtime(0)
        step = rt.steps[0]
        bound_calls = step.kernel_bind() is not None and step.kernel_bind()(step.params, step.inputs, step.outputs)
        print(json.dumps({{"after_first": after_first, "after_second": seen, "warm_after_first": warm_after_first,
                           "diff": float(np.abs(first - second).max()), "warm": jit.is_warm(),
                           "plan_ran": rt._calls_resolved, "bound": bool(bound_calls)}}))
    """))
    assert state["after_first"] == {"eval": 1}
    # the second invoke runs the JIT kernel: its eval_jit, or the calls its bind prepared
    # from it (the resolved call plan), never the reference eval again
    if state["bound"]:
        assert state["after_second"] == {"eval": 1} and state["plan_ran"]
    else:
        assert state["after_second"] == {"eval": 1, "eval_jit": 1}
    assert state["warm"] and state["diff"] < 1e-5
