"""The NNAPI C ABI as ctypes declarations: enum values, structs and function prototypes.

Everything here is transcribed from ``NeuralNetworks.h`` (the NDK header; the values are
frozen by Android's ABI rules: "DO NOT MODIFY ENUMS ... DO NOT CHANGE THE LAYOUT OR SIZE OF
STRUCTURES"). Nothing here loads a library; ``library.py`` does that.

Example:
    >>> from edgelite.delegates.nnapi import abi
    >>> abi.OperandCode.TENSOR_QUANT8_ASYMM_SIGNED, abi.OperationCode.HARD_SWISH
    (<OperandCode.TENSOR_QUANT8_ASYMM_SIGNED: 14>, <OperationCode.HARD_SWISH: 99>)
    >>> import ctypes; ctypes.sizeof(abi.OperandType) == 8 + 2 * ctypes.sizeof(ctypes.c_void_p)
    True
"""

from __future__ import annotations

import ctypes
import enum

# setOperandValue copies values of at most this many bytes; longer ones are referenced
# and must stay alive (and unchanged) until every compilation of the model is freed.
MAX_SIZE_OF_IMMEDIATELY_COPIED_VALUES = 128


class OperandCode(enum.IntEnum):
    FLOAT32 = 0
    INT32 = 1
    UINT32 = 2
    TENSOR_FLOAT32 = 3
    TENSOR_INT32 = 4
    TENSOR_QUANT8_ASYMM = 5
    BOOL = 6
    TENSOR_QUANT16_SYMM = 7
    TENSOR_FLOAT16 = 8
    TENSOR_BOOL8 = 9
    FLOAT16 = 10
    TENSOR_QUANT8_SYMM_PER_CHANNEL = 11
    TENSOR_QUANT16_ASYMM = 12
    TENSOR_QUANT8_SYMM = 13
    TENSOR_QUANT8_ASYMM_SIGNED = 14


class OperationCode(enum.IntEnum):
    ADD = 0
    AVERAGE_POOL_2D = 1
    CONCATENATION = 2
    CONV_2D = 3
    DEPTHWISE_CONV_2D = 4
    DEPTH_TO_SPACE = 5
    DEQUANTIZE = 6
    FULLY_CONNECTED = 9
    LOGISTIC = 14
    MAX_POOL_2D = 17
    MUL = 18
    RELU = 19
    RELU1 = 20
    RELU6 = 21
    RESHAPE = 22
    RESIZE_BILINEAR = 23
    SOFTMAX = 25
    TANH = 28
    MEAN = 31
    PAD = 32
    STRIDED_SLICE = 35
    SUB = 36
    TRANSPOSE = 37
    PRELU = 71
    QUANTIZE = 72
    TRANSPOSE_CONV_2D = 91
    HARD_SWISH = 99


class FuseCode(enum.IntEnum):
    NONE = 0
    RELU = 1
    RELU1 = 2
    RELU6 = 3


class PaddingCode(enum.IntEnum):
    SAME = 1
    VALID = 2


class PreferenceCode(enum.IntEnum):
    LOW_POWER = 0
    FAST_SINGLE_ANSWER = 1
    SUSTAINED_SPEED = 2


class ResultCode(enum.IntEnum):
    NO_ERROR = 0
    OUT_OF_MEMORY = 1
    INCOMPLETE = 2
    UNEXPECTED_NULL = 3
    BAD_DATA = 4
    OP_FAILED = 5
    BAD_STATE = 6
    UNMAPPABLE = 7
    OUTPUT_INSUFFICIENT_SIZE = 8
    UNAVAILABLE_DEVICE = 9
    MISSED_DEADLINE_TRANSIENT = 10
    MISSED_DEADLINE_PERSISTENT = 11
    RESOURCE_EXHAUSTED_TRANSIENT = 12
    RESOURCE_EXHAUSTED_PERSISTENT = 13
    DEAD_OBJECT = 14


class DeviceType(enum.IntEnum):
    UNKNOWN = 0
    OTHER = 1
    CPU = 2
    GPU = 3
    ACCELERATOR = 4


class FeatureLevel(enum.IntEnum):
    """``ANEURALNETWORKS_FEATURE_LEVEL_*``: 27..31 are API levels, later ones are 100000N."""

    FL1 = 27  # Android 8.1
    FL2 = 28  # Android 9
    FL3 = 29  # Android 10
    FL4 = 30  # Android 11
    FL5 = 31  # Android 12
    FL6 = 1000006
    FL7 = 1000007
    FL8 = 1000008


def result_name(code: int) -> str:
    """``ANEURALNETWORKS_BAD_DATA`` for 4; the number itself for a code the header lacks."""
    try:
        return "ANEURALNETWORKS_" + ResultCode(code).name
    except ValueError:
        return f"result code {code}"


