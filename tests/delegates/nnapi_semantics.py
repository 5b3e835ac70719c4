"""An NNAPI-semantics evaluator for the NNAPI test double (tests only).

Written from the operation documentation in ``NeuralNetworks.h`` (inputs by position,
PaddingCode/FuseCode values, filter layouts, per-channel ``channelDim``, the
quantization rules each operation states), NOT from edgelite's TFLite kernels, so that
the NNAPI delegate's lowering is checked against NNAPI's conventions rather than against
the code it was derived from. numpy only, float64 arithmetic.

Rounding: NNAPI documents quantized results as real-valued formulas. This evaluator
computes the real value in float64 and rounds to nearest, ties away from zero. LiteRT's
integer kernels use 32-bit fixed-point multipliers instead, so int8 results can differ by
one quantization step on values that fall near a rounding boundary.

``validate(model)`` checks each operation's signature (the double calls it from
``ANeuralNetworksModel_finish``, answering BAD_DATA with the message); ``evaluate`` runs
the recorded model for one execution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Operand codes (NeuralNetworks.h OperandCode).
FLOAT32, INT32, UINT32, TENSOR_FLOAT32, TENSOR_INT32, TENSOR_QUANT8_ASYMM, BOOL = 0, 1, 2, 3, 4, 5, 6
TENSOR_FLOAT16, FLOAT16, TENSOR_QUANT8_SYMM_PER_CHANNEL, TENSOR_QUANT8_ASYMM_SIGNED = 8, 10, 11, 14
QUANT8 = (TENSOR_QUANT8_ASYMM, TENSOR_QUANT8_ASYMM_SIGNED)
FLOATS = (TENSOR_FLOAT32, TENSOR_FLOAT16)
DTYPES = {
    FLOAT32: np.float32, INT32: np.int32, UINT32: np.uint32, TENSOR_FLOAT32: np.float32, TENSOR_INT32: np.int32,
    TENSOR_QUANT8_ASYMM: np.uint8, BOOL: np.bool_, TENSOR_FLOAT16: np.float16, FLOAT16: np.float16,
    TENSOR_QUANT8_SYMM_PER_CHANNEL: np.int8, TENSOR_QUANT8_ASYMM_SIGNED: np.int8,
}
QRANGE = {TENSOR_QUANT8_ASYMM: (0, 255), TENSOR_QUANT8_ASYMM_SIGNED: (-128, 127)}

# Operation codes (NeuralNetworks.h OperationCode) this evaluator implements.
OPS = {
    "ADD": 0, "AVERAGE_POOL_2D": 1, "CONCATENATION": 2, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "DEPTH_TO_SPACE": 5,
    "DEQUANTIZE": 6,
    "FULLY_CONNECTED": 9, "LOGISTIC": 14, "MAX_POOL_2D": 17, "MUL": 18, "RELU": 19, "RELU1": 20, "RELU6": 21,
    "RESHAPE": 22, "RESIZE_BILINEAR": 23, "SOFTMAX": 25, "TANH": 28, "MEAN": 31, "PAD": 32, "STRIDED_SLICE": 35,
    "SUB": 36,
    "TRANSPOSE": 37, "PRELU": 71, "QUANTIZE": 72, "TRANSPOSE_CONV_2D": 91, "HARD_SWISH": 99,
}
NAMES = {v: k for k, v in OPS.items()}
PADDING_SAME, PADDING_VALID = 1, 2
FUSE_RANGES = {0: (-np.inf, np.inf), 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


class NnapiModelError(Exception):
    """The recorded model breaks a rule of the NNAPI documentation (-> BAD_DATA)."""


@dataclass
class Operand:
    index: int
    type: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    lifetime: int
    value: np.ndarray | None = None
    channel_dim: int | None = None
    channel_scales: np.ndarray | None = None

    @property
    def is_const(self) -> bool:
        return self.value is not None


@dataclass
class Operation:
    type: int
    inputs: list[int]
    outputs: list[int]

    @property
    def name(self) -> str:
        return NAMES.get(self.type, f"operation type {self.type}")


@dataclass
class RecordedModel:
    operands: list[Operand]
    operations: list[Operation]
    inputs: list[int]
    outputs: list[int]
    relaxed: bool


def round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def dequantize(o: Operand, q: np.ndarray) -> np.ndarray:
    if o.type == TENSOR_QUANT8_SYMM_PER_CHANNEL:
        shape = [1] * q.ndim
        shape[o.channel_dim] = -1
        return q.astype(np.float64) * o.channel_scales.astype(np.float64).reshape(shape)
    if o.type in QUANT8:
        return (q.astype(np.float64) - o.zero_point) * np.float64(np.float32(o.scale))
    if o.type == TENSOR_INT32 and o.scale > 0:
        return q.astype(np.float64) * o.scale
    return q.astype(np.float64)


def store(o: Operand, real: np.ndarray) -> np.ndarray:
    """The output operand's value for real-valued results (which must have its shape)."""
    if tuple(np.shape(real)) != tuple(o.shape):
        raise NnapiModelError(f"an operation computes shape {tuple(np.shape(real))}, its output operand is {o.shape}")
    if o.type in QUANT8:
        lo, hi = QRANGE[o.type]
        q = round_half_away(real / np.float64(np.float32(o.scale))) + o.zero_point
        return np.clip(q, lo, hi).astype(DTYPES[o.type]).reshape(o.shape)
    return np.asarray(real, np.float64).astype(DTYPES[o.type]).reshape(o.shape)


