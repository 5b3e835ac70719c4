"""The executor's fusion passes (``edgelite.interpreter.fusion``): the swish
``MUL(x, LOGISTIC(x))`` runs as one step and gives the bits of the two kernels run
separately (the unfused plan, which ``experimental_preserve_all_tensors`` keeps) and of
LiteRT's built-in kernels; the pairs the pass must leave alone stay two steps."""

from __future__ import annotations

import platform
import zlib

import numpy as np
import pytest

import edgelite
from edgelite.interpreter import OpResolverType
from edgelite.interpreter.compute import float_order, lut
from edgelite.interpreter.fusion import FUSED_SWISH
from edgelite.interpreter.kernels.elementwise.elementwise_float import _binary_arith_kernel
from edgelite.interpreter.profiling import OpProfiler
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.MulOptions import MulOptionsT

F32 = np.float32
SIZES = [1, 15, 16, 17, 33, 1000]
ACTS = [0, 1, 2, 3]  # NONE, RELU, RELU_N1_TO_1, RELU6
SPECIAL = [np.nan, np.inf, -np.inf, -104.0, -103.99, -88.0, 16.6355, 16.64, 0.0, -0.0, 1e-30, -1e-30, 3e38, -3e38]


def _shape(n: int) -> tuple[int, ...]:
    return (1, 5, 5, 40) if n == 1000 else (1, n)


def _mul_options(act: int) -> MulOptionsT:
    o = MulOptionsT()
    o.fusedActivationFunction = act
    return o


def _quant(dtype, rng, tiny=False):
    """(x, logistic output, y) quantization: LOGISTIC's output is 1/256 with LiteRT's zero point.
    ``tiny``: an output scale so small that products leave int16, where LiteRT's SIMD
    elements of MUL wrap and its scalar tail does not."""
    if dtype == F32:
        return None, None, None
    off = 0 if dtype == np.int8 else 128
    qx = (float(rng.uniform(0.01, 0.2)), int(rng.integers(-30, 30)) + off)
    qs = (1.0 / 256, -128 if dtype == np.int8 else 0)
    qy = (float(rng.uniform(0.005, 0.1)), int(rng.integers(-40, 40)) + off)
    if tiny:
        qx = (float(rng.uniform(0.05, 0.2)), qx[1])
        qy = (float(rng.uniform(1e-5, 5e-5)), int(rng.integers(20, 60)) + off)
    return qx, qs, qy


def swish_model(dtype, shape, *, x_first=True, act=0, seed=0, variant="swish", tiny=False) -> bytes:
    """``y = MUL(x, LOGISTIC(x))`` and the variants the pass must not fuse:
    ``"output"`` (the logistic is also a model output), ``"read_twice"`` (an ADD reads it
    too), ``"other_x"`` (the MUL's other input is another tensor), ``"square"`` (MUL(s, s))."""
    rng = np.random.default_rng(seed)
    qx, qs, qy = _quant(dtype, rng, tiny)
    b = ModelBuilder()
    x = b.add_input("x", shape, dtype, qx)
    s = b.add_tensor("s", shape, dtype, qs)
    y = b.add_tensor("y", shape, dtype, qy)
    b.add_operator("LOGISTIC", [x], [s])
    other = x
    if variant == "other_x":
        other = b.add_input("z", shape, dtype, qx)
    pair = [other, s] if x_first else [s, other]
    if variant == "square":
        pair = [s, s]
    b.add_operator("MUL", pair, [y], _mul_options(act))
    b.mark_output(y)
    if variant == "output":
        b.mark_output(s)
    if variant == "read_twice":
        w = b.add_tensor("w", shape, dtype, qy)
        b.add_operator("ADD", [s, x], [w])
        b.mark_output(w)
    return b.build()


