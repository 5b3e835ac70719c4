"""Outer values that ONNX control-flow bodies read by name.

An ``If``/``Loop``/``Scan`` body may read any value of the enclosing graphs by name
without listing it among the node's inputs (silero-vad's ``If`` branches read the graph
input ``state``). The front end makes those values explicit inputs of the node, after
its own, with their body names in ``node.ann.captures``
(``converter.control_flow.add_captures``), so passes see what the node depends on:
folding leaves it alone unless every one is constant, dead-code elimination keeps their
producers, and ``Graph.replace_uses`` rewires them like any input (the body keeps
reading its name, which now maps to the new value).

Example:
    >>> from onnx import helper, TensorProto
    >>> body = helper.make_graph([helper.make_node("Neg", ["state"], ["o"])], "b", [],
    ...                          [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])])
    >>> node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body)
    >>> subgraph_reads(node.attribute)
    ['state']
"""

from __future__ import annotations

from collections.abc import Iterable

def subgraph_reads(attributes: Iterable) -> list[str]:
    """Names of outer values read by the GRAPH/GRAPHS attributes among ``attributes``.

    Nested bodies count; names a body defines itself (its inputs, initializers and
    node outputs) do not; a body output that is an outer value counts too. Each name
    appears once, in order of first use.
    """
    reads: list[str] = []
    for sub in _graphs(attributes):
        _graph_reads(sub, reads)
    return reads


def graph_reads(graph) -> list[str]:
    """Names one ``GraphProto`` reads without defining them (what ``subgraph_reads`` finds per body)."""
    return _graph_reads(graph, [])


def _graph_reads(graph, reads: list[str]) -> list[str]:
    seen = set(reads)

    def note(name: str) -> None:
        if name not in seen:
            seen.add(name)
            reads.append(name)

    def walk(g, outer_defined: frozenset[str]) -> set[str]:
        defined = set(outer_defined)
        defined.update(i.name for i in g.input)
        defined.update(t.name for t in g.initializer)
        defined.update(t.values.name for t in g.sparse_initializer)
        for n in g.node:
            for name in n.input:
                if name and name not in defined:
                    note(name)
            for sub in _graphs(n.attribute):
                walk(sub, frozenset(defined))
            defined.update(n.output)
        for o in g.output:
            if o.name not in defined:
                note(o.name)
        return defined

    walk(graph, frozenset())
    return reads


def _graphs(attributes: Iterable) -> list:
    from onnx import AttributeProto

    out = []
    for a in attributes:
        if isinstance(a, AttributeProto):
            if a.type == AttributeProto.GRAPH:
                out.append(a.g)
            elif a.type == AttributeProto.GRAPHS:
                out.extend(a.graphs)
    return out