# ---- validation ----------------------------------------------------------------------


def _fail(op: Operation, msg: str):
    raise NnapiModelError(f"{op.name}: {msg}")


def _scalar(m: RecordedModel, op: Operation, k: int, code: int, what: str):
    o = m.operands[op.inputs[k]]
    if o.type != code or not o.is_const:
        _fail(op, f"input {k} ({what}) must be a constant scalar of type {code}, got type {o.type}")
    return o.value.reshape(()).item()


def _check_bias(m, op, inp: Operand, filt: Operand, bias: Operand):
    if inp.type in FLOATS:
        if bias.type != inp.type:
            _fail(op, "the bias must have the input's float type")
        return
    if bias.type != TENSOR_INT32 or bias.zero_point != 0:
        _fail(op, "a quantized operation needs a TENSOR_INT32 bias with zeroPoint 0")
    if filt.type == TENSOR_QUANT8_SYMM_PER_CHANNEL:
        if bias.scale != 0.0:
            _fail(op, "with a per-channel filter the bias scale must be 0 (each value scaled by input*filter[c])")
    elif not np.isclose(bias.scale, inp.scale * filt.scale, rtol=1e-6, atol=0):
        _fail(op, f"bias_scale {bias.scale} != input_scale * filter_scale {inp.scale * filt.scale}")


def _same_quant(op, a: Operand, b: Operand, what: str):
    if a.type in QUANT8 and (a.scale != b.scale or a.zero_point != b.zero_point):
        _fail(op, f"{what}: the output's scale and zeroPoint must be the same as input0's")


