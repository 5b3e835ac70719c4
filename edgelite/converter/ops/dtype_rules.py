"""Which dtypes each TFLite arithmetic/comparison builtin computes in, and how to reach them.

ONNX defines Add, Mul, Less, Max... on every integer width and on float16/float64;
LiteRT's kernels take far fewer (measured on ai-edge-litert 2.3): plain (unquantized)
int8/uint8 tensors make ``ADD``/``SUB``/comparisons abort the process and ``MUL``/
``DIV`` return zeros (they take the quantized path with scale 0), ``NOT_EQUAL`` on
int16 gives wrong answers, and no arithmetic kernel reads uint16/uint32/uint64 or
float64. So an op on such a dtype is computed in a wider one that gives the same
result: small integers in int32, uint32 in int64 (then ``CAST`` back, which wraps
modulo 2^n exactly as ONNX's fixed-width arithmetic does), float16 in float32 (each
float16 +, -, *, / rounded once from float32 is the correctly rounded float16 result).
float64 has no wider type: it is reported at conversion. uint64 has none either, and
``CAST`` refuses it, but ``BITCAST`` to int64 keeps every bit: ``+``, ``-``, ``*`` modulo
2^64 and equality are the same on both readings, and an unsigned order is the signed one
flipped where the two top bits differ (``_emit_uint64``); other ops on uint64 are reported.

Example:
    >>> import numpy as np
    >>> compute_dtype("ADD", np.dtype("uint8"))
    dtype('int32')
    >>> compute_dtype("DIV", np.dtype("uint32")) is None   # no int64 DIV kernel
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.cast_like import emit_cast

F32, F16, I32, I64 = (np.dtype(t) for t in (np.float32, np.float16, np.int32, np.int64))
I8, I16, BOOL = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.bool_)

_ARITH = frozenset({F32, I32, I64})
_COMPARE = frozenset({F32, F16, I32, I64})
NATIVE: dict[str, frozenset] = {
    "ADD": _ARITH,
    "SUB": _ARITH,
    "MUL": _ARITH,
    "MAXIMUM": _ARITH,
    "MINIMUM": _ARITH,
    "DIV": frozenset({F32, I32}),
    "POW": frozenset({F32, I32}),
    "SQUARED_DIFFERENCE": frozenset({F32, I32}),
    "FLOOR_MOD": frozenset({F32, I32, I64, I8, I16}),
    "FLOOR_DIV": frozenset({F32, I32, I8, I16}),
    "EQUAL": _COMPARE | {BOOL},
    "NOT_EQUAL": _COMPARE | {BOOL},
    "LESS": _COMPARE,
    "LESS_EQUAL": _COMPARE,
    "GREATER": _COMPARE,
    "GREATER_EQUAL": _COMPARE,
    "LOGICAL_AND": frozenset({BOOL}),
    "LOGICAL_OR": frozenset({BOOL}),
    "PRELU": frozenset({F32}),
    "SELECT_V2": frozenset({F32, I32, I64, I8, I16, np.dtype(np.uint8), BOOL}),
}
U64 = np.dtype(np.uint64)
# Ops computed on uint64 through the int64 reading of its bits (``_emit_uint64``).
UINT64_OPS = frozenset({"ADD", "SUB", "MUL", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER",
                        "GREATER_EQUAL", "MAXIMUM", "MINIMUM"})
COMPARISONS = frozenset({"EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"})
# The exact wider type for each narrow one (sign or zero extension loses nothing).
_WIDER = {
    I8: I32,
    np.dtype(np.uint8): I32,
    I16: I32,
    np.dtype(np.uint16): I32,
    np.dtype(np.uint32): I64,
    F16: F32,
}
try:  # bfloat16 (ml_dtypes, as onnx reads it): 8-bit significands, rounded once from float32 too
    import ml_dtypes as _ml_dtypes

    _WIDER[np.dtype(_ml_dtypes.bfloat16)] = F32
except ImportError:  # pragma: no cover - onnx itself needs ml_dtypes
    pass


def compute_dtype(op: str, dtype) -> np.dtype | None:
    """The dtype ``op`` should run in for ``dtype`` operands, or None when none is exact."""
    dt = np.dtype(dtype)
    native = NATIVE.get(op)
    if native is None or dt in native:
        return dt
    wide = _WIDER.get(dt)
    return wide if wide is not None and wide in native else None


def operand_dtype(op: str, inputs, y) -> np.dtype:
    """The dtype the operands are brought to: the inputs' for comparisons, else the output's."""
    if op == "SELECT_V2":
        return np.dtype(y.dtype)  # the condition is bool whatever the values are
    if op in COMPARISONS or op in ("LOGICAL_AND", "LOGICAL_OR"):
        runtime = [v for v in inputs if v is not None and not v.is_constant]
        return np.dtype((runtime[0] if runtime else inputs[0]).dtype)
    if op == "POW" and y.dtype.kind in "iu" and any(v.dtype.kind == "f" for v in inputs):
        return F32  # integer ** float: ONNX takes the power in floating point, then truncates
    return np.dtype(y.dtype)


def reason(op: str, inputs, y) -> str | None:
    """Why ``op`` on these values cannot be lowered exactly, or None."""
    for v in list(inputs) + [y]:
        if v is None or v.dtype is None or (v is not y and v.is_constant):
            continue  # constants are re-typed at conversion
        bad = np.dtype(v.dtype)
        if bad == U64 and op in UINT64_OPS and all(
                w is None or np.dtype(w.dtype) in (U64, BOOL) for w in list(inputs) + [y]):
            continue  # computed on the int64 reading of the same bits (``_emit_uint64``)
        if bad in (np.dtype(np.uint64), np.dtype(np.float64)):
            return f"{op} on {bad} (LiteRT has no {bad} kernel and no exact wider type)"
    dt = operand_dtype(op, inputs, y)
    if dt == U64 and op in UINT64_OPS:
        return None
    if compute_dtype(op, dt) is None:
        return f"{op} on {dt} (no LiteRT kernel for it or an exact wider type)"
    return None


def to_dtype(out, v, dtype, name: str):
    """``v`` as ``dtype``: constants re-typed in place of a runtime CAST."""
    if v is None or np.dtype(v.dtype) == np.dtype(dtype):
        return v
    if v.is_constant:
        return out.const(np.asarray(v.data).astype(dtype), name)
    t = out.tmp(name, v.shape, dtype)
    emit_cast(out, v, t)
    return t


def emit(out, op: str, inputs, y, options=None, name: str = "op", version: int = 1) -> None:
    """Emit ``y = op(*inputs)``, computing in ``compute_dtype`` and casting back to ``y``'s dtype."""
    dt = operand_dtype(op, inputs, y)
    if dt == U64 and op in UINT64_OPS:
        _emit_uint64(out, op, inputs, y, options, name)
        return
    cd = compute_dtype(op, dt)
    if cd is None:
        raise ValueError(f"{op} on {dt} has no exact TFLite lowering")
    args = list(inputs)
    if op == "SELECT_V2":
        args = [args[0]] + [to_dtype(out, v, cd, f"{name}_in{i}") for i, v in enumerate(args[1:], 1)]
    else:
        args = [to_dtype(out, v, cd, f"{name}_in{i}") for i, v in enumerate(args)]
    result_dtype = BOOL if op in COMPARISONS else cd
    if np.dtype(y.dtype) == result_dtype:
        out.emit(op, args, [y], options, version=version)
        return
    t = out.tmp(f"{name}_{cd!s}", y.shape, result_dtype)
    out.emit(op, args, [t], options, version=version)
    emit_cast(out, t, y)


