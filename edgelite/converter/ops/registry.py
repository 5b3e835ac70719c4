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

An ONNX op may have several lowering *strategies*, tried in one explicit order: the
first registers with ``@register("Resize")``, each next one with
``@register("Resize", after=<the previous strategy>)``; every strategy but the last
says when it applies with an explicit predicate, ``applies(node)``, and the last takes
whatever is left (its ``check`` says why a node cannot be converted). The choice is
made once per node, on its logical (ONNX) shapes, and kept in ``node.ann.strategy``.
Registering an op twice any other way raises ``RegistrationError``; no strategy is
picked by catching an exception.

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
from edgelite.errors import RegistrationError

# "domain::OpType" (domain '' for ONNX) -> its first (or only) lowering strategy
CONVERTERS: dict[str, "OpConverter"] = {}
# "domain::OpType" -> every lowering strategy of the op, in the order they are tried
STRATEGIES: dict[str, tuple["OpConverter", ...]] = {}
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

    def applies(self, node: Node) -> bool:
        """Whether this strategy lowers ``node`` (asked of every strategy but an op's last,
        on logical shapes, once per node)."""
        return True

    def check(self, node: Node) -> str | None:
        """A reason this node cannot be converted, or None."""
        return None

    def layout(self, node: Node, perms: list, lp) -> LayoutPlan:
        """Default: every runtime input and output in the ONNX (identity) layout."""
        return LayoutPlan([lp.identity(v) for v in node.inputs], [lp.identity(v) for v in node.outputs])

    def lower(self, node: Node, out) -> None:
        raise NotImplementedError(f"{type(self).__name__}.lower")


def register(*op_types: str, domain: str = "", after: type | None = None) -> Callable[[type], type]:
    """Class decorator: register an ``OpConverter`` subclass for ``op_types``.

    Args:
        after: the strategy this one follows (the op's current last strategy); None
            for an op's first strategy.

    Raises:
        RegistrationError: the op already has a converter (and ``after`` is None), or
            ``after`` is not the op's last strategy.
    """

    def deco(cls: type) -> type:
        inst = cls()
        cls.op_types = tuple(op_types)
        for t in op_types:
            k = key(t, domain)
            chain = STRATEGIES.get(k, ())
            if after is None and chain:
                raise RegistrationError(
                    f"{t}: {cls.__module__}.{cls.__qualname__} registers an op that "
                    f"{type(chain[0]).__module__}.{type(chain[0]).__qualname__} already converts; "
                    "add it as a strategy with after=<the previous strategy>"
                )
            if after is not None and (not chain or type(chain[-1]) is not after):
                last = type(chain[-1]).__qualname__ if chain else "nothing"
                raise RegistrationError(f"{t}: {cls.__qualname__} follows {after.__qualname__}, but the last strategy is {last}")
            STRATEGIES[k] = chain + (inst,)
            CONVERTERS.setdefault(k, inst)
        REGISTERED_BY_MODULE.setdefault(cls.__module__, []).extend(op_types)
        return cls

    return deco


def get(node: Node) -> OpConverter | None:
    """The lowering strategy of ``node``: the first whose ``applies`` holds (the last
    otherwise), chosen once and kept in ``node.ann.strategy``."""
    chain = STRATEGIES.get(key(node.op_type, node.domain))
    if not chain:
        return None
    chosen = node.ann.strategy
    if chosen is None or not any(chosen is s for s in chain):
        chosen = next((s for s in chain[:-1] if s.applies(node)), chain[-1])
        node.ann.strategy = chosen
    return chosen
