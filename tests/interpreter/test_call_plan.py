"""The executor's call plan (``executor.SubgraphRuntime._calls``, ``compute.bound``).

The fast path runs each step as the prepared calls its kernel's ``bind`` returned when
the first fast run made the plan (views, scalars and builds fixed, Numba entry points
taken after that run). These tests check that it computes exactly what running each step's eval does:
outputs bit-identical on the first (resolving) and later runs, for new input values,
at two threads, after a resize, and with a delegate owning part of the graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.compute import bound, pool
from edgelite.interpreter.compute.jit import HAVE_NUMBA, njit, wait_until_warm
from edgelite.interpreter.compute.pool import fetch_add
from edgelite.interpreter.delegation import PartitionKernel
from tests.interpreter.compute.rounding_models import _opt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# int8 and uint8 CNNs (conv im2col and pointwise, depthwise, pools, FC, quantize,
# dequantize, reshape: the kernels with a bind), and float / int16 / hybrid models whose
# steps keep their plain eval call.
MODELS = ["int8_cnn", "uint8_io_cnn", "mobilenet_v2_035_96_int8", "mobilenet_v1_025_96_int8", "float32_cnn",
          "int16x8", "dynamic_range", "text_embedding"]
BINDING = {"int8_cnn", "uint8_io_cnn", "mobilenet_v2_035_96_int8", "mobilenet_v1_025_96_int8"}


class _StepTimes:
    """A profiler: makes ``invoke`` run every step's own eval one by one (no call plan)."""

    def record(self, op, seconds):
        pass


