"""Fusion passes over the executor's plan: prepared steps merged into one, same bits.

``SubgraphRuntime.allocate`` prepares every kernel, then hands its list of steps to
``fuse_steps``, which runs the passes of ``PASSES`` in order. A pass replaces a few
prepared steps by one step whose kernel computes exactly what the original kernels
computed, element for element and bit for bit, from the params those kernels
prepared; it never touches the model (``spec``), so the model's operators, tensors and
``_get_ops_details`` stay as in the file. A pass leaves the plan alone wherever one of
its conditions fails.

No pass runs with ``experimental_preserve_all_tensors`` (every intermediate must then
be readable after ``invoke``) or with delegates (they partition the unfused plan). The
tensor a fusion no longer writes keeps its arena slot (lifetimes come from the model's
operators, ``executor._lifetimes``): it is simply never written, like any intermediate
LiteRT does not promise to keep.

Passes:

* ``swish``: ``y = MUL(x, LOGISTIC(x))`` (or ``MUL(LOGISTIC(x), x)``), TensorFlow's
  swish/SiLU, becomes one step named ``LOGISTIC+MUL`` that keeps the MUL's operator
  index (the profiler lists it there). Conditions: the LOGISTIC output is read by that
  MUL alone, once, and is no subgraph output; the MUL's other input is the LOGISTIC's
  input; x, the LOGISTIC output and y have one shape (no broadcast) and are not empty.

  - float32 (``Logistic`` and ``Arith`` kernels): one pass over x
    (``float_order.logistic_mul_jit``): the logistic from the LOGISTIC kernel's own code
    (``logistic_jit``'s loops), multiplied and clamped where it is computed, as the MUL
    kernel does (its fused activation, +-FLT_MAX for NONE); the reference ``eval`` runs
    the two kernels' ``eval`` with the logistic held in y's buffer.
  - int8/uint8 (``QuantizedLogistic8`` and ``QuantizedMul``): y depends only on x's code
    and on whether LiteRT's MUL computes the element in its SIMD loop or its scalar
    tail (``SimdLayout``), so the step is a gather from two 256-entry tables made at
    allocation: the LOGISTIC kernel's ``eval`` on all 256 codes, then the MUL's results
    for those pairs of codes in both forms (``elementwise_quant.mul_results``).

* ``arith_clamp``: a float32 ADD/SUB/MUL/DIV on equal shapes followed by RELU, RELU6,
  RELU_N1_TO_1 or RELU_0_TO_1 becomes one step (``ADD+RELU``) at the activation's
  index: the arith kernel's Numba pass with the two clamp ranges merged into their
  intersection; the reference ``eval`` runs the two kernels. Conditions: the arith's
  output is read by the activation alone, once, is no subgraph output or variable, and
  the ranges overlap. The fused step reads the arith's inputs later than the model does;
  ``executor._lifetimes`` extends their lifetimes to it.

Example:
    >>> import numpy as np
    >>> import edgelite
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 8), np.float32)
    >>> s = b.add_tensor("s", (1, 8), np.float32); y = b.add_tensor("y", (1, 8), np.float32)
    >>> _ = b.add_operator("LOGISTIC", [x], [s]); _ = b.add_operator("MUL", [x, s], [y]); b.mark_output(y)
    >>> it = edgelite.Interpreter(model_content=b.build()); it.allocate_tensors()
    >>> [step.op.name for step in it._runtime(0).steps]
    ['LOGISTIC+MUL']
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.compute import bound, float_order, lut
from edgelite.interpreter.graph import OpNode, SubgraphSpec
from edgelite.interpreter.kernels.base import Kernel

# The kernel modules a pass checks for are imported where it finds a candidate, of the
# dtype whose kernels prepared it (so already loaded): loading a model imports only the
# kernels it uses (tests/interpreter/test_perf_structure.py).

FUSED_SWISH = "LOGISTIC+MUL"

_F32 = np.dtype(np.float32)
_BYTES = (np.dtype(np.int8), np.dtype(np.uint8))


# -- the fused kernels ---------------------------------------------------------------------


@dataclass(frozen=True)
class SwishFloatParams:
    """The two prepared float kernels and the MUL's operand order and clamp."""

    logistic: Kernel
    logistic_params: Any
    mul: Kernel
    mul_params: Any
    x_first: bool  # MUL(x, s) rather than MUL(s, x)
    clamp: bool
    lo: np.float32
    hi: np.float32


