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
uint64 and float64 have no wider type and ``CAST`` refuses uint64: those are reported
at conversion.

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
        if bad in (np.dtype(np.uint64), np.dtype(np.float64)):
            return f"{op} on {bad} (LiteRT has no {bad} kernel and no exact wider type)"
    dt = operand_dtype(op, inputs, y)
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
