"""The ``arith_clamp`` fusion pass (``edgelite.interpreter.fusion``): a float32
ADD/SUB/MUL/DIV followed by a RELU-family activation runs as one step and gives the bits
of the two kernels run separately (the unfused plan, which
``experimental_preserve_all_tensors`` keeps), of the reference kernels and of LiteRT's
built-in kernels, NaN, infinities and -0.0 included; the pairs it must leave alone stay
two steps; the tensors the fused step reads late keep their arena slots until then."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.DivOptions import DivOptionsT
from edgelite.schema.fb.MulOptions import MulOptionsT
from edgelite.schema.fb.SubOptions import SubOptionsT
from tests.interpreter.test_fusion import AARCH64, _interpreters, _litert, _run, _same_bits, _step_names, _within_ulps

F32 = np.float32
OPTIONS = {"ADD": AddOptionsT, "SUB": SubOptionsT, "MUL": MulOptionsT, "DIV": DivOptionsT}
CLAMPS = ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"]
FUSED_ACTS = [0, 1, 2, 3]  # NONE, RELU, RELU_N1_TO_1, RELU6 on the arith itself
# Values at and around every bound, the largest floats (sums overflow to inf, which the
# arith's NONE range turns into +-FLT_MAX) and the special ones.
EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 6.0, -6.0, 0.5, 5.999999, 6.000001, 1.0000001, -1.0000001,
         1e-45, -1e-45, 3.4e38, -3.4e38, 2.0, -2.0, 3.0, 7.0]


def _same_as_litert(litert: np.ndarray, want: np.ndarray) -> None:
    """LiteRT's bits; on aarch64 its NEON clamps return +0.0 for -0.0 (``test_fusion``'s
    note), so there a zero's sign is not compared."""
    if AARCH64:
        _within_ulps(litert, want, 0, "LiteRT built-in vs edgelite (aarch64: -0.0 == +0.0)")
    else:
        _same_bits(litert, want, "LiteRT built-in vs edgelite")


def _options(op: str, act: int):
    o = OPTIONS[op]()
    o.fusedActivationFunction = act
    return o


def chain_model(op: str, clamp: str, shape, *, act: int = 0, variant: str = "chain") -> bytes:
    """``y = clamp(a <op> b)`` and the variants the pass must leave alone: ``"output"`` (the
    arith's result is also a model output), ``"read_twice"`` (another op reads it too),
    ``"broadcast"`` (b is one row), ``"lifetime"`` (see ``test_inputs_stay_alive_until_the_fused_step``)."""
    b = ModelBuilder()
    a = b.add_input("a", shape, F32)
    bshape = (shape[-1],) if variant == "broadcast" else shape
    x = b.add_input("b", bshape, F32)
    c = b.add_tensor("c", shape, F32)
    y = b.add_tensor("y", shape, F32)
    if variant == "lifetime":
        # t = a * a is the arith's first operand; between the arith and the clamp another op
        # writes u, a tensor as large as t: in the model's order t is dead by then, so u may
        # take t's bytes, unless the fused step's late read of t keeps it alive.
        t = b.add_tensor("t", shape, F32)
        u = b.add_tensor("u", shape, F32)
        z = b.add_tensor("z", shape, F32)
        b.add_operator("MUL", [a, a], [t], _options("MUL", 0))
        b.add_operator(op, [t, x], [c], _options(op, act))
        b.add_operator("SUB", [x, a], [u], _options("SUB", 0))
        b.add_operator(clamp, [c], [y])
        b.add_operator("ADD", [y, u], [z], _options("ADD", 0))
        b.mark_output(z)
        return b.build()
    b.add_operator(op, [a, x], [c], _options(op, act))
    b.add_operator(clamp, [c], [y])
    b.mark_output(y)
    if variant == "output":
        b.mark_output(c)
    if variant == "read_twice":
        w = b.add_tensor("w", shape, F32)
        b.add_operator("ADD", [c, a], [w], _options("ADD", 0))
        b.mark_output(w)
    return b.build()


