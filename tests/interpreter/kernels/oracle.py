"""Run one operator two ways: in LiteRT (the oracle) and through edgelite's kernel.

Small, stable API for every kernel test::

    from tests.interpreter.kernels.oracle import Const, Out, run_kernel, run_litert, single_op_model, compare

    x = np.random.rand(2, 3).astype(np.float32)
    ours = run_kernel("ADD", [x, Const(np.ones(3, np.float32))], options=AddOptionsT())
    theirs = run_litert(single_op_model("ADD", [x, Const(np.ones(3, np.float32))], [Out(np.float32, shape=(2, 3))],
                                        options=AddOptionsT()), [x])
    compare("ADD", [x, Const(...)], options=AddOptionsT())   # both, asserts closeness

Inputs are given as a list whose items are a plain array (a graph input fed at run
time), ``Var(array, quant)`` (the same, quantized), ``Const(array, quant)`` (a constant
tensor in the model, visible to ``prepare``) or ``None`` (an omitted optional input).
Outputs are ``Out(dtype, quant=None, shape=None)``; ``shape=None`` takes the shape the
kernel computes. ``quant`` is ``(scale, zero_point)`` or ``(scales, zero_points, dim)``.

LiteRT runs with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (its built-in kernels, no XNNPACK).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import (
    OpContext,
    QuantInfo,
    TensorInfo,
    select_kernel,
)
from edgelite.schema.model import numpy_dtype, tensor_type_of


@dataclass
class Const:
    value: Any
    quant: Any = None


@dataclass
class Var:
    value: Any
    quant: Any = None


@dataclass
class Out:
    dtype: Any = np.float32
    quant: Any = None
    shape: tuple | None = None


def _as_item(x):
    if x is None or isinstance(x, (Const, Var)):
        return x
    return Var(np.asarray(x))


def _quant_info(quant) -> QuantInfo | None:
    if quant is None:
        return None
    s, z, d = quant if len(quant) == 3 else (quant[0], quant[1], 0)
    return QuantInfo(np.atleast_1d(np.asarray(s, np.float32)), np.atleast_1d(np.asarray(z, np.int64)), int(d))


def _info(i: int, name: str, arr: np.ndarray | None, dtype, quant, const: bool, shape=None) -> TensorInfo:
    tt = tensor_type_of(dtype)
    return TensorInfo(
        index=i, name=name, shape=None if arr is None and shape is None else tuple(arr.shape if arr is not None else shape),
        dtype=numpy_dtype(tt), type=int(tt), quant=_quant_info(quant), data=arr if const else None,
    )


def make_context(op: str, inputs: Sequence, options=None, outputs: Sequence[Out] = (Out(),), version: int = 1,
                 use_jit: bool = False) -> OpContext:
    """The ``OpContext`` the interpreter would build for this one operator."""
    infos = []
    for i, item in enumerate(map(_as_item, inputs)):
        if item is None:
            infos.append(None)
            continue
        arr = np.asarray(item.value)
        infos.append(_info(i, f"in{i}", arr, arr.dtype, item.quant, isinstance(item, Const)))
    outs = [_info(100 + k, f"out{k}", None, o.dtype, o.quant, False) for k, o in enumerate(outputs)]
    return OpContext(op_name=op, op_index=0, version=version, options=options, options2=None,
                     custom_options=None, inputs=infos, outputs=outs, use_jit=use_jit)


def run_kernel(op: str, inputs: Sequence, options=None, outputs: Sequence[Out] = (Out(),), version: int = 1,
               jit: bool = False, kernel_type=None) -> list[np.ndarray]:
    """Select edgelite's kernel, ``prepare`` it and ``eval`` (or ``eval_jit``) it once.

    Dynamic outputs (shapes known only at run time) are taken from ``eval``'s return.
    """
    ctx = make_context(op, inputs, options, outputs, version, jit)
    k = select_kernel(ctx)
    if k is None:
        raise AssertionError(f"no edgelite kernel accepts {op} with these tensors")
    if kernel_type is not None:
        assert isinstance(k, kernel_type), type(k).__name__
    params = k.prepare(ctx)
    arrays = [None if item is None else np.array(item.value, order="C") for item in map(_as_item, inputs)]
    outs = [None if i in ctx.dynamic_outputs else np.empty(s, dtype=o.dtype)
            for i, (s, o) in enumerate(zip(ctx.output_shapes, ctx.outputs))]
    fn = k.eval
    if jit:
        fn = getattr(k, "eval_jit", None)
        assert fn is not None, f"{type(k).__name__} has no eval_jit"
    returned = fn(params, arrays, outs)
    for i in ctx.dynamic_outputs:
        outs[i] = np.asarray(returned[i])
    return outs


def output_shapes(op: str, inputs: Sequence, options=None, outputs: Sequence[Out] = (Out(),), version: int = 1):
    """Output shapes as edgelite's kernel computes them (running it for dynamic ones)."""
    return [o.shape for o in run_kernel(op, inputs, options, outputs, version)]