def _data(dtype, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == F32:
        v = (rng.standard_normal(n) * rng.choice([0.5, 4.0, 30.0], n)).astype(F32)
        k = min(n, len(SPECIAL))
        v[rng.permutation(n)[:k]] = np.array(SPECIAL[:k], F32)
        return v.reshape(shape)
    info = np.iinfo(dtype)
    codes = np.arange(info.min, info.max + 1)  # every code, then random ones
    v = np.concatenate([rng.permutation(codes), rng.integers(info.min, info.max, n, endpoint=True)])[:n]
    return v.astype(dtype).reshape(shape)


def _run(it, feeds: list[np.ndarray], reference: bool = False) -> list[np.ndarray]:
    for d, v in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], v)
    if reference:
        it._runtime(0).invoke(reference=True)
    else:
        it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _litert(model: bytes, feeds):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    it = litert.Interpreter(model_content=model,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return _run(it, feeds)


def _interpreters(model: bytes):
    fused = edgelite.Interpreter(model_content=model)
    unfused = edgelite.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    reference = edgelite.Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    for it in (fused, unfused, reference):
        it.allocate_tensors()
    return fused, unfused, reference


def _step_names(it) -> list[str]:
    return [s.op.name for s in it._runtime(0).steps]


# LiteRT's aarch64 build computes float LOGISTIC with other code than its x86 build (whose
# Eigen steps edgelite follows: 1-3 ulp apart here) and clamps fused activations in NEON
# lanes, where max(-0.0, 0.0) is +0.0 (its scalar tail and x86 keep -0.0). Found under
# qemu (tests/arm64); edgelite's own paths still agree bit for bit there.
AARCH64 = platform.machine().lower() in ("aarch64", "arm64")


def _within_ulps(got: np.ndarray, want: np.ndarray, ulps: int, what: str) -> None:
    """Same NaN positions; elsewhere at most ``ulps`` float32 steps apart, -0.0 == +0.0."""
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), what
    g, w = got[~nan].astype(np.float32), want[~nan].astype(np.float32)
    key = lambda a: np.where(a.view(np.int32) < 0, np.int64(-(2**31)) - a.view(np.int32), a.view(np.int32).astype(np.int64))  # noqa: E731
    far = np.abs(key(g) - key(w)) > ulps
    far &= ~((g == 0) & (w == 0))
    assert not far.any(), f"{what}: {int(far.sum())} elements more than {ulps} ulp apart: {g[far][:5]} vs {w[far][:5]}"


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if got.dtype == F32:
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan), what
        got, want = got[~nan], want[~nan]
    bits = np.uint8 if got.dtype.itemsize == 1 else np.int32
    g, w = got.view(bits).reshape(-1), want.view(bits).reshape(-1)
    diff = np.nonzero(g != w)[0]
    assert diff.size == 0, f"{what}: {diff.size} elements differ, first at {diff[:5]}: {g[diff[:5]]} vs {w[diff[:5]]}"


@pytest.mark.parametrize("dtype", [F32, np.int8, np.uint8], ids=["float32", "int8", "uint8"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("x_first", [True, False], ids=["x_first", "x_second"])
def test_fused_swish_gives_the_unfused_bits_and_litert(dtype, n, x_first):
    shape = _shape(n)
    for act in ACTS:
        seed = zlib.crc32(f"{np.dtype(dtype).name}{n}{x_first}{act}".encode())
        model = swish_model(dtype, shape, x_first=x_first, act=act, seed=seed)
        fused, unfused, reference = _interpreters(model)
        assert FUSED_SWISH in _step_names(fused) and "LOGISTIC" not in _step_names(fused)
        assert FUSED_SWISH not in _step_names(unfused)
        assert FUSED_SWISH in _step_names(reference)
        feeds = [_data(dtype, shape, seed)]
        want = _run(unfused, feeds)[0]
        what = f"{np.dtype(dtype).name} n={n} x_first={x_first} act={act}"
        _same_bits(_run(fused, feeds)[0], want, what + " (JIT)")
        _same_bits(_run(fused, feeds, reference=True)[0], want, what + " (first-invoke reference path)")
        _same_bits(_run(reference, feeds)[0], want, what + " (BUILTIN_REF)")
        if dtype == F32 and AARCH64:
            _within_ulps(_run(reference, feeds)[0], _litert(model, feeds)[0], 4, what + " (LiteRT aarch64)")
        else:
            _same_bits(_run(reference, feeds)[0], _litert(model, feeds)[0], what + " (LiteRT)")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8], ids=["int8", "uint8"])
@pytest.mark.parametrize("n", [17, 33, 1000])
@pytest.mark.parametrize("x_first", [True, False], ids=["x_first", "x_second"])
def test_fused_swish_tiny_output_scale_keeps_simd_and_scalar_elements_apart(dtype, n, x_first):
    shape = _shape(n)
    seed = zlib.crc32(f"tiny{np.dtype(dtype).name}{n}{x_first}".encode())
    model = swish_model(dtype, shape, x_first=x_first, seed=seed, tiny=True)
    fused, unfused, reference = _interpreters(model)
    assert FUSED_SWISH in _step_names(fused)
    feeds = [_data(dtype, shape, seed)]
    want = _run(unfused, feeds)[0]
    theirs = _litert(model, feeds)[0]
    _same_bits(want, theirs, "unfused vs LiteRT")
    _same_bits(_run(fused, feeds)[0], want, "JIT")
    _same_bits(_run(fused, feeds, reference=True)[0], want, "first-invoke reference path")
    _same_bits(_run(reference, feeds)[0], want, "BUILTIN_REF")
    # the case is meant to tell the two forms apart: the tail differs from what the SIMD form would give
    tables = fused._runtime(0).steps[0].params.tables
    assert not np.array_equal(tables[0], tables[1])


@pytest.mark.parametrize("dtype", [F32, np.int8, np.uint8], ids=["float32", "int8", "uint8"])
@pytest.mark.parametrize("variant", ["output", "read_twice", "other_x", "square"])
def test_pairs_the_pass_must_leave_alone(dtype, variant):
    shape = (1, 33)
    model = swish_model(dtype, shape, variant=variant, seed=7)
    fused, unfused, _ = _interpreters(model)
    names = _step_names(fused)
    assert FUSED_SWISH not in names and "LOGISTIC" in names and "MUL" in names
    feeds = [_data(dtype, shape, s) for s in range(len(fused.get_input_details()))]
    for got, want, ref in zip(_run(fused, feeds), _run(unfused, feeds), _litert(model, feeds)):
        _same_bits(got, want, variant)
        _same_bits(got, ref, variant + " (LiteRT)")