def validate(m: RecordedModel) -> None:
    """Checks every operation against its documented signature; raises NnapiModelError."""
    for op in m.operations:
        if op.type not in NAMES:
            _fail(op, "not implemented by the test double's evaluator")
        ins = [m.operands[i] for i in op.inputs]
        out = m.operands[op.outputs[0]]
        n = len(ins)
        name = op.name
        if name in ("ADD", "SUB", "MUL"):
            if n != 3:
                _fail(op, f"takes 3 inputs, got {n}")
            _scalar(m, op, 2, INT32, "FuseCode")
            if ins[0].type != ins[1].type or out.type != ins[0].type:
                _fail(op, "inputs and output must have the same type")
        elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            if n not in (7, 8, 10, 11):
                _fail(op, f"takes 7/8 (implicit) or 10/11 (explicit padding) inputs, got {n}")
            for k in range(1, 10 if n >= 10 else 7):
                _scalar(m, op, k, INT32, "padding/stride/filter/FuseCode")
            if n in (7, 8) and _scalar(m, op, 1, INT32, "PaddingCode") not in (PADDING_SAME, PADDING_VALID):
                _fail(op, "input 1 must be a PaddingCode (SAME=1, VALID=2)")
            _same_quant(op, ins[0], out, name)
        elif name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            implicit = n in ((7, 8, 10) if name == "CONV_2D" else (8, 9, 11))
            if not implicit and n not in ((10, 11, 13) if name == "CONV_2D" else (11, 12, 14)):
                _fail(op, f"unexpected number of inputs {n}")
            inp, filt, bias = ins[:3]
            if len(filt.shape) != 4:
                _fail(op, "the filter must be 4-D")
            if filt.type == TENSOR_QUANT8_SYMM_PER_CHANNEL:
                want = 0 if name == "CONV_2D" else 3
                if filt.channel_dim != want:
                    _fail(op, f"a per-channel filter needs channelDim {want}, got {filt.channel_dim}")
            elif filt.type != inp.type:
                _fail(op, "the filter must have the input's type (or be per-channel)")
            if name == "DEPTHWISE_CONV_2D" and filt.shape[0] != 1:
                _fail(op, "the depthwise filter is [1, filter_height, filter_width, depth_out]")
            _check_bias(m, op, inp, filt, bias)
            if implicit and _scalar(m, op, 3, INT32, "PaddingCode") not in (PADDING_SAME, PADDING_VALID):
                _fail(op, "input 3 must be a PaddingCode (SAME=1, VALID=2)")
            fuse_at = {"CONV_2D": 6 if implicit else 9, "DEPTHWISE_CONV_2D": 7 if implicit else 10}[name]
            if _scalar(m, op, fuse_at, INT32, "FuseCode") not in FUSE_RANGES:
                _fail(op, "invalid FuseCode")
            if name == "DEPTHWISE_CONV_2D":
                mult = _scalar(m, op, 6 if implicit else 9, INT32, "depth multiplier")
                if inp.shape[3] * mult != filt.shape[3]:
                    _fail(op, f"depth_out {filt.shape[3]} != depth_in {inp.shape[3]} * multiplier {mult}")
        elif name == "FULLY_CONNECTED":
            if n != 4:
                _fail(op, f"takes 4 inputs, got {n}")
            if ins[1].type == TENSOR_QUANT8_SYMM_PER_CHANNEL:
                _fail(op, "per-channel weights are not supported by FULLY_CONNECTED")
            _check_bias(m, op, ins[0], ins[1], ins[2])
            _scalar(m, op, 3, INT32, "FuseCode")
        elif name == "CONCATENATION":
            _scalar(m, op, n - 1, INT32, "axis")
        elif name == "SOFTMAX":
            _scalar(m, op, 1, FLOAT32, "beta")
            if out.type in QUANT8 and (out.scale != 1.0 / 256 or out.zero_point != {5: 0, 14: -128}[out.type]):
                _fail(op, "a quantized output needs scale 1/256 and zeroPoint 0 (unsigned) or -128 (signed)")
        elif name == "LOGISTIC":
            if out.type in QUANT8 and (out.scale != 1.0 / 256 or out.zero_point != {5: 0, 14: -128}[out.type]):
                _fail(op, "a quantized output needs scale 1/256 and zeroPoint 0 (unsigned) or -128 (signed)")
        elif name == "TANH":
            if out.type in QUANT8 and (out.scale != 1.0 / 128 or out.zero_point != {5: 128, 14: 0}[out.type]):
                _fail(op, "a quantized output needs scale 1/128 and zeroPoint 128 (unsigned) or 0 (signed)")
        elif name == "RESHAPE":
            if ins[1].type != TENSOR_INT32:
                _fail(op, "input 1 (shape) must be TENSOR_INT32")
            _same_quant(op, ins[0], out, name)
        elif name == "MEAN":
            if ins[1].type != TENSOR_INT32:
                _fail(op, "input 1 (axes) must be TENSOR_INT32")
            _scalar(m, op, 2, INT32, "keep_dims")
            _same_quant(op, ins[0], out, name)
        elif name in ("PAD", "TRANSPOSE"):
            if ins[1].type != TENSOR_INT32:
                _fail(op, "input 1 must be TENSOR_INT32")
            _same_quant(op, ins[0], out, name)
        elif name == "RESIZE_BILINEAR":
            _scalar(m, op, 1, INT32, "output width")
            _scalar(m, op, 2, INT32, "output height")
        elif name == "TRANSPOSE_CONV_2D":
            if n not in (9, 11):
                _fail(op, f"takes 9 (implicit) or 11 (explicit padding) inputs, got {n}")
            inp, filt, bias = ins[:3]
            if filt.type == TENSOR_QUANT8_SYMM_PER_CHANNEL and filt.channel_dim != 0:
                _fail(op, f"a per-channel filter needs channelDim 0, got {filt.channel_dim}")
            _check_bias(m, op, inp, filt, bias)
        elif name == "QUANTIZE":
            if out.type not in QUANT8 or ins[0].type not in FLOATS:
                _fail(op, "QUANTIZE maps a float tensor to a quantized one")
        elif name == "DEQUANTIZE":
            if ins[0].type not in QUANT8 + (TENSOR_QUANT8_SYMM_PER_CHANNEL,) or out.type not in FLOATS:
                _fail(op, "DEQUANTIZE maps a quantized tensor to a float one")
        elif name == "DEPTH_TO_SPACE":
            if _scalar(m, op, 1, INT32, "block_size") < 1:
                _fail(op, "block_size must be >= 1")
            _same_quant(op, ins[0], out, name)
        elif name == "STRIDED_SLICE":
            if n != 7 or any(ins[k].type != TENSOR_INT32 or not ins[k].is_const for k in (1, 2, 3)):
                _fail(op, "takes input, begin/end/strides (constant TENSOR_INT32) and three INT32 masks")
            for k in (4, 5, 6):
                _scalar(m, op, k, INT32, "mask")
            _same_quant(op, ins[0], out, name)
        elif name == "PRELU":
            if n != 2 or ins[1].type != ins[0].type or out.type != ins[0].type:
                _fail(op, "takes input and alpha of the same type")
        elif name in ("RELU", "RELU1", "RELU6", "HARD_SWISH"):
            if n != 1:
                _fail(op, f"takes 1 input, got {n}")
            if name != "HARD_SWISH":
                _same_quant(op, ins[0], out, name)


