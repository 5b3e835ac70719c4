"""Control flow: IF, WHILE and CALL_ONCE, which run other subgraphs of the model.

LiteRT's semantics (tensorflow/lite/kernels/if.cc, while.cc, call_once.cc):

* ``IF(cond, x...)``: ``cond`` is a one-element bool tensor; the ``then`` or ``else``
  subgraph (``IfOptions``) gets ``x...`` as its inputs and its outputs become the IF's.
* ``WHILE(v...)``: the ``cond`` subgraph reads ``v...`` and returns one bool; while it
  is true the ``body`` subgraph maps ``v...`` to new ``v...``; the outputs are the last
  ``v...``. A body whose output shapes differ from its input shapes (a value growing
  each iteration) makes the loop's outputs dynamic: their shapes are known only after
  the run, and the subgraphs are resized and re-planned whenever the shapes change.
* ``CALL_ONCE``: runs its ``init`` subgraph (no inputs, no outputs) at the first
  invoke only; later invokes do nothing.

Each operator keeps its own ``SubgraphRuntime`` per subgraph it runs (in the frozen
params object, so two IF operators sharing a branch do not share arenas); a runtime
is re-planned only when its input shapes change.
"""

from __future__ import annotations

from dataclasses import field

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import Kernel, OpContext, register


def _runtime(ctx: OpContext, index: int, role: str):
    subgraphs = ctx.subgraphs  # edgelite.interpreter.graph.Subgraphs
    if subgraphs is None or not 0 < index < len(subgraphs):
        n = 0 if subgraphs is None else len(subgraphs)
        raise ctx.fail(f"{role} subgraph index {index} out of range (the model has {n} subgraphs; 0 is the main one)")
    return subgraphs.runtime(index, num_threads=ctx.num_threads, use_jit=ctx.use_jit)


def _check_io(ctx: OpContext, rt, n_in: int, n_out: int | None, role: str) -> None:
    spec = rt.spec
    if len(spec.inputs) != n_in or (n_out is not None and len(spec.outputs) != n_out):
        raise ctx.fail(
            f"{role} subgraph {spec.index} has {len(spec.inputs)} inputs / {len(spec.outputs)} outputs; "
            f"the operator passes {n_in} and expects {n_out if n_out is not None else 'any number of'} outputs"
        )


def _run(rt, values: list[np.ndarray]) -> list[np.ndarray]:
    """Run one subgraph runtime on ``values``; returns copies of its outputs."""
    spec = rt.spec
    for t, v in zip(spec.inputs, values):
        if spec.tensors[t].dtype != v.dtype:
            raise ShapeError(
                f"subgraph {spec.index} input {spec.tensors[t].name!r} is {spec.tensors[t].dtype}, "
                f"the caller passes {v.dtype}"
            )
        rt.resize(t, tuple(v.shape))
    rt.allocate()
    for t, v in zip(spec.inputs, values):
        dst = rt.array(t)
        if dst is None:
            continue  # an input nothing reads and that is no output
        dst[...] = v
    rt.invoke()
    return [np.array(rt.array(t), copy=True) for t in spec.outputs]


def _static_outputs(rt, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...] | None]:
    """Plan ``rt`` for ``shapes`` and return its output shapes (None where dynamic)."""
    spec = rt.spec
    for t, s in zip(spec.inputs, shapes):
        rt.resize(t, tuple(s))
    rt.allocate()
    return [None if t in rt._deferred_tensors else rt.shapes[t] for t in spec.outputs]


@dataclass
class _IfParams:
    then_rt: object
    else_rt: object
    dynamic: bool
    n_out: int