def single_op_model(op: str, inputs: Sequence, outputs: Sequence[Out], options=None, version: int = 1) -> bytes:
    """A ``.tflite`` with one operator; plain-array and ``Var`` inputs become graph inputs
    in order, ``Const`` inputs constant tensors. Every ``Out`` needs a ``shape``."""
    from edgelite.schema.builder import ModelBuilder

    b = ModelBuilder()
    idx = []
    for i, item in enumerate(map(_as_item, inputs)):
        if item is None:
            idx.append(-1)
        elif isinstance(item, Const):
            idx.append(b.add_constant(f"in{i}", np.asarray(item.value), quant=item.quant))
        else:
            arr = np.asarray(item.value)
            idx.append(b.add_input(f"in{i}", shape=arr.shape, dtype=arr.dtype, quant=item.quant))
    outs = [b.add_tensor(f"out{k}", shape=o.shape, dtype=o.dtype, quant=o.quant) for k, o in enumerate(outputs)]
    b.add_operator(op, inputs=idx, outputs=outs, options=options, version=version)
    for o in outs:
        b.mark_output(o)
    return b.build()


def run_litert(model_bytes: bytes, inputs: Sequence) -> list[np.ndarray]:
    """Run a model in LiteRT (built-in kernels, no default delegate) on ``inputs``.

    ``inputs`` are the graph inputs' values in order (``Const``/``None`` items of an
    operator's input list are skipped, so the same list can be passed).
    """
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    feeds = [item.value for item in map(_as_item, inputs) if isinstance(item, Var)]
    it = litert.Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], np.array(x, dtype=d["dtype"], order="C"))
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def compare(op: str, inputs: Sequence, options=None, outputs: Sequence[Out] = (Out(),), version: int = 1,
            rtol: float = 1e-5, atol: float = 1e-6, jit: bool | None = None) -> list[np.ndarray]:
    """Assert edgelite's kernel (and its ``eval_jit``, when it has one) matches LiteRT:
    same dtypes and shapes, floats within ``rtol``/``atol``, everything else equal.
    Returns LiteRT's outputs."""
    ours = run_kernel(op, inputs, options, outputs, version)
    specs = [Out(o.dtype, o.quant, o.shape if o.shape is not None else a.shape) for o, a in zip(outputs, ours)]
    theirs = run_litert(single_op_model(op, inputs, specs, options, version), inputs)
    runs = [("eval", ours)]
    if jit is None:
        k = select_kernel(make_context(op, inputs, options, outputs, version))
        jit = getattr(k, "eval_jit", None) is not None
    if jit:
        runs.append(("eval_jit", run_kernel(op, inputs, options, outputs, version, jit=True)))
    for name, got in runs:
        assert len(got) == len(theirs)
        for k, (g, w) in enumerate(zip(got, theirs)):
            assert g.dtype == w.dtype, f"{op} {name} output {k}: dtype {g.dtype}, LiteRT {w.dtype}"
            assert g.shape == w.shape, f"{op} {name} output {k}: shape {g.shape}, LiteRT {w.shape}"
            if g.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{op} {name} output {k}")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{op} {name} output {k}")
    return theirs
