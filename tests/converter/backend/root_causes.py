"""Why a backend case does not pass, in words a reader can act on.

``node_reasons`` turns an ``UnsupportedOperatorError``'s message into ``Op: why`` per
refused op (the converter says why for each node); ``root_cause`` files a case's reason
under one root cause (a dtype TFLite or LiteRT lacks, an op without a lowering, ...) for
the breakdown in ``docs/conformance.md``. Grouping reads the reason text only.

Example:
    >>> root_cause("UnsupportedOperatorError: Cast: cast to float8_e4m3fn (no TFLite tensor type / CAST kernel for it)")
    'float8 / float4 / float8e8m0 values: no TFLite tensor type, or LiteRT cannot read or write it'
"""

from __future__ import annotations

import re

_NODE_LINE = re.compile(r"^\s*([\w.:]+) \(opset \d+\): '[^']*' \((.*)$")


def _first_parenthesized(text: str) -> str:
    """``text`` up to the parenthesis that closes an already-open one."""
    depth = 1
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return text[:i]
    return text


def node_reasons(message: str) -> list[str]:
    """``Op: why`` for each op named in a converter ``UnsupportedOperatorError`` message."""
    found: dict[str, str] = {}
    for line in message.splitlines():
        m = _NODE_LINE.match(line)
        if m and m.group(1) not in found:
            found[m.group(1)] = _first_parenthesized(m.group(2))
    if not found and "not tensors" in message:
        kinds = sorted(set(re.findall(r"is a (sequence|optional|map)", message)))
        return [f"graph inputs/outputs that are {' / '.join(kinds) or 'not tensors'} (TFLite tensors hold none)"]
    return [f"{op}: {why}" for op, why in found.items()]


# (pattern on the reason, root cause), first match wins.
_CAUSES: list[tuple[str, str]] = [
    (r"float8|float4|e8m0", "float8 / float4 / float8e8m0 values: no TFLite tensor type, or LiteRT cannot read or write it"),
    (r"\b(u?int2)\b", "int2 / uint2 values: no UINT2 type; LiteRT's Python API cannot set INT2"),
    (r"\b(u?int4)\b", "int4 / uint4 outside casts from them: quantization to 4 bits, casts to 4 bits"),
    (r"String|Regex|TfIdf|LabelEncoder|on object|string", "strings: no LiteRT kernels for string ops"),
    (r"ImageDecoder", "ImageDecoder: decoding image files"),
    (r"sequence|optional|Sequence|Optional|graph io", "sequences / optionals"),
    (r"preview\.training", "training ops (Adagrad, Adam, Momentum, Gradient)"),
    (r"RandomUniformLike|training_mode", "random numbers (RandomUniformLike, Dropout in training)"),
    (r"bfloat16", "bfloat16 values where no float32 detour is exact or no data-movement kernel exists"),
    (r"uint64", "uint64 values: division, powers, right shifts, TopK (no int64 reading is exact)"),
    (r"float64", "float64 values: LiteRT has no float64 arithmetic and no wider type"),
    (r"float16", "float16 where no float32 detour applies"),
    (r"on (u?int(8|16|32|64))|uint16|int64 input", "integer widths LiteRT's kernel lacks for the op (int64 Div/Pow, ...)"),
    (r"no converter for this op", "ops without a lowering"),
    (r"output\(s\) \[\d+\] are not supported|storage_order|empty tensor",
     "op features not lowered (MaxPool's argmax output, Trilu of an empty tensor)"),
    (r"no TFLite lowering for [A-Z0-9_]+$", "a builtin the converter wrote that edgelite's interpreter refuses at load"),
    (r"run-time|static shape|no static|dynamic", "values known only at run time (axes, shapes, loop bodies)"),
    (r"wrong result", "wrong result against the case's reference (listed, explained)"),
    (r"LiteRT (fails|disagrees)", "LiteRT rejects or disagrees with the file"),
]


def root_cause(reason: str) -> str:
    """The root cause a failure ``reason`` (as ``classify`` writes it) belongs to."""
    for pattern, cause in _CAUSES:
        if re.search(pattern, reason):
            return cause
    return "other: " + reason.split(":")[0]