def bitcast(out, v, dtype, name: str, y=None):
    """``v``'s bits read as ``dtype`` (same element size): a re-typed constant or a ``BITCAST``."""
    from edgelite.schema.fb.BitcastOptions import BitcastOptionsT

    if v.is_constant and y is None:
        return out.const(np.ascontiguousarray(np.asarray(v.data).astype(v.dtype)).view(dtype), name)
    t = y if y is not None else out.tmp(name, v.shape, dtype)
    out.emit("BITCAST", [v], [t], BitcastOptionsT())
    return t


def _unsigned_order(out, op: str, a, b, shape, name: str, y=None):
    """``op`` (LESS, GREATER, ...) of two uint64 values given as their int64 readings.

    Within one half of the range (top bits equal) the signed order is the unsigned one;
    across halves it is reversed (and the values differ, so ``<=`` and ``<`` agree), hence
    ``signed_op(a, b) != (a < 0) != (b < 0)``.
    """
    zero = out.const(np.zeros((), np.int64), f"{name}_zero")
    signed = out.tmp(f"{name}_signed", shape, BOOL)
    out.emit(op, [a, b], [signed])
    top_a = out.tmp(f"{name}_top_a", a.shape, BOOL)
    out.emit("LESS", [a, zero], [top_a])
    top_b = out.tmp(f"{name}_top_b", b.shape, BOOL)
    out.emit("LESS", [b, zero], [top_b])
    halves = out.tmp(f"{name}_halves", shape, BOOL)
    out.emit("NOT_EQUAL", [top_a, top_b], [halves])
    y = y if y is not None else out.tmp(f"{name}_{op.lower()}", shape, BOOL)
    out.emit("NOT_EQUAL", [signed, halves], [y])
    return y


def _emit_uint64(out, op: str, inputs, y, options, name: str) -> None:
    """``y = op(a, b)`` on uint64, computed by LiteRT's int64 kernels on the same bits."""
    a, b = (bitcast(out, v, I64, f"{name}_in{i}_i64") for i, v in enumerate(inputs[:2]))
    shape = tuple(y.shape)
    if op in ("EQUAL", "NOT_EQUAL"):
        out.emit(op, [a, b], [y])
    elif op in COMPARISONS:
        _unsigned_order(out, op, a, b, shape, name, y=y)
    elif op in ("MAXIMUM", "MINIMUM"):
        a_wins = _unsigned_order(out, "GREATER" if op == "MAXIMUM" else "LESS", a, b, shape, name)
        picked = out.tmp(f"{name}_i64", shape, I64)
        out.emit("SELECT_V2", [a_wins, a, b], [picked])
        bitcast(out, picked, U64, name, y=y)
    else:  # ADD, SUB, MUL: the same bits modulo 2^64 on both readings
        t = out.tmp(f"{name}_i64", shape, I64)
        out.emit(op, [a, b], [t], options)
        bitcast(out, t, U64, name, y=y)
