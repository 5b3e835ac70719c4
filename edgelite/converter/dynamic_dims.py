"""Symbolic input dimensions kept dynamic (``shape_signature`` -1) when the graph allows it.

The converter works on static shapes: every pass and op converter may use them
(constant folding of ``Shape``, reshape targets, broadcasting decisions). So a model
with symbolic dimensions is converted twice, with two different sizes for each symbol
(*probes*). When the two ``.tflite`` models are the same except for tensor shapes
(same operators, options and constant bytes), nothing in the file depends on the
symbols' values: the first probe's model is kept, every dimension that differs between
the probes becomes -1 in ``shape_signature`` (and 1 in ``shape``), and LiteRT and the
interpreter size everything again after ``resize_tensor_input``. When the models
differ (a reshape target computed from the shape, say), the caller falls back to fixed
shapes (``input_shapes``; a leading batch dimension defaults to 1).

Example:
    >>> import onnx
    >>> from onnx import helper, TensorProto
    >>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])])
    >>> symbolic_dims(helper.make_model(g), {})
    {'x': [(0, 'n')]}
"""

from __future__ import annotations

# Sizes given to the k-th distinct symbol in the two probe conversions: small, distinct
# from each other, from 1 (broadcasting) and between the probes.
_PROBES = ((2, 3, 5, 7, 11, 13, 17, 19), (3, 5, 7, 11, 13, 17, 19, 23))


def symbolic_dims(proto, input_shapes: dict) -> dict[str, list[tuple[int, str]]]:
    """``{input: [(axis, symbol), ...]}`` for the graph inputs' non-fixed dimensions that
    ``input_shapes`` does not fix (an unnamed dimension gets a symbol of its own)."""
    initializers = {i.name for i in proto.graph.initializer}
    out: dict[str, list[tuple[int, str]]] = {}
    for vi in proto.graph.input:
        if vi.name in initializers or vi.name in input_shapes or not vi.type.HasField("tensor_type"):
            continue
        if not vi.type.tensor_type.HasField("shape"):
            continue
        dims = [(i, d.dim_param or f"{vi.name}:{i}") for i, d in enumerate(vi.type.tensor_type.shape.dim)
                if not (d.HasField("dim_value") and d.dim_value > 0)]
        if dims:
            out[vi.name] = dims
    return out


def probe_shapes(proto, symbolic: dict[str, list[tuple[int, str]]], probe: int) -> dict[str, tuple[int, ...]] | None:
    """``input_shapes`` for probe 0 or 1 (None when there are more symbols than probe sizes)."""
    symbols = sorted({s for dims in symbolic.values() for _, s in dims})
    if len(symbols) > len(_PROBES[0]):
        return None
    size = {s: _PROBES[probe][k] for k, s in enumerate(symbols)}
    shapes = {}
    for vi in proto.graph.input:
        if vi.name not in symbolic:
            continue
        dims = [int(d.dim_value) for d in vi.type.tensor_type.shape.dim]
        for axis, s in symbolic[vi.name]:
            dims[axis] = size[s]
        shapes[vi.name] = tuple(dims)
    return shapes


def _bytes_without_shapes(model) -> bytes:
    """The model written with every tensor's shape blanked (restored afterwards)."""
    from edgelite.schema import write_model

    saved = [(t, t.shape, t.shape_signature) for sg in model.subgraphs for t in sg.tensors]
    try:
        for t, _, _ in saved:
            t.shape, t.shape_signature = (), None
        return write_model(model)
    finally:
        for t, shape, sig in saved:
            t.shape, t.shape_signature = shape, sig


def merge_probes(a, b):
    """Model ``a``, changed in place to carry -1 in ``shape_signature`` wherever ``a`` and
    ``b`` differ in shape; None when they differ in anything else (the graph depends on
    the sizes) or when a dynamic dimension could make a reduction empty."""
    if len(a.subgraphs) != len(b.subgraphs) or _bytes_without_shapes(a) != _bytes_without_shapes(b):
        return None
    if _empty_sensitive_reduction(a, b):
        return None
    for sg, sg_b in zip(a.subgraphs, b.subgraphs):
        for t, t_b in zip(sg.tensors, sg_b.tensors):
            if len(t.shape) != len(t_b.shape):
                return None
    for sg, sg_b in zip(a.subgraphs, b.subgraphs):
        for t, t_b in zip(sg.tensors, sg_b.tensors):
            sig = tuple(-1 if x != y else int(x) for x, y in zip(t.shape, t_b.shape))
            if -1 in sig:
                t.shape_signature = sig
                t.shape = tuple(1 if d == -1 else d for d in sig)
    return a


def _empty_sensitive_reduction(a, b) -> bool:
    """A REDUCE_MAX / REDUCE_MIN over a dimension that may be resized to 0: LiteRT then
    gives the type's lowest / highest value where ONNX gives -inf / inf, so such a graph
    keeps fixed shapes rather than risk a wrong answer."""
    import numpy as np

    for sg, sg_b in zip(a.subgraphs, b.subgraphs):
        for op in sg.operators:
            if a.opcode_name(op) not in ("REDUCE_MAX", "REDUCE_MIN") or len(op.inputs) < 2:
                continue
            x, x_b, axes_t = sg.tensors[op.inputs[0]], sg_b.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
            data = a.buffers[axes_t.buffer].data if axes_t.buffer else None
            if data is None or len(data) == 0:
                return True  # run-time axes: any dimension may be reduced
            axes = np.frombuffer(bytes(data), dtype=axes_t.numpy_dtype)
            if any(x.shape[int(d) % len(x.shape)] != x_b.shape[int(d) % len(x.shape)] for d in axes):
                return True
    return False
