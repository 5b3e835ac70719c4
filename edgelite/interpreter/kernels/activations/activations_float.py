"""Float32 activation kernels: RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU
LOGISTIC TANH HARD_SWISH GELU ELU.

LOGISTIC follows LiteRT's Eigen float32 code step by step (``float_order.logistic``),
bit-exact with it, in numpy and in Numba alike. The other transcendental ones are
evaluated in float64 and rounded once to float32, so they are within an ulp or two of
LiteRT's float32 kernels. The other ops except PRELU have a Numba ``eval_jit`` (one
loop, no temporaries) using the same formulas; results agree with the numpy reference
to within an ulp (both call an ``exp``/``tanh``, whose last bit may differ between
numpy's vector code and the C library). TANH has no ``eval_jit``: numpy's vectorized
tanh is faster than Numba's scalar calls. PRELU's ``eval_jit`` is one pass with the
per-channel alpha read in place (no broadcast temporaries), bit-identical to the
numpy reference (the same float32 product and the same ``x >= 0`` test).

Quantized activations belong to the int8 kernels; ``accepts`` refuses them here.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> from edgelite.interpreter.kernels.activations.activations_float import Relu6
    >>> t = lambda i: TensorInfo(i, "t", (3,) if i == 0 else None, np.dtype(np.float32), 0)
    >>> ctx = OpContext("RELU6", 0, 1, None, None, None, [t(0)], [t(1)])
    >>> k = Relu6(); p = k.prepare(ctx); out = np.empty(3, np.float32)
    >>> k.eval(p, [np.array([-1, 3, 9], np.float32)], [out]); out.tolist()
    [0.0, 3.0, 6.0]
"""

from __future__ import annotations

import math

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import float_gemm, float_order
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import broadcast_output, is_quantized, option
from edgelite.interpreter.compute.jit import njit

_F32 = np.dtype(np.float32)

(
    A_RELU,
    A_RELU6,
    A_RELU_N1_TO_1,
    A_RELU_0_TO_1,
    A_LEAKY_RELU,
    A_LOGISTIC,
    A_TANH,
    A_HARD_SWISH,
    A_GELU,
    A_GELU_TANH,
    A_ELU,
) = range(11)

# Chebyshev fit of erfc (Numerical Recipes' erfcc): relative error below 1.2e-7 for
# every x, which keeps GELU's far negative tail accurate where 1 + erf(x) cancels.
_ERFC_C = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function of a float64 array (relative error < 1.2e-7)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_C[-1])
    for c in _ERFC_C[-2::-1]:
        poly = c + t * poly
    ans = t * np.exp(-z * z + poly)
    return np.where(x >= 0, ans, 2.0 - ans)


@njit
def _erfc_scalar(x):
    z = abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = 0.17087277
    poly = -0.82215223 + t * poly
    poly = 1.48851587 + t * poly
    poly = -1.13520398 + t * poly
    poly = 0.27886807 + t * poly
    poly = -0.18628806 + t * poly
    poly = 0.09678418 + t * poly
    poly = 0.37409196 + t * poly
    poly = 1.00002368 + t * poly
    poly = -1.26551223 + t * poly
    ans = t * math.exp(-z * z + poly)
    return ans if x >= 0 else 2.0 - ans


@njit
def _activation_kernel(x, out, op, alpha):
    """out[i] = act(x[i]) over flat float32 buffers; formulas as in TFLite's float kernels.

    relu max(x,0); relu6 min(max(x,0),6); leaky x>0 ? x : alpha*x;
    hard_swish x*relu6(x+3)/6;
    gelu 0.5*x*erfc(-x/sqrt2) or 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715x^3)))
    (evaluated as x / (1 + exp(-2 * that tanh argument)), the same value);
    elu x<0 ? expm1(x) : x. (LOGISTIC has its own LiteRT-exact kernel.)
    """
    for i in range(x.shape[0]):
        v = x[i]
        if op == 0:
            r = max(v, np.float32(0.0))
        elif op == 1:
            r = min(max(v, np.float32(0.0)), np.float32(6.0))
        elif op == 2:
            r = min(max(v, np.float32(-1.0)), np.float32(1.0))
        elif op == 3:
            r = min(max(v, np.float32(0.0)), np.float32(1.0))
        elif op == 4:
            r = v if v > 0 else np.float32(alpha * v)
        else:
            d = np.float64(v)
            if op == 6:
                e = math.tanh(d)
            elif op == 7:
                # float32 (x * 1/6) * relu6(x + 3), in LiteRT's reference kernel's order
                e = (v * np.float32(1.0 / 6.0)) * min(max(v + np.float32(3.0), np.float32(0.0)), np.float32(6.0))
            elif op == 8:
                e = 0.5 * d * _erfc_scalar(-d * 0.7071067811865476)
            elif op == 9:
                # 0.5 (1 + tanh z) == 1 / (1 + exp(-2z)), without the cancellation for z << 0
                e = d / (1.0 + math.exp(-2.0 * 0.7978845608028654 * (d + 0.044715 * d * d * d)))
            else:
                e = math.expm1(d) if d < 0 else d
            r = np.float32(e)
        out[i] = r


