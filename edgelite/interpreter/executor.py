"""Running one subgraph: prepare every kernel, fold constants, plan the arena, invoke.

``SubgraphRuntime.allocate()`` walks the operators in order:

1. it builds each operator's ``OpContext`` from the current shapes (inputs may have
   been resized) and calls the kernel's ``prepare``, which sets the output shapes;
2. an operator whose inputs are all constant (model weights or outputs folded
   earlier) and that has no state is evaluated right there, and its outputs become
   constants; so is SHAPE, whose input's shape is fixed once allocated: shape
   arithmetic (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) costs nothing at ``invoke``;
3. an operator reading a tensor whose shape is only known at run time (a *dynamic*
   output, see ``OpContext.set_output_dynamic``) is *deferred*: it is prepared again
   on every ``invoke`` with the real shapes, and its outputs live outside the arena;
4. without delegates or ``preserve_all_tensors``, the fusion passes of
   :mod:`edgelite.interpreter.fusion` merge some prepared steps into one (the swish
   ``MUL(x, LOGISTIC(x))``), with the same bits;
5. every other non-constant tensor gets a slot in one uint8 arena planned by
   ``planner.plan_arena`` from its lifetime; variables get their own persistent
   arrays; constants stay zero-copy views of the model file.

``invoke()`` then runs a precomputed list of ``(function, params, inputs, outputs)``
steps whose input and output arrays are views made once at allocation. On the fast path
(JIT kernels, no profiler) it runs them as one flat *call plan*: a
kernel with a ``bind`` method contributes the prepared calls of its eval (views,
scalars and the Numba build chosen once, see :mod:`edgelite.interpreter.compute.bound`),
every other step its ``eval`` call. The plan is made and resolved on the first fast
run (lazy Numba builds, then each dispatcher's compiled entry point for its fixed
arguments), not at allocation: a fresh process's first invoke runs the reference
kernels, which need neither the plan nor what binding reads (packed GEMM weights,
made on first use), so ``allocate_tensors`` does not pay for them. A resize or
``allocate`` drops the plan.

Example:
    >>> import numpy as np
    >>> from edgelite.schema import read_model
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.interpreter.graph import load_subgraph, resolve_kernels
    >>> from edgelite.interpreter.executor import SubgraphRuntime
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 4), np.float32)
    >>> b.mark_output(x)
    >>> spec = load_subgraph(read_model(b.build()), 0)
    >>> rt = SubgraphRuntime(spec)
    >>> rt.allocate()
    >>> rt.array(x).shape
    (1, 4)
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import ShapeError
from edgelite.interpreter.compute import bound, threads
from edgelite.interpreter.fusion import fuse_steps
from edgelite.interpreter.graph import DENSIFY, NOT_FOLDABLE, OpNode, SubgraphSpec, make_context
from edgelite.interpreter.planner import ArenaPlan, TensorLifetime, plan_arena
from edgelite.schema.model import TensorType


@dataclass
class Step:
    """One operator ready to run; ``deferred`` steps are prepared at every invoke."""

    op: OpNode
    fn: Callable
    params: Any
    inputs: list
    outputs: list
    dynamic: tuple[int, ...] = ()  # output positions whose arrays eval returns
    deferred: bool = False

    def kernel_bind(self) -> Callable | None:
        """The kernel's ``bind`` when it mirrors ``fn``: ``eval_jit`` (``eval`` for a kernel
        without one), and is defined in the class that defines that method or below it
        (a subclass that overrides its eval does not inherit a stale bind)."""
        k = self.op.kernel
        bind = getattr(k, "bind", None)
        if bind is None:
            return None
        cls = type(k)
        name = "eval_jit" if getattr(k, "eval_jit", None) is not None else "eval"
        if self.fn != getattr(k, name):
            return None
        return bind if issubclass(_owner(cls, "bind"), _owner(cls, name)) else None


def _owner(cls: type, name: str) -> type:
    return next(c for c in cls.__mro__ if name in c.__dict__)


def _reset_value(spec) -> int:
    # LiteRT resets variables byte-wise: to the zero point for int8, else to 0.
    if spec.type == TensorType.INT8 and spec.quant is not None:
        return int(spec.quant.scalar_zero_point) & 0xFF
    return 0


# Operators whose outputs depend only on their input's shape: folded at allocation.
SHAPE_ONLY = frozenset({"SHAPE"})


def _shape_stand_in(spec: SubgraphSpec, index: int, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only array of ``shape`` that takes no memory (for SHAPE_ONLY operators)."""
    return np.broadcast_to(np.zeros((), spec.tensors[index].dtype), shape)


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB ({n} bytes)"


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_arena_size(total: int, lifetimes, spec: SubgraphSpec) -> None:
    """Refuse, before allocating, an arena larger than the machine's memory (a resize gone wrong)."""
    limit = _physical_memory()
    if limit is None or total <= limit:
        return
    biggest = sorted(lifetimes, key=lambda lt: -lt.size)[:3]
    names = ", ".join(f"{spec.tensors[lt.index].name!r} {_gib(lt.size)}" for lt in biggest)
    raise ShapeError(
        f"the tensor arena would need {_gib(total)}, more than this machine's {_gib(limit)} of memory "
        f"(largest tensors: {names}); resize the inputs to smaller shapes"
    )


