"""TFLite operators -> NNAPI operations: one lowering per operator, gated by feature level.

Each ``@lowers(name, level)`` function receives a ``Lowering`` (the TFLite operator, its
tensors and the NNAPI model being built). It raises ``Unsupported(reason)`` when NNAPI at
the runtime's feature level cannot express the operator exactly as TFLite defines it, and
otherwise appends the NNAPI operation(s). The conventions NNAPI documents and TFLite
encodes differently are translated here and only here:

* padding: TFLite ``Padding.SAME = 0, VALID = 1``; NNAPI ``PaddingCode SAME = 1, VALID = 2``
  (implicit padding). TRANSPOSE_CONV uses explicit padding computed as TFLite does.
* fused activations: TFLite NONE / RELU / RELU_N1_TO_1 / RELU6 -> NNAPI FuseCode NONE /
  RELU / RELU1 / RELU6; TANH and SIGN_BIT have no FuseCode, so such operators stay on CPU.
* filters: CONV_2D [out, h, w, in] and DEPTHWISE_CONV_2D [1, h, w, out] are NNAPI's own
  layouts; per-channel ``channelDim`` is 0 for CONV_2D and TRANSPOSE_CONV_2D, 3 for the
  depthwise filter; the depth multiplier is out / in (from the shapes; some converters
  write a wrong ``depth_multiplier`` option).
* RESIZE_BILINEAR takes the output *width* before the *height*.
* a missing bias becomes a zero bias (NNAPI requires one).
* FULLY_CONNECTED with ``keep_num_dims`` is NNAPI's 2-D FULLY_CONNECTED then a RESHAPE;
  with per-channel int8 weights (which NNAPI's FULLY_CONNECTED lacks) it is RESHAPE ->
  1x1 CONV_2D (filter [units, 1, 1, depth], channelDim 0) -> RESHAPE.
* quantized MEAN over H, W with a new output scale (NNAPI's MEAN keeps the input's) is a
  DEPTHWISE_CONV_2D with an all-ones filter of scale 1/(H*W).

Example:
    >>> from edgelite.delegates.nnapi.lowering import LOWERINGS
    >>> LOWERINGS["CONV_2D"].min_level, LOWERINGS["HARD_SWISH"].min_level
    (27, 30)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgelite.delegates.nnapi.abi import FuseCode, OperationCode as Op, PaddingCode
from edgelite.delegates.nnapi.abi import OperandCode as C
from edgelite.delegates.nnapi.operands import QUANT8, NnModel, NnOperand, NnOperation, Unsupported
from edgelite.delegates.nnapi.operands import bias_operand, operand_for
from edgelite.interpreter.kernels.base import OpContext, TensorInfo

# TFLite schema enums (Padding, ActivationFunctionType) -> NNAPI.
TFLITE_PADDING = {0: PaddingCode.SAME, 1: PaddingCode.VALID}
TFLITE_FUSE = {0: FuseCode.NONE, 1: FuseCode.RELU, 2: FuseCode.RELU1, 3: FuseCode.RELU6}
MAX_RANK = 4


@dataclass(frozen=True)
class OpLowering:
    name: str
    min_level: int
    fn: Callable[["Lowering"], None]


LOWERINGS: dict[str, OpLowering] = {}


def lowers(name: str, min_level: int = 27):
    """Registers the lowering of TFLite builtin ``name`` (needs NNAPI ``min_level``)."""

    def wrap(fn):
        if name in LOWERINGS:
            raise RuntimeError(f"NNAPI lowering for {name} registered twice")
        LOWERINGS[name] = OpLowering(name, min_level, fn)
        return fn

    return wrap


class Lowering:
    """Lowers TFLite operators (their ``OpContext``) into one ``NnModel``.

    ``operand(t)`` maps a TFLite tensor (its ``TensorInfo``) to an NNAPI operand, creating
    it on first use, with its value when the tensor is constant. With ``with_values=False`` constant values are not copied (support checks only).
    """

    def __init__(self, level: int, *, with_values: bool = True):
        self.level = level
        self.with_values = with_values
        self.model = NnModel()
        self.tensor_operand: dict[int, int] = {}
        self.node: OpContext | None = None

    # ---- helpers used by the per-operator lowerings ----
    def const(self, t: TensorInfo | None) -> np.ndarray | None:
        if t is None:
            return None
        return None if t.is_variable else t.data

    def describe(self, t: TensorInfo, filter_of: str | None = None) -> NnOperand:
        shape = tuple(int(d) for d in t.shape)
        if len(shape) > MAX_RANK:
            raise Unsupported(f"tensor {t.name!r} has rank {len(shape)} (NNAPI operations take up to 4)")
        return operand_for(t, shape, self.level, filter_of=filter_of)

    def operand(self, t: TensorInfo, filter_of: str | None = None) -> int:
        if t.index in self.tensor_operand:
            return self.tensor_operand[t.index]
        o = self.describe(t, filter_of)
        value = self.const(t)
        if value is not None:
            o.value = np.ascontiguousarray(np.asarray(value).reshape(o.shape), o.dtype) if self.with_values else None
            o.constant = True
        idx = self.model.add(o)
        self.tensor_operand[t.index] = idx
        return idx

    def scalar(self, value, code: int = C.INT32) -> int:
        dtype = {C.INT32: np.int32, C.FLOAT32: np.float32, C.BOOL: np.bool_}[code]
        return self.model.add(NnOperand(code, (), value=np.array(value, dtype), constant=True))

    def int_tensor(self, values) -> int:
        v = np.ascontiguousarray(values, np.int32)
        return self.model.add(NnOperand(C.TENSOR_INT32, v.shape, value=v, constant=True))

    def temp(self, like: NnOperand, shape: tuple[int, ...]) -> int:
        return self.model.add(NnOperand(like.code, shape, like.scale, like.zero_point))

    def emit(self, code: int, inputs: list[int], outputs: list[int]) -> None:
        self.model.operations.append(NnOperation(int(code), inputs, outputs, self.node.op_index))

    def need_level(self, level: int, what: str) -> None:
        if self.level < level:
            raise Unsupported(f"{what} needs NNAPI feature level {level} (runtime has {self.level})")

    def fuse(self) -> int:
        act = int(getattr(self.node.options, "fusedActivationFunction", 0) or 0)
        if act not in TFLITE_FUSE:
            raise Unsupported(f"fused activation {act} (TANH/SIGN_BIT) has no NNAPI FuseCode")
        return self.scalar(int(TFLITE_FUSE[act]))

    def padding(self) -> int:
        return self.scalar(int(TFLITE_PADDING[int(self.node.options.padding)]))

    # ---- entry point ----
    def lower(self, node: OpContext) -> None:
        """Appends ``node``'s NNAPI operation(s); raises ``Unsupported`` (model unchanged)."""
        entry = LOWERINGS.get(node.op_name)
        if entry is None:
            raise Unsupported(f"{node.op_name} has no NNAPI lowering")
        self.need_level(entry.min_level, node.op_name)
        if any(t is not None and t.shape is None for t in list(node.inputs) + list(node.outputs)):
            raise Unsupported("a tensor shape is unknown before invoke (data-dependent)")
        saved = (len(self.model.operands), len(self.model.operations), dict(self.tensor_operand))
        self.node = node
        try:
            entry.fn(self)
        except Unsupported:
            n_operands, n_ops, mapping = saved
            del self.model.operands[n_operands:]
            del self.model.operations[n_ops:]
            self.tensor_operand = mapping
            raise
        finally:
            self.node = None