def _inputs(it: Interpreter, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = []
    for d in it.get_input_details():
        shape, dt = tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"])
        if dt.kind == "f":
            feeds.append(rng.standard_normal(shape).astype(dt))
        elif dt.itemsize == 1:
            info = np.iinfo(dt)
            feeds.append(rng.integers(info.min, info.max + 1, shape).astype(dt))
        else:
            feeds.append(rng.integers(0, 50, shape).astype(dt))
    return feeds


def _run(it: Interpreter, feeds, *, per_step: bool = False) -> list[np.ndarray]:
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    if per_step:
        it._runtime(0).invoke(_StepTimes())
    else:
        it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()  # bit for bit (NaN payloads and -0.0 too)


def _warm_interpreter(path: Path, **kw) -> Interpreter:
    wait_until_warm()  # the fast path (JIT kernels) from the first invoke on
    it = Interpreter(model_path=str(path), **kw)
    it.allocate_tensors()
    return it


@pytest.mark.parametrize("name", MODELS)
def test_plan_gives_what_the_steps_give(name):
    it = _warm_interpreter(FIXTURES / f"{name}.tflite", num_threads=1)
    rt = it._runtime(0)
    for seed in (0, 1):  # the first fast run resolves the plan, the later ones run it as is
        want = _run(it, _inputs(it, seed), per_step=True)
        _same(_run(it, _inputs(it, seed)), want)
        _same(_run(it, _inputs(it, seed)), want)
    assert rt._calls_resolved
    if name in BINDING and HAVE_NUMBA:  # the int8 kernels bind their JIT calls only (none without Numba)
        # not vacuous: kernels did bind (im2col + GEMM make two calls of one step) ...
        calls = _flat(rt._calls)
        assert len(calls) > len(rt.steps)
        # ... and the resolved plan calls compiled entry points, not dispatchers
        assert any(type(getattr(fn, "__self__", None)).__name__ == "_Closure" for fn, _ in calls)


def _flat(calls: list) -> list:
    """A plan's calls with each native chain's calls in its place (native_chain)."""
    out = []
    for fn, args in calls:
        out.extend(getattr(fn, "calls", [(fn, args)]))
    return out


@pytest.mark.skipif(not HAVE_NUMBA, reason="the SIMD-GEMM weights exist with Numba only")
def test_allocate_leaves_plan_and_packing_to_the_first_fast_run():
    """``allocate_tensors`` makes no call plan and packs no SIMD-GEMM weights (a fresh
    process's first invoke runs the reference kernels, which read neither); the first
    fast run makes both, and gives the per-step results."""
    from edgelite.interpreter.compute import simd_gemm

    it = _warm_interpreter(FIXTURES / "mobilenet_v2_035_96_int8.tflite", num_threads=1)
    rt = it._runtime(0)
    packed = [getattr(s.params, "vnni_w", None) for s in rt.steps]
    packed = [p for p in packed if isinstance(p, simd_gemm.PackedWeights)]
    if not packed:
        pytest.skip("no SIMD int8 GEMM on this CPU")
    assert rt._calls == [] and not rt._calls_resolved
    assert not any(p.packed for p in packed)
    for d, x in zip(it.get_input_details(), _inputs(it, 8)):
        it.set_tensor(d["index"], x)
    rt.invoke(reference=True)  # what a fresh process's first invoke runs: packs nothing either
    assert not any(p.packed for p in packed) and rt._calls == []
    reference = [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]
    want = _run(it, _inputs(it, 8), per_step=True)
    _same(want, reference)
    _same(_run(it, _inputs(it, 8)), want)
    assert rt._calls_resolved and all(p.packed for p in packed)


MEDIAPIPE = Path.home() / ".cache" / "edgelite" / "mediapipe" / "modules"


@pytest.mark.parametrize("rel", ["face_landmark/face_landmark.tflite", "face_detection/face_detection_short_range.tflite"])
def test_plan_on_mediapipe_float_models(rel):
    """PRELU and RELU bind (float): bit-identical with the per-step evals."""
    path = MEDIAPIPE / rel
    if not path.exists():
        pytest.skip(f"{path} is not cached: run tests/fixtures/fetch_mediapipe.py")
    it = _warm_interpreter(path)
    assert any(s.kernel_bind() is not None for s in it._runtime(0).steps)
    want = _run(it, _inputs(it, 4), per_step=True)
    for _ in range(2):
        _same(_run(it, _inputs(it, 4)), want)


@pytest.mark.parametrize("name", ["int8_cnn", "mobilenet_v2_035_96_int8"])
def test_plan_at_two_threads(name):
    one = _warm_interpreter(FIXTURES / f"{name}.tflite", num_threads=1)
    two = _warm_interpreter(FIXTURES / f"{name}.tflite", num_threads=2)
    feeds = _inputs(one, 3)
    want = _run(one, feeds, per_step=True)
    _same(_run(two, feeds, per_step=True), want)
    for _ in range(2):
        _same(_run(two, feeds), want)
        _same(_run(one, feeds), want)


def test_resize_makes_a_new_plan():
    it = _warm_interpreter(FIXTURES / "text_embedding.tflite")
    x1 = _inputs(it, 5)
    first = _run(it, x1)
    _run(it, x1)
    old_calls = list(it._runtime(0)._calls)
    idx = it.get_input_details()[0]["index"]
    it.resize_tensor_input(idx, [3, 16])
    it.allocate_tensors()
    assert it._runtime(0)._calls != old_calls and not it._runtime(0)._calls_resolved
    x3 = np.concatenate([x1[0], _inputs(it, 6)[0][1:]])
    got = _run(it, [x3])
    _same(got, _run(it, [x3], per_step=True))
    _same(_run(it, [x3]), got)
    fresh = Interpreter(model_path=str(FIXTURES / "text_embedding.tflite"))
    fresh.resize_tensor_input(idx, [3, 16])
    fresh.allocate_tensors()
    _same(_run(fresh, [x3]), got)
    # row 0 as at batch 1: bit for bit where the BLAS gives a row the same bits in a
    # product of 1 and of 3 rows (OpenBLAS's AVX-512 kernels; its AVX2 kernels take
    # another path for one row), else to float32 rounding
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    w = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    if np.array_equal((x @ w)[:1], x[:1] @ w):
        assert got[0][:1].tobytes() == first[0].tobytes()
    else:
        np.testing.assert_allclose(got[0][:1], first[0], rtol=2e-5, atol=1e-6)


def test_int8_batch_resize_rows_match():
    it = _warm_interpreter(FIXTURES / "mobilenet_v2_035_96_int8.tflite")
    idx = it.get_input_details()[0]["index"]
    rows = [_inputs(it, s)[0] for s in (7, 8)]
    singles = [_run(it, [r])[0] for r in rows]
    it.resize_tensor_input(idx, [2, 96, 96, 3])
    it.allocate_tensors()
    for _ in range(2):
        both = _run(it, [np.concatenate(rows)])[0]
        assert both[:1].tobytes() == singles[0].tobytes() and both[1:].tobytes() == singles[1].tobytes()


class _ReshapeKernel(PartitionKernel):
    def invoke(self, inputs, outputs):
        np.copyto(outputs[0], inputs[0].reshape(outputs[0].shape))


class _ReshapeDelegate:
    """Takes the RESHAPE operators: partitions are steps of the plan too."""

    name = "RESHAPE-ONLY"
    max_delegated_partitions = 0
    min_partition_size = 1
    validate = False
    validate_tolerance = None

    def node_support(self, ctx):
        return None if ctx.op_name == "RESHAPE" else "only RESHAPE"

    def prepare_partition(self, partition):
        return _ReshapeKernel()


def test_delegated_partitions_run_in_the_plan():
    path = FIXTURES / "int8_cnn.tflite"
    plain = _warm_interpreter(path)
    delegated = _warm_interpreter(path, experimental_delegates=[_ReshapeDelegate()])
    assert "DELEGATE" in [s.op.name for s in delegated._runtime(0).steps]
    feeds = _inputs(plain, 9)
    want = _run(plain, feeds, per_step=True)
    for _ in range(2):
        _same(_run(delegated, feeds), want)


def test_direct_entry_keeps_plain_callables():
    out = np.zeros(3)
    args = (out, np.arange(3.0))
    fn = bound.direct_entry(bound.resolve(bound.Deferred(lambda: np.copyto), threads=1), args)
    assert fn is np.copyto
    fn(*args)
    assert out.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba is not installed: no dispatchers to resolve")
def test_direct_entry_takes_the_compiled_overload_only():
    from edgelite.interpreter.compute.jit import njit

    @njit
    def add_into(a, out):
        for i in range(a.shape[0]):
            out[i] = a[i] + 1

    d = bound.resolve(add_into, threads=1)
    a, out = np.arange(4, dtype=np.int32), np.zeros(4, np.int32)
    assert bound.direct_entry(d, (a, out)) is d  # nothing compiled for these types yet
    d(a, out)
    entry = bound.direct_entry(d, (a, out))
    assert entry is not d
    out[:] = 0
    entry(a, out)
    assert out.tolist() == [1, 2, 3, 4]
    f64 = np.zeros(4)
    assert bound.direct_entry(d, (f64, f64)) is d  # other types: the dispatcher stays


def test_a_failing_step_leaves_the_plan_usable():
    """A typed error raised during the plan's first run (GATHER's index check) propagates;
    the next invoke with valid inputs finishes resolving the plan and gives the right result."""
    from edgelite.errors import InvocationError

    it = _warm_interpreter(FIXTURES / "text_embedding.tflite")
    d = it.get_input_details()[0]
    bad = np.full(tuple(d["shape"]), 5000, d["dtype"])
    for _ in range(2):
        it.set_tensor(d["index"], bad)
        with pytest.raises(InvocationError, match="out of range"):
            it.invoke()
    good = _inputs(it, 11)
    want = _run(it, good, per_step=True)
    _same(_run(it, good), want)
    _same(_run(it, good), want)
    assert it._runtime(0)._calls_resolved


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba is not installed: no SIMD GEMM or pool kernels to split")
def test_plan_shares_chunks_with_the_pool_at_two_threads():
    """Pooled kernels (im2col, int8 GEMM, depthwise) are prepared with their chunk count
    fixed at bind time; every run claims them from a fresh counter: same bits as one thread."""
    path = FIXTURES / "unet_small_64_int8.tflite"
    one = _warm_interpreter(path, num_threads=1)
    two = _warm_interpreter(path, num_threads=2)
    # the plans the first fast runs will make (allocate_tensors leaves them to those runs)
    plan_two, plan_one = (it._runtime(0)._call_plan(it._runtime(0).steps) for it in (two, one))
    pooled = [fn for fn, _ in plan_two if isinstance(fn, bound.Pooled)]
    assert any(fn.n_chunks > 1 and fn.threads == 2 for fn in pooled), "some layer is split at two threads"
    assert all(fn.n_chunks == 1 for fn, _ in plan_one if isinstance(fn, bound.Pooled))
    for seed in (6, 7):
        feeds = _inputs(one, seed)
        want = _run(one, feeds, per_step=True)
        for _ in range(3):  # the resolving run, then the resolved plan (counters must not be reused)
            _same(_run(two, feeds), want)
            _same(_run(one, feeds), want)


@njit
def _fill(out, per, n_chunks, ctr):
    """A pool kernel: ``out[ch*per:(ch+1)*per] += ch + 1`` for each chunk claimed from ``ctr``."""
    while True:
        ch = fetch_add(ctr, 0, 1)
        if ch >= n_chunks:
            break
        for i in range(ch * per, min(out.shape[0], (ch + 1) * per)):
            out[i] += ch + 1
        fetch_add(ctr, 1, 1)


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba is not installed: the pool shares compiled kernels only")
def test_pooled_call_resolves_its_kernel_and_counts_afresh_each_run():
    out = np.zeros(40, np.int64)
    fn, args = bound.pooled(bound.Deferred(lambda: _fill), (out, np.int64(5), np.int64(8)), 8, 2)
    fn = bound.resolve(fn, threads=2)
    fn(*args)
    fn = bound.direct_entry(fn, args)
    if pool.native_helpers():  # the helpers waiting in native code take it (native_pool)
        from edgelite.interpreter.compute import native_pool

        assert isinstance(fn, native_pool.NativeCall) and (fn.n_chunks, fn.helpers) == (8, 1)
    else:
        assert isinstance(fn, bound.Pooled) and fn.fn is not _fill and (fn.n_chunks, fn.threads) == (8, 2)
    for _ in range(50):
        out[:] = 0
        fn(*args)
        np.testing.assert_array_equal(out, np.repeat(np.arange(1, 9), 5))
    # one thread: the caller alone, still a fresh counter each run
    fn, args = bound.pooled(_fill, (out, np.int64(5), np.int64(8)), 8, 1)
    fn = bound.resolve(fn, threads=1)
    fn(*args)
    fn = bound.direct_entry(fn, args)
    assert not isinstance(fn, bound.Pooled)
    for _ in range(3):
        out[:] = 0
        fn(*args)
        np.testing.assert_array_equal(out, np.repeat(np.arange(1, 9), 5))


def _small_float_model(batch: int) -> bytes:
    """A text CNN's small operators, each with a ``bind``: CAST (int64 -> int32), GATHER,
    float CONV_2D (3x3 im2col and pointwise), REDUCE_MAX, REDUCE_MIN, SOFTMAX."""
    from edgelite.schema.builder import ModelBuilder

    rng = np.random.default_rng(11)
    b = ModelBuilder()
    tok = b.add_input("tokens", (batch, 6), np.int64)
    tok32 = b.add_tensor("tok32", (batch, 6), np.int32)
    b.add_operator("CAST", [tok], [tok32], _opt("CastOptions"))
    table = b.add_constant("table", rng.standard_normal((50, 5)).astype(np.float32))
    emb = b.add_tensor("emb", (batch, 6, 5), np.float32)
    b.add_operator("GATHER", [table, tok32], [emb], _opt("GatherOptions", axis=0))
    img = b.add_tensor("img", (batch, 2, 3, 5), np.float32)
    b.add_operator("RESHAPE", [emb, b.add_constant("shape", np.array([batch, 2, 3, 5], np.int32))], [img])
    w3 = b.add_constant("w3", rng.standard_normal((8, 3, 3, 5)).astype(np.float32))
    bias = b.add_constant("b3", rng.standard_normal(8).astype(np.float32))
    c3 = b.add_tensor("c3", (batch, 2, 3, 8), np.float32)
    b.add_operator("CONV_2D", [img, w3, bias], [c3], _opt("Conv2DOptions", strideW=1, strideH=1, padding=0,
                                                          fusedActivationFunction=1))
    w1 = b.add_constant("w1", rng.standard_normal((4, 1, 1, 8)).astype(np.float32))
    c1 = b.add_tensor("c1", (batch, 2, 3, 4), np.float32)
    b1 = b.add_constant("b1", rng.standard_normal(4).astype(np.float32))
    b.add_operator("CONV_2D", [c3, w1, b1], [c1], _opt("Conv2DOptions", strideW=1, strideH=1))
    axes = b.add_constant("axes", np.array([1, 2], np.int32))
    mx = b.add_tensor("mx", (batch, 4), np.float32)
    b.add_operator("REDUCE_MAX", [c1, axes], [mx], _opt("ReducerOptions", keepDims=False))
    mn = b.add_tensor("mn", (batch, 1, 1, 4), np.float32)
    b.add_operator("REDUCE_MIN", [c1, axes], [mn], _opt("ReducerOptions", keepDims=True))
    probs = b.add_tensor("probs", (batch, 4), np.float32)
    b.add_operator("SOFTMAX", [mx], [probs], _opt("SoftmaxOptions", beta=0.7))
    b.mark_output(probs)
    b.mark_output(mn)
    return b.build()


@pytest.mark.parametrize("batch", [1, 3])
def test_small_float_operators_bind_and_give_the_steps_bits(batch):
    """CAST, GATHER, float CONV_2D, REDUCE_MAX/MIN and SOFTMAX run as prepared calls on the
    fast path, bit-identical with their evals and with LiteRT's built-in kernels."""
    from ai_edge_litert.interpreter import Interpreter as LiteRT, OpResolverType

    data = _small_float_model(batch)
    wait_until_warm()
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    rt = it._runtime(0)
    # CONV_2D and REDUCE_MAX/MIN bind their JIT path (eval_jit): not without Numba
    jit_only = {"CONV_2D", "REDUCE_MAX", "REDUCE_MIN"} if rt.use_jit else set()
    assert {s.op.name for s in rt.steps if s.kernel_bind() is not None and
            s.kernel_bind()(s.params, s.inputs, s.outputs) is not None} >= {"CAST", "GATHER", "SOFTMAX"} | jit_only
    ref = LiteRT(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    rng = np.random.default_rng(batch)
    for _ in range(3):
        feeds = [rng.integers(0, 50, (batch, 6)).astype(np.int64)]
        want = _run(it, feeds, per_step=True)
        got = _run(it, feeds)
        _same(got, want)
        _same(_run(it, feeds), want)
        for d, x in zip(ref.get_input_details(), feeds):
            ref.set_tensor(d["index"], x)
        ref.invoke()
        litert = [ref.get_tensor(d["index"]) for d in ref.get_output_details()]
        by_name = {d["name"]: g for d, g in zip(it.get_output_details(), got)}
        for d, w in zip(ref.get_output_details(), litert):
            # REDUCE_MIN picks an element: exact; SOFTMAX is float64 rounded once (about 1e-7)
            np.testing.assert_allclose(by_name[d["name"]], w, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [50, -1])
def test_bound_gather_refuses_out_of_range_indices(bad):
    from edgelite.errors import InvocationError

    wait_until_warm()
    it = Interpreter(model_content=_small_float_model(1))
    it.allocate_tensors()
    good = np.zeros((1, 6), np.int64)
    _run(it, [good])
    _run(it, [good])  # the plan is resolved
    with pytest.raises(InvocationError, match="GATHER: index"):
        _run(it, [np.array([[0, 1, bad, 2, 3, 4]], np.int64)])
