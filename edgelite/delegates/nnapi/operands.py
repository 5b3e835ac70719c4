"""A pure-Python description of one NNAPI model, built before any NNAPI call.

The lowering (``lowering.py``) fills an ``NnModel``: operands (type code, shape,
quantization, constant value, per-channel parameters) and operations (operation code,
operand indices). ``compiled.py`` then replays it through the NNAPI C API. Keeping the
description separate lets the delegate decide what it supports without a runtime and
keeps every constant buffer owned here, alive for as long as the NNAPI model is (NNAPI
references values over 128 bytes instead of copying them).

How TFLite tensors become NNAPI operands:

* float32 -> TENSOR_FLOAT32, float16 -> TENSOR_FLOAT16 (feature level 29), int32 ->
  TENSOR_INT32;
* uint8 per-tensor -> TENSOR_QUANT8_ASYMM; int8 per-tensor -> TENSOR_QUANT8_ASYMM_SIGNED
  (feature level 30); a constant int8 filter quantized per channel ->
  TENSOR_QUANT8_SYMM_PER_CHANNEL (feature level 29) whose ``channelDim`` is the TFLite
  ``quantized_dimension`` (it must have zero points of 0);
* a quantized operation's int32 bias -> TENSOR_INT32 with scale input_scale *
  filter_scale, or 0 when the filter is per channel (NNAPI then scales each value by
  input_scale * filter_scale[c]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelite.delegates.nnapi.abi import OperandCode as C
from edgelite.interpreter.kernels.base import TensorInfo

_STORAGE = {
    C.FLOAT32: np.float32, C.INT32: np.int32, C.BOOL: np.bool_, C.TENSOR_FLOAT32: np.float32,
    C.TENSOR_FLOAT16: np.float16, C.TENSOR_INT32: np.int32, C.TENSOR_QUANT8_ASYMM: np.uint8,
    C.TENSOR_QUANT8_ASYMM_SIGNED: np.int8, C.TENSOR_QUANT8_SYMM_PER_CHANNEL: np.int8,
}
QUANT8 = (C.TENSOR_QUANT8_ASYMM, C.TENSOR_QUANT8_ASYMM_SIGNED)


class Unsupported(Exception):
    """This operator (or tensor) cannot be lowered; the message says why."""


@dataclass
class NnOperand:
    code: int
    shape: tuple[int, ...] = ()
    scale: float = 0.0
    zero_point: int = 0
    value: np.ndarray | None = None  # constant data in the operand's storage dtype
    channel_dim: int | None = None
    channel_scales: np.ndarray | None = None  # float32
    constant: bool = False  # has a value (``value`` may be left out by support checks)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_STORAGE[self.code])


@dataclass
class NnOperation:
    code: int
    inputs: list[int]
    outputs: list[int]
    node: int  # the TFLite operator it came from (for the supported-operations query)


@dataclass
class NnModel:
    operands: list[NnOperand] = field(default_factory=list)
    operations: list[NnOperation] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def add(self, operand: NnOperand) -> int:
        self.operands.append(operand)
        return len(self.operands) - 1


def operand_for(t: TensorInfo, shape: tuple[int, ...], level: int, *, filter_of: str | None = None) -> NnOperand:
    """The NNAPI operand (without value) for TFLite tensor ``t`` at feature level ``level``.

    ``filter_of`` names the operation when ``t`` is a convolution filter, the one place a
    per-channel tensor is allowed.
    """
    q = t.quant
    dt = np.dtype(t.dtype)
    if dt == np.float32 and q is None:
        return NnOperand(C.TENSOR_FLOAT32, shape)
    if dt == np.float16 and q is None:
        if level < 29:
            raise Unsupported("float16 tensors need NNAPI feature level 29")
        return NnOperand(C.TENSOR_FLOAT16, shape)
    if dt == np.int32:
        return NnOperand(C.TENSOR_INT32, shape)
    if dt in (np.uint8, np.int8) and q is not None:
        if q.per_channel:
            if filter_of is None or dt != np.int8 or t.data is None:
                raise Unsupported(f"tensor {t.name!r} is quantized per channel outside a convolution filter")
            if level < 29:
                raise Unsupported("per-channel quantization needs NNAPI feature level 29")
            if np.any(q.zero_point != 0):
                raise Unsupported(f"per-channel filter {t.name!r} has non-zero zero points")
            return NnOperand(C.TENSOR_QUANT8_SYMM_PER_CHANNEL, shape, channel_dim=int(q.quantized_dimension),
                             channel_scales=np.asarray(q.scale, np.float32))
        if dt == np.uint8:
            return NnOperand(C.TENSOR_QUANT8_ASYMM, shape, float(q.scale[0]), int(q.zero_point[0]))
        if level < 30:
            raise Unsupported("int8 (TENSOR_QUANT8_ASYMM_SIGNED) tensors need NNAPI feature level 30")
        return NnOperand(C.TENSOR_QUANT8_ASYMM_SIGNED, shape, float(q.scale[0]), int(q.zero_point[0]))
    raise Unsupported(f"tensor {t.name!r} of type {dt}{' (quantized)' if q else ''} has no NNAPI operand type")


def bias_operand(bias: np.ndarray, input_op: NnOperand, filter_op: NnOperand) -> NnOperand:
    """The bias operand of a convolution / fully-connected operation, in NNAPI's convention."""
    if input_op.code in QUANT8:
        if filter_op.code == C.TENSOR_QUANT8_SYMM_PER_CHANNEL:
            scale = 0.0
        else:
            scale = float(np.float32(input_op.scale) * np.float32(filter_op.scale))
        value = np.ascontiguousarray(bias, np.int32)
        return NnOperand(C.TENSOR_INT32, value.shape, scale, 0, value, constant=True)
    value = np.ascontiguousarray(bias, input_op.dtype)
    return NnOperand(input_op.code, value.shape, value=value, constant=True)
