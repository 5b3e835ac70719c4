"""The Interpreter API on small models built with ModelBuilder.

The operators here are custom ops with test-only kernels registered below (names
start with ``EdgeliteTest``), so these tests exercise the interpreter itself
(validation, preparation, folding, planning, views, signatures) independently of
the real kernels, which have their own tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from edgelite.errors import (
    DelegateError,
    DTypeError,
    InterpreterStateError,
    ModelFormatError,
    ShapeError,
    UnsupportedOperatorError,
)
from edgelite.interpreter import Interpreter, OpResolverType
from edgelite.interpreter.kernels.base import Kernel, register
from edgelite.interpreter.compute.jit import HAVE_NUMBA, wait_until_warm
from edgelite.interpreter.profiling import OpProfiler, format_table
from edgelite.schema.builder import ModelBuilder

# -- test-only kernels -----------------------------------------------------------------

CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@register("EdgeliteTestAddOne")
class _AddOne(Kernel):
    def prepare(self, ctx):
        ctx.set_output_shape(0, ctx.input(0).shape)
        return None

    def eval(self, params, inputs, outputs):
        _count("addone.eval")
        np.add(inputs[0], 1, out=outputs[0], casting="unsafe")

    def eval_jit(self, params, inputs, outputs):
        _count("addone.eval_jit")
        np.add(inputs[0], 1, out=outputs[0], casting="unsafe")


@register("EdgeliteTestAdd")
class _Add(Kernel):
    def prepare(self, ctx):
        a, b = ctx.input(0), ctx.input(1)
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ctx.fail(f"cannot broadcast {a.shape} and {b.shape}") from None
        ctx.set_output_shape(0, shape)

    def eval(self, params, inputs, outputs):
        _count("add.eval")
        np.add(inputs[0], inputs[1], out=outputs[0])


@register("EdgeliteTestNonzero")
class _Nonzero(Kernel):
    """Dynamic output: the flat indices of the non-zero inputs (int32)."""

    def prepare(self, ctx):
        ctx.set_output_dynamic(0)

    def eval(self, params, inputs, outputs):
        return {0: np.flatnonzero(inputs[0]).astype(np.int32)}


@register("EdgeliteTestAccumulate")
class _Accumulate(Kernel):
    """state += x; out = state (input 0 is a variable tensor)."""

    def prepare(self, ctx):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def eval(self, params, inputs, outputs):
        np.add(inputs[0], inputs[1], out=inputs[0], casting="unsafe")
        outputs[0][...] = inputs[0]


@register("EdgeliteTestOnlyInt8")
class _OnlyInt8(Kernel):
    def accepts(self, ctx):
        return ctx.inputs[0].dtype == np.int8

    def prepare(self, ctx):
        ctx.set_output_shape(0, ctx.input(0).shape)

    def eval(self, params, inputs, outputs):
        outputs[0][...] = inputs[0]


def _op(b, name, ins, outs):
    return b.add_operator("CUSTOM", ins, outs, custom_code=name)


def chain_model(n_ops: int = 3, shape=(1, 4), signature: bool = True, dynamic_batch: bool = False) -> bytes:
    """x -> AddOne -> t1 -> AddOne -> ... -> y  (y = x + n_ops)."""
    b = ModelBuilder()
    sig = (-1,) + tuple(shape[1:]) if dynamic_batch else None
    x = b.add_input("x", shape, np.float32, shape_signature=sig)
    prev = x
    for k in range(n_ops):
        t = b.add_tensor(f"t{k}" if k < n_ops - 1 else "y", shape, np.float32, shape_signature=sig)
        _op(b, "EdgeliteTestAddOne", [prev], [t])
        prev = t
    b.mark_output(prev)
    if signature:
        b.add_signature("serving_default", {"inp": x}, {"out": prev})
    return b.build()


def two_input_model() -> tuple[bytes, dict]:
    """y = (x + 1) + (c + 1) where c is a constant: the c branch folds."""
    b = ModelBuilder()
    x = b.add_input("x", (2, 3), np.float32, shape_signature=(-1, 3))
    c = b.add_constant("c", np.arange(3, dtype=np.float32).reshape(1, 3))
    c1 = b.add_tensor("c1", (1, 3), np.float32)
    x1 = b.add_tensor("x1", (2, 3), np.float32, shape_signature=(-1, 3))
    y = b.add_tensor("y", (2, 3), np.float32, shape_signature=(-1, 3))
    _op(b, "EdgeliteTestAddOne", [c], [c1])
    _op(b, "EdgeliteTestAddOne", [x], [x1])
    _op(b, "EdgeliteTestAdd", [x1, c1], [y])
    b.mark_output(y)
    return b.build(), dict(x=x, c=c, c1=c1, x1=x1, y=y)


# -- construction -----------------------------------------------------------------------


def test_package_exports_interpreter():
    assert edgelite.Interpreter is Interpreter
    assert [m.value for m in OpResolverType] == [0, 1, 2, 3]


def test_constructor_argument_errors(tmp_path):
    data = chain_model()
    with pytest.raises(ValueError, match="must be specified"):
        Interpreter()
    p = tmp_path / "m.tflite"
    p.write_bytes(data)
    with pytest.raises(ValueError, match="both"):
        Interpreter(model_path=str(p), model_content=data)
    with pytest.raises(ValueError, match=">= 1"):
        Interpreter(model_content=data, num_threads=0)
    with pytest.raises(ValueError, match="int"):
        Interpreter(model_content=data, num_threads=2.0)
    with pytest.raises(ValueError, match="op resolver"):
        Interpreter(model_content=data, experimental_op_resolver_type=3)
    with pytest.raises(DelegateError, match="delegates"):
        Interpreter(model_content=data, experimental_delegates=[object()])
    with pytest.raises(ModelFormatError):
        Interpreter(model_content=b"definitely not a model")
    Interpreter(model_path=p, experimental_delegates=[], num_threads=2)  # path-like works


def test_litert_enum_accepted():
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    it = Interpreter(model_content=chain_model(), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    assert not it.uses_jit


def test_unsupported_ops_all_listed_at_construction():
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    t = b.add_tensor("t", (1, 4), np.float32)
    u = b.add_tensor("u", (1, 4), np.float32)
    y = b.add_tensor("y", (1, 4), np.float32)
    _op(b, "NoSuchOpA", [x], [t])
    _op(b, "EdgeliteTestAddOne", [t], [u])
    _op(b, "EdgeliteTestOnlyInt8", [u], [y])  # exists, but not for float32
    b.mark_output(y)
    with pytest.raises(UnsupportedOperatorError) as exc:
        Interpreter(model_content=b.build())
    msg = str(exc.value)
    assert "NoSuchOpA" in msg and "EdgeliteTestOnlyInt8" in msg and "EdgeliteTestAddOne v" not in msg
    assert "operator 0" in msg and "operator 2" in msg and "'t'" in msg and "'y'" in msg and "FLOAT32" in msg
    assert [name for name, _ in exc.value.ops] == ["NoSuchOpA", "EdgeliteTestOnlyInt8"]


def _raw_model(mutate) -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    t = b.add_tensor("t", (1, 4), np.float32)
    y = b.add_tensor("y", (1, 4), np.float32)
    _op(b, "EdgeliteTestAddOne", [x], [t])
    _op(b, "EdgeliteTestAddOne", [t], [y])
    b.mark_output(y)
    mutate(b)
    return b.build()


def test_malformed_graphs_raise_model_format_error():
    def swap(b):  # operator 0 reads t before operator 1 writes it
        ops = b.subgraph.operators
        ops[0], ops[1] = ops[1], ops[0]

    with pytest.raises(ModelFormatError, match="cycle|execution order"):
        Interpreter(model_content=_raw_model(swap))

    def write_twice(b):
        b.subgraph.operators[1].outputs = [1]

    with pytest.raises(ModelFormatError, match="writes tensor 1"):
        Interpreter(model_content=_raw_model(write_twice))

    def orphan_read(b):
        z = b.add_tensor("z", (1, 4), np.float32)
        b.subgraph.operators[1].inputs = [z]

    with pytest.raises(ModelFormatError, match="not an input"):
        Interpreter(model_content=_raw_model(orphan_read))

    def bad_const(b):
        c = b.add_constant("c", np.zeros(3, np.float32))
        b.subgraph.tensors[c].shape = (1, 4)  # 12 bytes for 16 needed
        b.subgraph.operators[1].inputs = [c]

    with pytest.raises(ModelFormatError, match="buffer"):
        Interpreter(model_content=_raw_model(bad_const))

    def out_of_range(b):
        b.subgraph.operators[1].inputs = [1]
        b.subgraph.outputs = [99]

    with pytest.raises(ModelFormatError):
        Interpreter(model_content=_raw_model(out_of_range))


# -- running ------------------------------------------------------------------------------


def test_chain_runs_and_get_tensor_copies():
    it = Interpreter(model_content=chain_model(3))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = np.array([[1, 2, 3, 4]], np.float32)
    it.set_tensor(inp["index"], x)
    x[...] = 100  # set_tensor copied
    it.invoke()
    y = it.get_tensor(out["index"])
    np.testing.assert_array_equal(y, [[4, 5, 6, 7]])
    y[...] = -1  # get_tensor copied
    np.testing.assert_array_equal(it.get_tensor(out["index"]), [[4, 5, 6, 7]])


def test_set_tensor_errors():
    it = Interpreter(model_content=chain_model())
    with pytest.raises(ValueError, match="allocate_tensors"):
        it.set_tensor(0, np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="allocate_tensors"):
        it.get_tensor(3)
    it.allocate_tensors()
    with pytest.raises(DTypeError, match="FLOAT64.*FLOAT32.*name: x") as e:
        it.set_tensor(0, np.zeros((1, 4), np.float64))
    assert isinstance(e.value, ValueError)  # LiteRT raises ValueError: both catch styles work
    with pytest.raises(ShapeError, match=r"Got 2 but expected 1 for dimension 0.*'x'.*\[1, 4\].*\[2, 4\]"):
        it.set_tensor(0, np.zeros((2, 4), np.float32))
    with pytest.raises(ShapeError, match="Got 1 but expected 2"):
        it.set_tensor(0, np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match="Invalid tensor index 99"):
        it.set_tensor(99, np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="Invalid tensor index"):
        it.get_tensor(-1)


def test_constant_cannot_be_set_and_is_readable():
    data, t = two_input_model()
    it = Interpreter(model_content=data)
    np.testing.assert_array_equal(it.get_tensor(t["c"]), [[0, 1, 2]])  # before allocation too
    it.allocate_tensors()
    with pytest.raises(ValueError, match="constant"):
        it.set_tensor(t["c"], np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="constant"):
        it.set_tensor(t["c1"], np.zeros((1, 3), np.float32))  # folded


def test_constant_folding_runs_once_at_allocate():
    data, t = two_input_model()
    it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    CALLS.clear()
    it.allocate_tensors()
    assert CALLS == {"addone.eval": 1}  # the constant branch, evaluated at prepare
    np.testing.assert_array_equal(it.get_tensor(t["c1"]), [[1, 2, 3]])
    it.set_tensor(t["x"], np.ones((2, 3), np.float32))
    it.invoke()
    it.invoke()
    assert CALLS == {"addone.eval": 3, "add.eval": 2}
    np.testing.assert_array_equal(it.get_tensor(t["y"]), [[3, 4, 5]] * 2)
    # The folded tensor takes no arena space: only x, x1 and y (24 bytes each) are planned.
    assert it.arena_bytes == 3 * 64


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed: AUTO uses reference kernels")
def test_resolver_selects_eval_or_eval_jit():
    for resolver, used in [
        (OpResolverType.AUTO, "addone.eval_jit"),
        (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, "addone.eval_jit"),
        (OpResolverType.BUILTIN_REF, "addone.eval"),
    ]:
        it = Interpreter(model_content=chain_model(2), experimental_op_resolver_type=resolver, num_threads=1)
        it.allocate_tensors()
        wait_until_warm()  # until Numba has loaded, invoke runs the reference kernels
        CALLS.clear()
        it.invoke()
        assert CALLS == {used: 2}, resolver


def test_tensor_views_block_invoke_and_allocate():
    it = Interpreter(model_content=chain_model(2))
    it.allocate_tensors()
    inp = it.tensor(it.get_input_details()[0]["index"])
    out = it.tensor(it.get_output_details()[0]["index"])
    inp()[...] = 3.0  # the temporary view dies at once
    it.invoke()
    np.testing.assert_array_equal(out(), [[5, 5, 5, 5]])
    held = out()
    assert held.base is not None  # zero-copy
    with pytest.raises(RuntimeError, match="reference to internal data"):
        it.invoke()
    with pytest.raises(InterpreterStateError):
        it.allocate_tensors()
    with pytest.raises(RuntimeError):
        it.resize_tensor_input(0, [1, 4])
    part = held[:, 1:]  # a slice keeps the view alive too
    del held
    with pytest.raises(RuntimeError):
        it.invoke()
    del part
    it.invoke()
    # Writing through a view is seen by the next invoke.
    inp()[...] = np.array([[0, 1, 2, 3]], np.float32)
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), [[2, 3, 4, 5]])


def test_resize_propagates_shapes_and_strict_rules():
    data, t = two_input_model()
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.resize_tensor_input(t["x"], [5, 3], strict=True)  # -1 dim may change
    assert it.get_input_details()[0]["shape"].tolist() == [5, 3]
    with pytest.raises(InterpreterStateError, match="not ready"):
        it.invoke()
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [5, 3]
    assert it.get_output_details()[0]["shape_signature"].tolist() == [-1, 3]
    it.set_tensor(t["x"], np.zeros((5, 3), np.float32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(t["y"]), np.tile([[2, 3, 4]], (5, 1)))
    with pytest.raises(ShapeError, match="dimension 1.*only allows mutating unknown"):
        it.resize_tensor_input(t["x"], [5, 4], strict=True)
    it.resize_tensor_input(t["x"], [2, 1])  # non-strict: anything, broadcast still works
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [2, 3]
    it.resize_tensor_input(t["x"], [2, 2])
    with pytest.raises(ShapeError, match="EdgeliteTestAdd.*broadcast"):
        it.allocate_tensors()
    with pytest.raises(ValueError, match="not an input"):
        it.resize_tensor_input(t["y"], [2, 3])


def test_dynamic_outputs_and_deferred_ops():
    b = ModelBuilder()
    x = b.add_input("x", (6,), np.float32)
    idx = b.add_tensor("idx", (0,), np.int32, shape_signature=(-1,))
    y = b.add_tensor("y", (0,), np.int32, shape_signature=(-1,))
    _op(b, "EdgeliteTestNonzero", [x], [idx])
    _op(b, "EdgeliteTestAddOne", [idx], [y])  # depends on a run-time shape: deferred
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    for values, expected in [([0, 1, 0, 2, 0, 3], [2, 4, 6]), ([1, 0, 0, 0, 0, 1], [1, 6]), ([0] * 6, [])]:
        it.set_tensor(x, np.array(values, np.float32))
        it.invoke()
        np.testing.assert_array_equal(it.get_tensor(y), expected)
        assert it.get_output_details()[0]["shape"].tolist() == [len(expected)]


def test_preserve_all_tensors_keeps_intermediates():
    data = chain_model(4, shape=(1, 64))
    plain = Interpreter(model_content=data)
    keep = Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    for it in (plain, keep):
        it.allocate_tensors()
        it.set_tensor(0, np.zeros((1, 64), np.float32))
        it.invoke()
    for k in range(3):
        np.testing.assert_array_equal(keep.get_tensor(1 + k), np.full((1, 64), k + 1.0))
    assert keep.arena_bytes == 5 * 256  # every tensor its own slot
    assert plain.arena_bytes < keep.arena_bytes  # intermediates share memory by default
    np.testing.assert_array_equal(plain.get_tensor(4), keep.get_tensor(4))


def test_variables_persist_and_reset():
    b = ModelBuilder()
    x = b.add_input("x", (3,), np.int8, quant=(0.5, 0))
    state = b.add_tensor("state", (3,), np.int8, quant=(0.5, 7), is_variable=True)
    y = b.add_tensor("y", (3,), np.int8, quant=(0.5, 7))
    _op(b, "EdgeliteTestAccumulate", [state, x], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    np.testing.assert_array_equal(it.get_tensor(state), [7, 7, 7])  # int8: reset to the zero point
    it.set_tensor(x, np.array([1, 2, 3], np.int8))
    it.invoke()
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), [9, 11, 13])
    it.reset_all_variables()
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), [8, 9, 10])


def test_signature_runner():
    it = Interpreter(model_content=chain_model(2, dynamic_batch=True))
    assert it.get_signature_list() == {"serving_default": {"inputs": ["inp"], "outputs": ["out"]}}
    runner = it.get_signature_runner()
    assert runner is not it.get_signature_runner("serving_default")
    out = runner(inp=np.zeros((3, 4), np.float32))
    assert list(out) == ["out"]
    np.testing.assert_array_equal(out["out"], np.full((3, 4), 2.0))
    assert runner.get_input_details()["inp"]["shape"].tolist() == [3, 4]
    assert runner.get_output_details()["out"]["name"] == "y"
    with pytest.raises(ValueError, match="Invalid signature_key"):
        it.get_signature_runner("nope")
    with pytest.raises(ValueError, match="expected 1 vs provided 2"):
        runner(inp=np.zeros((1, 4), np.float32), other=1)
    with pytest.raises(ValueError, match=r"Invalid Input name \(x\)"):
        runner(x=np.zeros((1, 4), np.float32))
    with pytest.raises(DTypeError):
        runner(inp=np.zeros((1, 4), np.int32))


def test_signature_runner_none_key_needs_exactly_one():
    it = Interpreter(model_content=chain_model(signature=False))
    assert it.get_signature_list() == {}
    with pytest.raises(ValueError, match="has 0 Signatures"):
        it.get_signature_runner()


def test_multi_subgraph_signatures():
    b = ModelBuilder()
    x = b.add_input("x", (2,), np.float32)
    y = b.add_tensor("y", (2,), np.float32)
    _op(b, "EdgeliteTestAddOne", [x], [y])
    b.mark_output(y)
    b.add_signature("plus1", {"a": x}, {"b": y}, subgraph_index=0)
    b.new_subgraph("second")
    p = b.add_input("p", (2,), np.float32)
    q = b.add_tensor("q", (2,), np.float32)
    _op(b, "EdgeliteTestAdd", [p, p], [q])
    b.mark_output(q)
    b.add_signature("double", {"a": p}, {"b": q}, subgraph_index=1)
    it = Interpreter(model_content=b.build())
    assert it.num_subgraphs() == 2
    np.testing.assert_array_equal(it.get_signature_runner("double")(a=np.array([1, 2], np.float32))["b"], [2, 4])
    np.testing.assert_array_equal(it.get_signature_runner("plus1")(a=np.array([1, 2], np.float32))["b"], [2, 3])
    np.testing.assert_array_equal(it.get_tensor(q, 1), [2, 4])
    assert [d["name"] for d in it.get_tensor_details(1)] == ["p", "q"]
    with pytest.raises(ValueError, match="out of range"):
        it.get_tensor_details(2)
    with pytest.raises(ValueError, match="subgraph index 5"):
        it.get_tensor(0, 5)


def test_details_dicts_types():
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.int8, quant=(0.25, -3), shape_signature=(-1, 4))
    w = b.add_constant("w", np.ones((2, 4), np.int8), quant=(np.array([0.5, 0.25]), np.zeros(2, np.int64), 0))
    y = b.add_tensor("y", (1, 4), np.int8, quant=(0.25, -3))
    _op(b, "EdgeliteTestAddOne", [x], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    d = it.get_input_details()[0]
    assert set(d) == {"name", "index", "shape", "shape_signature", "dtype", "quantization", "quantization_parameters", "sparsity_parameters"}
    assert d["shape"].dtype == np.int32 and d["shape_signature"].tolist() == [-1, 4]
    assert d["dtype"] is np.int8
    assert d["quantization"] == (0.25, -3) and type(d["quantization"][0]) is float and type(d["quantization"][1]) is int
    qp = d["quantization_parameters"]
    assert qp["scales"].dtype == np.float32 and qp["zero_points"].dtype == np.int32
    assert qp["quantized_dimension"] == 0 and qp["block_size"] == 0
    assert d["sparsity_parameters"] == {}
    dw = it.get_tensor_details()[w]
    assert dw["quantization"] == (0.0, 0)  # per-channel: the deprecated field is empty
    np.testing.assert_array_equal(dw["quantization_parameters"]["scales"], [0.5, 0.25])
    ops = it._get_ops_details()
    assert ops[0]["op_name"] == "EdgeliteTestAddOne" and ops[0]["inputs"].tolist() == [x]
    assert ops[0]["operand_types"] == [np.int8] and ops[0]["result_types"] == [np.int8]
    assert [o["op_name"] for o in it.get_ops_details()] == ["EdgeliteTestAddOne"]


def test_profiler_records_every_op():
    it = Interpreter(model_content=chain_model(3))
    it.allocate_tensors()
    prof = OpProfiler()
    it.set_profiler(prof)
    for _ in range(4):
        it.invoke()
    rows = prof.summary()
    assert [r.index for r in rows] == [0, 1, 2] and all(r.runs == 4 for r in rows)
    assert abs(sum(r.percent for r in rows) - 100.0) < 1e-6
    table = format_table(prof)
    assert "EdgeliteTestAddOne" in table and "Top" in table
    it.set_profiler(None)
    it.invoke()
    assert prof.summary()[0].runs == 4


def test_densify_op_is_folded_without_a_kernel():
    from edgelite.schema.model import DimensionMetadata, SparsityParameters

    dense = np.array([[1, 0, 2], [0, 0, 3]], np.float32)
    b = ModelBuilder()
    x = b.add_input("x", (2, 3), np.float32)
    s = b.add_constant("s", np.array([1, 2, 3], np.float32))
    b.subgraph.tensors[s].shape = (2, 3)
    b.subgraph.tensors[s].sparsity = SparsityParameters(
        traversal_order=[0, 1],
        dim_metadata=[DimensionMetadata(0, 2), DimensionMetadata(1, 0, np.array([0, 2, 3], np.int32), np.array([0, 2, 2], np.int32))],
    )
    d = b.add_tensor("d", (2, 3), np.float32)
    y = b.add_tensor("y", (2, 3), np.float32)
    b.add_operator("DENSIFY", [s], [d])
    _op(b, "EdgeliteTestAdd", [x, d], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    it.set_tensor(x, np.ones((2, 3), np.float32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), dense + 1)
    sp = it.get_tensor_details()[s]["sparsity_parameters"]
    assert sp["traversal_order"].tolist() == [0, 1] and sp["dim_metadata"][1]["array_indices"].tolist() == [0, 2, 2]


def test_num_threads_accepted_and_runs():
    it = Interpreter(model_content=chain_model(2), num_threads=2)
    it.allocate_tensors()
    it.set_tensor(0, np.ones((1, 4), np.float32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(2), np.full((1, 4), 3.0))


# -- property: random graphs give the values a direct numpy evaluation gives -------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _random_dag(draw):
    """Inputs/constants then ops (AddOne or Add of earlier tensors) and some outputs."""
    n_inputs = draw(st.integers(1, 2))
    n_consts = draw(st.integers(0, 2))
    n_ops = draw(st.integers(1, 12))
    ops = []
    available = n_inputs + n_consts
    for _ in range(n_ops):
        if draw(st.booleans()):
            ops.append(("EdgeliteTestAddOne", [draw(st.integers(0, available - 1))]))
        else:
            ops.append(("EdgeliteTestAdd", [draw(st.integers(0, available - 1)) for _ in range(2)]))
        available += 1
    produced = list(range(n_inputs + n_consts, available))
    outputs = draw(st.lists(st.sampled_from(produced), min_size=1, max_size=3, unique=True))
    return n_inputs, n_consts, ops, outputs


@settings(max_examples=60, deadline=None)
@given(_random_dag(), st.booleans(), st.integers(1, 40))
def test_property_random_graphs_match_numpy(dag, preserve, width):
    n_inputs, n_consts, ops, outputs = dag
    rng = np.random.default_rng(width)
    shape = (2, width)
    b = ModelBuilder()
    values = []
    for k in range(n_inputs):
        b.add_input(f"in{k}", shape, np.float32)
        values.append(rng.standard_normal(shape).astype(np.float32))
    for k in range(n_consts):
        c = rng.standard_normal((1, width)).astype(np.float32)
        b.add_constant(f"c{k}", c)
        values.append(c)
    feeds = values[:n_inputs]
    for k, (name, ins) in enumerate(ops):
        ref = values[ins[0]] + 1 if name == "EdgeliteTestAddOne" else values[ins[0]] + values[ins[1]]
        t = b.add_tensor(f"t{k}", ref.shape, np.float32)
        _op(b, name, ins, [t])
        values.append(ref.astype(np.float32))
    for o in outputs:
        b.mark_output(o)
    it = Interpreter(model_content=b.build(), experimental_preserve_all_tensors=preserve)
    it.allocate_tensors()
    for k, x in enumerate(feeds):
        it.set_tensor(k, x)
    it.invoke()
    for o in outputs:
        np.testing.assert_allclose(it.get_tensor(o), values[o], rtol=1e-6, atol=1e-6)
    if preserve:
        for t in range(n_inputs + n_consts, len(values)):
            np.testing.assert_allclose(it.get_tensor(t), values[t], rtol=1e-6, atol=1e-6)


def test_int4_constant_is_unpacked():
    from edgelite.schema.model import TensorType

    b = ModelBuilder()
    buf = b.add_buffer(np.array([0x21, 0xF8, 0x07], np.uint8))  # 1, 2, -8, -1, 7 (5 values)
    c = b.add_tensor("c", (5,), TensorType.INT4, buffer=buf)
    y = b.add_tensor("y", (5,), np.int8)
    _op(b, "EdgeliteTestAddOne", [c], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), [2, 3, -7, 0, 8])
    assert it.get_tensor_details()[c]["dtype"] is np.int8


def test_runs_without_numba_or_onnx(tmp_path):
    """Only numpy + flatbuffers: block numba/onnx imports in a fresh process and run a model."""
    import subprocess
    import sys
    from pathlib import Path

    from edgelite.schema.fb.AddOptions import AddOptionsT

    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.int8, quant=(0.05, -3))
    c = b.add_constant("c", np.array([[-100, -5, 7, 120]], np.int8), quant=(0.04, 2))
    y = b.add_tensor("y", (1, 4), np.int8, quant=(0.1, 1))
    b.add_operator("ADD", [x, c], [y], AddOptionsT())
    b.mark_output(y)
    path = tmp_path / "m.tflite"
    path.write_bytes(b.build())
    code = (
        "import sys\n"
        "for m in ('numba', 'onnx', 'onnxruntime', 'ai_edge_litert'): sys.modules[m] = None\n"
        "import numpy as np, edgelite\n"
        f"it = edgelite.Interpreter(model_path={str(path)!r})\n"
        "assert not it.uses_jit\n"
        "it.allocate_tensors(); it.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8)); it.invoke()\n"
        "print(it.get_tensor(2).tolist())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("[[")