class OperandType(ctypes.Structure):
    """``ANeuralNetworksOperandType``: {int32 type; uint32 dimensionCount;
    const uint32* dimensions; float scale; int32 zeroPoint}."""

    _fields_ = [
        ("type", ctypes.c_int32),
        ("dimensionCount", ctypes.c_uint32),
        ("dimensions", ctypes.POINTER(ctypes.c_uint32)),
        ("scale", ctypes.c_float),
        ("zeroPoint", ctypes.c_int32),
    ]


class SymmPerChannelQuantParams(ctypes.Structure):
    """``ANeuralNetworksSymmPerChannelQuantParams``: {uint32 channelDim; uint32 scaleCount;
    const float* scales}."""

    _fields_ = [
        ("channelDim", ctypes.c_uint32),
        ("scaleCount", ctypes.c_uint32),
        ("scales", ctypes.POINTER(ctypes.c_float)),
    ]


_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_i32 = ctypes.c_int32
_u32 = ctypes.c_uint32
_size = ctypes.c_size_t
_u32p = ctypes.POINTER(ctypes.c_uint32)

# name -> (restype, argtypes, feature level that introduced it). Opaque objects
# (models, compilations, executions, events, devices) travel as void pointers.
PROTOTYPES: dict[str, tuple[object, list, int]] = {
    "ANeuralNetworksModel_create": (_i32, [_pp], 27),
    "ANeuralNetworksModel_free": (None, [_p], 27),
    "ANeuralNetworksModel_finish": (_i32, [_p], 27),
    "ANeuralNetworksModel_addOperand": (_i32, [_p, ctypes.POINTER(OperandType)], 27),
    "ANeuralNetworksModel_setOperandValue": (_i32, [_p, _i32, _p, _size], 27),
    "ANeuralNetworksModel_addOperation": (_i32, [_p, _i32, _u32, _u32p, _u32, _u32p], 27),
    "ANeuralNetworksModel_identifyInputsAndOutputs": (_i32, [_p, _u32, _u32p, _u32, _u32p], 27),
    "ANeuralNetworksModel_relaxComputationFloat32toFloat16": (_i32, [_p, ctypes.c_bool], 28),
    "ANeuralNetworksModel_setOperandSymmPerChannelQuantParams": (
        _i32,
        [_p, _i32, ctypes.POINTER(SymmPerChannelQuantParams)],
        29,
    ),
    "ANeuralNetworksModel_getSupportedOperationsForDevices": (
        _i32,
        [_p, _pp, _u32, ctypes.POINTER(ctypes.c_bool)],
        29,
    ),
    "ANeuralNetworksCompilation_create": (_i32, [_p, _pp], 27),
    "ANeuralNetworksCompilation_createForDevices": (_i32, [_p, _pp, _u32, _pp], 29),
    "ANeuralNetworksCompilation_setPreference": (_i32, [_p, _i32], 27),
    "ANeuralNetworksCompilation_setPriority": (_i32, [_p, _i32], 30),
    "ANeuralNetworksCompilation_finish": (_i32, [_p], 27),
    "ANeuralNetworksCompilation_free": (None, [_p], 27),
    "ANeuralNetworksExecution_create": (_i32, [_p, _pp], 27),
    "ANeuralNetworksExecution_free": (None, [_p], 27),
    "ANeuralNetworksExecution_setInput": (_i32, [_p, _i32, ctypes.POINTER(OperandType), _p, _size], 27),
    "ANeuralNetworksExecution_setOutput": (_i32, [_p, _i32, ctypes.POINTER(OperandType), _p, _size], 27),
    "ANeuralNetworksExecution_startCompute": (_i32, [_p, _pp], 27),
    "ANeuralNetworksExecution_compute": (_i32, [_p], 29),
    "ANeuralNetworksEvent_wait": (_i32, [_p], 27),
    "ANeuralNetworksEvent_free": (None, [_p], 27),
    "ANeuralNetworks_getDeviceCount": (_i32, [_u32p], 29),
    "ANeuralNetworks_getDevice": (_i32, [_u32, _pp], 29),
    "ANeuralNetworksDevice_getName": (_i32, [_p, ctypes.POINTER(ctypes.c_char_p)], 29),
    "ANeuralNetworksDevice_getType": (_i32, [_p, ctypes.POINTER(_i32)], 29),
    "ANeuralNetworksDevice_getVersion": (_i32, [_p, ctypes.POINTER(ctypes.c_char_p)], 29),
    "ANeuralNetworksDevice_getFeatureLevel": (_i32, [_p, ctypes.POINTER(ctypes.c_int64)], 29),
    "ANeuralNetworks_getRuntimeFeatureLevel": (ctypes.c_int64, [], 31),
}
