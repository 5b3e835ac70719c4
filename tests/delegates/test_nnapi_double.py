"""The NNAPI test double itself: NNAPI's ABI and the API rules it enforces.

These tests call the double through edgelite's ctypes binding (``NnapiLibrary``), so they
also check the binding's prototypes against the double's exports.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from edgelite.delegates.nnapi import abi
from edgelite.delegates.nnapi.abi import OperandCode as C, OperationCode as Op
from edgelite.delegates.nnapi.compiled import CompiledModel
from edgelite.delegates.nnapi.library import NnapiLibrary
from edgelite.delegates.nnapi.operands import NnModel, NnOperand
from edgelite.errors import DelegateError
from tests.delegates import nnapi_double
from tests.delegates.nnapi_helpers import double_path


def test_struct_layouts_match_neuralnetworks_h():
    # ANeuralNetworksOperandType: int32 type; uint32 dimensionCount; const uint32* dimensions;
    # float scale; int32 zeroPoint (NeuralNetworks.h).
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert abi.OperandType.type.offset == 0
    assert abi.OperandType.dimensionCount.offset == 4
    assert abi.OperandType.dimensions.offset == 8
    assert abi.OperandType.scale.offset == 8 + ptr
    assert abi.OperandType.zeroPoint.offset == 12 + ptr
    assert ctypes.sizeof(abi.OperandType) == 16 + ptr
    assert abi.SymmPerChannelQuantParams.scales.offset == 8
    assert ctypes.sizeof(abi.SymmPerChannelQuantParams) == 8 + ptr


def test_enum_values_from_the_header():
    assert (C.TENSOR_FLOAT32, C.TENSOR_QUANT8_ASYMM, C.TENSOR_QUANT8_SYMM_PER_CHANNEL, C.TENSOR_QUANT8_ASYMM_SIGNED) == (
        3, 5, 11, 14)
    assert (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.MEAN, Op.QUANTIZE, Op.TRANSPOSE_CONV_2D, Op.HARD_SWISH) == (
        3, 4, 31, 72, 91, 99)
    assert (abi.PaddingCode.SAME, abi.PaddingCode.VALID) == (1, 2)
    assert (abi.ResultCode.BAD_DATA, abi.ResultCode.BAD_STATE, abi.ResultCode.DEAD_OBJECT) == (4, 6, 14)
    assert abi.FeatureLevel.FL6 == 1000006


def _relu_model(n: int = 64) -> NnModel:
    """x + c (c constant, n float32 values) then RELU."""
    nn = NnModel()
    x = nn.add(NnOperand(C.TENSOR_FLOAT32, (n,)))
    c = nn.add(NnOperand(C.TENSOR_FLOAT32, (n,), value=np.linspace(-1, 1, n, dtype=np.float32), constant=True))
    fuse = nn.add(NnOperand(C.INT32, (), value=np.array(0, np.int32), constant=True))
    s = nn.add(NnOperand(C.TENSOR_FLOAT32, (n,)))
    y = nn.add(NnOperand(C.TENSOR_FLOAT32, (n,)))
    from edgelite.delegates.nnapi.operands import NnOperation

    nn.operations = [NnOperation(int(Op.ADD), [x, c, fuse], [s], 0), NnOperation(int(Op.RELU), [s], [y], 1)]
    nn.inputs, nn.outputs = [x], [y]
    return nn


@pytest.fixture
def lib():
    path = double_path()
    return NnapiLibrary.load(path), nnapi_double.double(path)


def test_a_model_runs_and_every_object_is_freed(lib):
    lib, dbl = lib
    nn = _relu_model()
    cm = CompiledModel(lib, nn, preference=1)
    x = np.full(64, 0.25, np.float32)
    for _ in range(3):
        y = np.empty(64, np.float32)
        cm.run([x], [y])
        np.testing.assert_allclose(y, np.maximum(x + nn.operands[1].value, 0), rtol=0, atol=0)
    assert dbl.calls("ANeuralNetworksCompilation_finish") == 1  # compiled once
    assert dbl.calls("ANeuralNetworksExecution_create") == 3  # one execution per run
    cm.close()
    cm.close()  # idempotent
    assert dbl.live() == {"models": 0, "compilations": 0, "executions": 0, "events": 0}
    assert dbl.misuse == 0


def test_ordering_rules(lib):
    lib, dbl = lib
    model = ctypes.c_void_p()
    lib.call("ANeuralNetworksModel_create", ctypes.byref(model))
    comp = ctypes.c_void_p()
    rc = lib.fn("ANeuralNetworksCompilation_create")(model, ctypes.byref(comp))
    assert rc == abi.ResultCode.BAD_STATE and "not finished" in dbl.last_error
    lib.fn("ANeuralNetworksModel_free")(model)
    lib.fn("ANeuralNetworksModel_free")(model)  # double free: recorded as misuse
    assert dbl.misuse == 1


def test_execution_can_be_computed_only_once(lib):
    lib, dbl = lib
    cm = CompiledModel(lib, _relu_model(), preference=1)
    ex = ctypes.c_void_p()
    lib.call("ANeuralNetworksExecution_create", cm._compilation, ctypes.byref(ex))
    x, y = np.zeros(64, np.float32), np.zeros(64, np.float32)
    lib.call("ANeuralNetworksExecution_setInput", ex, 0, None, ctypes.c_void_p(x.ctypes.data), x.nbytes)
    lib.call("ANeuralNetworksExecution_setOutput", ex, 0, None, ctypes.c_void_p(y.ctypes.data), y.nbytes)
    lib.call("ANeuralNetworksExecution_compute", ex)
    assert lib.fn("ANeuralNetworksExecution_compute")(ex) == abi.ResultCode.BAD_STATE
    # a wrong buffer size is BAD_DATA
    assert lib.fn("ANeuralNetworksExecution_setInput")(ex, 0, None, ctypes.c_void_p(x.ctypes.data), 8) in (
        abi.ResultCode.BAD_DATA, abi.ResultCode.BAD_STATE)
    lib.fn("ANeuralNetworksExecution_free")(ex)
    cm.close()


def test_small_values_are_copied_and_large_ones_referenced(lib):
    lib, dbl = lib
    small = _relu_model(16)  # 64-byte constant: copied by setOperandValue
    cm = CompiledModel(lib, small, preference=1)
    small.operands[1].value[:] = 100.0  # allowed: NNAPI copied it
    y = np.empty(16, np.float32)
    cm.run([np.zeros(16, np.float32)], [y])
    assert y.max() == 1.0
    cm.close()
    large = _relu_model(64)  # 256 bytes: referenced, must stay unchanged
    cm = CompiledModel(lib, large, preference=1)
    large.operands[1].value[0] = 5.0
    with pytest.raises(DelegateError, match="OP_FAILED"):
        cm.run([np.zeros(64, np.float32)], [np.empty(64, np.float32)])
    assert "changed after setOperandValue" in dbl.last_error
    cm.close()


def test_operand_rules(lib):
    lib, dbl = lib
    model = ctypes.c_void_p()
    lib.call("ANeuralNetworksModel_create", ctypes.byref(model))
    try:
        dims = (ctypes.c_uint32 * 1)(4)
        bad = abi.OperandType(int(C.TENSOR_QUANT8_ASYMM_SIGNED), 1, dims, 0.5, 200)  # zero point out of range
        assert lib.fn("ANeuralNetworksModel_addOperand")(model, ctypes.byref(bad)) == abi.ResultCode.BAD_DATA
        scalar_with_dims = abi.OperandType(int(C.INT32), 1, dims, 0.0, 0)
        assert lib.fn("ANeuralNetworksModel_addOperand")(model, ctypes.byref(scalar_with_dims)) == abi.ResultCode.BAD_DATA
        pc = abi.OperandType(int(C.TENSOR_QUANT8_SYMM_PER_CHANNEL), 1, dims, 0.0, 0)
        lib.call("ANeuralNetworksModel_addOperand", model, ctypes.byref(pc))
        scales = (ctypes.c_float * 3)(1, 1, 1)
        p = abi.SymmPerChannelQuantParams(0, 3, scales)  # 3 scales for a dimension of 4
        rc = lib.fn("ANeuralNetworksModel_setOperandSymmPerChannelQuantParams")(model, 0, ctypes.byref(p))
        assert rc == abi.ResultCode.BAD_DATA and "scaleCount" in dbl.last_error
    finally:
        lib.fn("ANeuralNetworksModel_free")(model)


@pytest.mark.parametrize("function", [
    "ANeuralNetworksModel_create", "ANeuralNetworksModel_addOperand", "ANeuralNetworksModel_setOperandValue",
    "ANeuralNetworksModel_addOperation", "ANeuralNetworksModel_finish", "ANeuralNetworksCompilation_create",
    "ANeuralNetworksCompilation_setPreference", "ANeuralNetworksCompilation_finish",
])
def test_injected_build_failures_raise_and_free_everything(lib, function):
    lib, dbl = lib
    dbl.fail(function, 1, abi.ResultCode.OUT_OF_MEMORY)
    with pytest.raises(DelegateError, match=f"{function} failed: ANEURALNETWORKS_OUT_OF_MEMORY"):
        CompiledModel(lib, _relu_model(), preference=1)
    assert dbl.live() == {"models": 0, "compilations": 0, "executions": 0, "events": 0}
    assert dbl.misuse == 0


def test_feature_level_27_has_no_compute_and_uses_events():
    path = double_path(27)
    lib, dbl = NnapiLibrary.load(path), nnapi_double.double(path)
    assert lib.feature_level == 27 and lib.devices() == []
    assert not lib.has("ANeuralNetworksExecution_compute")
    cm = CompiledModel(lib, _relu_model(), preference=0)
    y = np.empty(64, np.float32)
    cm.run([np.ones(64, np.float32)], [y])
    assert dbl.calls("ANeuralNetworksExecution_startCompute") == 1 and dbl.calls("ANeuralNetworksEvent_wait") == 1
    dbl.fail("ANeuralNetworksEvent_wait", 1, abi.ResultCode.OP_FAILED)
    with pytest.raises(DelegateError, match="ANeuralNetworksEvent_wait failed"):
        cm.run([np.ones(64, np.float32)], [y])
    cm.close()
    assert dbl.live() == {"models": 0, "compilations": 0, "executions": 0, "events": 0}


@pytest.mark.parametrize("level", [28, 29, 30, 31])
def test_feature_level_detection(level):
    lib = NnapiLibrary.load(double_path(level))
    assert lib.feature_level == level
    assert lib.has("ANeuralNetworks_getRuntimeFeatureLevel") == (level >= 31)
