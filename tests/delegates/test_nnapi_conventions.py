"""NNAPI's conventions, checked both ways.

Each test breaks one convention the lowering must translate (padding codes, fused
activation codes, per-channel channelDim, zero points, bias scale, RESIZE_BILINEAR's
width-before-height) and shows that the whole-model comparison against the CPU kernels,
or the test double's rules, then fail. The unbroken lowering passes the same check in
test_nnapi_delegate.py, so these tests prove the checks can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from edgelite.delegates.nnapi import compiled, lowering
from edgelite.delegates.nnapi.abi import FuseCode, OperandCode as C, PaddingCode
from edgelite.errors import DelegateError
from edgelite.schema.builder import ModelBuilder
from tests.delegates import nnapi_double, nnapi_semantics as sem
from tests.delegates.nnapi_helpers import double_path, fixture_bytes, rel_diff, run_both


def outcome(name: str) -> str:
    """'ok' when the delegated model matches the CPU kernels, else what went wrong: an
    error, operations the NNAPI device refused (the double's rules), or different outputs."""
    path = double_path()
    try:
        ref, got, it = run_both(fixture_bytes(name), edgelite.load_delegate("nnapi", {"library": path}))
    except DelegateError as e:
        return f"DelegateError: {e}"
    plan = it.get_delegation_plan()
    rejected = [f"{op}: {why}" for op, why in plan.unsupported["NNAPI"] if "query failed" in why]
    if rejected:  # the device (the double's rules) refused the operations
        return "rejected: " + rejected[0]
    assert plan.partitions
    if ref[0].dtype == np.float32 and "int8" not in name:
        return "ok" if rel_diff(ref, got) <= 1e-5 else f"differs by {rel_diff(ref, got):.3g}"
    return "ok" if rel_diff(ref, got) <= 0.05 else f"differs by {rel_diff(ref, got):.3g}"


def mutate(monkeypatch, fn):
    """Apply ``fn`` to every NnModel just before it is compiled."""
    real = compiled.CompiledModel.__init__

    def init(self, lib, nn, **kw):
        fn(nn)
        real(self, lib, nn, **kw)

    monkeypatch.setattr(compiled.CompiledModel, "__init__", init)


def test_unbroken_lowering_passes():
    assert outcome("mobilenet_v1_025_96_float32") == "ok"
    assert outcome("mobilenet_v2_035_96_int8") == "ok"


def test_tflite_padding_codes_taken_as_nnapi_codes_fail(monkeypatch):
    # TFLite SAME=0/VALID=1 passed through unchanged: SAME becomes 0 (invalid), VALID becomes SAME.
    monkeypatch.setattr(lowering, "TFLITE_PADDING", {0: 0, 1: PaddingCode.SAME})
    assert outcome("mobilenet_v1_025_96_float32") != "ok"


def test_swapped_padding_fails(monkeypatch):
    monkeypatch.setattr(lowering, "TFLITE_PADDING", {0: PaddingCode.VALID, 1: PaddingCode.SAME})
    assert outcome("float32_cnn") != "ok"


def _add_relu6_model() -> bytes:
    from edgelite.schema.fb.AddOptions import AddOptionsT

    b = ModelBuilder()
    x = b.add_input("x", (1, 8), np.float32)
    c = b.add_constant("c", np.linspace(-8, 8, 8, dtype=np.float32).reshape(1, 8))
    y = b.add_tensor("y", (1, 8), np.float32)
    opt = AddOptionsT()
    opt.fusedActivationFunction = 3  # TFLite RELU6
    b.add_operator("ADD", [x, c], [y], opt)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("broken", [
    {3: FuseCode.RELU},  # RELU6 lowered as RELU: values above 6 no longer clipped
    {3: FuseCode.RELU1},
    {3: FuseCode.NONE},
])
def test_wrong_fused_activation_fails(monkeypatch, broken):
    path = double_path()
    ref, got, _ = run_both(_add_relu6_model(), edgelite.load_delegate("nnapi", {"library": path}))
    assert rel_diff(ref, got) == 0
    monkeypatch.setattr(lowering, "TFLITE_FUSE", {**lowering.TFLITE_FUSE, **broken})
    ref, got, _ = run_both(_add_relu6_model(), edgelite.load_delegate("nnapi", {"library": path}))
    assert rel_diff(ref, got) > 0.1


def test_wrong_per_channel_axis_fails(monkeypatch):
    def depthwise_axis_0(nn):
        for o in nn.operands:
            if o.channel_dim == 3:
                o.channel_dim = 0
    mutate(monkeypatch, depthwise_axis_0)
    assert "ANeuralNetworksModel_setOperandSymmPerChannelQuantParams failed" in outcome("mobilenet_v2_035_96_int8")


def test_per_channel_scales_in_wrong_order_fail(monkeypatch):
    def reverse(nn):
        for o in nn.operands:
            if o.channel_scales is not None:
                o.channel_scales = np.ascontiguousarray(o.channel_scales[::-1])
    mutate(monkeypatch, reverse)
    assert outcome("mobilenet_v2_035_96_int8") != "ok"


def test_uint8_style_zero_point_fails(monkeypatch):
    # Treating int8 data as if its zero point were offset by 128 (the uint8 convention).
    def shift(nn):
        for o in nn.operands:
            if o.code == C.TENSOR_QUANT8_ASYMM_SIGNED and o.value is None and o.zero_point <= -1:
                o.zero_point += 128
    mutate(monkeypatch, shift)
    assert outcome("int8_cnn") != "ok"


def test_bias_scale_convention_enforced(monkeypatch):
    def bias_scale_one(nn):
        for o in nn.operands:
            if o.code == C.TENSOR_INT32 and o.value is not None and o.scale > 0:
                o.scale = 1.0
    mutate(monkeypatch, bias_scale_one)
    assert "bias_scale" in outcome("uint8_tf1") or "Model_finish failed" in outcome("uint8_tf1")


def _resize_model() -> bytes:
    b = ModelBuilder()
    x = b.add_input("x", (1, 2, 3, 1), np.float32)
    y = b.add_tensor("y", (1, 4, 9, 1), np.float32)
    size = b.add_constant("size", np.array([4, 9], np.int32))
    b.add_operator("RESIZE_BILINEAR", [x, size], [y])
    b.mark_output(y)
    return b.build()


def test_resize_bilinear_width_comes_first(monkeypatch):
    path = double_path()
    ref, got, _ = run_both(_resize_model(), edgelite.load_delegate("nnapi", {"library": path}))
    assert rel_diff(ref, got) <= 1e-6
    real = lowering.Lowering.scalar
    calls = []

    def swapped(self, value, code=C.INT32):  # hands height where width belongs, and back
        if self.node is not None and self.node.op_name == "RESIZE_BILINEAR" and code == C.INT32:
            calls.append(value)
            value = {9: 4, 4: 9}[int(value)]
        return real(self, value, code)

    monkeypatch.setattr(lowering.Lowering, "scalar", swapped)
    with pytest.raises(DelegateError, match="ANeuralNetworksExecution_compute failed"):
        run_both(_resize_model(), edgelite.load_delegate("nnapi", {"library": path}))
    assert "computes shape (1, 9, 4, 1), its output operand is (1, 4, 9, 1)" in nnapi_double.double(path).last_error
    assert calls[:2] == [9, 4]  # width (9) first, then height (4)


# ---- the evaluator itself, on hand-computed cases (NNAPI docs) ----------------------


def _model(ops, operands, inputs, outputs):
    return sem.RecordedModel(operands, ops, inputs, outputs, False)


def _op(i, code, shape=(), value=None, scale=0.0, zp=0):
    return sem.Operand(i, code, shape, scale, zp, 1 if value is not None else 0,
                       None if value is None else np.asarray(value, sem.DTYPES[code]).reshape(shape))


def test_evaluator_average_pool_counts_only_inside_elements():
    # 2x2 input, 2x2 filter, SAME padding, stride 1: the bottom-right window sees one element.
    x = _op(0, sem.TENSOR_FLOAT32, (1, 2, 2, 1))
    args = [_op(i, sem.INT32, (), v) for i, v in zip(range(1, 7), [1, 1, 1, 2, 2, 0])]
    y = _op(7, sem.TENSOR_FLOAT32, (1, 2, 2, 1))
    m = _model([sem.Operation(1, [0, 1, 2, 3, 4, 5, 6], [7])], [x, *args, y], [0], [7])
    sem.validate(m)
    out = sem.Evaluator(m).run([np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 2, 1)])[0]
    assert out.reshape(-1).tolist() == [2.5, 3.0, 3.5, 4.0]


def test_evaluator_rejects_per_channel_axis_for_depthwise():
    x = _op(0, sem.TENSOR_QUANT8_ASYMM_SIGNED, (1, 3, 3, 2), scale=0.5)
    w = _op(1, sem.TENSOR_QUANT8_SYMM_PER_CHANNEL, (1, 1, 1, 2), np.ones(2))
    w.channel_dim, w.channel_scales = 0, np.ones(1, np.float32)
    bias = _op(2, sem.TENSOR_INT32, (2,), np.zeros(2))
    args = [_op(i, sem.INT32, (), v) for i, v in zip(range(3, 8), [2, 1, 1, 1, 0])]
    y = _op(8, sem.TENSOR_QUANT8_ASYMM_SIGNED, (1, 3, 3, 2), scale=0.5)
    m = _model([sem.Operation(4, [0, 1, 2, 3, 4, 5, 6, 7], [8])], [x, w, bias, *args, y], [0], [8])
    with pytest.raises(sem.NnapiModelError, match="channelDim 3"):
        sem.validate(m)