# ---- shared checks -----------------------------------------------------------------


def _quant_types_match(lw: Lowering, *ops: NnOperand) -> None:
    codes = {o.code for o in ops}
    if len(codes) != 1:
        raise Unsupported("inputs and output must have the same NNAPI type")


def _same_quant(a: NnOperand, b: NnOperand, what: str) -> None:
    if a.code in QUANT8 and (np.float32(a.scale) != np.float32(b.scale) or a.zero_point != b.zero_point):
        raise Unsupported(f"{what}: NNAPI needs the output's scale and zero point equal to the input's")


def _not_hybrid(lw: Lowering, inp: NnOperand, weights: NnOperand) -> None:
    if inp.code in (C.TENSOR_FLOAT32, C.TENSOR_FLOAT16) and weights.code not in (C.TENSOR_FLOAT32, C.TENSOR_FLOAT16):
        raise Unsupported("dynamic-range (float activations, int8 weights) operators stay on CPU")


def _bias(lw: Lowering, k: int, inp: NnOperand, filt: NnOperand, channels: int) -> int:
    t = lw.node.inputs[k] if len(lw.node.inputs) > k else None
    if t is not None:
        value = lw.const(t)
        if value is None:
            raise Unsupported("a non-constant bias stays on CPU")
    else:
        value = np.zeros(channels, np.int32 if inp.code in QUANT8 else np.float32)
    return lw.model.add(bias_operand(np.asarray(value).reshape(channels), inp, filt))


