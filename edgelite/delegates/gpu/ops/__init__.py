"""Operator builders of the GPU delegate: one module per operator family.

Each builder is registered for its operator names with ``@gpu_op("CONV_2D")`` where
it is defined. A builder has ``check(ctx)`` (None or the reason it cannot run this
operator) and ``build(ctx, builder)`` (records dispatches on the partition's
``runtime.Builder``). ``support`` adds the checks every operator shares: float32
activations, rank <= 4 (as LiteRT's GPU delegate), known non-empty shapes and the
device's buffer-size limit.

Example:
    >>> from edgelite.delegates.gpu.ops import supported_ops
    >>> "CONV_2D" in supported_ops()
    True
"""

from __future__ import annotations

import numpy as np

_BUILDERS: dict[str, object] = {}
_loaded = False


def gpu_op(*names: str):
    """Class decorator: register a builder for the given builtin operator names."""

    def deco(cls):
        inst = cls()
        for n in names:
            if n in _BUILDERS:
                raise RuntimeError(f"GPU op {n} registered twice")
            _BUILDERS[n] = inst
        return cls

    return deco


def _load() -> None:
    # The families, imported on first use (each registers its builders).
    global _loaded
    if not _loaded:
        from edgelite.delegates.gpu.ops import conv, elementwise, matmul, movement, pool, reduce  # noqa: F401

        _loaded = True


def supported_ops() -> list[str]:
    """Builtin operator names the GPU delegate has builders for."""
    _load()
    return sorted(_BUILDERS)


QUANT_TYPES = (np.int8, np.uint8)


def is_quantized_activation(t) -> bool:
    """An int8/uint8 run-time tensor with one scale: the GPU holds its real values."""
    return (t.data is None and t.dtype in QUANT_TYPES and t.quant is not None
            and t.quant.scale.size == 1 and float(t.quant.scale[0]) > 0)


def support(ctx, limits: dict, quant: bool = True) -> str | None:
    """None when the GPU delegate can run this operator, else the reason.

    With ``quant`` (LiteRT's ``enable_quant``), int8/uint8 activations are allowed: the
    GPU computes on their real values and rounds every output to its int8 grid.
    """
    _load()
    b = _BUILDERS.get(ctx.op_name)
    if b is None:
        return "Operation is not supported by the edgelite GPU delegate."
    max_bytes = int(limits.get("max-storage-buffer-binding-size", 1 << 27))
    for t in list(ctx.inputs) + list(ctx.outputs):
        if t is None:
            continue
        if t.shape is None:
            return f"tensor {t.name!r} has a run-time shape"
        if len(t.shape) > 4:
            return f"tensor {t.name!r} has rank {len(t.shape)} (rank 5+ is not supported)"
        if int(np.prod(t.shape, dtype=np.int64)) * 4 > max_bytes:
            return f"tensor {t.name!r} is larger than the device's max-storage-buffer-binding-size ({max_bytes} bytes)"
        if t.data is None and t.dtype != np.float32 and not (quant and is_quantized_activation(t)):
            kind = "float32 or per-tensor int8/uint8" if quant else "float32 (enable_quant is off)"
            return f"tensor {t.name!r} is {np.dtype(t.dtype).name}: only {kind} activations run on the GPU"
    for t in ctx.outputs:
        if int(np.prod(t.shape, dtype=np.int64)) == 0:
            return f"output {t.name!r} is empty"
    return b.check(ctx)


def build(ctx, builder) -> None:
    """Record the dispatches of one (supported) operator.

    A quantized output is then rounded to its int8 grid in place (one more dispatch),
    which is how LiteRT's GPU delegate emulates int8 models in float.
    """
    _load()
    aliased = {t.index: builder.tensors.get(t.index) for t in ctx.inputs if t is not None}
    _BUILDERS[ctx.op_name].build(ctx, builder)
    for t in ctx.outputs:
        buf = builder.tensors.get(t.index)
        if is_quantized_activation(t) and buf is not None and buf not in aliased.values():
            builder.fake_quant(buf, t)
