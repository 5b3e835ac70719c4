"""ONNX control flow (If, Loop, Scan) in the converter: captures, inlining, bodies.

ONNX bodies read outer values by name ("outer scope"); TFLite subgraphs see only
their inputs. So:

* the front end turns every outer name a body reads into an explicit extra input of
  the If/Loop/Scan node (of any node with bodies: SequenceMap too; ``ann.captures``
  keeps the names the body uses), so the passes see, keep, fold and rewire those
  values like any other input;
* an If whose condition folds to a constant is inlined: the chosen branch's nodes join
  the outer graph (``inline_if``, called by constant folding);
* an If with a run-time condition becomes TFLite ``IF``; Loop and Scan become one
  ``edgelite::While`` node (``rewrite_loops``, a pass) whose cond and body are ONNX
  graphs built here around the original body: the iteration counter, the trip count,
  the scan inputs (read with ``Gather``) and the scan outputs (grown with ``Concat``,
  one dummy row first, cut off after the loop) are ordinary loop values;
* every body is converted by the same converter (``convert_body``: front end, passes
  with the ONNX layout at its inputs/outputs, lowering) and its TFLite subgraphs are
  appended to the model (``attach_subgraphs``), nested control flow included.

Which outer names a body reads is ``subgraphs.graph_reads``.

Example:
    >>> from onnx import helper
    >>> body = helper.make_graph([helper.make_node("Add", ["a", "outer"], ["b"])], "b", [], [])
    >>> graph_reads(body)
    ['a', 'outer']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.converter.ir import Graph, Node, Value
from edgelite.converter.subgraphs import graph_reads, subgraph_reads
from edgelite.errors import ConversionError

CONTROL_FLOW = ("If", "Loop", "Scan")
# (op attribute names holding bodies)
_BODY_ATTRS = {"If": ("then_branch", "else_branch"), "Loop": ("body",), "Scan": ("body",)}
# Prefix of names this module invents inside wrapper graphs.
_P = "__edgelite_cf_"


def is_control_flow(node: Node) -> bool:
    return node.op_type in CONTROL_FLOW and node.domain in ("", "ai.onnx")


def n_real_inputs(node: Node) -> int:
    """Inputs of the ONNX node itself (the captures follow them)."""
    return len(node.inputs) - len((node.ann.captures or ()))


def body(node: Node, attr: str):
    """The ``GraphProto`` of one body attribute."""
    return node.attrs[attr].g


# -- captures (front end) ----------------------------------------------------------------


def add_captures(node: Node, env: dict[str, Value]) -> None:
    """Make the outer values ``node``'s bodies read explicit inputs, after its own, and
    keep their body names in ``node.ann.captures`` (front end hook; every node with
    GRAPH attributes, control flow or not)."""
    names: list[str] = []
    if is_control_flow(node):
        for attr in _BODY_ATTRS[node.op_type]:
            if attr not in node.attrs:
                raise ConversionError(f"[frontend] {node.describe()}: attribute {attr!r} missing")
            for name in graph_reads(body(node, attr)):
                if name not in names:
                    names.append(name)
    else:
        names = subgraph_reads(node.attrs.values())
        if not names:
            return
    missing = [n for n in names if n not in env]
    if missing:
        raise ConversionError(f"[frontend] {node.describe()}: its body reads {missing}, which nothing outside defines")
    node.inputs.extend(env[n] for n in names)
    node.ann.captures = names


# -- importing body nodes into a graph (inlining) -----------------------------------------


def import_nodes(g: Graph, graph_proto, env: dict[str, Value], before: Node | None) -> dict[str, Value]:
    """Add ``graph_proto``'s initializers and nodes to ``g`` (before ``before``), reading
    outer names from ``env``; returns ``env`` extended with the body's values."""
    from onnx import numpy_helper

    from edgelite.converter.frontend import _attr_value, _constant_value, node_inputs

    env = dict(env)
    for init in graph_proto.initializer:
        env[init.name] = g.const(numpy_helper.to_array(init), init.name)
    for n in graph_proto.node:
        attrs = {a.name: _attr_value(a) for a in n.attribute}
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            c = _constant_value(n.output[0], attrs)
            env[n.output[0]] = g.const(c.data, n.output[0])
            continue
        node = g.add_node(n.op_type, node_inputs(n, env, "inline"), [o or f"{n.name}_unused" for o in n.output], attrs,
                          name=n.name or n.op_type, domain=n.domain, before=before)
        for name, v in zip(n.output, node.outputs):
            if name:
                env[name] = v
        add_captures(node, env)
    return env


