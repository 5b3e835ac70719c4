"""The ``expand_functions`` pass: an op edgelite has no converter for, but that ONNX
defines as a function of other ops (``LinearAttention``, ``CausalConvWithState``,
``FlexAttention``, window functions...), is replaced by that definition.

The body comes from the op's schema at the model's opset (``OpSchema`` functions,
or context-dependent ones built for the node's attributes and input types, as ONNX
Runtime and the ONNX test suite's ``_expanded`` models do); attribute references
(``@alpha``) take the node's attribute values; the nodes join the graph before the
original one, then shape inference and folding run again. Ops with a converter are
never expanded, and an expanded body with unsupported ops is refused by the support
check naming those ops.

Example:
    >>> from edgelite.converter.passes.functions import function_body
    >>> function_body("NoSuchOp", "", 17, None) is None
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph, Node

_MAX_ROUNDS = 8


def expand_functions(g: Graph) -> None:
    from edgelite.converter.ops import registry
    from edgelite.converter.passes.fold import dead_code_elimination, shape_inference_and_folding

    for _ in range(_MAX_ROUNDS):
        changed = False
        for node in list(g.nodes):
            if node.domain == "edgelite" or node.op_type == "Custom" or registry.get(node) is not None:
                continue
            if any(v is not None and v.dtype is None for v in node.inputs):
                continue
            opset = g.opsets.get(node.domain or "", g.opsets.get("ai.onnx", 0) if node.domain in ("", "ai.onnx") else 0)
            fp = function_body(node.op_type, node.domain, opset, node)
            if fp is None:
                continue
            _inline(g, node, fp, opset)
            changed = True
        if not changed:
            return
        shape_inference_and_folding(g)
        dead_code_elimination(g)


def _type_proto(v):
    from onnx import TypeProto, helper

    if v is None or v.dtype is None:
        return TypeProto()
    return helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype)),
                                         None if v.shape is None else list(v.shape))


def function_body(op_type: str, domain: str, opset: int, node: Node | None):
    """The ``FunctionProto`` defining ``op_type`` at ``opset`` for ``node``, or None."""
    import onnx
    from onnx import FunctionProto, helper

    from edgelite.converter.passes.fold import _onnx_attr

    try:
        schema = onnx.defs.get_schema(op_type, max(opset, 1), domain=domain or "")
    except onnx.defs.SchemaError:
        return None
    fp = FunctionProto()
    if schema.has_context_dependent_function and node is not None:
        versions = [v for v in schema.context_dependent_function_opset_versions if v <= opset] or \
            list(schema.context_dependent_function_opset_versions)
        attrs = {k: _onnx_attr(a) for k, a in node.attrs.items() if not k.startswith("_")}
        proto = helper.make_node(op_type, [v.name if v is not None else "" for v in node.inputs],
                                 [o.name for o in node.outputs], domain=domain or None, **attrs)
        types = [_type_proto(v).SerializeToString() for v in node.inputs]
        try:
            data = schema.get_context_dependent_function_with_opset_version(max(versions), proto.SerializeToString(), types)
        except (RuntimeError, ValueError, onnx.defs.SchemaError):
            return None
        if not data:
            return None
        fp.ParseFromString(data)
        return fp if len(fp.node) else None
    if schema.has_function:
        versions = [v for v in schema.function_opset_versions if v <= opset] or list(schema.function_opset_versions)
        fp.ParseFromString(schema.get_function_with_opset_version(max(versions)))
        return fp if len(fp.node) else None
    return None


def _defaults(node: Node, opset: int) -> dict:
    """The schema's default attribute values (what an ``@ref`` to an unset attribute means)."""
    import onnx

    from edgelite.converter.frontend import _attr_value

    schema = onnx.defs.get_schema(node.op_type, max(opset, 1), domain=node.domain or "")
    out = {}
    for name, attr in schema.attributes.items():
        d = attr.default_value
        if d is not None and d.type != 0:
            out[name] = _attr_value(d)
    return out


def _inline(g: Graph, node: Node, fp, opset: int) -> None:
    from edgelite.converter.control_flow import add_captures
    from edgelite.converter.frontend import _attr_value, _constant_value

    given = {**_defaults(node, opset), **node.attrs}
    env: dict = {}
    for i, name in enumerate(fp.input):
        env[name] = node.inputs[i] if i < len(node.inputs) else None
    prefix = f"{node.name}__"
    for n in fp.node:
        attrs = {}
        for a in n.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in given:
                    attrs[a.name] = given[a.ref_attr_name]
                continue  # an optional attribute without a default: left out
            attrs[a.name] = _attr_value(a)
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            c = _constant_value(n.output[0], attrs)
            env[n.output[0]] = g.const(c.data, prefix + n.output[0])
            continue
        ins = [None if (nm == "" or env.get(nm, None) is None and nm in env) else env.get(nm) for nm in n.input]
        missing = [nm for nm in n.input if nm and nm not in env]
        if missing:
            from edgelite.errors import ConversionError

            raise ConversionError(f"[expand_functions] {node.describe()}: its ONNX function reads {missing}, "
                                  "which the function does not define")
        new = g.add_node(n.op_type, ins, [prefix + (o or "unused") for o in n.output], attrs,
                         name=prefix + (n.name or n.op_type), domain=n.domain, before=node)
        for nm, v in zip(n.output, new.outputs):
            if nm:
                env[nm] = v
        add_captures(new, env)
    g.remove_node(node)
    for i, name in enumerate(fp.output):
        if i >= len(node.outputs):
            break
        new = env.get(name)
        old = node.outputs[i]
        if new is None:
            continue
        if (new.producer is None or new.is_constant) and g.is_output(old):
            g.add_node("Identity", [new], [old])  # an input or constant returned as a graph output
            continue
        g.replace_uses(old, new)
    g.toposort()
