"""Float32 FULLY_CONNECTED.

Semantics of TFLite's builtin: weights ``[units, in]`` (``weights_format`` DEFAULT),
optional bias ``[units]``; the input is read as ``[-1, in]`` (any shape whose size is a
multiple of ``in``)::

    out[r, u] = act(bias[u] + sum_k x[r, k] * w[u, k])

The output is ``[rows, units]``, or with ``keep_num_dims`` the input's shape with its
last dimension replaced by ``units``. Fused activations are NONE/RELU/RELU_N1_TO_1/
RELU6; LiteRT refuses the others in prepare and so does this kernel.

``prepare`` transposes constant weights once into ``[in, units]``; ``eval`` is a numpy
``matmul`` plus bias and clamp, ``eval_jit`` the same product followed by one fused
Numba bias-and-clamp pass (``float_gemm.gemm_bias_act_fast``). Non-constant weights (a MatMul converted to FULLY_CONNECTED)
are multiplied through a transposed view instead.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.matmul.fully_connected_float import FullyConnectedFloat
    >>> from edgelite.interpreter.kernels.base import OpContext, TensorInfo
    >>> f32 = np.dtype(np.float32); w = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    >>> ctx = OpContext("FULLY_CONNECTED", 0, 1, None, None, None,
    ...     [TensorInfo(0, "x", (1, 2), f32, 0), TensorInfo(1, "w", (3, 2), f32, 0, data=w), None],
    ...     [TensorInfo(2, "y", None, f32, 0)])
    >>> k = FullyConnectedFloat(); p = k.prepare(ctx); ctx.output_shapes[0]
    (1, 3)
    >>> out = np.empty((1, 3), np.float32); k.eval(p, [np.array([[1, 1]], np.float32), w, None], [out])
    >>> out.tolist()
    [[3.0, 7.0, 11.0]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import UnsupportedOperatorError
from edgelite.interpreter.compute import bound
from edgelite.interpreter.compute import float_gemm
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.conv.conv_float import bias_vector, is_float32
from edgelite.interpreter.compute.conv_geometry import activation_range


@dataclass(frozen=True)
class FullyConnectedParams:
    """What ``eval`` needs for one float FULLY_CONNECTED."""

    in_features: int
    units: int
    w: np.ndarray | None  # [in, units] contiguous, or None when the weights are not constant
    bias: np.ndarray  # [units], zeros when omitted
    has_bias: bool
    lo: np.float32
    hi: np.float32
    epilogue: bool  # a bias or a clamp to apply after the product
    par_block: int | None = None  # num_threads > 1: rows per thread
    col_bounds: np.ndarray | None = None  # num_threads > 1, few rows: split by these output-column blocks
    w_cols: np.ndarray | None = None  # ... the weights packed by them (``float_gemm.pack_columns``)
    col_tmp: np.ndarray | None = None  # ... one product block per thread


@register("FULLY_CONNECTED")
class FullyConnectedFloat(Kernel):
    """FULLY_CONNECTED with float32 input, weights, bias and output."""

    def accepts(self, ctx: OpContext) -> bool:
        return is_float32(ctx, 0, 1, 2)

    def prepare(self, ctx: OpContext) -> FullyConnectedParams:
        x, f = ctx.input(0), ctx.input(1)
        o = ctx.options
        act = o.fusedActivationFunction if o is not None else 0
        keep = bool(o.keepNumDims) if o is not None else False
        if o is not None and o.weightsFormat != 0:
            raise UnsupportedOperatorError(
                f"{ctx.op_name} (operator {ctx.op_index}): weights_format {o.weightsFormat} is only defined for uint8",
                [(ctx.op_name, str(ctx.op_index))],
            )
        if f.shape is None or len(f.shape) != 2:
            raise ctx.fail(f"weights must be 2-D [units, in], got {f.shape}")
        units, k = f.shape
        if x.shape is None or k <= 0 or x.size % k != 0:
            raise ctx.fail(f"input {x.shape} has a size that is not a multiple of in_features {k}")
        if keep:
            if x.shape[-1] != k:
                raise ctx.fail(f"keep_num_dims needs input's last dimension {x.shape[-1]} == in_features {k}")
            ctx.set_output_shape(0, tuple(x.shape[:-1]) + (units,))
        else:
            ctx.set_output_shape(0, (x.size // k, units))
        lo, hi = activation_range(act, ctx.op_name, strict=True)
        has_bias = ctx.optional_input(2) is not None
        w_t = None if f.data is None else np.ascontiguousarray(f.data.T, np.float32)
        par_block = col_bounds = w_cols = col_tmp = None
        flops = 2.0 * x.size * units
        if ctx.use_jit and w_t is not None and float_gemm.worth_splitting(ctx.num_threads, flops) and float_gemm.load_numba_blas():
            m = x.size // k
            col_bounds = float_gemm.exact_column_bounds(units, m, k, ctx.num_threads)
            if col_bounds is not None:  # few rows: split by output columns
                w_cols = float_gemm.pack_columns(w_t, col_bounds)
                col_tmp = float_gemm.column_scratch(m, col_bounds, ctx.num_threads)
            else:
                par_block = float_gemm.parallel_rows_block(m, ctx.num_threads)
                # kept only where the row chunks give the unsplit product's bits
                if par_block is not None and not float_gemm.row_split_is_exact(
                        m, k, units, float_gemm.rows_per_chunk(m, k, units, -(-m // par_block), m)):
                    par_block = None
        return FullyConnectedParams(
            in_features=k, units=units,
            w=w_t,
            bias=bias_vector(ctx, 2, units), has_bias=has_bias,
            lo=np.float32(lo), hi=np.float32(hi),
            epilogue=has_bias or lo != -np.inf or hi != np.inf, par_block=par_block,
            col_bounds=col_bounds, w_cols=w_cols, col_tmp=col_tmp,
        )

    def eval(self, p: FullyConnectedParams, inputs, outputs) -> None:
        x2 = inputs[0].reshape(-1, p.in_features)
        w = p.w if p.w is not None else inputs[1].T
        out2 = outputs[0].reshape(-1, p.units)
        float_gemm.gemm_bias_act(x2, w, p.bias if p.has_bias else None, float(p.lo), float(p.hi), out2)

    def eval_jit(self, p: FullyConnectedParams, inputs, outputs) -> None:
        if p.w is None:
            self.eval(p, inputs, outputs)
            return
        x2, out2 = inputs[0].reshape(-1, p.in_features), outputs[0].reshape(-1, p.units)
        if p.col_bounds is not None:
            float_gemm.gemm_cols_parallel(x2, p.w_cols, p.col_bounds, p.bias, p.lo, p.hi, out2, p.col_tmp, p.epilogue)
        elif p.par_block is not None:
            float_gemm.gemm_rows_parallel(x2, p.w, p.bias, p.lo, p.hi, out2, p.par_block, p.epilogue)
        else:
            float_gemm.gemm_bias_act_fast(x2, p.w, p.bias, p.lo, p.hi, out2, p.epilogue)

    def bind(self, p: FullyConnectedParams, inputs, outputs):
        """``eval_jit``'s paths as prepared calls (``compute.bound``): one BLAS product then
        the fused bias and clamp, or the thread pool's column or row split (which the
        helpers waiting in native code take); None when the weights come at run time."""
        if p.w is None or not bound.contiguous(inputs[0], outputs[0]):
            return None
        x2, out2 = inputs[0].reshape(-1, p.in_features), outputs[0].reshape(-1, p.units)
        if p.col_bounds is not None:
            return [float_gemm.gemm_cols_call(x2, p.w_cols, p.col_bounds, p.bias, p.lo, p.hi, out2, p.col_tmp,
                                              p.epilogue)]
        if p.par_block is not None:
            return [float_gemm.gemm_rows_call(x2, p.w, p.bias, p.lo, p.hi, out2, p.par_block, p.epilogue)]
        calls = [(np.matmul, (x2, p.w, out2))]  # np.matmul(x2, w, out=out2)
        if p.epilogue:
            calls.append((float_gemm.bias_act_jit, (out2, p.bias, p.lo, p.hi)))
        return calls
