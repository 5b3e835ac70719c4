"""The delegate seam (edgelite.interpreter.delegation) with a test delegate that runs its
partitions on the interpreter's own CPU kernels: partitioning rules, the plan, boundary
tensors, resize + re-allocate, validate mode. No wgpu needed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edgelite.errors import DelegateError
from edgelite.interpreter import Interpreter
from edgelite.interpreter.delegation import DelegateValidationError, PartitionKernel, partition
from edgelite.interpreter.kernels.base import OpContext, select_kernel
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
from edgelite.schema.fb.SplitOptions import SplitOptionsT


class _CpuPartition(PartitionKernel):
    """Runs the partition's nodes on the interpreter's reference kernels, with a bias."""

    def __init__(self, part, bias: float):
        self.part = part
        self.bias = bias
        self.prepared = []
        for ctx in part.nodes:
            fresh = OpContext(**{k: getattr(ctx, k) for k in ("op_name", "op_index", "version", "options", "options2",
                                                             "custom_options", "inputs", "outputs")})
            k = select_kernel(fresh)
            self.prepared.append((k, k.prepare(fresh), ctx))
        self.calls = 0

    def invoke(self, inputs, outputs):
        self.calls += 1
        arrays = {t.index: a for t, a in zip(self.part.inputs, inputs)}
        for k, params, ctx in self.prepared:
            ins = [None if t is None else (t.data if t.data is not None else arrays[t.index]) for t in ctx.inputs]
            outs = [np.empty(t.shape, t.dtype) for t in ctx.outputs]
            k.eval(params, ins, outs)
            arrays.update({t.index: o for t, o in zip(ctx.outputs, outs)})
        for t, o in zip(self.part.outputs, outputs):
            o[...] = arrays[t.index] + self.bias


class FakeDelegate:
    name = "FAKE"

    def __init__(self, ops=("ADD", "MUL", "RELU", "CONCATENATION", "SPLIT"), max_parts=0, min_size=1,
                 validate=False, tolerance=None, bias=0.0):
        self.ops = set(ops)
        self.max_delegated_partitions = max_parts
        self.min_partition_size = min_size
        self.validate = validate
        self.validate_tolerance = tolerance
        self.bias = bias
        self.partitions = []

    def node_support(self, ctx):
        return None if ctx.op_name in self.ops else f"{ctx.op_name} is not in the test set"

    def prepare_partition(self, part):
        self.partitions.append(part)
        return _CpuPartition(part, self.bias)


def _opts(o, **kw):
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def _chain_model(ops):
    """x -> op0 -> op1 -> ... (unary RELU/NEG/TANH, or ADD with a constant)."""
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    cur = x
    for k, name in enumerate(ops):
        y = b.add_tensor(f"t{k}", (1, 4), np.float32, shape_signature=(-1, 4))
        if name == "ADD":
            c = b.add_constant(f"c{k}", np.full((1, 4), k + 1, np.float32))
            b.add_operator("ADD", [cur, c], [y], AddOptionsT())
        else:
            b.add_operator(name, [cur], [y])
        cur = y
    b.mark_output(cur)
    return b.build()


def _run(content, x, delegates=()):
    it = Interpreter(model_content=content, experimental_delegates=list(delegates))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it, [it.get_tensor(d["index"]) for d in it.get_output_details()]


X = np.array([[-1.0, 0.5, 2.0, -3.0]], np.float32)


def test_unsupported_op_in_the_middle_splits_and_n_largest_kept():
    content = _chain_model(["ADD", "ADD", "NEG", "ADD", "RELU", "ADD"])
    _, ref = _run(content, X)
    d = FakeDelegate(max_parts=1)
    it, out = _run(content, X, [d])
    np.testing.assert_array_equal(out[0], ref[0])
    plan = it.get_delegation_plan()
    assert [p.nodes for p in plan.partitions] == [[3, 4, 5]]  # the largest of {0,1} and {3,4,5}
    assert plan.dropped["FAKE"] == [[0, 1]]
    names = [o["op_name"] for o in it._get_ops_details()]
    assert names == ["ADD", "ADD", "NEG", "DELEGATE"]
    assert it._get_ops_details()[-1]["index"] == 6  # appended after the model's nodes, as LiteRT
    assert plan.unsupported["FAKE"] == [("NEG", "NEG is not in the test set")]


def test_all_partitions_and_min_size():
    content = _chain_model(["ADD", "NEG", "ADD", "ADD", "TANH", "ADD"])
    d = FakeDelegate(max_parts=0, min_size=2)
    it, out = _run(content, X, [d])
    assert [p.nodes for p in it.get_delegation_plan().partitions] == [[2, 3]]
    d = FakeDelegate(max_parts=0, min_size=1)
    it, out2 = _run(content, X, [d])
    assert [p.nodes for p in it.get_delegation_plan().partitions] == [[0], [2, 3], [5]]
    np.testing.assert_array_equal(out[0], out2[0])


def test_log_lines(caplog):
    content = _chain_model(["ADD", "NEG", "ADD"])
    with caplog.at_level(logging.INFO, logger="edgelite.delegates"):
        _run(content, X, [FakeDelegate(max_parts=1)])
    text = caplog.text
    assert "Following operations are not supported by FAKE delegate:" in text
    assert "NEG: NEG is not in the test set" in text
    assert "Replacing 1 out of 3 node(s) with delegate (FAKE) node, yielding 2 partitions for subgraph 0." in text


def test_convexity_diamond():
    # x -> ADD a -> NEG n -> ADD c(a, n): {a, c} would be non-convex (a -> n -> c leaves and comes back)
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    a = b.add_tensor("a", (1, 4), np.float32)
    n = b.add_tensor("n", (1, 4), np.float32)
    c = b.add_tensor("c", (1, 4), np.float32)
    b.add_operator("ADD", [x, x], [a], AddOptionsT())
    b.add_operator("NEG", [a], [n])
    b.add_operator("ADD", [a, n], [c], AddOptionsT())
    b.mark_output(c)
    content = b.build()
    _, ref = _run(content, X)
    it, out = _run(content, X, [FakeDelegate(max_parts=0)])
    assert [p.nodes for p in it.get_delegation_plan().partitions] == [[0], [2]]
    np.testing.assert_array_equal(out[0], ref[0])


def test_partition_function_merges_branches_and_respects_convexity():
    # two supported branches from an input joined by a supported node: one partition
    assert partition([True, True, True], [[], [], [0, 1]]) == [[0, 1, 2]]
    # 0 -> 1(unsupported) -> 2 ; 0 -> 2 ; 3 joins 2 and 0 later: must not merge 0 with 2
    groups = partition([True, False, True, True], [[], [0], [0, 1], [2, 0]])
    for g in groups:
        assert not ({0, 2} <= set(g))


def test_multi_output_op_graph_output_inside_partition_and_reorder():
    # SPLIT gives two outputs; one is a graph output *and* read inside the partition;
    # an unsupported op (NEG) between two supported ops that do not depend on it.
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    axis = b.add_constant("axis", np.array(1, np.int32))
    s0 = b.add_tensor("s0", (1, 2), np.float32)
    s1 = b.add_tensor("s1", (1, 2), np.float32)
    neg = b.add_tensor("neg", (1, 4), np.float32)
    r = b.add_tensor("r", (1, 2), np.float32)
    cat = b.add_tensor("cat", (1, 4), np.float32)
    b.add_operator("SPLIT", [axis, x], [s0, s1], _opts(SplitOptionsT(), numSplits=2))
    b.add_operator("NEG", [x], [neg])
    b.add_operator("RELU", [s1], [r])
    b.add_operator("CONCATENATION", [s0, r], [cat], _opts(ConcatenationOptionsT(), axis=1))
    b.mark_output(cat)
    b.mark_output(s0)
    b.mark_output(neg)
    content = b.build()
    _, ref = _run(content, X)
    d = FakeDelegate(max_parts=0)
    it, out = _run(content, X, [d])
    plan = it.get_delegation_plan()
    assert [p.nodes for p in plan.partitions] == [[0, 2, 3]]
    assert sorted(plan.partitions[0].outputs) == sorted([cat, s0])
    assert plan.partitions[0].inputs == [x]
    for a, e in zip(out, ref):
        np.testing.assert_array_equal(a, e)


def test_resize_and_reallocate_replans():
    content = _chain_model(["ADD", "RELU", "ADD"])
    d = FakeDelegate()
    it = Interpreter(model_content=content, experimental_delegates=[d])
    it.allocate_tensors()
    assert d.partitions[-1].inputs[0].shape == (1, 4)
    it.resize_tensor_input(0, (3, 4))
    it.allocate_tensors()
    assert d.partitions[-1].inputs[0].shape == (3, 4) and len(d.partitions) == 2
    xs = np.tile(X, (3, 1))
    it.set_tensor(0, xs)
    it.invoke()
    ref = Interpreter(model_content=content)
    ref.resize_tensor_input(0, (3, 4))
    ref.allocate_tensors()
    ref.set_tensor(0, xs)
    ref.invoke()
    out = it.get_output_details()[0]["index"]
    np.testing.assert_array_equal(it.get_tensor(out), ref.get_tensor(out))


def test_validate_mode_records_and_raises():
    content = _chain_model(["ADD", "RELU"])
    it, _ = _run(content, X, [FakeDelegate(validate=True)])
    v = it.get_delegation_plan().partitions[0].validation
    assert v.invokes == 1 and v.max_abs == 0.0
    it, _ = _run(content, X, [FakeDelegate(validate=True, bias=0.5)])
    v = it.get_delegation_plan().partitions[0].validation
    assert v.max_abs == pytest.approx(0.5)
    with pytest.raises(DelegateValidationError, match="partition 0"):
        _run(content, X, [FakeDelegate(validate=True, tolerance=1e-3, bias=0.5)])


def test_two_delegates_in_list_order():
    content = _chain_model(["ADD", "RELU", "NEG", "ADD"])
    first = FakeDelegate(ops=("ADD",), max_parts=0)
    second = FakeDelegate(ops=("RELU", "NEG"), max_parts=0)
    second.name = "SECOND"
    _, ref = _run(content, X)
    it, out = _run(content, X, [first, second])
    plan = it.get_delegation_plan()
    assert [(p.delegate, p.nodes) for p in plan.partitions] == [("FAKE", [0]), ("FAKE", [3]), ("SECOND", [1, 2])]
    np.testing.assert_array_equal(out[0], ref[0])


def test_not_a_delegate():
    with pytest.raises(DelegateError, match="not an edgelite delegate"):
        Interpreter(model_content=_chain_model(["RELU"]), experimental_delegates=[object()])


def test_load_delegate_names():
    import edgelite

    with pytest.raises(DelegateError, match="unknown delegate"):
        edgelite.load_delegate("tpu")
    with pytest.raises(DelegateError):
        edgelite.load_delegate("gpu", {"no_such_option": 1})


def test_internal_tensors_and_preserve_all():
    content = _chain_model(["ADD", "RELU", "ADD"])
    it, out = _run(content, X, [FakeDelegate()])
    with pytest.raises(ValueError, match="inside a delegated partition"):
        it.get_tensor(1)  # t0, internal to the partition
    it = Interpreter(model_content=content, experimental_delegates=[FakeDelegate()], experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(0, X)
    it.invoke()
    ref = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    ref.allocate_tensors()
    ref.set_tensor(0, X)
    ref.invoke()
    for i in range(len(ref.get_tensor_details())):
        np.testing.assert_array_equal(it.get_tensor(i), ref.get_tensor(i))
