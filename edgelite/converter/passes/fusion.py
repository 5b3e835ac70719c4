"""Activation fusion: ``Relu``/``Clip`` after an op that has a fused-activation field.

Runs after the layout pass so that the producer and the activation are adjacent
(no transpose between them). The producer's converter opts in with ``fusable = True``
and reads ``node.ann.activation`` (``"RELU"``, ``"RELU6"``, ``"RELU_N1_TO_1"``)
when it lowers.

Example:
    >>> from edgelite.converter.passes.fusion import activation_kind
    >>> from edgelite.converter.ir import Node
    >>> clip = Node("Clip", "c", [None], []); clip.ann.clip_min, clip.ann.clip_max = 0.0, 6.0
    >>> activation_kind(clip)
    'RELU6'
"""

from __future__ import annotations

from edgelite.converter.ir import Graph, Node
from edgelite.converter.ops import registry


def activation_kind(node: Node) -> str | None:
    """The TFLite fused activation equal to ``node``, or None."""
    if node.op_type == "Relu":
        return "RELU"
    if node.op_type == "Clip" and len(node.inputs) == 1:
        lo, hi = node.ann.clip_min, node.ann.clip_max
        if lo == 0.0 and hi is None:
            return "RELU"
        if lo == 0.0 and hi == 6.0:
            return "RELU6"
        if lo == -1.0 and hi == 1.0:
            return "RELU_N1_TO_1"
    return None


def fuse_activations(g: Graph) -> None:
    cons = g.consumers()
    for act in list(g.nodes):
        kind = activation_kind(act)
        if kind is None:
            continue
        x = act.inputs[0]
        prod = x.producer
        if prod is None or len(cons.get(id(x), [])) != 1 or g.is_output(x) or prod.ann.activation:
            continue
        conv = registry.get(prod)
        if not getattr(conv, "fusable", False) or (hasattr(conv, "can_fuse") and not conv.can_fuse(prod)):
            continue
        if x.dtype is not None and x.dtype.kind != "f":
            continue
        prod.ann.activation = kind
        out = act.outputs[0]
        g.remove_node(act)
        prod.outputs[0] = out
        out.producer = prod
        out.perm, out.shape = x.perm, x.shape
    g.toposort()