def _elementwise_rank(lw: Lowering) -> None:
    for t in list(lw.node.inputs) + list(lw.node.outputs):
        if t is not None and len(t.shape) > MAX_RANK:
            raise Unsupported("rank above 4")


def _moved(lw: Lowering, *, check_rank: bool = True) -> tuple[NnOperand, NnOperand]:
    """Input and output of a data-movement operator: one NNAPI type and, quantized, one
    scale and zero point (NNAPI's movement ops keep the input's)."""
    if check_rank:
        _elementwise_rank(lw)
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    _quant_types_match(lw, x, o)
    _same_quant(x, o, lw.node.op_name)
    return x, o


def _const_input(lw: Lowering, i: int, what: str) -> np.ndarray:
    """The constant value of input ``i`` (NNAPI takes ``what`` only as a constant)."""
    v = lw.const(lw.node.inputs[i])
    if v is None:
        raise Unsupported(f"non-constant {what}")
    return np.asarray(v)


# ---- operators -----------------------------------------------------------------------


def _binary(lw: Lowering, code: int) -> None:
    _elementwise_rank(lw)
    a, b, o = (lw.describe(lw.node.inputs[0]), lw.describe(lw.node.inputs[1]), lw.describe(lw.node.outputs[0]))
    _quant_types_match(lw, a, b, o)
    if o.code == C.TENSOR_INT32:
        raise Unsupported("int32 arithmetic stays on CPU")
    if o.code in QUANT8:
        if code == Op.SUB:
            lw.need_level(29, "quantized SUB")
        if code == Op.MUL and lw.level < 29 and not o.scale > a.scale * b.scale:
            raise Unsupported("quantized MUL before feature level 29 needs output_scale > input scales' product")
    fuse = lw.fuse()
    lw.emit(code, [lw.operand(lw.node.inputs[0]), lw.operand(lw.node.inputs[1]), fuse], [lw.operand(lw.node.outputs[0])])


@lowers("ADD")
def _add(lw: Lowering) -> None:
    _binary(lw, Op.ADD)


@lowers("MUL")
def _mul(lw: Lowering) -> None:
    _binary(lw, Op.MUL)


@lowers("SUB", 28)
def _sub(lw: Lowering) -> None:
    _binary(lw, Op.SUB)


def _pool(lw: Lowering, code: int) -> None:
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported("pooling needs a 4-D input")
    _quant_types_match(lw, x, o)
    _same_quant(x, o, lw.node.op_name)
    opt = lw.node.options
    ins = [lw.operand(lw.node.inputs[0]), lw.padding(), lw.scalar(opt.strideW), lw.scalar(opt.strideH),
           lw.scalar(opt.filterWidth), lw.scalar(opt.filterHeight), lw.fuse()]
    lw.emit(code, ins, [lw.operand(lw.node.outputs[0])])