@dataclass(frozen=True)
class ActParams:
    op: int
    alpha: float = 0.0


class _Activation(Kernel):
    """Float32 activation with the same shape in and out."""

    act = A_RELU

    def accepts(self, ctx: OpContext) -> bool:
        x, o = ctx.optional_input(0), ctx.outputs[0]
        return x is not None and x.dtype == _F32 and o.dtype == _F32 and not (is_quantized(x) or is_quantized(o))

    def prepare(self, ctx: OpContext) -> ActParams:
        ctx.set_output_shape(0, ctx.input(0).shape)
        return ActParams(self.act)

    def eval_jit(self, params: ActParams, inputs, outputs):
        out = outputs[0]
        _activation_kernel(inputs[0].reshape(-1), out.reshape(-1), params.op, params.alpha)

    def bind(self, params: ActParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        if not bound.contiguous(inputs[0], outputs[0]):
            return None
        return [(_activation_kernel, (inputs[0].reshape(-1), outputs[0].reshape(-1), params.op, params.alpha))]


def _clamp_copy(x: np.ndarray, out: np.ndarray, lo: float, hi: float) -> None:
    """``out = min(max(x, lo), hi)`` as LiteRT's ``std::max``/``std::min`` give it (-0.0 and
    NaN kept), like ``_activation_kernel``; ``np.maximum`` turns -0.0 into +0.0 in its
    x86 vector lanes, and ``np.clip`` does on numpy 1.24's NEON (``float_gemm.clamp_inplace``)."""
    if out is not x:
        np.copyto(out, x)
    float_gemm.clamp_inplace(out, lo, hi)


class _Clip(_Activation):
    """Clamp to ``[lo, hi]``."""

    lo = hi = 0.0

    def eval(self, params, inputs, outputs):
        _clamp_copy(inputs[0], outputs[0], self.lo, self.hi)


@register("RELU6")
class Relu6(_Clip):
    """TFLite RELU6: clamp to [0.0, 6.0]."""

    act, lo, hi = A_RELU6, 0.0, 6.0


@register("RELU_N1_TO_1")
class ReluN1To1(_Clip):
    """TFLite RELU_N1_TO_1: clamp to [-1.0, 1.0]."""

    act, lo, hi = A_RELU_N1_TO_1, -1.0, 1.0


@register("RELU_0_TO_1")
class Relu0To1(_Clip):
    """TFLite RELU_0_TO_1: clamp to [0.0, 1.0]."""

    act, lo, hi = A_RELU_0_TO_1, 0.0, 1.0


@register("RELU")
class Relu(_Activation):
    act = A_RELU

    def eval(self, params, inputs, outputs):
        _clamp_copy(inputs[0], outputs[0], 0.0, np.inf)


@register("LEAKY_RELU")
class LeakyRelu(_Activation):
    """``x > 0 ? x : alpha * x`` (``alpha`` from LeakyReluOptions)."""

    act = A_LEAKY_RELU

    def prepare(self, ctx: OpContext) -> ActParams:
        ctx.set_output_shape(0, ctx.input(0).shape)
        return ActParams(self.act, float(np.float32(option(ctx, "alpha", 0.0))))

    def eval(self, params, inputs, outputs):
        x = inputs[0]
        np.copyto(outputs[0], np.where(x > 0, x, x * np.float32(params.alpha)))


@register("LOGISTIC")
class Logistic(_Activation):
    """``1 / (1 + exp(-x))`` in LiteRT's float32 operation order (bit-exact with it)."""

    act = A_LOGISTIC

    def eval(self, params, inputs, outputs):
        float_order.logistic(inputs[0], outputs[0])

    def eval_jit(self, params, inputs, outputs):
        float_order.logistic_jit(inputs[0].reshape(-1), outputs[0].reshape(-1))


@register("TANH")
class Tanh(_Activation):
    act = A_TANH
    # numpy's vectorized tanh beats Numba's scalar libm call (measured 10x)
    eval_jit = None

    def eval(self, params, inputs, outputs):
        np.copyto(outputs[0], np.tanh(inputs[0].astype(np.float64)), casting="unsafe")


@register("HARD_SWISH")
class HardSwish(_Activation):
    """``x * relu6(x + 3) / 6``."""

    act = A_HARD_SWISH

    def eval(self, params, inputs, outputs):
        # float32 (x * 1/6) * relu6(x + 3): bit-exact with LiteRT's reference kernel
        x = inputs[0]
        np.multiply(x * np.float32(1.0 / 6.0), np.clip(x + np.float32(3.0), np.float32(0.0), np.float32(6.0)),
                    out=outputs[0])


@register("GELU")
class Gelu(_Activation):
    """``0.5 x erfc(-x / sqrt 2)``, or the tanh form when ``approximate`` is set."""

    def prepare(self, ctx: OpContext) -> ActParams:
        ctx.set_output_shape(0, ctx.input(0).shape)
        return ActParams(A_GELU_TANH if option(ctx, "approximate", False) else A_GELU)

    def eval(self, params, inputs, outputs):
        d = inputs[0].astype(np.float64)
        if params.op == A_GELU_TANH:
            # 0.5 (1 + tanh z) == 1 / (1 + exp(-2z)), without the cancellation for z << 0
            with np.errstate(over="ignore"):
                r = d / (1.0 + np.exp(-2.0 * _SQRT_2_OVER_PI * (d + 0.044715 * d * d * d)))
        else:
            r = 0.5 * d * erfc(-d * _INV_SQRT2)
        np.copyto(outputs[0], r, casting="unsafe")


@register("ELU")
class Elu(_Activation):
    """``x < 0 ? exp(x) - 1 : x``."""

    act = A_ELU

    def eval(self, params, inputs, outputs):
        d = inputs[0].astype(np.float64)
        np.copyto(outputs[0], np.where(d < 0, np.expm1(np.minimum(d, 0.0)), d), casting="unsafe")


@njit
def _prelu_kernel(x, alpha, out):
    """out[i, j] = x[i, j] >= 0 ? x[i, j] : x[i, j] * alpha[j] over float32 [outer, inner] buffers.

    TFLite ``reference_ops::BroadcastPrelu4DSlow`` (float): ``alpha`` holds the trailing
    ``inner`` elements of the output shape (a per-channel alpha has ``inner == C``).
    Two plain loops over 2-D views: LLVM vectorizes the inner one (a flat loop with
    ``k % inner`` indexing ran 6x slower, measured).
    """
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            out[i, j] = v if v >= np.float32(0) else v * alpha[j]


@dataclass(frozen=True)
class PreluParams:
    # Elements of the output's trailing dims that alpha spans, when x has the output's
    # shape and alpha (left-padded with 1s) is 1s followed by the output's trailing
    # dims; 0 when the broadcast is any other (the numpy kernel runs then).
    inner: int


def _prelu_inner(x_shape, alpha_shape, out_shape) -> int:
    if tuple(x_shape) != tuple(out_shape) or len(alpha_shape) > len(out_shape):
        return 0
    a = (1,) * (len(out_shape) - len(alpha_shape)) + tuple(alpha_shape)
    first = next((d for d, n in enumerate(a) if n != 1), len(a))
    if a[first:] != tuple(out_shape[first:]):
        return 0
    return int(np.prod(a[first:], dtype=np.int64))  # 0 for an empty alpha: the numpy path


@register("PRELU")
class Prelu(Kernel):
    """``x >= 0 ? x : alpha * x`` with ``alpha`` (input 1) broadcast against ``x``."""

    def accepts(self, ctx: OpContext) -> bool:
        ts = [ctx.optional_input(0), ctx.optional_input(1), ctx.outputs[0]]
        return all(t is not None and t.dtype == _F32 and not is_quantized(t) for t in ts)

    def prepare(self, ctx: OpContext) -> PreluParams:
        out_shape = broadcast_output(ctx, 0, 1, max_rank=5)
        ctx.set_output_shape(0, out_shape)
        return PreluParams(_prelu_inner(ctx.input(0).shape, ctx.input(1).shape, out_shape))

    def eval(self, params, inputs, outputs):
        x, alpha = inputs[0], inputs[1]
        np.copyto(outputs[0], np.where(x >= 0, x, x * alpha))

    def eval_jit(self, params: PreluParams, inputs, outputs):
        if params.inner == 0:
            return self.eval(params, inputs, outputs)
        inner = params.inner
        _prelu_kernel(inputs[0].reshape(-1, inner), inputs[1].reshape(inner), outputs[0].reshape(-1, inner))

    def bind(self, params: PreluParams, inputs, outputs):
        """``eval_jit``'s kernel path as one prepared call (``compute.bound``)."""
        inner = params.inner
        if inner == 0 or not bound.contiguous(*inputs[:2], outputs[0]):
            return None
        return [(_prelu_kernel, (inputs[0].reshape(-1, inner), inputs[1].reshape(inner), outputs[0].reshape(-1, inner)))]