class SwishFloat(Kernel):
    """``y = clamp(x * logistic(x))`` on float32, as the LOGISTIC and MUL kernels give it."""

    def eval(self, p: SwishFloatParams, inputs, outputs) -> None:
        # The two reference kernels, the logistic held in y's buffer (y never aliases x).
        x, y = inputs[0], outputs[0]
        p.logistic.eval(p.logistic_params, [x], [y])
        p.mul.eval(p.mul_params, [x, y] if p.x_first else [y, x], [y])

    def eval_jit(self, p: SwishFloatParams, inputs, outputs) -> None:
        float_order.logistic_mul_jit(inputs[0].reshape(-1), outputs[0].reshape(-1), p.x_first, p.clamp, p.lo, p.hi)

    def bind(self, p: SwishFloatParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        if not bound.contiguous(inputs[0], outputs[0]):
            return None
        return [(float_order.logistic_mul_jit,
                 (inputs[0].reshape(-1), outputs[0].reshape(-1), p.x_first, p.clamp, p.lo, p.hi))]


@dataclass(frozen=True)
class Swish8bitParams:
    """``tables[0]`` for the elements of LiteRT's MUL SIMD loop (the first ``bulk`` of each
    ``run``), ``tables[1]`` for its scalar tail; both indexed by x's byte."""

    tables: np.ndarray  # [2, 256], the output dtype
    run: int
    bulk: int


class Swish8bit(Kernel):
    """``y = MUL(x, LOGISTIC(x))`` on int8/uint8 as a table lookup of x's code."""

    def eval(self, p: Swish8bitParams, inputs, outputs) -> None:
        lut.apply_lut_8bit_runs(p.tables, p.run, p.bulk, inputs[0], outputs[0])

    def eval_jit(self, p: Swish8bitParams, inputs, outputs) -> None:
        lut.apply_lut_8bit_runs_jit(p.tables, p.run, p.bulk, inputs[0], outputs[0])

    def bind(self, p: Swish8bitParams, inputs, outputs):
        """``eval_jit`` as one prepared call (``compute.bound``)."""
        if not bound.contiguous(inputs[0], outputs[0]):
            return None
        return [(lut._lut_8bit_runs_kernel,
                 (p.tables, p.run, p.bulk, inputs[0].reshape(-1).view(np.uint8), outputs[0].reshape(-1)))]


SWISH_FLOAT = SwishFloat()
SWISH_8BIT = Swish8bit()


def swish_8bit_tables(logistic: Kernel, logistic_params, mul_params, x_first: bool, dtype) -> np.ndarray:
    """The [2, 256] tables of ``Swish8bitParams``: entry ``b`` is what the MUL kernel gives
    for x's code with byte ``b`` and the LOGISTIC kernel's output for it, as a SIMD element
    (row 0) and as a scalar one (row 1)."""
    from edgelite.interpreter.kernels.elementwise.elementwise_quant import mul_results  # noqa: PLC0415

    codes = np.arange(256, dtype=np.uint8).view(dtype)  # every code, in byte order
    s = np.empty(256, dtype)
    logistic.eval(logistic_params, [codes], [s])
    return mul_results(mul_params, codes, s, dtype) if x_first else mul_results(mul_params, s, codes, dtype)


# -- the swish pass ------------------------------------------------------------------------


def _readers(spec: SubgraphSpec) -> dict[int, int]:
    """How many times each tensor is read by an operator of the subgraph."""
    n: dict[int, int] = {}
    for op in spec.ops:
        for i in op.inputs:
            if i >= 0:
                n[i] = n.get(i, 0) + 1
    return n


def _swish_params(spec: SubgraphSpec, shapes, logistic_step, mul_step):
    """``(kernel, params, x)`` for a LOGISTIC step and the MUL step reading its output,
    or None where the pass's conditions do not hold (see the module docstring)."""
    lop, mop = logistic_step.op, mul_step.op
    x, s, y = lop.inputs[0], lop.outputs[0], mop.outputs[0]
    if tuple(mop.inputs) == (x, s):
        x_first = True
    elif tuple(mop.inputs) == (s, x):
        x_first = False
    else:
        return None
    if x == s or shapes[x] is None or not (shapes[x] == shapes[s] == shapes[y]) or 0 in shapes[x]:
        return None
    tx, ts, ty = spec.tensors[x], spec.tensors[s], spec.tensors[y]
    lk, mk = lop.kernel, mop.kernel
    lp, mp = logistic_step.params, mul_step.params
    if tx.dtype == ts.dtype == ty.dtype == _F32:
        from edgelite.interpreter.kernels.activations.activations_float import Logistic  # noqa: PLC0415
        from edgelite.interpreter.kernels.elementwise.elementwise_float import MODE_SAME, Arith  # noqa: PLC0415

        if type(lk) is not Logistic or type(mk) is not Arith or mp.mode != MODE_SAME:
            return None
        clamp = not (mp.lo == -np.inf and mp.hi == np.inf)
        params = SwishFloatParams(lk, lp, mk, mp, x_first, clamp, np.float32(mp.lo), np.float32(mp.hi))
        return SWISH_FLOAT, params, x
    if tx.dtype == ts.dtype == ty.dtype and tx.dtype in _BYTES:
        from edgelite.interpreter.kernels.activations.activations_quant import QuantizedLogistic8  # noqa: PLC0415
        from edgelite.interpreter.kernels.elementwise.elementwise_quant import QuantizedMul  # noqa: PLC0415

        if type(lk) is not QuantizedLogistic8 or type(mk) is not QuantizedMul:
            return None
        size = int(np.prod(shapes[x], dtype=np.int64))
        lay = mp.layout
        run, bulk = (lay.run, lay.bulk) if lay is not None else (size, 0)
        tables = swish_8bit_tables(lk, lp, mp, x_first, tx.dtype)
        return SWISH_8BIT, Swish8bitParams(tables, int(run), int(bulk)), x
    return None


def fuse_swish(spec: SubgraphSpec, steps: list, shapes, kernel_fn: Callable, step_type) -> list:
    """The ``swish`` pass: each ``MUL(x, LOGISTIC(x))`` pair of steps that qualifies becomes
    one ``LOGISTIC+MUL`` step at the MUL's place. ``kernel_fn(op)`` picks the step's
    function (``eval_jit`` or ``eval``) as for any operator; ``step_type`` builds a step."""
    readers = _readers(spec)
    outputs = set(spec.outputs)
    logistic_of: dict[int, int] = {}  # LOGISTIC output tensor -> its step's position
    for k, st in enumerate(steps):
        if st.op.name == "LOGISTIC" and not st.deferred and not st.dynamic:
            s = st.op.outputs[0]
            if readers.get(s, 0) == 1 and s not in outputs and not spec.tensors[s].is_variable:
                logistic_of[s] = k
    if not logistic_of:
        return steps
    fused: dict[int, Any] = {}  # MUL position -> fused step
    dropped: set[int] = set()
    for k, st in enumerate(steps):
        if st.op.name != "MUL" or st.deferred or st.dynamic or len(st.op.inputs) != 2:
            continue
        lpos = next((logistic_of[i] for i in st.op.inputs if i in logistic_of), None)
        if lpos is None or lpos > k:
            continue
        made = _swish_params(spec, shapes, steps[lpos], st)
        if made is None:
            continue
        kernel, params, x = made
        mop = st.op
        op = OpNode(index=mop.index, name=FUSED_SWISH, version=mop.version, inputs=(x,), outputs=(mop.outputs[0],),
                    options=mop.options, kernel=kernel)
        fused[k] = step_type(op, kernel_fn(op), params, [], [])
        dropped.add(lpos)
    return [fused.get(k, st) for k, st in enumerate(steps) if k not in dropped]


# -- the arith_clamp pass: ADD/SUB/MUL/DIV -> RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 ------------

_CLAMPS = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")
_ARITH = ("ADD", "SUB", "MUL", "DIV")


@dataclass(frozen=True)
class ArithClampParams:
    """A float ADD/SUB/MUL/DIV on equal shapes whose result a RELU-family step clamps.

    The reference ``eval`` runs the two kernels one after the other in the output
    buffer; ``eval_jit`` runs the arith kernel's Numba pass once with its clamp and the
    activation's merged into the intersection of the two ranges: clamping to one range
    and then to an overlapping one is clamping to their intersection, NaN and -0.0
    included, since a clamp (``min(max(v, lo), hi)``) only compares ``v`` with its bounds."""

    arith: Kernel
    arith_params: Any  # as the ADD's kernel prepared it
    merged: Any  # arith_params with the merged [lo, hi]
    act: Kernel
    act_params: Any


class ArithClampFloat(Kernel):
    """``act(a <op> b)`` on float32 as one step (see ``ArithClampParams``)."""

    def eval(self, p: ArithClampParams, inputs, outputs) -> None:
        p.arith.eval(p.arith_params, inputs, outputs)
        p.act.eval(p.act_params, outputs, outputs)

    def eval_jit(self, p: ArithClampParams, inputs, outputs) -> None:
        p.arith.eval_jit(p.merged, inputs, outputs)

    def bind(self, p: ArithClampParams, inputs, outputs):
        """The arith kernel's prepared call with the merged clamp (``compute.bound``)."""
        return p.arith.bind(p.merged, inputs, outputs)


ARITH_CLAMP_FLOAT = ArithClampFloat()


def _arith_clamp(spec: SubgraphSpec, shapes, arith_step, act_step):
    """``(op, params)`` of the fused step, or None where a condition fails."""
    from edgelite.interpreter.kernels.activations.activations_float import Relu, _Clip  # noqa: PLC0415
    from edgelite.interpreter.kernels.elementwise.elementwise_float import MODE_SAME, Arith  # noqa: PLC0415

    aop, ap, cop = arith_step.op, arith_step.params, act_step.op
    c, y = aop.outputs[0], cop.outputs[0]
    if type(aop.kernel) is not Arith or ap.mode != MODE_SAME or not isinstance(cop.kernel, (Relu, _Clip)):
        return None
    if shapes[c] is None or 0 in shapes[c] or shapes[y] != shapes[c]:
        return None
    if any(spec.tensors[i].dtype != _F32 for i in (*aop.inputs, c, y)):
        return None
    k = cop.kernel
    lo2, hi2 = (0.0, np.inf) if isinstance(k, Relu) else (k.lo, k.hi)
    lo, hi = max(ap.lo, lo2), min(ap.hi, hi2)
    if lo > hi:  # disjoint ranges: not one clamp
        return None
    op = OpNode(index=cop.index, name=f"{aop.name}+{cop.name}", version=aop.version, inputs=aop.inputs,
                outputs=(y,), options=aop.options, kernel=ARITH_CLAMP_FLOAT)
    return op, ArithClampParams(aop.kernel, ap, replace(ap, lo=lo, hi=hi), k, act_step.params)


def fuse_arith_clamp(spec: SubgraphSpec, steps: list, shapes, kernel_fn: Callable, step_type) -> list:
    """The ``arith_clamp`` pass: a float32 ADD/SUB/MUL/DIV on equal shapes followed by a
    RELU, RELU6, RELU_N1_TO_1 or RELU_0_TO_1 of its result becomes one step (``ADD+RELU``)
    at the activation's place: one pass over the data instead of two. Conditions: the
    arith's output is read by the activation alone, once, and is neither a subgraph
    output nor a variable; the two clamp ranges overlap. The arith's inputs are then read
    at the activation's index (``executor._lifetimes`` counts a step's reads). MediaPipe's
    face models write their residual blocks this way (ADD, then a separate RELU)."""
    readers = _readers(spec)
    outputs = set(spec.outputs)
    arith_of: dict[int, int] = {}  # arith output tensor -> its step's position
    for k, st in enumerate(steps):
        if st.op.name in _ARITH and not st.deferred and not st.dynamic and len(st.op.inputs) == 2:
            c = st.op.outputs[0]
            if readers.get(c, 0) == 1 and c not in outputs and not spec.tensors[c].is_variable:
                arith_of[c] = k
    if not arith_of:
        return steps
    fused: dict[int, Any] = {}
    dropped: set[int] = set()
    for k, st in enumerate(steps):
        if st.op.name not in _CLAMPS or st.deferred or st.dynamic or st.op.inputs[0] not in arith_of:
            continue
        apos = arith_of[st.op.inputs[0]]
        made = _arith_clamp(spec, shapes, steps[apos], st)
        if made is None:
            continue
        op, params = made
        fused[k] = step_type(op, kernel_fn(op), params, [], [])
        dropped.add(apos)
    return [fused.get(k, st) for k, st in enumerate(steps) if k not in dropped]


# The passes, in the order they run, each with its name.
PASSES: tuple[tuple[str, Callable], ...] = (("swish", fuse_swish), ("arith_clamp", fuse_arith_clamp))


def fuse_steps(spec: SubgraphSpec, steps: list, shapes, kernel_fn: Callable, step_type) -> list:
    """Run every pass of ``PASSES`` over the prepared ``steps``; returns the new list."""
    for _name, fuse in PASSES:
        steps = fuse(spec, steps, shapes, kernel_fn, step_type)
    return steps