@lowers("AVERAGE_POOL_2D")
def _avg_pool(lw: Lowering) -> None:
    _pool(lw, Op.AVERAGE_POOL_2D)


@lowers("MAX_POOL_2D")
def _max_pool(lw: Lowering) -> None:
    _pool(lw, Op.MAX_POOL_2D)


def _conv_common(lw: Lowering, name: str):
    x = lw.describe(lw.node.inputs[0])
    w_idx = lw.node.inputs[1]
    if lw.const(w_idx) is None:
        raise Unsupported("a non-constant filter stays on CPU")
    w = lw.describe(w_idx, filter_of=name)
    o = lw.describe(lw.node.outputs[0])
    _not_hybrid(lw, x, w)
    if x.code != o.code:
        raise Unsupported("input and output types differ")
    if w.code != C.TENSOR_QUANT8_SYMM_PER_CHANNEL and w.code != x.code:
        raise Unsupported("filter and input types differ")
    if len(x.shape) != 4:
        raise Unsupported("needs a 4-D input")
    return x, w, o


def _dilation(lw: Lowering) -> list[int]:
    opt = lw.node.options
    dw, dh = int(opt.dilationWFactor or 1), int(opt.dilationHFactor or 1)
    if (dw, dh) == (1, 1):
        return []
    lw.need_level(29, "dilated convolution")
    return [lw.scalar(False, C.BOOL), lw.scalar(dw), lw.scalar(dh)]


@lowers("CONV_2D")
def _conv(lw: Lowering) -> None:
    x, w, o = _conv_common(lw, "CONV_2D")
    if w.code == C.TENSOR_QUANT8_SYMM_PER_CHANNEL and w.channel_dim != 0:
        raise Unsupported("per-channel CONV_2D filters must be quantized along dimension 0")
    opt = lw.node.options
    ins = [lw.operand(lw.node.inputs[0]), lw.operand(lw.node.inputs[1], "CONV_2D"), _bias(lw, 2, x, w, w.shape[0]),
           lw.padding(), lw.scalar(opt.strideW), lw.scalar(opt.strideH), lw.fuse()] + _dilation(lw)
    lw.emit(Op.CONV_2D, ins, [lw.operand(lw.node.outputs[0])])


@lowers("DEPTHWISE_CONV_2D")
def _depthwise(lw: Lowering) -> None:
    x, w, o = _conv_common(lw, "DEPTHWISE_CONV_2D")
    if w.code == C.TENSOR_QUANT8_SYMM_PER_CHANNEL and w.channel_dim != 3:
        raise Unsupported("per-channel DEPTHWISE_CONV_2D filters must be quantized along dimension 3")
    if w.shape[0] != 1 or w.shape[3] % x.shape[3]:
        raise Unsupported("depthwise filter is not [1, h, w, in * multiplier]")
    multiplier = w.shape[3] // x.shape[3]
    opt = lw.node.options
    ins = [lw.operand(lw.node.inputs[0]), lw.operand(lw.node.inputs[1], "DEPTHWISE_CONV_2D"),
           _bias(lw, 2, x, w, w.shape[3]), lw.padding(), lw.scalar(opt.strideW), lw.scalar(opt.strideH),
           lw.scalar(multiplier), lw.fuse()] + _dilation(lw)
    lw.emit(Op.DEPTHWISE_CONV_2D, ins, [lw.operand(lw.node.outputs[0])])


