"""Layout assignment: ONNX's channels-first tensors into TFLite's channels-last ones.

Every runtime value gets a *perm*: its physical (``.tflite``) tensor is
``transpose(logical, perm)``. Convolutions, pooling and resizing want channels last,
``(0, 2, 3, 1)`` for 4-D; elementwise ops take whatever layout their inputs share;
axis ops (Concat, Softmax, Reduce*, Slice, Pad, Split, Squeeze...) follow any layout
by renumbering their axes; an ONNX ``Transpose`` becomes free (only the perm
changes), which is how transposes *sink* and *cancel*. A ``Transpose`` node is only
materialized where a consumer needs a layout its producer does not give (a
``Reshape`` is used instead when both layouts have the same bytes, e.g.
``[N, C, 1, 1]`` vs ``[N, 1, 1, C]``). After this pass, shapes and axis attributes
are physical and ``perm`` says how they map to ONNX.

Example:
    >>> from edgelite.converter.passes.layout import channels_last
    >>> channels_last(4)
    (0, 2, 3, 1)
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph, Node, Value
from edgelite.converter.ops import registry
from edgelite.errors import ConversionError

Perm = tuple[int, ...]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def channels_last(rank: int) -> Perm:
    return (0,) + tuple(range(2, rank)) + (1,)


def inverse(p: Perm) -> Perm:
    inv = [0] * len(p)
    for i, a in enumerate(p):
        inv[a] = i
    return tuple(inv)


def compose(first: Perm, then: Perm) -> Perm:
    """``x.transpose(first).transpose(then) == x.transpose(compose(first, then))``."""
    return tuple(first[i] for i in then)


def apply(shape, perm: Perm | None) -> tuple[int, ...]:
    return tuple(shape) if perm is None else tuple(shape[a] for a in perm)


def same_bytes(logical_shape, p: Perm, q: Perm) -> bool:
    """True when layouts ``p`` and ``q`` of a tensor hold its elements in the same order."""
    big_p = [a for a in p if logical_shape[a] != 1]
    big_q = [a for a in q if logical_shape[a] != 1]
    return big_p == big_q


class LayoutPass:
    """Runs the layout assignment over one graph (see the module docstring)."""

    name = "layout"

    def __init__(self, keep_io_layout: bool = False):
        self.keep_io_layout = keep_io_layout
        self.logical: dict[int, tuple[int, ...]] = {}
        self._cache: dict[tuple[int, Perm], Value] = {}
        self.io_layout: dict[str, str] = {}

    # -- helpers the op converters' layout() methods use ----------------------------

    def perm(self, v: Value | None) -> Perm | None:
        if v is None or v.is_constant:
            return None
        return v.perm if v.perm is not None else identity(len(self.logical_shape(v)))

    def logical_shape(self, v: Value) -> tuple[int, ...]:
        return self.logical.get(id(v), v.shape)

    def identity(self, v: Value | None) -> Perm | None:
        if v is None or v.shape is None:
            return None
        return identity(len(self.logical_shape(v)))

    def same_bytes(self, v: Value, target: Perm) -> bool:
        cur = self.perm(v)
        return cur is None or same_bytes(self.logical_shape(v), cur, target)

    # -- the pass --------------------------------------------------------------------

    def __call__(self, g: Graph) -> None:
        self.graph = g
        for v in g.values():
            if v.shape is None:
                who = v.producer.describe() if v.producer else "graph input"
                raise ConversionError(f"[layout] {who}: tensor {v.name!r} has no static shape after shape inference")
            self.logical[id(v)] = tuple(v.shape)
        for v in g.inputs:
            p = identity(len(v.shape))
            if not self.keep_io_layout and len(v.shape) in (3, 4, 5) and self._wants_channels_last(g, v):
                p = channels_last(len(v.shape))
            self._set(v, p)
            self.io_layout[v.name] = _layout_name(p)
        for node in list(g.nodes):
            self._visit(g, node)
        for i, v in enumerate(list(g.outputs)):
            cur = self.perm(v) or identity(len(v.shape))
            want = identity(len(cur))
            if not self.keep_io_layout and len(cur) in (3, 4, 5) and cur == channels_last(len(cur)):
                want = cur
            if v.is_constant:
                want = identity(len(cur))
            elif cur != want:
                new = self._materialize(g, v, want, None)
                new.name, v.name = v.name, new.name  # the output keeps its public name
                g.outputs[i] = new
            self.io_layout[g.outputs[i].name] = _layout_name(want)
        _drop_identities(g)

    def _visit(self, g: Graph, node: Node) -> None:
        if node.ann.physical:
            return
        conv = registry.get(node)
        if conv is None:
            raise ConversionError(f"[layout] {node.describe()}: no converter registered")
        perms = [self.perm(v) for v in node.inputs]
        try:
            plan = conv.layout(node, perms, self)
        except (ValueError, IndexError, KeyError) as e:
            raise ConversionError(f"[layout] {node.describe()}: {e}") from e
        for i, want in enumerate(plan.inputs):
            v = node.inputs[i] if i < len(node.inputs) else None
            if v is None or want is None:
                continue
            if v.is_constant:
                node.inputs[i] = self._const_in_layout(g, v, want)
            elif self.perm(v) != tuple(want):
                node.inputs[i] = self._materialize(g, v, tuple(want), node)
        for v, p in zip(node.outputs, plan.outputs):
            if p is not None:
                self._set(v, tuple(p))

    def _set(self, v: Value, p: Perm) -> None:
        logical = self.logical_shape(v)
        v.perm = None if p == identity(len(p)) else p
        v.shape = apply(logical, p)

    def _const_in_layout(self, g: Graph, v: Value, want: Perm) -> Value:
        data = v.data
        if data.ndim < len(want):
            data = data.reshape((1,) * (len(want) - data.ndim) + data.shape)  # numpy broadcasting
        if data.ndim != len(want) or tuple(want) == identity(len(want)):
            return v if data is v.data else g.const(data, v.name)
        return g.const(np.ascontiguousarray(data.transpose(want)), v.name)

    def _materialize(self, g: Graph, v: Value, want: Perm, before: Node | None) -> Value:
        cur = self.perm(v)
        key = (id(v), want)
        if key in self._cache:
            return self._cache[key]
        logical = self.logical_shape(v)
        out = g.new_value(f"{v.name}_{_layout_name(want).lower()}", apply(logical, want), v.dtype)
        self.logical[id(out)] = logical
        out.perm = None if want == identity(len(want)) else want
        if same_bytes(logical, cur, want):
            shape = g.const(np.array(out.shape, np.int32), f"{out.name}_shape")
            node = g.add_node("Reshape", [v, shape], [out], before=before)
            node.ann.physical = True
        else:
            t = compose(inverse(cur), want)
            node = g.add_node("Transpose", [v], [out], {"perm": list(t)}, before=before)
            node.ann.physical = True
        if before is None:
            g.toposort()
        self._cache[key] = out
        return node.outputs[0]

    def _wants_channels_last(self, g: Graph, v: Value, depth: int = 0) -> bool:
        from edgelite.converter.ops.layout_rules import ChannelsLast, Elementwise

        cons = g.consumers().get(id(v), [])
        for n in cons:
            conv = registry.get(n)
            if isinstance(conv, ChannelsLast) and n.inputs and n.inputs[0] is v:
                return True
            if isinstance(conv, Elementwise) and depth < 3 and self._wants_channels_last(g, n.outputs[0], depth + 1):
                return True
        return False


def _layout_name(p: Perm) -> str:
    r = len(p)
    if p == identity(r):
        return {3: "NCW", 4: "NCHW", 5: "NCDHW"}.get(r, "ONNX")
    if p == channels_last(r):
        return {3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(r, "CHANNELS_LAST")
    return "PERM" + "".join(map(str, p))


def _drop_identities(g: Graph) -> None:
    """Remove nodes the layout pass turned into no-ops (absorbed ONNX Transposes)."""
    for node in list(g.nodes):
        if node.op_type == "Identity" and node.ann.absorbed:
            src, dst = node.inputs[0], node.outputs[0]
            g.remove_node(node)
            if g.is_output(dst) and (g.is_output(src) or src in g.inputs or src.is_constant):
                # Keep a real op so the output stays a distinct tensor.
                shape = g.const(np.array(dst.shape, np.int32), f"{dst.name}_shape")
                g.add_node("Reshape", [src, shape], [dst]).ann.physical = True
                continue
            g.replace_uses(dst, src)
    g.toposort()