@register("IF")
class IfKernel(Kernel):
    def prepare(self, ctx: OpContext) -> _IfParams:
        opts = ctx.options
        if opts is None:
            raise ctx.fail("IF without IfOptions")
        cond = ctx.input(0)
        if cond.dtype != np.bool_ or (cond.shape is not None and int(np.prod(cond.shape)) != 1):
            raise ctx.fail(f"condition must be a one-element bool tensor, got {cond.dtype} {cond.shape}")
        n_in, n_out = len(ctx.inputs) - 1, len(ctx.outputs)
        then_rt = _runtime(ctx, int(opts.thenSubgraphIndex), "then")
        else_rt = _runtime(ctx, int(opts.elseSubgraphIndex), "else")
        _check_io(ctx, then_rt, n_in, n_out, "then")
        _check_io(ctx, else_rt, n_in, n_out, "else")
        shapes = [ctx.input(i).shape for i in range(1, n_in + 1)]
        a = _static_outputs(then_rt, shapes)
        b = _static_outputs(else_rt, shapes)
        dynamic = any(x is None or x != y for x, y in zip(a, b))
        for k in range(n_out):
            if dynamic:
                ctx.set_output_dynamic(k)
            else:
                ctx.set_output_shape(k, a[k])
        return _IfParams(then_rt, else_rt, dynamic, n_out)

    def eval(self, params: _IfParams, inputs, outputs):
        cond = bool(np.asarray(inputs[0]).reshape(-1)[0])
        rt = params.then_rt if cond else params.else_rt
        results = _run(rt, [np.asarray(x) for x in inputs[1:]])
        if params.dynamic:
            return dict(enumerate(results))
        for dst, r in zip(outputs, results):
            dst[...] = r
        return None


@dataclass
class _WhileParams:
    cond_rt: object
    body_rt: object
    dynamic: bool


@register("WHILE")
class WhileKernel(Kernel):
    def prepare(self, ctx: OpContext) -> _WhileParams:
        opts = ctx.options
        if opts is None:
            raise ctx.fail("WHILE without WhileOptions")
        n = len(ctx.inputs)
        if len(ctx.outputs) != n:
            raise ctx.fail(f"WHILE has {n} inputs but {len(ctx.outputs)} outputs; they must match")
        cond_rt = _runtime(ctx, int(opts.condSubgraphIndex), "cond")
        body_rt = _runtime(ctx, int(opts.bodySubgraphIndex), "body")
        _check_io(ctx, cond_rt, n, 1, "cond")
        _check_io(ctx, body_rt, n, n, "body")
        for k in range(n):
            a = ctx.input(k)
            for rt, role in ((cond_rt, "cond"), (body_rt, "body")):
                t = rt.spec.tensors[rt.spec.inputs[k]]
                if t.dtype != a.dtype:
                    raise ctx.fail(f"{role} subgraph input {k} is {t.dtype}, the loop value is {a.dtype}")
            t = body_rt.spec.tensors[body_rt.spec.outputs[k]]
            if t.dtype != a.dtype:
                raise ctx.fail(f"body subgraph output {k} is {t.dtype}, the loop value is {a.dtype}")
        shapes = [ctx.input(k).shape for k in range(n)]
        out = _static_outputs(body_rt, shapes)
        # Shapes that stay the same through one iteration stay the same through all.
        dynamic = any(o is None or tuple(o) != tuple(s) for o, s in zip(out, shapes))
        for k in range(n):
            if dynamic:
                ctx.set_output_dynamic(k)
            else:
                ctx.set_output_shape(k, shapes[k])
        return _WhileParams(cond_rt, body_rt, dynamic)

    def eval(self, params: _WhileParams, inputs, outputs):
        values = [np.array(x, copy=True) for x in inputs]
        while True:
            (c,) = _run(params.cond_rt, values)
            if c.size != 1 or c.dtype != np.bool_:
                raise ShapeError(f"WHILE: cond subgraph returned {c.dtype}{list(c.shape)}, not one bool")
            if not bool(c.reshape(-1)[0]):
                break
            values = _run(params.body_rt, values)
        if params.dynamic:
            return dict(enumerate(values))
        for dst, v in zip(outputs, values):
            if dst.shape != v.shape:
                raise ShapeError(f"WHILE: loop value changed shape {dst.shape} -> {v.shape} in a static loop")
            dst[...] = v
        return None


@dataclass
class _CallOnceParams:
    init_rt: object
    done: list = field(default_factory=lambda: [False])


@register("CALL_ONCE")
class CallOnceKernel(Kernel):
    def prepare(self, ctx: OpContext) -> _CallOnceParams:
        opts = ctx.options
        if opts is None:
            raise ctx.fail("CALL_ONCE without CallOnceOptions")
        rt = _runtime(ctx, int(opts.initSubgraphIndex), "init")
        _check_io(ctx, rt, 0, 0, "init")
        return _CallOnceParams(rt)

    def eval(self, params: _CallOnceParams, inputs, outputs):
        if not params.done[0]:
            _run(params.init_rt, [])
            params.done[0] = True
        return None