def test_preserve_all_tensors_keeps_the_logistic_readable():
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model = swish_model(np.int8, (1, 40), seed=3)
    feeds = [_data(np.int8, (1, 40), 3)]
    ours = edgelite.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert.Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    for it in (ours, ref):
        it.allocate_tensors()
        _run(it, feeds)
    assert FUSED_SWISH not in _step_names(ours)
    s = next(d["index"] for d in ours.get_tensor_details() if d["name"] == "s")
    assert np.array_equal(ours.get_tensor(s), ref.get_tensor(s))


def test_profiler_lists_the_fused_step_at_the_mul():
    model = swish_model(F32, (1, 1000), seed=1)
    it = edgelite.Interpreter(model_content=model)
    it.allocate_tensors()
    p = OpProfiler()
    it.set_profiler(p)
    _run(it, [_data(F32, (1, 1000), 1)])
    rows = p.summary()
    assert [(r.index, r.op_name) for r in rows] == [(1, FUSED_SWISH)]  # operator 1 is the MUL


def test_a_resize_fuses_again():
    model = swish_model(np.int8, (1, 16), seed=5)
    it = edgelite.Interpreter(model_content=model)
    it.resize_tensor_input(0, [1, 37])
    it.allocate_tensors()
    ref = edgelite.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref.resize_tensor_input(0, [1, 37])
    ref.allocate_tensors()
    assert FUSED_SWISH in _step_names(it)
    feeds = [_data(np.int8, (1, 37), 5)]
    _same_bits(_run(it, feeds)[0], _run(ref, feeds)[0], "resized")


class _MulDelegate:
    """Takes the MUL operators (LOGISTIC stays on the CPU)."""

    name = "MULS"
    max_delegated_partitions = 0
    min_partition_size = 1
    validate = False
    validate_tolerance = None

    def node_support(self, ctx):
        return None if ctx.op_name == "MUL" else "only MUL"

    def prepare_partition(self, partition):
        from edgelite.interpreter.delegation import PartitionKernel  # noqa: PLC0415

        class Zeros(PartitionKernel):  # a stand-in: what it computes does not matter here
            def invoke(self, inputs, outputs):
                outputs[0][...] = 0

        return Zeros()


def test_no_fusion_with_delegates():
    model = swish_model(F32, (1, 16), seed=2)
    it = edgelite.Interpreter(model_content=model, experimental_delegates=[_MulDelegate()])
    it.allocate_tensors()
    assert _step_names(it) == ["LOGISTIC", "DELEGATE"]


# -- the kernels, without the interpreter ----------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 2047, 2048, 2049, 4099, 6002])
@pytest.mark.parametrize("x_first", [True, False])
def test_logistic_mul_jit_is_logistic_then_the_mul_kernel(n, x_first):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 20).astype(F32)
    x[: min(n, len(SPECIAL))] = np.array(SPECIAL[: min(n, len(SPECIAL))], F32)
    s = np.empty_like(x)
    float_order.logistic_jit(x, s)
    z, s6 = np.zeros(6, np.int64), np.ones(6, np.int64)
    for lo, hi in ((-3.4028235e38, 3.4028235e38), (0.0, 6.0), (-1.0, 1.0)):
        lo, hi = F32(lo), F32(hi)
        want = np.empty_like(x)
        a, b = (x, s) if x_first else (s, x)
        _binary_arith_kernel(a, b, want, 0, s6, z, z, 2, True, lo, hi)
        got = np.empty_like(x)
        float_order.logistic_mul_jit(x, got, x_first, True, lo, hi)
        _same_bits(got, want, f"n={n} [{lo}, {hi}]")


@pytest.mark.parametrize("n, run, bulk", [(0, 0, 0), (1, 1, 0), (15, 15, 0), (16, 16, 16), (33, 33, 32),
                                          (40, 20, 16), (1000, 1000, 992)])
def test_two_table_lookup_numpy_and_numba_agree(n, run, bulk):
    rng = np.random.default_rng(n)
    tables = rng.integers(-128, 128, (2, 256)).astype(np.int8)
    x = rng.integers(-128, 128, n).astype(np.int8)
    ref, jit = np.empty(n, np.int8), np.empty(n, np.int8)
    lut.apply_lut_8bit_runs(tables, run, bulk, x, ref)
    lut.apply_lut_8bit_runs_jit(tables, run, bulk, x, jit)
    i = np.arange(n)
    want = np.where(i % max(run, 1) < bulk, tables[0][x.view(np.uint8)], tables[1][x.view(np.uint8)])
    assert np.array_equal(ref, want) and np.array_equal(jit, want)
