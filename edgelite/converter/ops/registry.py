"""The op-converter registry: one ``OpConverter`` per ONNX op type.

An op converter says three things about its ONNX ops:

* ``check(node)``: why this node cannot be converted (``None`` when it can), so that
  every unsupported node is reported at once before anything is written;
* ``layout(node, perms)``: how the node follows the tensors' physical layouts (the
  layout pass calls it; see ``edgelite.converter.passes.layout``). The default keeps
  the ONNX layout (always correct, may cost transposes); mixins in ``layout_rules``
  cover elementwise, channels-last and axis-attribute ops;
* ``lower(node, out)``: the TFLite operators that compute it, on physical shapes,
  written through ``out`` (an ``edgelite.converter.lower.Lowering``). Converters never
  insert transposes: when they need another layout they ask for it in ``layout``.

Example:
    >>> from edgelite.converter.ops.registry import OpConverter, register, CONVERTERS
    >>> @register("MyRelu", domain="example.domain")
    ... class MyRelu(OpConverter):
    ...     def lower(self, node, out):
    ...         out.emit("RELU", [node.inputs[0]], node.outputs)
    >>> "example.domain::MyRelu" in CONVERTERS
    True
"""

from __future__ import annotations

from typing import Callable, ClassVar

from edgelite.converter.ir import Node

# "domain::OpType" (domain '' for ONNX) -> converter instance
CONVERTERS: dict[str, "OpConverter"] = {}
# module name -> op types it registered (the "every ops file registers something" test reads it)
REGISTERED_BY_MODULE: dict[str, list[str]] = {}


def key(op_type: str, domain: str = "") -> str:
    return f"{'' if domain == 'ai.onnx' else domain}::{op_type}"


class LayoutPlan:
    """What a node needs from the layout pass.

    Attributes:
        inputs: per input, the physical perm it must have (None = take it as it is;
            constants named here are transposed in place of a runtime transpose).
        outputs: per output, the perm the node produces.
    """

    __slots__ = ("inputs", "outputs")

    def __init__(self, inputs, outputs):
        self.inputs = list(inputs)
        self.outputs = list(outputs)


class OpConverter:
    """Base class: override ``lower``; ``check`` and ``layout`` have safe defaults."""

    op_types: ClassVar[tuple[str, ...]] = ()
    domain: ClassVar[str] = ""
    # How many of the node's outputs ``lower`` computes (None = all); the support check
    # rejects nodes whose further outputs are read (LayerNorm's mean, MaxPool's indices).
    max_outputs: ClassVar[int | None] = None

    def check(self, node: Node) -> str | None:
        """A reason this node cannot be converted, or None."""
        return None

    def layout(self, node: Node, perms: list, lp) -> LayoutPlan:
        """Default: every runtime input and output in the ONNX (identity) layout."""
        return LayoutPlan([lp.identity(v) for v in node.inputs], [lp.identity(v) for v in node.outputs])

    def lower(self, node: Node, out) -> None:
        raise NotImplementedError(f"{type(self).__name__}.lower")


def register(*op_types: str, domain: str = "") -> Callable[[type], type]:
    """Class decorator: register an ``OpConverter`` subclass for ``op_types``."""

    def deco(cls: type) -> type:
        inst = cls()
        cls.op_types = tuple(op_types)
        for t in op_types:
            CONVERTERS[key(t, domain)] = inst
        REGISTERED_BY_MODULE.setdefault(cls.__module__, []).extend(op_types)
        return cls

    return deco


def get(node: Node) -> OpConverter | None:
    return CONVERTERS.get(key(node.op_type, node.domain))