def _feeds(shape, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    out = []
    for _ in range(2):
        with np.errstate(over="ignore"):  # a few products of 1e38 become inf on purpose
            v = (rng.standard_normal(n) * rng.choice([0.3, 3.0, 1e38], n)).astype(F32)
        k = min(n, len(EDGES))
        v[rng.permutation(n)[:k]] = np.array(EDGES[:k], F32)
        out.append(v.reshape(shape))
    # every pair of edge values, once a side, where the tensor is large enough
    if n >= len(EDGES) ** 2:
        ea, eb = np.meshgrid(np.array(EDGES, F32), np.array(EDGES, F32))
        out[0].reshape(-1)[: ea.size] = ea.reshape(-1)
        out[1].reshape(-1)[: eb.size] = eb.reshape(-1)
    return out


@pytest.mark.parametrize("op", list(OPTIONS))
@pytest.mark.parametrize("clamp", CLAMPS)
@pytest.mark.parametrize("act", FUSED_ACTS, ids=["none", "relu", "n1to1", "relu6"])
@pytest.mark.parametrize("shape", [(1, 7), (1, 23, 23)], ids=["7", "529"])
def test_fused_step_gives_the_unfused_bits_and_litert(op, clamp, act, shape):
    model = chain_model(op, clamp, shape, act=act)
    fused, unfused, reference = _interpreters(model)
    assert _step_names(fused) == [f"{op}+{clamp}"]
    assert _step_names(unfused) == [op, clamp]
    feeds = _feeds(shape, seed=hash((op, clamp, act)) % 1000)
    want = _run(unfused, feeds)[0].copy()
    with np.errstate(all="ignore"):
        _same_bits(_run(fused, feeds)[0], want, "fused (JIT) vs unfused")
        _same_bits(_run(fused, feeds, reference=True)[0], want, "fused (reference eval) vs unfused")
        _same_bits(_run(reference, feeds)[0], want, "reference kernels vs unfused")
    _same_as_litert(_litert(model, feeds)[0], want)


@pytest.mark.parametrize("variant", ["output", "read_twice", "broadcast"])
def test_pairs_the_pass_must_leave_alone(variant):
    shape = (1, 4, 6)
    model = chain_model("ADD", "RELU", shape, variant=variant)
    fused, unfused, _ = _interpreters(model)
    assert _step_names(fused) == _step_names(unfused), variant
    feeds = _feeds(shape, 3)
    if variant == "broadcast":
        feeds[1] = feeds[1][0, 0]
    for got, want in zip(_run(fused, feeds), [o.copy() for o in _run(unfused, feeds)]):
        _same_bits(got, want, variant)


@pytest.mark.parametrize("shape", [(1, 64), (1, 16, 16, 8)])
def test_inputs_stay_alive_until_the_fused_step(shape):
    """The fused step runs at the RELU's index and reads the arith's input ``t``, which the
    model last reads at the arith: the planner must not give its bytes to ``u``, written
    in between (without the executor's read-time extension this gave wrong values)."""
    model = chain_model("ADD", "RELU", shape, variant="lifetime")
    fused, unfused, _ = _interpreters(model)
    assert "ADD+RELU" in _step_names(fused)
    rt = fused._runtime(0)
    names = {t.name: t.index for t in rt.spec.tensors}
    t_slot, u_slot = rt.plan.offsets[names["t"]], rt.plan.offsets[names["u"]]
    size = rt.plan.sizes[names["t"]]
    assert abs(t_slot - u_slot) >= size, "t and u share arena bytes while t is still to be read"
    feeds = [np.random.default_rng(5).standard_normal(shape).astype(F32) for _ in range(2)]
    want = _run(unfused, feeds)[0].copy()
    _same_bits(_run(fused, feeds)[0], want, "fused vs unfused")
    _same_as_litert(_litert(model, feeds)[0], want)


def test_mediapipe_style_residual_block_fuses():
    """ADD then a separate RELU, as MediaPipe's face detector writes its residual blocks:
    the profiler lists one ``ADD+RELU`` row at the RELU's operator index."""
    from edgelite.interpreter.profiling import OpProfiler

    model = chain_model("ADD", "RELU", (1, 8, 8, 4))
    it = edgelite.Interpreter(model_content=model)
    it.allocate_tensors()
    p = OpProfiler()
    it.set_profiler(p)
    _run(it, _feeds((1, 8, 8, 4), 1))
    rows = p.summary()
    assert [(r.index, r.op_name) for r in rows] == [(1, "ADD+RELU")]


@pytest.mark.parametrize("kernel", ["Relu", "Relu6", "ReluN1To1", "Relu0To1"])
@pytest.mark.parametrize("n", [1, 7, 16, 67, 1000])
def test_clamp_kernels_reference_eval_is_their_jit(kernel, n):
    """The RELU family's numpy ``eval`` (an interpreter's first invoke) gives the bits of its
    Numba ``eval_jit``: -0.0 stays -0.0 (``np.maximum`` made it +0.0 in x86 vector lanes)
    and NaN stays NaN."""
    from edgelite.interpreter.kernels.activations import activations_float as af

    k = getattr(af, kernel)()
    x = np.resize(np.array(EDGES + [-0.0, -0.0, -0.0], F32), n)
    params = af.ActParams(k.act)
    ref, jit = np.empty_like(x), np.empty_like(x)
    k.eval(params, [x], [ref])
    k.eval_jit(params, [x], [jit])
    _same_bits(ref, jit, kernel)
    zeros = x == 0  # every bound range here holds 0, so a zero is returned as it came
    assert np.signbit(ref[zeros]).tolist() == np.signbit(x[zeros]).tolist()