# ---- evaluation ----------------------------------------------------------------------


def _fuse(real: np.ndarray, code: int) -> np.ndarray:
    lo, hi = FUSE_RANGES[code]
    return np.clip(real, lo, hi)


def _pad_implicit(size: int, stride: int, filt: int, code: int) -> tuple[int, int, int]:
    """(output size, pad head, pad tail) of the documented implicit padding schemes."""
    if code == PADDING_SAME:
        out = -(-size // stride)
        total = max((out - 1) * stride + filt - size, 0)
        return out, total // 2, total - total // 2
    out = -(-(size - filt + 1) // stride)
    return out, 0, 0


def _windows(x: np.ndarray, fh, fw, sh, sw, pt, pb, pl, pr, dh=1, dw=1, fill=0.0):
    """Patches [b, oh, ow, fh, fw, c] of a padded NHWC array, and a validity mask."""
    b, h, w, c = x.shape
    xp = np.full((b, h + pt + pb, w + pl + pr, c), fill, np.float64)
    xp[:, pt : pt + h, pl : pl + w] = x
    valid = np.zeros((h + pt + pb, w + pl + pr), bool)
    valid[pt : pt + h, pl : pl + w] = True
    eh, ew = (fh - 1) * dh + 1, (fw - 1) * dw + 1
    oh = (h + pt + pb - eh) // sh + 1
    ow = (w + pl + pr - ew) // sw + 1
    iy = (np.arange(oh) * sh)[:, None] + np.arange(fh) * dh  # [oh, fh]
    ix = (np.arange(ow) * sw)[:, None] + np.arange(fw) * dw  # [ow, fw]
    patches = xp[:, iy[:, None, :, None], ix[None, :, None, :]]  # [b, oh, ow, fh, fw, c]
    mask = valid[iy[:, None, :, None], ix[None, :, None, :]]  # [oh, ow, fh, fw]
    return patches, mask


class Evaluator:
    def __init__(self, m: RecordedModel):
        self.m = m
        self.values: dict[int, np.ndarray] = {}

    def real(self, i: int) -> np.ndarray:
        return dequantize(self.m.operands[i], self.values[i])

    def scalar(self, op: Operation, k: int):
        return self.values[op.inputs[k]].reshape(()).item()

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        m = self.m
        for o in m.operands:
            if o.is_const:
                self.values[o.index] = o.value
        for i, arr in zip(m.inputs, inputs):
            self.values[i] = arr
        pending = list(m.operations)
        while pending:  # the API does not require operations in execution order
            ready = [op for op in pending if all(i in self.values or m.operands[i].lifetime == 3 for i in op.inputs)]
            if not ready:
                raise NnapiModelError("the operations form a cycle or read an operand nothing writes")
            for op in ready:
                out = m.operands[op.outputs[0]]
                res = getattr(self, "op_" + op.name.lower())(op, out)
                if isinstance(res, StoredValue):
                    if res.value.shape != out.shape:
                        raise NnapiModelError(f"{op.name}: computes shape {res.value.shape}, output is {out.shape}")
                    res = res.value
                else:
                    res = store(out, res)
                self.values[out.index] = res
                pending.remove(op)
        return [self.values[i] for i in m.outputs]

    # Elementwise arithmetic with broadcasting and a fused activation.
    def _binary(self, op, out, f):
        a, b = self.real(op.inputs[0]), self.real(op.inputs[1])
        return _fuse(f(a, b), self.scalar(op, 2))

    def op_add(self, op, out):
        return self._binary(op, out, np.add)

    def op_sub(self, op, out):
        return self._binary(op, out, np.subtract)

    def op_mul(self, op, out):
        return self._binary(op, out, np.multiply)

    def _pool(self, op, out, kind):
        x = self.real(op.inputs[0])
        s = [self.scalar(op, k) for k in range(1, len(op.inputs)) if self.m.operands[op.inputs[k]].type == INT32]
        if len(op.inputs) >= 10:
            pl, pr, pt, pb, sw, sh, fw, fh, fuse = s[:9]
        else:
            code, sw, sh, fw, fh, fuse = s[:6]
            _, pt, pb = _pad_implicit(x.shape[1], sh, fh, code)
            _, pl, pr = _pad_implicit(x.shape[2], sw, fw, code)
        patches, mask = _windows(x, fh, fw, sh, sw, pt, pb, pl, pr)
        m = mask[None, :, :, :, :, None]
        if kind == "max":
            res = np.where(m, patches, -np.inf).max(axis=(3, 4))
        else:  # the average over the window's elements inside the input
            res = np.where(m, patches, 0.0).sum(axis=(3, 4)) / m.sum(axis=(3, 4))
        return _fuse(res, fuse)

    def op_average_pool_2d(self, op, out):
        res = self._pool(op, out, "avg")
        inp = self.m.operands[op.inputs[0]]
        if inp.type in QUANT8:  # same scale in and out: the average of the stored values, rounded
            return (round_half_away(res / inp.scale)) * inp.scale
        return res

    def op_max_pool_2d(self, op, out):
        return self._pool(op, out, "max")

    def op_concatenation(self, op, out):
        axis = self.scalar(op, len(op.inputs) - 1)
        return np.concatenate([self.real(i) for i in op.inputs[:-1]], axis=axis)

    def _conv_args(self, op, depthwise: bool):
        n = len(op.inputs)
        implicit = n in ((8, 9, 11) if depthwise else (7, 8, 10))
        if implicit:
            code, sw, sh = (self.scalar(op, k) for k in (3, 4, 5))
            k = 6
            pads = None
        else:
            pl, pr, pt, pb, sw, sh = (self.scalar(op, k) for k in range(3, 9))
            k = 9
            pads = (pt, pb, pl, pr)
        mult = None
        if depthwise:
            mult = self.scalar(op, k)
            k += 1
        fuse = self.scalar(op, k)
        k += 1
        if n > k and self.scalar(op, k):
            raise NnapiModelError(f"{op.name}: NCHW layout is not implemented by the test double")
        dw, dh = (self.scalar(op, k + 1), self.scalar(op, k + 2)) if n > k + 1 else (1, 1)
        x = self.real(op.inputs[0])
        w = self.real(op.inputs[1])
        fh, fw = w.shape[1], w.shape[2]
        if pads is None:
            _, pt, pb = _pad_implicit(x.shape[1], sh, (fh - 1) * dh + 1, code)
            _, pl, pr = _pad_implicit(x.shape[2], sw, (fw - 1) * dw + 1, code)
            pads = (pt, pb, pl, pr)
        return x, w, pads, (sh, sw), (dh, dw), mult, fuse

    def _bias(self, op):
        b = self.m.operands[op.inputs[2]]
        f = self.m.operands[op.inputs[1]]
        v = self.values[op.inputs[2]].astype(np.float64)
        if b.type == TENSOR_INT32:
            inp = self.m.operands[op.inputs[0]]
            fs = f.channel_scales if f.type == TENSOR_QUANT8_SYMM_PER_CHANNEL else f.scale
            return v * (np.float64(np.float32(inp.scale)) * np.asarray(fs, np.float64))
        return v

    def op_conv_2d(self, op, out):
        x, w, (pt, pb, pl, pr), (sh, sw), (dh, dw), _, fuse = self._conv_args(op, False)
        patches, _ = _windows(x, w.shape[1], w.shape[2], sh, sw, pt, pb, pl, pr, dh, dw)
        res = np.einsum("bhwyxc,oyxc->bhwo", patches, w, optimize=True) + self._bias(op)
        return _fuse(res, fuse)

    def op_depthwise_conv_2d(self, op, out):
        x, w, (pt, pb, pl, pr), (sh, sw), (dh, dw), mult, fuse = self._conv_args(op, True)
        patches, _ = _windows(x, w.shape[1], w.shape[2], sh, sw, pt, pb, pl, pr, dh, dw)
        patches = np.repeat(patches, mult, axis=-1)  # output channel c reads input channel c // multiplier
        res = np.einsum("bhwyxc,yxc->bhwc", patches, w[0], optimize=True) + self._bias(op)
        return _fuse(res, fuse)

    def op_fully_connected(self, op, out):
        w = self.real(op.inputs[1])
        x = self.real(op.inputs[0]).reshape(-1, w.shape[1])
        return _fuse(x @ w.T + self._bias(op), self.scalar(op, 3))

    def op_dequantize(self, op, out):
        return self.real(op.inputs[0])

    def op_quantize(self, op, out):
        return self.real(op.inputs[0])

    def op_logistic(self, op, out):
        return 1.0 / (1.0 + np.exp(-self.real(op.inputs[0])))

    def op_tanh(self, op, out):
        return np.tanh(self.real(op.inputs[0]))

    def op_relu(self, op, out):
        return np.maximum(self.real(op.inputs[0]), 0.0)

    def op_relu1(self, op, out):
        return np.clip(self.real(op.inputs[0]), -1.0, 1.0)

    def op_relu6(self, op, out):
        return np.clip(self.real(op.inputs[0]), 0.0, 6.0)

    def op_hard_swish(self, op, out):
        x = self.real(op.inputs[0])
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def op_depth_to_space(self, op, out):
        # output[b, h*bs + i, w*bs + j, c] = input[b, h, w, (i*bs + j) * C_out + c]
        x = self.values[op.inputs[0]]
        bs = self.scalar(op, 1)
        b, h, w, c = x.shape
        y = x.reshape(b, h, w, bs, bs, c // (bs * bs)).transpose(0, 1, 3, 2, 4, 5)
        return StoredValue(np.ascontiguousarray(y.reshape(b, h * bs, w * bs, c // (bs * bs))))

    def op_strided_slice(self, op, out):
        x = self.values[op.inputs[0]]
        begin, end, strides = (self.values[op.inputs[k]].reshape(-1) for k in (1, 2, 3))
        bmask, emask, smask = (self.scalar(op, k) for k in (4, 5, 6))
        index = []
        for d in range(x.ndim):
            st = int(strides[d])
            if smask >> d & 1:  # shrink: take element begin[d]
                index.append(int(begin[d]) % x.shape[d])
                continue
            b = None if bmask >> d & 1 else int(begin[d])
            e = None if emask >> d & 1 else int(end[d])
            index.append(slice(b, e, st))
        return StoredValue(np.ascontiguousarray(x[tuple(index)]))

    def op_prelu(self, op, out):
        x, alpha = self.real(op.inputs[0]), self.real(op.inputs[1])  # alpha broadcasts against x
        return np.where(x < 0, alpha * x, x)

    def op_reshape(self, op, out):
        shape = [int(d) for d in self.values[op.inputs[1]].reshape(-1)]
        res = self.real(op.inputs[0]).reshape(shape)
        if tuple(res.shape) != out.shape:
            raise NnapiModelError(f"RESHAPE: shape {shape} gives {res.shape}, the output operand is {out.shape}")
        return res

    def op_softmax(self, op, out):
        beta = self.scalar(op, 1)
        axis = self.scalar(op, 2) if len(op.inputs) > 2 else -1
        x = self.real(op.inputs[0]) * beta
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def op_mean(self, op, out):
        axes = tuple(int(a) for a in self.values[op.inputs[1]].reshape(-1))
        keep = self.scalar(op, 2) > 0
        res = self.real(op.inputs[0]).mean(axis=axes, keepdims=keep)
        inp = self.m.operands[op.inputs[0]]
        if inp.type in QUANT8:  # same scale: the mean of the stored values, rounded
            res = round_half_away(res / inp.scale) * inp.scale
        return res

    def op_pad(self, op, out):
        pads = self.values[op.inputs[1]].reshape(-1, 2)
        inp = self.m.operands[op.inputs[0]]
        x = self.values[op.inputs[0]]
        # Padded values are 0 for floats and the zeroPoint (real 0) for quantized tensors.
        fill = inp.zero_point if inp.type in QUANT8 else 0
        return StoredValue(np.pad(x, [tuple(p) for p in pads], constant_values=fill).astype(x.dtype))

    def op_transpose(self, op, out):
        perm = [int(p) for p in self.values[op.inputs[1]].reshape(-1)]
        return StoredValue(np.ascontiguousarray(np.transpose(self.values[op.inputs[0]], perm)))

    def op_resize_bilinear(self, op, out):
        x = self.real(op.inputs[0])
        ow, oh = self.scalar(op, 1), self.scalar(op, 2)  # width first, then height
        n = len(op.inputs)
        if n > 3 and self.scalar(op, 3):
            raise NnapiModelError("RESIZE_BILINEAR: NCHW layout is not implemented by the test double")
        align = bool(self.scalar(op, 4)) if n > 4 else False
        half = bool(self.scalar(op, 5)) if n > 5 else False

        def coords(o, i):
            scale = (i - 1) / (o - 1) if align and o > 1 else i / o
            src = (np.arange(o) + 0.5) * scale - 0.5 if half else np.arange(o) * scale
            lo = np.floor(src)
            frac = src - lo
            lo_i = np.clip(lo, 0, i - 1).astype(int)
            hi_i = np.clip(np.ceil(src), 0, i - 1).astype(int)
            return lo_i, hi_i, frac

        y0, y1, fy = coords(oh, x.shape[1])
        x0, x1, fx = coords(ow, x.shape[2])
        fy = fy[None, :, None, None]
        fx = fx[None, None, :, None]
        top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
        bot = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
        return top * (1 - fy) + bot * fy

    def op_transpose_conv_2d(self, op, out):
        n = len(op.inputs)
        x = self.real(op.inputs[0])
        w = self.real(op.inputs[1])  # [depth_out, fh, fw, depth_in]
        fh, fw = w.shape[1], w.shape[2]
        if n == 11:
            pl, pr, pt, pb, sw, sh, fuse, nchw = (self.scalar(op, k) for k in range(3, 11))
            oh = (x.shape[1] - 1) * sh + fh - pt - pb
            ow = (x.shape[2] - 1) * sw + fw - pl - pr
        else:
            shape = [int(d) for d in self.values[op.inputs[3]].reshape(-1)]
            code, sw, sh, fuse, nchw = (self.scalar(op, k) for k in range(4, 9))
            oh, ow = shape[1], shape[2]
            pt = pl = 0
            if code == PADDING_SAME:
                pt = max((x.shape[1] - 1) * sh + fh - oh, 0) // 2
                pl = max((x.shape[2] - 1) * sw + fw - ow, 0) // 2
        if nchw:
            raise NnapiModelError("TRANSPOSE_CONV_2D: NCHW layout is not implemented by the test double")
        b = x.shape[0]
        full = np.zeros((b, (x.shape[1] - 1) * sh + fh, (x.shape[2] - 1) * sw + fw, w.shape[0]))
        contrib = np.einsum("bhwi,oyxi->bhwyxo", x, w, optimize=True)
        for y in range(x.shape[1]):
            for xx in range(x.shape[2]):
                full[:, y * sh : y * sh + fh, xx * sw : xx * sw + fw] += contrib[:, y, xx]
        res = full[:, pt : pt + oh, pl : pl + ow] + self._bias(op)
        return _fuse(res, fuse)


@dataclass
class StoredValue:
    """An operation result already in the output's storage type (data movement ops)."""

    value: np.ndarray