def inline_if(g: Graph, node: Node) -> bool:
    """Replace an If whose condition is a constant by its chosen branch; True when done."""
    cond = node.inputs[0]
    if cond is None or not cond.is_constant:
        return False
    data = np.asarray(cond.data).reshape(-1)
    if data.size != 1:
        raise ConversionError(f"[constant_folding] {node.describe()}: condition has {data.size} elements, not 1")
    branch = body(node, "then_branch" if bool(data[0]) else "else_branch")
    names = (node.ann.captures or [])
    env = dict(zip(names, node.inputs[n_real_inputs(node):]))
    env = import_nodes(g, branch, env, before=node)
    results = []
    for o in branch.output:
        if o.name not in env:
            raise ConversionError(f"[constant_folding] {node.describe()}: branch output {o.name!r} is never written")
        results.append(env[o.name])
    g.remove_node(node)
    for old, new in zip(node.outputs, results):
        if new.producer is None and not new.is_constant and g.is_output(old):
            # A branch returning an outer value unchanged as a graph output: keep a node writing it.
            g.add_node("Identity", [new], [old])
            continue
        g.replace_uses(old, new)
    g.toposort()
    return True


# -- converting bodies ----------------------------------------------------------------------


@dataclass
class BodyIO:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


def body_model(graph_proto, inputs: list[BodyIO], consts: dict[str, np.ndarray], opsets: dict[str, int]):
    """A standalone ``ModelProto``: ``graph_proto`` with ``inputs`` declared and ``consts``
    as initializers (the constant outer values it reads)."""
    import onnx
    from onnx import helper, numpy_helper

    g = onnx.GraphProto()
    g.CopyFrom(graph_proto)
    del g.input[:]
    for i in inputs:
        g.input.append(helper.make_tensor_value_info(i.name, helper.np_dtype_to_tensor_dtype(i.dtype), list(i.shape)))
    for name, arr in consts.items():
        g.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
    # An output that is an input or a constant (a value passed through unchanged) gets
    # its own name: ONNX inference would read the output's declaration as the input's.
    given = {i.name for i in inputs} | {i.name for i in g.initializer} | set(consts)
    for o in g.output:
        if o.name in given:
            alias = f"{_P}out_{o.name}"
            g.node.append(helper.make_node("Identity", [o.name], [alias]))
            o.name = alias
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items() if d != "ai.onnx"])
    m.ir_version = 8
    return m


def convert_body(model_proto, where: str):
    """Convert one body to a TFLite ``Model`` (its own nested subgraphs attached).

    Returns ``(model, graph)``: ``graph`` is the body's IR after the passes (its output
    values carry the inferred shapes and dtypes).
    """
    from edgelite.converter.api import lower_graph
    from edgelite.converter.frontend import import_onnx
    from edgelite.converter.lower import build_model
    from edgelite.converter.passes import pipeline, run_pipeline
    from edgelite.errors import UnsupportedOperatorError

    g = import_onnx(model_proto)
    try:
        run_pipeline(g, pipeline(keep_io_layout=True))
        out = lower_graph(g)
    except UnsupportedOperatorError as e:
        raise UnsupportedOperatorError(f"in the body of {where}: {e}", getattr(e, "ops", None)) from e
    except ConversionError as e:
        raise ConversionError(f"in the body of {where}: {e}") from e
    model = build_model(g, out.ops, {}, "")
    model.metadata.clear()
    attach_subgraphs(model, out.subgraphs)
    return model, g


def attach_subgraphs(main, bodies: list) -> None:
    """Append every subgraph of each body ``Model`` to ``main`` (buffers and opcodes
    merged; the control-flow options inside a body shifted to the new indices)."""
    for body_model_ in bodies:
        base = len(main.subgraphs)
        buf_map = {0: 0}
        code_map: dict[int, int] = {}
        for k, code in enumerate(body_model_.operator_codes):
            key = (code.builtin_code, code.custom_code, code.version)
            for j, c in enumerate(main.operator_codes):
                if (c.builtin_code, c.custom_code, c.version) == key:
                    code_map[k] = j
                    break
            else:
                main.operator_codes.append(code)
                code_map[k] = len(main.operator_codes) - 1
        for sg in body_model_.subgraphs:
            for t in sg.tensors:
                if t.buffer not in buf_map:
                    main.buffers.append(body_model_.buffers[t.buffer])
                    buf_map[t.buffer] = len(main.buffers) - 1
                t.buffer = buf_map[t.buffer]
            for op in sg.operators:
                op.opcode_index = code_map[op.opcode_index]
                _shift_subgraph_options(op.builtin_options, base)
            main.subgraphs.append(sg)


def _shift_subgraph_options(opts, base: int) -> None:
    # A body's own subgraph k becomes base + k in the merged model.
    for attr in ("thenSubgraphIndex", "elseSubgraphIndex", "condSubgraphIndex", "bodySubgraphIndex",
                 "initSubgraphIndex"):
        if opts is not None and hasattr(opts, attr):
            setattr(opts, attr, getattr(opts, attr) + base)


def next_subgraph_index(out) -> int:
    """The model index the next body appended to ``out.subgraphs`` will get."""
    return 1 + sum(len(b.subgraphs) for b in out.subgraphs)
