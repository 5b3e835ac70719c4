"""If -> TFLite ``IF``; ``edgelite::While`` (Loop and Scan, see
``edgelite.converter.passes.control_flow``) -> TFLite ``WHILE``.

Each body is converted by the converter itself (``control_flow.convert_body``) into a
TFLite model whose subgraphs are appended to the one being written
(``Lowering.subgraphs``; ``IfOptions`` / ``WhileOptions`` name their indices). Constant
outer values a body reads become constants of its subgraph; run-time ones are passed
as operator inputs.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.control_flow import BodyIO, body, body_model, convert_body, next_subgraph_index
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.errors import ConversionError


def _options(name: str, **fields):
    import importlib

    cls = getattr(importlib.import_module(f"edgelite.schema.fb.{name}"), name + "T")
    o = cls()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def _add_body(out, model_proto, where: str, want: list) -> int:
    """Convert a body, check its output types against ``want`` values, queue it; its index."""
    model, bg = convert_body(model_proto, where)
    for k, (v, w) in enumerate(zip(bg.outputs, want)):
        if w is not None and (np.dtype(v.dtype) != np.dtype(w.dtype)):
            raise ConversionError(f"[lowering] {where}: body output {k} is {v.dtype}, expected {w.dtype}")
    index = next_subgraph_index(out)
    out.subgraphs.append(model)
    return index


@register("If")
class If(OpConverter):
    def check(self, node):
        return node.ann.cf_reason

    def lower(self, node, out):
        from edgelite.converter.passes.control_flow import if_body_inputs

        ios, consts, runtime = if_body_inputs(node)
        opsets = out.graph.opsets if out.graph is not None else {"": 13}
        where = node.describe()
        then_i = _add_body(out, body_model(body(node, "then_branch"), ios, consts, opsets), where, node.outputs)
        else_i = _add_body(out, body_model(body(node, "else_branch"), ios, consts, opsets), where, node.outputs)
        cond = node.inputs[0]
        if cond.dtype != np.bool_:
            raise ConversionError(f"[lowering] {where}: condition is {cond.dtype}, not bool")
        if cond.shape != (1,):
            c1 = out.tmp(cond.name + "_1", (1,), np.bool_)
            out.emit("RESHAPE", [cond, out.const(np.array([1], np.int32))], [c1])
            cond = c1
        out.emit("IF", [cond] + runtime, node.outputs,
                 _options("IfOptions", thenSubgraphIndex=then_i, elseSubgraphIndex=else_i))


@register("Loop", "Scan")
class LoopOrScan(OpConverter):
    """Rewritten into ``edgelite::While`` by the control_flow pass; what is left is refused."""

    def check(self, node):
        return node.ann.cf_reason or "its input shapes are not known when the loop is converted"

    def lower(self, node, out):
        raise ConversionError(f"[lowering] {node.describe()}: not rewritten by the control_flow pass")


@register("While", domain="edgelite")
class While(OpConverter):
    def lower(self, node, out):
        loop = node.ann.loop
        n = len(loop.body_names)
        ins, outs, scans = node.inputs, node.outputs[:n], node.outputs[n:]
        opsets = out.graph.opsets if out.graph is not None else {"": 13}
        where = loop.origin
        consts = loop.consts
        cond_io = [BodyIO(nm, tuple(v.shape), np.dtype(v.dtype)) for nm, v in zip(loop.cond_names, ins)]
        body_io = [BodyIO(nm, tuple(v.shape), np.dtype(v.dtype)) for nm, v in zip(loop.body_names, ins)]
        cond_i = _add_body(out, body_model(loop.cond, cond_io, {}, opsets), where, [None])
        body_i = _add_body(out, body_model(loop.body, body_io, consts, opsets), where, list(ins))
        out.emit("WHILE", list(ins), list(outs),
                 _options("WhileOptions", condSubgraphIndex=cond_i, bodySubgraphIndex=body_i))
        first = loop.acc_first
        for j, ((axis, reverse), y) in enumerate(zip(loop.accs, scans)):
            acc = outs[first + j]
            rank = len(acc.shape)
            begin = np.zeros(rank, np.int32)
            end = np.zeros(rank, np.int32)
            if reverse:
                end[axis] = -1  # drop the dummy row at the end
            else:
                begin[axis] = 1  # drop the dummy row at the start
            mask = (1 << rank) - 1
            end_mask = mask & ~(1 << axis) if reverse else mask
            out.emit("STRIDED_SLICE",
                     [acc, out.const(begin), out.const(end), out.const(np.ones(rank, np.int32))], [y],
                     _options("StridedSliceOptions", beginMask=mask & ~(1 << axis), endMask=end_mask))