@lowers("FULLY_CONNECTED")
def _fully_connected(lw: Lowering) -> None:
    opt = lw.node.options
    if opt is not None and int(getattr(opt, "weightsFormat", 0) or 0) != 0:
        raise Unsupported("shuffled weights format")
    xt, wt, ot = lw.node.inputs[0], lw.node.inputs[1], lw.node.outputs[0]
    x = lw.describe(xt)
    if lw.const(wt) is None:
        raise Unsupported("non-constant weights stay on CPU")
    per_channel = wt.quant is not None and wt.quant.per_channel
    # NNAPI's FULLY_CONNECTED has no per-channel weights; a 1x1 CONV_2D over [batch, 1, 1, depth]
    # with the weights as its [units, 1, 1, depth] filter computes the same sums.
    w = lw.describe(wt, filter_of="FULLY_CONNECTED" if per_channel else None)
    o = lw.describe(ot)
    _not_hybrid(lw, x, w)
    if per_channel:
        if w.channel_dim != 0:
            raise Unsupported("per-channel FULLY_CONNECTED weights must be quantized along dimension 0")
        _quant_types_match(lw, x, o)
    else:
        _quant_types_match(lw, x, w, o)
    units, depth = w.shape
    if int(np.prod(x.shape)) % depth:
        raise Unsupported("input size is not a multiple of the weights' depth")
    flat = (int(np.prod(x.shape)) // depth, units)
    if int(np.prod(o.shape)) != int(np.prod(flat)):
        raise Unsupported("output shape does not hold batch x units")
    if per_channel:
        x4 = lw.temp(x, (flat[0], 1, 1, depth))
        lw.emit(Op.RESHAPE, [lw.operand(xt), lw.int_tensor((flat[0], 1, 1, depth))], [x4])
        filt = lw.describe(wt, filter_of="FULLY_CONNECTED")
        filt.shape = (units, 1, 1, depth)
        value = lw.const(wt)
        filt.value = np.ascontiguousarray(np.asarray(value).reshape(filt.shape), filt.dtype) if lw.with_values else None
        filt.constant = True
        f_idx = lw.model.add(filt)
        y4 = lw.temp(o, (flat[0], 1, 1, units))
        ins = [x4, f_idx, _bias(lw, 2, x, filt, units), lw.scalar(int(PaddingCode.VALID)), lw.scalar(1),
               lw.scalar(1), lw.fuse()]
        lw.emit(Op.CONV_2D, ins, [y4])
        lw.emit(Op.RESHAPE, [y4, lw.int_tensor(o.shape)], [lw.operand(ot)])
        return
    ins = [lw.operand(xt), lw.operand(wt), _bias(lw, 2, x, w, units), lw.fuse()]
    if tuple(o.shape) == flat:
        lw.emit(Op.FULLY_CONNECTED, ins, [lw.operand(ot)])
        return
    tmp = lw.temp(o, flat)  # keep_num_dims: NNAPI's 2-D result, then RESHAPE to the TFLite shape
    lw.emit(Op.FULLY_CONNECTED, ins, [tmp])
    lw.emit(Op.RESHAPE, [tmp, lw.int_tensor(o.shape)], [lw.operand(ot)])


@lowers("CONCATENATION")
def _concat(lw: Lowering) -> None:
    _elementwise_rank(lw)
    ins = [lw.describe(i) for i in lw.node.inputs]
    o = lw.describe(lw.node.outputs[0])
    _quant_types_match(lw, o, *ins)
    if int(lw.node.options.fusedActivationFunction or 0) != 0:
        raise Unsupported("CONCATENATION with a fused activation")
    if o.code == C.TENSOR_QUANT8_ASYMM and lw.level < 29:
        for t in ins:
            _same_quant(t, o, "CONCATENATION before feature level 29")
    axis = int(lw.node.options.axis) % len(o.shape)
    lw.emit(Op.CONCATENATION, [lw.operand(i) for i in lw.node.inputs] + [lw.scalar(axis)],
            [lw.operand(lw.node.outputs[0])])


@lowers("SOFTMAX")
def _softmax(lw: Lowering) -> None:
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    if o.code in QUANT8 and (np.float32(o.scale) != np.float32(1 / 256) or o.zero_point != (0 if o.code == C.TENSOR_QUANT8_ASYMM else -128)):
        raise Unsupported("quantized SOFTMAX output must have scale 1/256 and zero point 0 / -128")
    ins = [lw.operand(lw.node.inputs[0]), lw.scalar(float(lw.node.options.beta), C.FLOAT32)]
    if len(x.shape) not in (2, 4):
        lw.need_level(29, f"SOFTMAX of rank {len(x.shape)}")
        ins.append(lw.scalar(-1))
    lw.emit(Op.SOFTMAX, ins, [lw.operand(lw.node.outputs[0])])


def _unary(lw: Lowering, code: int, *, same_quant: bool = False, out_quant: tuple | None = None) -> None:
    _elementwise_rank(lw)
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    _quant_types_match(lw, x, o)
    if o.code == C.TENSOR_INT32:
        raise Unsupported("int32 input")
    if same_quant:
        _same_quant(x, o, lw.node.op_name)
    if out_quant and o.code in QUANT8:
        scale, zp_u8, zp_i8 = out_quant
        if np.float32(o.scale) != np.float32(scale) or o.zero_point != (zp_u8 if o.code == C.TENSOR_QUANT8_ASYMM else zp_i8):
            raise Unsupported(f"quantized {lw.node.op_name} output must have scale {scale} and zero point {zp_u8}/{zp_i8}")
    lw.emit(code, [lw.operand(lw.node.inputs[0])], [lw.operand(lw.node.outputs[0])])


@lowers("LOGISTIC")
def _logistic(lw: Lowering) -> None:
    _unary(lw, Op.LOGISTIC, out_quant=(1 / 256, 0, -128))


@lowers("TANH")
def _tanh(lw: Lowering) -> None:
    if lw.describe(lw.node.inputs[0]).code in QUANT8:
        lw.need_level(29, "quantized TANH")
    _unary(lw, Op.TANH, out_quant=(1 / 128, 128, 0))


@lowers("RELU")
def _relu(lw: Lowering) -> None:
    _unary(lw, Op.RELU, same_quant=True)


@lowers("RELU6")
def _relu6(lw: Lowering) -> None:
    _unary(lw, Op.RELU6, same_quant=True)


@lowers("RELU_N1_TO_1")
def _relu1(lw: Lowering) -> None:
    _unary(lw, Op.RELU1, same_quant=True)


@lowers("HARD_SWISH", 30)
def _hard_swish(lw: Lowering) -> None:
    _unary(lw, Op.HARD_SWISH)


@lowers("PRELU", 29)
def _prelu(lw: Lowering) -> None:
    _elementwise_rank(lw)
    x, a, o = (lw.describe(t) for t in (lw.node.inputs[0], lw.node.inputs[1], lw.node.outputs[0]))
    _quant_types_match(lw, x, a, o)
    lw.emit(Op.PRELU, [lw.operand(lw.node.inputs[0]), lw.operand(lw.node.inputs[1])], [lw.operand(lw.node.outputs[0])])


@lowers("RESHAPE")
def _reshape(lw: Lowering) -> None:
    _, o = _moved(lw)
    lw.emit(Op.RESHAPE, [lw.operand(lw.node.inputs[0]), lw.int_tensor(o.shape)], [lw.operand(lw.node.outputs[0])])


@lowers("MEAN", 28)
def _mean(lw: Lowering) -> None:
    _elementwise_rank(lw)
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    _quant_types_match(lw, x, o)
    axes = sorted({int(a) % len(x.shape) for a in _const_input(lw, 1, "axes").reshape(-1)})
    keep = bool(getattr(lw.node.options, "keepDims", False))
    requantize = x.code in QUANT8 and (np.float32(x.scale) != np.float32(o.scale) or x.zero_point != o.zero_point)
    if not requantize:
        lw.emit(Op.MEAN, [lw.operand(lw.node.inputs[0]), lw.int_tensor(axes), lw.scalar(int(keep))],
                [lw.operand(lw.node.outputs[0])])
        return
    # NNAPI's quantized MEAN keeps the input's scale and zero point. A global average pool
    # (axes 1, 2 of NHWC) with a different output quantization is a DEPTHWISE_CONV_2D whose
    # [1, H, W, C] filter is all 1 with scale 1/(H*W): sum(x - zp) * s_in / (H*W), requantized
    # once to the output's scale, as the mean is.
    if len(x.shape) != 4 or axes != [1, 2]:
        raise Unsupported("quantized MEAN with a new scale is only lowered over axes 1, 2 of a 4-D tensor")
    _, h, w, c = x.shape
    filt = NnOperand(x.code, (1, h, w, c), 1.0 / (h * w), 0, constant=True)
    filt.value = np.ones(filt.shape, filt.dtype)
    f_idx = lw.model.add(filt)
    bias = lw.model.add(bias_operand(np.zeros(c, np.int32), x, filt))
    pooled = (x.shape[0], 1, 1, c)
    out = lw.operand(lw.node.outputs[0]) if keep else lw.temp(o, pooled)
    lw.emit(Op.DEPTHWISE_CONV_2D, [lw.operand(lw.node.inputs[0]), f_idx, bias, lw.scalar(int(PaddingCode.VALID)),
                                   lw.scalar(1), lw.scalar(1), lw.scalar(1), lw.scalar(int(FuseCode.NONE))], [out])
    if not keep:
        lw.emit(Op.RESHAPE, [out, lw.int_tensor(o.shape)], [lw.operand(lw.node.outputs[0])])


@lowers("PAD", 28)
def _pad(lw: Lowering) -> None:
    _moved(lw)
    pads = _const_input(lw, 1, "paddings")
    lw.emit(Op.PAD, [lw.operand(lw.node.inputs[0]), lw.int_tensor(pads.reshape(-1, 2))],
            [lw.operand(lw.node.outputs[0])])


@lowers("TRANSPOSE", 28)
def _transpose(lw: Lowering) -> None:
    _moved(lw)
    perm = _const_input(lw, 1, "permutation")
    lw.emit(Op.TRANSPOSE, [lw.operand(lw.node.inputs[0]), lw.int_tensor(perm.reshape(-1))],
            [lw.operand(lw.node.outputs[0])])


@lowers("DEPTH_TO_SPACE")
def _depth_to_space(lw: Lowering) -> None:
    if len(lw.node.inputs[0].shape) != 4:
        raise Unsupported("needs a 4-D input")
    _moved(lw, check_rank=False)
    lw.emit(Op.DEPTH_TO_SPACE, [lw.operand(lw.node.inputs[0]), lw.scalar(int(lw.node.options.blockSize))],
            [lw.operand(lw.node.outputs[0])])


@lowers("STRIDED_SLICE", 28)
def _strided_slice(lw: Lowering) -> None:
    _moved(lw)
    opt = lw.node.options
    if int(opt.ellipsisMask or 0) or int(opt.newAxisMask or 0) or bool(getattr(opt, "offset", False)):
        raise Unsupported("STRIDED_SLICE with ellipsis/new-axis masks or offset")
    vals = [lw.const(t) for t in lw.node.inputs[1:4]]
    if any(v is None for v in vals):
        raise Unsupported("non-constant begin/end/strides")
    begin, end, strides = (lw.int_tensor(np.asarray(v).reshape(-1)) for v in vals)
    lw.emit(Op.STRIDED_SLICE, [lw.operand(lw.node.inputs[0]), begin, end, strides, lw.scalar(int(opt.beginMask or 0)),
                               lw.scalar(int(opt.endMask or 0)), lw.scalar(int(opt.shrinkAxisMask or 0))],
            [lw.operand(lw.node.outputs[0])])


@lowers("RESIZE_BILINEAR")
def _resize_bilinear(lw: Lowering) -> None:
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported("needs a 4-D input")
    _quant_types_match(lw, x, o)
    if x.code in QUANT8:
        lw.need_level(29, "quantized RESIZE_BILINEAR")
        _same_quant(x, o, "RESIZE_BILINEAR")
    opt = lw.node.options
    align, half = bool(getattr(opt, "alignCorners", False)), bool(getattr(opt, "halfPixelCenters", False))
    ins = [lw.operand(lw.node.inputs[0]), lw.scalar(o.shape[2]), lw.scalar(o.shape[1])]  # width, then height
    if align or half:
        lw.need_level(30, "RESIZE_BILINEAR with align_corners or half_pixel_centers")
        ins += [lw.scalar(False, C.BOOL), lw.scalar(align, C.BOOL), lw.scalar(half, C.BOOL)]
    lw.emit(Op.RESIZE_BILINEAR, ins, [lw.operand(lw.node.outputs[0])])


@lowers("QUANTIZE", 29)
def _quantize(lw: Lowering) -> None:
    x, o = lw.describe(lw.node.inputs[0]), lw.describe(lw.node.outputs[0])
    if x.code != C.TENSOR_FLOAT32 or o.code not in QUANT8:
        raise Unsupported("only float32 -> 8-bit QUANTIZE (requantization stays on CPU)")
    lw.emit(Op.QUANTIZE, [lw.operand(lw.node.inputs[0])], [lw.operand(lw.node.outputs[0])])


@lowers("DEQUANTIZE")
def _dequantize(lw: Lowering) -> None:
    src = lw.node.inputs[0]
    if lw.const(src) is not None:
        # The interpreter folds DEQUANTIZE of constants (float16 / int8 weights) before
        # delegation; one that reaches here has no NNAPI operand to produce.
        raise Unsupported("DEQUANTIZE of a constant is folded on the CPU")
    x, o = lw.describe(src), lw.describe(lw.node.outputs[0])
    if x.code not in QUANT8 or o.code != C.TENSOR_FLOAT32:
        raise Unsupported("only 8-bit -> float32 DEQUANTIZE")
    lw.emit(Op.DEQUANTIZE, [lw.operand(src)], [lw.operand(lw.node.outputs[0])])


@lowers("TRANSPOSE_CONV", 29)
def _transpose_conv(lw: Lowering) -> None:
    shape_idx, w_idx, x_idx = lw.node.inputs[:3]
    x = lw.describe(x_idx)
    if lw.const(w_idx) is None:
        raise Unsupported("a non-constant filter stays on CPU")
    w = lw.describe(w_idx, filter_of="TRANSPOSE_CONV")
    o = lw.describe(lw.node.outputs[0])
    _not_hybrid(lw, x, w)
    if w.code == C.TENSOR_QUANT8_SYMM_PER_CHANNEL and w.channel_dim != 0:
        raise Unsupported("per-channel TRANSPOSE_CONV filters must be quantized along dimension 0")
    if x.code != o.code or (w.code != x.code and w.code != C.TENSOR_QUANT8_SYMM_PER_CHANNEL):
        raise Unsupported("input, filter and output types differ")
    opt = lw.node.options
    sh, sw = int(opt.strideH), int(opt.strideW)
    fh, fw = w.shape[1], w.shape[2]
    pads = []
    for size_in, size_out, s, f in ((x.shape[1], o.shape[1], sh, fh), (x.shape[2], o.shape[2], sw, fw)):
        full = (size_in - 1) * s + f
        if int(opt.padding) == 0:  # SAME, as TFLite computes it for the transposed convolution
            total = max(full - size_out, 0)
            head = total // 2
        else:
            total, head = full - size_out, 0
        if full - total != size_out or total < 0:
            raise Unsupported("output size not reachable with explicit padding")
        pads.append((head, total - head))
    (pt, pb), (pl, pr) = pads
    act = lw.fuse() if hasattr(opt, "fusedActivationFunction") else lw.scalar(0)
    ins = [lw.operand(x_idx), lw.operand(w_idx, "TRANSPOSE_CONV"), _bias(lw, 3, x, w, w.shape[0]),
           lw.scalar(pl), lw.scalar(pr), lw.scalar(pt), lw.scalar(pb), lw.scalar(sw), lw.scalar(sh), act,
           lw.scalar(False, C.BOOL)]
    lw.emit(Op.TRANSPOSE_CONV_2D, ins, [lw.operand(lw.node.outputs[0])])
