"""The support check: every node must have a converter that accepts it.

It runs before the layout pass and lists *every* unsupported node at once (op type,
node names, opset) in an ``UnsupportedOperatorError``; nothing is written. With
``allow_custom`` the unsupported nodes become ``edgelite::Custom`` nodes instead.

Example:
    >>> from edgelite.converter.passes.support import SupportCheck
    >>> SupportCheck(allow_custom=False).name
    'check_supported'
"""

from __future__ import annotations

from edgelite.converter.ir import Graph
from edgelite.converter.ops import registry
from edgelite.errors import ConversionError, UnsupportedOperatorError


class SupportCheck:
    name = "check_supported"

    def __init__(self, allow_custom: bool = False):
        self.allow_custom = allow_custom

    def __call__(self, g: Graph) -> None:
        readers = g.consumers()
        bad: dict[str, list[tuple[str, str]]] = {}
        bad_nodes = []
        for n in g.nodes:
            reason = _reason(g, n, readers)
            if reason is not None:
                label = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
                opset = g.opsets.get(n.domain or "", g.opsets.get("", 0))
                bad.setdefault(f"{label} (opset {opset})", []).append((n.name, reason))
                bad_nodes.append(n)
        if not bad:
            return
        if self.allow_custom:
            for n in bad_nodes:
                n.attrs = {}
                n.ann.custom_code = n.op_type
                n.op_type, n.domain = "Custom", "edgelite"
            return
        lines = [
            f"  {op}: " + ", ".join(f"{name!r} ({why})" for name, why in nodes) for op, nodes in sorted(bad.items())
        ]
        ops = [(op.split(" ")[0], name) for op, nodes in sorted(bad.items()) for name, _ in nodes]
        raise UnsupportedOperatorError(
            f"[check_supported] {len(ops)} node(s) cannot be converted to TFLite builtins "
            f"(nothing was written; allow_custom / --allow-custom emits CUSTOM ops instead):\n" + "\n".join(lines),
            ops,
        )


def _reason(g: Graph, n, readers) -> str | None:
    conv = registry.get(n)
    if conv is None:
        return "no converter for this op"
    reason = _check(conv, n)
    if reason is None and conv.max_outputs is not None:
        extra = [i for i, o in enumerate(n.outputs) if i >= conv.max_outputs and (id(o) in readers or g.is_output(o))]
        if extra:
            reason = f"output(s) {extra} are not supported"
    return reason


def _check(conv, node) -> str | None:
    try:
        return conv.check(node)
    except (AttributeError, TypeError, IndexError, KeyError, ValueError) as e:
        return f"unexpected form ({type(e).__name__}: {e})"


def check_static_shapes(g: Graph) -> None:
    """Every tensor that is read must have a static shape and a dtype by now."""
    readers = g.consumers()
    for n in g.nodes:
        for o in n.outputs:
            if (o.shape is None or o.dtype is None) and (id(o) in readers or g.is_output(o)):
                raise ConversionError(
                    f"[check_static_shapes] {n.describe()}: cannot infer a static shape/dtype for {o.name!r}; "
                    "fix dynamic input dimensions with input_shapes / --input-shape"
                )
