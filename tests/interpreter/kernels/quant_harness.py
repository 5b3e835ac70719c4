"""Single-operator harness for the quantized kernels' tests.

It describes one operator once (:class:`Spec`), then runs it two ways:

* through LiteRT (the oracle), from a one-operator ``.tflite`` built here, with
  ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (the built-in kernels, no XNNPACK);
* through edgelite's own kernel, by calling ``accepts``/``prepare``/``eval`` (and
  ``eval_jit`` when asked) directly, without the interpreter.

The model is written with :class:`edgelite.schema.builder.ModelBuilder`; builtin
options are ``edgelite.schema.fb`` ``*OptionsT`` objects.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

litert = pytest.importorskip("ai_edge_litert.interpreter")

from edgelite.interpreter.compute import simd_gemm  # noqa: E402
from edgelite.interpreter.kernels.base import OpContext, QuantInfo, TensorInfo, select_kernel  # noqa: E402
from edgelite.interpreter.compute.jit import HAVE_NUMBA  # noqa: E402
from edgelite.schema.builder import ModelBuilder  # noqa: E402
from edgelite.schema.model import tensor_type_of  # noqa: E402

#: How a kernel with a VNNI path runs in the tests (see :func:`vnni_mode`).
VNNI_MODES = ["reference", "jit", "jit-no-vnni"]


@contextmanager
def vnni_mode(name):
    """How the kernel runs: ``eval``; ``eval_jit`` (VNNI where the CPU has it);
    ``eval_jit`` with the VNNI kernels switched off meanwhile (the fallback).
    Yields ``use_jit``; skips the test when Numba is off."""
    if name == "reference":
        yield False
        return
    if not HAVE_NUMBA:
        pytest.skip("Numba not installed (or EDGELITE_DISABLE_JIT=1)")
    saved = simd_gemm._available
    if name == "jit-no-vnni":
        simd_gemm._available = False
    try:
        yield True
    finally:
        simd_gemm._available = saved


@dataclass
class TSpec:
    """One tensor: shape, dtype, quantization, and data (constant) or None (input)."""

    shape: tuple[int, ...]
    dtype: Any
    quant: tuple | None = None  # (scale, zp) or (scales, zps, dim)
    data: np.ndarray | None = None
    const: bool = False

    def quant_info(self) -> QuantInfo | None:
        if self.quant is None:
            return None
        if len(self.quant) == 3:
            s, z, d = self.quant
        else:
            (s, z), d = self.quant, 0
        return QuantInfo(
            np.atleast_1d(np.asarray(s, np.float32)), np.atleast_1d(np.asarray(z, np.int64)), int(d)
        )


@dataclass
class Spec:
    op: str
    inputs: list[TSpec | None]
    outputs: list[TSpec]
    options: Any = None
    version: int = 1
    extra: dict = field(default_factory=dict)


def build_tflite(spec: Spec) -> bytes:
    """A one-operator model: non-constant inputs are graph inputs, in order."""
    b = ModelBuilder()
    in_idx = []
    for i, t in enumerate(spec.inputs):
        if t is None:
            in_idx.append(-1)
        elif t.const:
            data = np.asarray(t.data, dtype=t.dtype).reshape(t.shape)
            in_idx.append(b.add_constant(f"in{i}", data, quant=t.quant))
        else:
            in_idx.append(b.add_input(f"in{i}", shape=t.shape, dtype=t.dtype, quant=t.quant))
    out_idx = [b.add_tensor(f"out{i}", shape=t.shape, dtype=t.dtype, quant=t.quant) for i, t in enumerate(spec.outputs)]
    b.add_operator(spec.op, inputs=in_idx, outputs=out_idx, options=spec.options, version=spec.version)
    for k in out_idx:
        b.mark_output(k)
    return b.build()


def run_litert(spec: Spec, feeds: list[np.ndarray], delegate: bool = False) -> list[np.ndarray]:
    """Outputs of LiteRT for the non-constant inputs ``feeds`` (in order)."""
    rt = (
        litert.OpResolverType.AUTO
        if delegate
        else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    it = litert.Interpreter(model_content=build_tflite(spec), experimental_op_resolver_type=rt)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def make_context(spec: Spec, use_jit: bool = False) -> OpContext:
    from edgelite.schema.model import numpy_dtype

    infos = []
    for i, t in enumerate(spec.inputs):
        if t is None:
            infos.append(None)
            continue
        tt = tensor_type_of(t.dtype)
        infos.append(
            TensorInfo(
                index=i, name=f"in{i}", shape=tuple(t.shape), dtype=numpy_dtype(tt), type=int(tt),
                quant=t.quant_info(), data=(np.asarray(t.data, dtype=t.dtype).reshape(t.shape) if t.const else None),
            )
        )
    outs = []
    for i, t in enumerate(spec.outputs):
        tt = tensor_type_of(t.dtype)
        outs.append(
            TensorInfo(index=100 + i, name=f"out{i}", shape=None, dtype=numpy_dtype(tt), type=int(tt),
                       quant=t.quant_info())
        )
    return OpContext(
        op_name=spec.op, op_index=0, version=spec.version, options=spec.options, options2=None,
        custom_options=None, inputs=infos, outputs=outs, use_jit=use_jit,
    )


def run_edgelite(spec: Spec, feeds: list[np.ndarray], use_jit: bool = False, kernel_type=None):
    """Outputs of edgelite's selected kernel (``eval_jit`` when ``use_jit``)."""
    ctx = make_context(spec, use_jit)
    k = select_kernel(ctx)
    assert k is not None, f"no kernel accepts {spec.op}"
    if kernel_type is not None:
        assert isinstance(k, kernel_type), type(k)
    params = k.prepare(ctx)
    it = iter(feeds)
    arrays = []
    for t in spec.inputs:
        if t is None:
            arrays.append(None)
        elif t.const:
            arrays.append(np.asarray(t.data, dtype=t.dtype).reshape(t.shape))
        else:
            arrays.append(np.ascontiguousarray(next(it), dtype=t.dtype).reshape(t.shape))
    # a dynamic output (shape known only at eval) is returned by eval as {index: array}
    outs = [None if s is None else np.empty(s, dtype=o.dtype) for s, o in zip(ctx.output_shapes, ctx.outputs)]
    fn = k.eval
    if use_jit:
        assert type(k).eval_jit is not None, f"{type(k).__name__} has no eval_jit"
        fn = k.eval_jit
    dynamic = fn(params, arrays, outs)
    for i, a in (dynamic or {}).items():
        outs[i] = a
    return outs


def random_q(rng, shape, dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape, dtype=np.int64).astype(dtype)


def check(spec: Spec, feeds: list[np.ndarray], jit: bool | None = None) -> list[np.ndarray]:
    """Assert edgelite (reference, and JIT when it has one) equals LiteRT bit for bit."""
    want = run_litert(spec, feeds)
    got = run_edgelite(spec, feeds)
    for w, g in zip(want, got):
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        if not np.array_equal(g, w):
            diff = np.abs(g.astype(np.int64) - w.astype(np.int64)) if g.dtype.kind in "iub" else np.abs(g - w)
            raise AssertionError(
                f"{spec.op}: {int((g != w).sum())} of {g.size} differ, max |diff| {diff.max()}\n"
                f"got  {g.ravel()[:16]}\nwant {w.ravel()[:16]}"
            )
    if jit is None:
        ctx = make_context(spec)
        jit = type(select_kernel(ctx)).eval_jit is not None
    if jit:
        gj = run_edgelite(spec, feeds, use_jit=True)
        for w, g in zip(want, gj):
            assert np.array_equal(g, w), f"{spec.op}: eval_jit differs from LiteRT"
    return want
