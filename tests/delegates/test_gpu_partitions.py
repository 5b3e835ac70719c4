"""The GPU delegate inside real plans: CPU fallback, partition limits, resize, errors."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import edgelite
from edgelite.errors import DelegateError
from edgelite.interpreter import Interpreter
from edgelite.schema.builder import ModelBuilder
from tests.delegates.conftest import make_gpu
from tests.delegates.test_gpu_ops import opts


def _model_with_cpu_op_in_the_middle():
    """conv -> relu -> CUMSUM (no GPU builder) -> mul -> add, with the relu output also a graph output."""
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.add_input("x", (1, 6, 6, 3), np.float32, shape_signature=(1, -1, -1, 3))
    w = b.add_constant("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    c = b.add_tensor("c", (1, 6, 6, 4), np.float32)
    r = b.add_tensor("r", (1, 6, 6, 4), np.float32)
    s = b.add_tensor("s", (1, 6, 6, 4), np.float32)
    m = b.add_tensor("m", (1, 6, 6, 4), np.float32)
    y = b.add_tensor("y", (1, 6, 6, 4), np.float32)
    b.add_operator("CONV_2D", [x, w, -1], [c], opts("Conv2DOptions", strideW=1, strideH=1))
    b.add_operator("RELU", [c], [r])
    b.add_operator("CUMSUM", [r, b.add_constant("ax", np.array(3, np.int32))], [s], opts("CumsumOptions"))
    b.add_operator("MUL", [s, b.add_constant("k", np.full((4,), 0.5, np.float32))], [m], opts("MulOptions"))
    b.add_operator("ADD", [m, r], [y], opts("AddOptions"))
    b.mark_output(y)
    b.mark_output(r)
    return b.build()


def _run(content, delegates, shape=(1, 6, 6, 3)):
    it = Interpreter(model_content=content, experimental_delegates=delegates)
    if shape != (1, 6, 6, 3):
        it.resize_tensor_input(0, shape)
    it.allocate_tensors()
    x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
    it.set_tensor(0, x)
    it.invoke()
    return it, [it.get_tensor(d["index"]) for d in it.get_output_details()]


def test_unsupported_op_in_the_middle(gpu):
    content = _model_with_cpu_op_in_the_middle()
    _, ref = _run(content, [])
    it, out = _run(content, [make_gpu(max_delegated_partitions=0)])
    plan = it.get_delegation_plan()
    assert [p.nodes for p in plan.partitions] == [[0, 1], [3, 4]]
    assert [name for kind, _, name in plan.execution] == ["DELEGATE", "CUMSUM", "DELEGATE"]
    assert plan.unsupported["GPU"][0][0] == "CUMSUM"
    for a, e in zip(out, ref):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    # the graph output `r` is produced inside partition 0 and read by the CPU op and by partition 1
    r_index = next(d["index"] for d in it.get_output_details() if d["name"] == "r")
    assert plan.partitions[0].outputs == [r_index] and r_index in plan.partitions[1].inputs


def test_max_partitions_default_one_keeps_the_largest(gpu):
    content = _model_with_cpu_op_in_the_middle()
    _, ref = _run(content, [])
    it, out = _run(content, [make_gpu(max_delegated_partitions=1)])
    plan = it.get_delegation_plan()
    # two partitions of 2 ops: the tie goes to the earlier one, the other stays on the CPU
    assert [p.nodes for p in plan.partitions] == [[0, 1]] and plan.dropped["GPU"] == [[3, 4]]
    for a, e in zip(out, ref):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    names = [d["op_name"] for d in it._get_ops_details()]
    assert names.count("DELEGATE") == 1 and "CUMSUM" in names


def test_min_partition_size(gpu):
    it, _ = _run(_model_with_cpu_op_in_the_middle(), [make_gpu(min_partition_size=3)])
    assert it.get_delegation_plan().partitions == []


def test_resize_and_reallocate_rebuilds_the_partitions(gpu):
    content = _model_with_cpu_op_in_the_middle()
    d = make_gpu()
    it = Interpreter(model_content=content, experimental_delegates=[d])
    it.allocate_tensors()
    before = it.get_delegation_plan().partitions[0].kernel
    it.resize_tensor_input(0, (1, 9, 5, 3))
    it.allocate_tensors()
    after = it.get_delegation_plan().partitions[0].kernel
    assert after is not before
    x = np.random.default_rng(1).uniform(-1, 1, (1, 9, 5, 3)).astype(np.float32)
    it.set_tensor(0, x)
    it.invoke()
    _, ref = _run(content, [], shape=(1, 9, 5, 3))
    got = [it.get_tensor(o["index"]) for o in it.get_output_details()]
    for a, e in zip(got, ref):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


def test_one_submission_and_readback_only_at_outputs(gpu):
    it, _ = _run(_model_with_cpu_op_in_the_middle(), [make_gpu(max_delegated_partitions=0)])
    stats = it.get_delegation_plan().partitions[0].kernel.stats()
    assert stats["submissions_per_invoke"] == 1
    assert stats["dispatches_per_invoke"] == 2
    assert stats["readback_bytes_per_invoke"] == 1 * 6 * 6 * 4 * 4  # only `r`, the partition's one output


def test_load_delegate_options_as_strings(gpu):
    d = make_gpu(max_delegated_partitions="2", validate="true", is_precision_loss_allowed="0")
    assert d.max_delegated_partitions == 2 and d.validate and not d.fp16
    with pytest.raises(DelegateError, match="max_delegated_partitions"):
        edgelite.load_delegate("gpu", {"max_delegated_partitions": "many"})


def test_no_wgpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "wgpu", None)  # import wgpu -> ImportError
    with pytest.raises(DelegateError, match="wgpu package is not installed"):
        edgelite.load_delegate("gpu", {"limits": "default"})


def test_python_310(monkeypatch):
    from edgelite.delegates.gpu import device

    monkeypatch.setattr(device, "sys", types.SimpleNamespace(version_info=(3, 10, 12)))
    with pytest.raises(DelegateError, match="Python >= 3.11"):
        edgelite.load_delegate("gpu")


def test_no_adapter(monkeypatch):
    pytest.importorskip("wgpu", reason="wgpu not installed: the no-adapter path cannot be reached")
    from edgelite.delegates.gpu import device

    monkeypatch.setattr(device, "_DEVICES", {})
    monkeypatch.setattr(device, "_adapters", lambda wgpu: [])
    with pytest.raises(DelegateError, match="no WebGPU adapter"):
        edgelite.load_delegate("gpu")


def test_unknown_adapter(gpu, monkeypatch):
    with pytest.raises(DelegateError, match="matches no adapter"):
        edgelite.load_delegate("gpu", {"device": "no-such-gpu-anywhere"})


def test_nnapi_name_is_known():
    with pytest.raises(DelegateError, match="nnapi|NNAPI"):
        edgelite.load_delegate("nnapi")