def _step_positions(steps) -> tuple[dict[int, int], dict[int, int]]:
    """First position (written or read) and last read position of every tensor a step touches."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for pos, step in enumerate(steps):
        for i in (*step.op.inputs, *step.op.outputs):
            if i >= 0:
                first.setdefault(i, pos)
        for i in step.op.inputs:
            if i >= 0:
                last[i] = pos
    return first, last


class SubgraphRuntime:
    """Prepared, planned state of one subgraph. Used by ``Interpreter``; not public API."""

    def __init__(
        self,
        spec: SubgraphSpec,
        *,
        num_threads: int = 1,
        use_jit: bool = False,
        preserve_all_tensors: bool = False,
        delegates: list | tuple = (),
    ):
        self.spec = spec
        self.delegates = list(delegates)
        self.delegation = None  # the DelegationPlan of the last allocate, when delegates are set
        self.num_threads = num_threads
        self.use_jit = use_jit
        self.preserve_all_tensors = preserve_all_tensors
        self.shapes: list[tuple[int, ...] | None] = [t.shape for t in spec.tensors]
        self.allocated = False
        self.plan: ArenaPlan | None = None
        self.arena: np.ndarray | None = None
        self.steps: list[Step] = []
        self.has_jit_steps = False  # some step runs a kernel's eval_jit
        self.folded_ops: list[int] = []
        # Arrays of tensors that are not arena slots: constants, folded outputs,
        # variables and dynamic (run-time shaped) outputs.
        self.values: dict[int, np.ndarray] = {}
        self._views: dict[int, np.ndarray] = {}
        self._variables: dict[int, np.ndarray] = {}
        self._deferred_tensors: set[int] = set()
        self._folded: set[int] = set()
        # The fast path's flat call plan: (function, args) pairs; made and resolved on its first run.
        self._calls: list[bound.Call] = []
        self._calls_resolved = False
        self._native_helpers = None  # the native helpers' pool when the plan has calls for them
        self._reference_seconds: float | None = None  # the last reference run's duration

    # -- shapes --------------------------------------------------------------------------

    def resize(self, index: int, shape: tuple[int, ...]) -> None:
        if self.shapes[index] != shape:
            self.shapes[index] = shape
            self.allocated = False

    # -- allocation ------------------------------------------------------------------------

    def allocate(self) -> None:
        """Prepare every operator, fold constants and plan the arena (idempotent)."""
        if self.allocated:
            return
        spec = self.spec
        shapes = list(self.shapes)
        consts = {t.index: t.data for t in spec.tensors if t.is_constant}
        values: dict[int, np.ndarray] = dict(consts)
        deferred: set[int] = set()
        steps: list[Step] = []
        folded: list[int] = []
        self._ensure_variables(shapes)

        for op in spec.ops:
            if op.builtin == DENSIFY:
                src = spec.tensors[op.inputs[0]]
                out = op.outputs[0]
                values[out] = src.data.astype(spec.tensors[out].dtype, copy=False)
                shapes[out] = tuple(values[out].shape)
                folded.append(op.index)
                continue
            if any(i in deferred for i in op.inputs):
                deferred.update(op.outputs)
                steps.append(Step(op, self._kernel_fn(op), None, [], [], deferred=True))
                continue
            ctx = make_context(spec, op, shapes, values, num_threads=self.num_threads, use_jit=self.use_jit)
            params = op.kernel.prepare(ctx)
            dynamic = tuple(sorted(ctx.dynamic_outputs))
            for pos, t_index in enumerate(op.outputs):
                if pos in ctx.dynamic_outputs:
                    deferred.add(t_index)
                    shapes[t_index] = None
                elif ctx.output_shapes[pos] is None:
                    raise ShapeError(f"{op.describe(spec)}: kernel {type(op.kernel).__name__} set no shape for output {pos}")
                else:
                    shapes[t_index] = ctx.output_shapes[pos]
            real_inputs = [i for i in op.inputs if i >= 0]
            # Variables are never in `values`, so ops reading them are never folded.
            foldable = op.name not in NOT_FOLDABLE and real_inputs and all(i in values for i in real_inputs)
            # SHAPE reads only its input's shape, fixed once allocated (LiteRT too computes it in
            # Prepare): folding it lets SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (what TensorFlow
            # writes for a dynamic batch) fold, so the reshape and everything after it get static shapes.
            shape_only = (op.name in SHAPE_ONLY and bool(real_inputs) and real_inputs[0] not in deferred
                          and shapes[real_inputs[0]] is not None)
            if foldable or shape_only:
                ins = [None if i < 0 else values[i] if i in values else _shape_stand_in(spec, i, shapes[i])
                       for i in op.inputs]
                outs = [
                    None if pos in ctx.dynamic_outputs else np.empty(shapes[t], spec.tensors[t].dtype)
                    for pos, t in enumerate(op.outputs)
                ]
                returned = op.kernel.eval(params, ins, outs) or {}
                for pos, t_index in enumerate(op.outputs):
                    arr = returned[pos] if pos in ctx.dynamic_outputs else outs[pos]
                    values[t_index] = arr
                    shapes[t_index] = tuple(arr.shape)
                    deferred.discard(t_index)
                folded.append(op.index)
                continue
            steps.append(Step(op, self._kernel_fn(op), params, [], [], dynamic=dynamic))

        self._folded = set(values) - set(consts)
        if not self.delegates and not self.preserve_all_tensors:
            # Prepared steps merged into one where the bits stay the same (edgelite.interpreter.fusion).
            steps = fuse_steps(spec, steps, shapes, self._kernel_fn, Step)
        if self.delegates:
            # The delegate seam (edgelite.interpreter.delegation): partitions become single steps.
            from edgelite.interpreter.delegation import apply_delegates, close_plan

            close_plan(self.delegation)
            self.delegation = None
            steps, self.delegation = apply_delegates(self, steps, shapes, values, self.delegates, Step)
        self._plan_and_bind(shapes, {**values, **self._variables}, deferred, steps)
        self.shapes = shapes
        self.steps = steps
        self.has_jit_steps = any(s.fn != s.op.kernel.eval for s in steps if s.op.kernel is not None)
        # Thread counts are process-wide settings, applied before every run (a no-op
        # when unchanged) so that runtimes with different num_threads can coexist.
        blas_parallel = any(getattr(s.op.kernel, "blas_parallel", False) for s in steps if s.op.kernel is not None)
        plan = threads.plan_threads(self.num_threads, use_jit=self.use_jit, blas_parallel=blas_parallel)
        # The reference kernels of a JIT runtime (its first invoke, while Numba loads) call
        # BLAS with the JIT runs' thread count: OpenBLAS's bits depend on its thread count
        # (a 2-thread matrix-vector product differed from the 1-thread one in MobileNetV2's
        # classifier), and the first invoke must give the bits of the next.
        self._threads = {False: plan, True: plan if self.use_jit else threads.plan_threads(
            self.num_threads, use_jit=False, blas_parallel=blas_parallel)}
        self.folded_ops = folded
        self._deferred_tensors = deferred
        self._calls = []  # made by the first fast run (_invoke_resolving)
        self._calls_resolved = False
        self._native_helpers = None
        self.allocated = True

    def _call_plan(self, steps: list[Step]) -> list[bound.Call]:
        """The flat ``(function, args)`` list the fast path runs (see the module docstring)."""
        calls: list[bound.Call] = []
        for step in steps:
            if step.deferred:
                calls.append((self._run_deferred, (step,)))
                continue
            if step.dynamic:
                calls.append((self._run_dynamic, (step,)))
                continue
            bind = step.kernel_bind()
            prepared = None if bind is None else bind(step.params, step.inputs, step.outputs)
            if prepared is None:
                calls.append((step.fn, (step.params, step.inputs, step.outputs)))
            else:
                calls.extend(prepared)
        return calls

    def _kernel_fn(self, op: OpNode) -> Callable:
        k = op.kernel
        jit = getattr(k, "eval_jit", None)
        return jit if (self.use_jit and jit is not None) else k.eval

    def _ensure_variables(self, shapes) -> None:
        for t in self.spec.tensors:
            if not t.is_variable:
                continue
            shape = shapes[t.index]
            arr = self._variables.get(t.index)
            if arr is not None and arr.shape == shape:
                continue
            if t.data is not None and tuple(t.data.shape) == shape:
                arr = np.array(t.data, dtype=t.dtype)
            else:
                arr = np.empty(shape, t.dtype)
                arr.view(np.uint8)[...] = _reset_value(t)
            self._variables[t.index] = arr

    def reset_variables(self) -> None:
        for t_index, arr in self._variables.items():
            arr.view(np.uint8)[...] = _reset_value(self.spec.tensors[t_index])

    def _lifetimes(self, shapes, values, deferred, steps) -> list[TensorLifetime]:
        spec = self.spec
        n_steps = max(len(spec.ops), 1)
        # With delegates the plan's order differs from the file's: lifetimes are step
        # positions, and tensors inside a partition (in no step) get no slot.
        first_use, last_use = _step_positions(steps) if self.delegation is not None else (None, None)
        # A fused step (edgelite.interpreter.fusion) runs at its last operator's index and may
        # read a tensor the model's last reader of it read earlier: its reads count too.
        read_at = dict(spec.last_reader)
        if first_use is None:
            for step in steps:
                for i in step.op.inputs:
                    if i >= 0 and read_at.get(i, -1) < step.op.index:
                        read_at[i] = step.op.index
        pinned = set(spec.inputs) | set(spec.outputs)
        out = []
        for t in spec.tensors:
            i = t.index
            if i in values or i in deferred or t.type == TensorType.STRING:
                continue
            shape = shapes[i]
            if shape is None or any(d < 0 for d in shape):
                continue
            size = math.prod(shape) * t.dtype.itemsize  # Python ints: no int64 wrap-around
            whole = i in pinned or self.preserve_all_tensors
            if whole:
                first, last = 0, n_steps
            elif first_use is not None:
                if i not in first_use:
                    continue
                first = first_use[i]
                last = max(first, last_use.get(i, first))
            else:
                first = spec.producer.get(i, 0)
                last = max(first, read_at.get(i, first))
            out.append(TensorLifetime(index=i, size=size, first=first, last=last, whole_run=whole))
        return out

    def _plan_and_bind(self, shapes, values, deferred, steps) -> None:
        spec = self.spec
        lifetimes = self._lifetimes(shapes, values, deferred, steps)
        plan = plan_arena(lifetimes)
        _check_arena_size(plan.total_bytes, lifetimes, spec)
        try:
            arena = np.zeros(plan.total_bytes, dtype=np.uint8)
        except MemoryError as e:
            raise ShapeError(f"allocating the tensor arena ({_gib(plan.total_bytes)}) failed: {e}") from e
        views: dict[int, np.ndarray] = {}
        for i, off in plan.offsets.items():
            t = spec.tensors[i]
            views[i] = arena[off : off + plan.sizes[i]].view(t.dtype).reshape(shapes[i])
        for t in spec.tensors:
            if t.type == TensorType.STRING and t.index not in values and shapes[t.index] is not None:
                values[t.index] = np.empty(shapes[t.index], dtype=object)
        self.plan, self.arena, self._views = plan, arena, views
        self.values = {i: v for i, v in values.items() if i not in views}
        for step in steps:
            if step.deferred:
                continue
            step.inputs = [None if i < 0 else self.array(i) for i in step.op.inputs]
            step.outputs = [None if pos in step.dynamic else self.array(t) for pos, t in enumerate(step.op.outputs)]

    # -- access ------------------------------------------------------------------------------

    @property
    def arena_bytes(self) -> int:
        return 0 if self.arena is None else int(self.arena.nbytes)

    def array(self, index: int) -> np.ndarray | None:
        """The array currently holding tensor ``index`` (None when it has no storage yet)."""
        v = self._views.get(index)
        return v if v is not None else self.values.get(index)

    def is_settable(self, index: int) -> bool:
        """Whether ``set_tensor`` may write tensor ``index`` (not a constant or folded value)."""
        if self.spec.tensors[index].is_constant or index in self._folded:
            return False
        return self.array(index) is not None

    def is_folded(self, index: int) -> bool:
        return index in self._folded

    # -- execution -----------------------------------------------------------------------------

    def invoke(self, profiler=None, reference: bool = False) -> None:
        """Run every step once. ``profiler`` (optional) gets ``record(op, seconds)``.

        ``reference=True`` runs each kernel's ``eval`` even when the runtime uses JIT
        kernels (the interpreter does so while Numba is still loading). The thread
        counts of the run are set here, the one place that sets them
        (:mod:`edgelite.interpreter.compute.threads`).
        """
        threads.apply(self._threads[reference])
        if reference and profiler is None:
            t0 = time.perf_counter()
            self._invoke_slow(None, True)
            self._reference_seconds = time.perf_counter() - t0  # the plan's size, for native_chain
            return None
        if profiler is not None or reference:
            return self._invoke_slow(profiler, reference)
        if not self._calls_resolved:
            return self._invoke_resolving()
        helpers = self._native_helpers
        if helpers is not None:
            helpers.begin()  # wake the native helpers now: they are polling when the first split op comes
            try:
                for fn, args in self._calls:
                    fn(*args)
            finally:
                helpers.end()  # and let them sleep between invokes (no CPU taken from the caller's app)
            return
        for fn, args in self._calls:
            fn(*args)

    def _invoke_resolving(self) -> None:
        """The plan's first run: the plan made, each call's function resolved, run, then
        its entry point kept."""
        n_threads = self._threads[False].numba
        calls = self._calls = self._call_plan(self.steps)
        resolved = []
        for pos, (fn, args) in enumerate(calls):
            fn = bound.resolve(fn, n_threads)
            bound.first_run(fn, args)
            resolved.append((fn, args))
            calls[pos] = (bound.direct_entry(fn, args), args)
        # Runs of consecutive calls that native code can make, as one call each (native_chain).
        self._calls = bound.chained(resolved, calls, self._reference_seconds)
        self._calls_resolved = True
        self._native_helpers = bound.native_helpers_of(self._calls)

    def _run_dynamic(self, step: Step) -> None:
        self._store_dynamic(step, step.fn(step.params, step.inputs, step.outputs))

    def _invoke_slow(self, profiler, reference: bool) -> None:
        clock = time.perf_counter
        for step in self.steps:
            t0 = clock()
            if step.deferred:
                self._run_deferred(step, reference)
            else:
                fn = step.op.kernel.eval if reference else step.fn
                returned = fn(step.params, step.inputs, step.outputs)
                if step.dynamic:
                    self._store_dynamic(step, returned)
            if profiler is not None:
                profiler.record(step.op, clock() - t0)

    def _store_dynamic(self, step: Step, returned) -> None:
        if not returned:
            raise ShapeError(f"{step.op.describe(self.spec)}: kernel returned no array for its dynamic outputs")
        for pos in step.dynamic:
            arr = np.asarray(returned[pos], dtype=self.spec.tensors[step.op.outputs[pos]].dtype)
            self.values[step.op.outputs[pos]] = arr

    def _run_deferred(self, step: Step, reference: bool = False) -> None:
        spec, op = self.spec, step.op
        shapes = self.shapes
        values = {i: self.array(i) for i in op.inputs if i >= 0}
        for i in op.inputs:
            if i >= 0:
                shapes[i] = tuple(values[i].shape)
        # Kernels read weights, biases (and RFFT2D's fft_length) from the context at prepare: give
        # them the constants and folded values, never run-time inputs, whose data changes per invoke.
        known = {i: values[i] for i in op.inputs if i >= 0 and (spec.tensors[i].is_constant or i in self._folded)}
        ctx = make_context(spec, op, shapes, known, num_threads=self.num_threads, use_jit=self.use_jit)
        params = op.kernel.prepare(ctx)
        outs = []
        for pos, t_index in enumerate(op.outputs):
            if pos in ctx.dynamic_outputs:
                outs.append(None)
            else:
                shapes[t_index] = ctx.output_shapes[pos]
                outs.append(np.empty(ctx.output_shapes[pos], spec.tensors[t_index].dtype))
        ins = [None if i < 0 else values[i] for i in op.inputs]
        fn = op.kernel.eval if reference else step.fn
        returned = fn(params, ins, outs) or {}
        for pos, t_index in enumerate(op.outputs):
            arr = np.asarray(returned[pos]) if pos in ctx.dynamic_outputs else outs[pos]
            self.values[t_index] = arr
            shapes[t_index] = tuple(arr.shape)
