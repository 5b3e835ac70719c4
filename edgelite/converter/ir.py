"""The converter's typed graph IR: ``Graph`` of ``Node`` objects linked by ``Value`` objects.

The front end builds it from an ONNX graph (ONNX op types and attributes, logical
NCHW shapes); the passes rewrite it in place; the layout pass turns every shape
into the *physical* shape the ``.tflite`` tensor will have (``Value.perm`` records how
the physical axes relate to the ONNX ones); lowering turns each node into TFLite
operators.

Nodes hold ``Value`` objects directly (not names), so a pass rewires the graph by
assigning to ``node.inputs[i]``; ``None`` marks an omitted optional input.

Example:
    >>> import numpy as np

from edgelite.schema.quant import QuantParams
    >>> from edgelite.converter.ir import Graph, Value
    >>> g = Graph()
    >>> x = g.add_input(Value("x", (1, 3), np.dtype("float32")))
    >>> y = g.add_node("Relu", [x], ["y"]).outputs[0]
    >>> g.outputs.append(y)
    >>> [n.op_type for n in g.nodes]
    ['Relu']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from edgelite.schema.quant import QuantParams


@dataclass(eq=False)
class Value:
    """One tensor of the graph.

    Attributes:
        name: unique name (graph inputs and outputs keep their ONNX names).
        shape: static shape (physical after the layout pass), or None while unknown.
        dtype: numpy dtype, or None while unknown.
        data: constant contents, or None for a runtime tensor.
        perm: after the layout pass, ``physical = transpose(logical, perm)``; None = identity.
        quant: ``schema.quant.QuantParams(scales, zero_points, quantized_dimension)`` or None.
        producer: the node that writes it (None for inputs and constants).
    """

    name: str
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    data: np.ndarray | None = None
    perm: tuple[int, ...] | None = None
    quant: QuantParams | None = None
    producer: "Node | None" = field(default=None, repr=False)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)


@dataclass
class WhileLoop:
    """An ``edgelite::While`` node's loop (written by ``passes.control_flow``, lowered to WHILE).

    ``cond`` / ``body`` are ONNX graphs whose inputs are named ``cond_names`` / ``body_names``
    (one per loop value); ``consts`` are the captured constants the body reads; the scan
    accumulators start at loop value ``acc_first`` and ``accs`` gives each one's
    ``(axis, reverse)``; ``origin`` names the If/Loop/Scan it came from.
    """

    cond: Any
    cond_names: list[str]
    body: Any
    body_names: list[str]
    consts: dict[str, Any]
    acc_first: int
    accs: list[tuple[int, bool]]
    origin: str


@dataclass
class Annotations:
    """What passes and lowering strategies tell each other about a node, typed.

    ``Node.attrs`` holds only the ONNX attributes; everything edgelite decides about a
    node lives here.
    """

    strategy: Any = None  # the lowering strategy chosen for the node (``ops.registry.get``)
    activation: str | None = None  # fused activation: "RELU", "RELU6", "RELU_N1_TO_1" (fusion)
    clip_min: float | None = None  # Clip bounds once constant inputs became attributes (canonicalize)
    clip_max: float | None = None
    physical: bool = False  # inserted by the layout pass: shapes are physical already
    absorbed: bool = False  # turned into an Identity by the layout pass (a no-op reshape)
    custom_code: str | None = None  # kept as a CUSTOM operator (allow_custom)
    # physical parameters the layout step of an op converter computes for its lowering
    axes: list[int] | None = None  # Reduce*: physical axes (None: all)
    runtime_axes: bool = False  # Reduce*: axes fed at run time
    flatten_from: int | None = None  # Softmax before opset 13: softmax over the flattened tail
    repeats: list | None = None  # Tile: physical repeats
    pads: list | None = None  # Pad: physical (begin, end) pairs
    begin: list[int] | None = None  # Slice: physical STRIDED_SLICE begin/end/strides/end mask
    end: list[int] | None = None
    stride: list[int] | None = None
    end_mask: int = 0
    # a node with bodies (If/Loop/Scan, SequenceMap...): the names its bodies read from
    # outside, whose values follow the node's own inputs (converter.control_flow.add_captures)
    captures: list[str] | None = None
    cf_reason: str | None = None  # If/Loop/Scan: why edgelite cannot express it (refused at lowering)
    loop: WhileLoop | None = None  # edgelite::While: the loop the control_flow pass built


@dataclass(eq=False)
class Node:
    """One operation: an ONNX op before lowering (``domain`` '' = the default ONNX domain)."""

    op_type: str
    name: str
    inputs: list[Value | None]
    outputs: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    ann: Annotations = field(default_factory=Annotations)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> Value | None:
        """The i-th input, or None when it is omitted or past the end."""
        return self.inputs[i] if i < len(self.inputs) else None

    def describe(self) -> str:
        return f"{self.op_type} node {self.name!r}"


@dataclass(eq=False)
class Graph:
    """A whole model: nodes in topological order, graph inputs and outputs, opsets."""

    nodes: list[Node] = field(default_factory=list)
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    opsets: dict[str, int] = field(default_factory=dict)
    producer: str = ""
    _names: set[str] = field(default_factory=set, repr=False)

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))

    # -- construction ----------------------------------------------------------

    def unique_name(self, base: str) -> str:
        name = base or "t"
        i = 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def add_input(self, value: Value) -> Value:
        self._names.add(value.name)
        self.inputs.append(value)
        return value

    def const(self, array: np.ndarray, name: str = "const") -> Value:
        """A new constant value holding ``array``."""
        a = np.asarray(array)
        return Value(self.unique_name(name), tuple(a.shape), a.dtype, data=a)

    def new_value(self, name: str, shape=None, dtype=None) -> Value:
        return Value(self.unique_name(name), None if shape is None else tuple(shape), dtype)

    def add_node(
        self,
        op_type: str,
        inputs: list[Value | None],
        outputs: list[str | Value],
        attrs: dict | None = None,
        name: str | None = None,
        domain: str = "",
        before: Node | None = None,
    ) -> Node:
        """Create a node (new output values for ``str`` outputs) and insert it.

        The node goes at the end, or just before ``before`` to keep topological order.
        """
        outs = [o if isinstance(o, Value) else self.new_value(o) for o in outputs]
        node = Node(op_type, self.unique_name(name or op_type), list(inputs), outs, dict(attrs or {}), domain)
        for o in outs:
            o.producer = node
        if before is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(self.nodes.index(before), node)
        return node

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)
        for o in node.outputs:
            if o.producer is node:
                o.producer = None

    # -- queries ---------------------------------------------------------------

    def consumers(self) -> dict[int, list[Node]]:
        """``id(value) -> [nodes that read it]`` (recompute after rewiring)."""
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v is not None:
                    out.setdefault(id(v), []).append(n)
        return out

    def replace_uses(self, old: Value, new: Value) -> None:
        """Make every reader of ``old`` (nodes and graph outputs) read ``new``."""
        for n in self.nodes:
            n.inputs = [new if v is old else v for v in n.inputs]
        for i, v in enumerate(self.outputs):
            if v is old:
                # A graph output keeps its public name: rename the replacement.
                new.name, old.name = old.name, new.name
                self.outputs[i] = new

    def is_output(self, value: Value) -> bool:
        return any(v is value for v in self.outputs)

    def values(self) -> Iterable[Value]:
        seen: set[int] = set()
        for v in list(self.inputs) + [x for n in self.nodes for x in list(n.inputs) + n.outputs]:
            if v is not None and id(v) not in seen:
                seen.add(id(v))
                yield v

    def toposort(self) -> None:
        """Reorder ``nodes`` so every node comes after the producers of its inputs."""
        produced = {id(o): n for n in self.nodes for o in n.outputs}
        order: list[Node] = []
        state: dict[int, int] = {}
        for root in self.nodes:
            stack = [(root, False)]
            while stack:
                node, done = stack.pop()
                if done:
                    if state.get(id(node)) != 2:
                        state[id(node)] = 2
                        order.append(node)
                    continue
                if state.get(id(node)):
                    continue
                state[id(node)] = 1
                stack.append((node, True))
                for v in node.inputs:
                    p = produced.get(id(v)) if v is not None else None
                    if p is not None and not state.get(id(p)):
                        stack.append((p, False))
        self.nodes = order


def read_counts(ops: Iterable) -> dict[int, int]:
    """``id(value) -> how many inputs of ops read it``, for graph nodes or lowered operators
    (anything with an ``inputs`` list, ``None`` for an omitted input)."""
    counts: dict[int, int] = {}
    for op in ops:
        for v in op.inputs:
            if v is not None:
                counts[id(v)] = counts.get(id(v), 0) + 1
    return counts
