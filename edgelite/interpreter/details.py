"""LiteRT-style detail dictionaries, made only at the API edge.

Inside the interpreter tensors are ``TensorSpec`` dataclasses; ``get_input_details()``
and friends turn them into the dicts LiteRT's Python ``Interpreter`` returns, with the
same keys, value types and dtypes, so code written for LiteRT reads them unchanged:

``name`` str, ``index`` int, ``shape`` and ``shape_signature`` int32 arrays, ``dtype``
a numpy scalar type (``np.float32``), ``quantization`` ``(scale: float, zero_point:
int)`` (``(0.0, 0)`` unless quantized per tensor), ``quantization_parameters``
``{scales: float32 array, zero_points: int32 array, quantized_dimension: int,
block_size: int}`` and ``sparsity_parameters`` (``{}`` for dense tensors).

Example:
    >>> import numpy as np
    >>> from edgelite.schema import read_model
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.interpreter.graph import load_subgraph
    >>> from edgelite.interpreter.details import tensor_details
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 4), np.int8, quant=(0.5, 3))
    >>> b.mark_output(x)
    >>> d = tensor_details(load_subgraph(read_model(b.build()), 0).tensors[0], (1, 4))
    >>> d["dtype"], d["quantization"]
    (<class 'numpy.int8'>, (0.5, 3))
"""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.graph import OpNode, SubgraphSpec, TensorSpec

_EMPTY_F32 = np.zeros(0, np.float32)
_EMPTY_I32 = np.zeros(0, np.int32)


def _sparsity_dict(sp) -> dict:
    if sp is None:
        return {}
    dims = []
    for dm in sp.dim_metadata:
        if dm.format == 0:
            dims.append({"format": 0, "dense_size": int(dm.dense_size)})
        else:
            dims.append(
                {
                    "format": int(dm.format),
                    "array_segments": np.asarray(dm.array_segments, np.int32),
                    "array_indices": np.asarray(dm.array_indices, np.int32),
                }
            )
    return {
        "traversal_order": np.asarray(sp.traversal_order, np.int32),
        "block_map": np.asarray(sp.block_map, np.int32),
        "dim_metadata": dims,
    }


def tensor_details(t: TensorSpec, shape: tuple[int, ...] | None) -> dict:
    """The detail dict of tensor ``t`` whose current shape is ``shape`` (see the module example)."""
    q = t.quantization
    if q is not None and len(q.scale):
        scales = np.asarray(q.scale, np.float32).copy()
        zps = np.asarray(q.zero_point, np.int64).astype(np.int32)
        qdim = int(q.quantized_dimension)
    else:
        scales, zps, qdim = _EMPTY_F32.copy(), _EMPTY_I32.copy(), 0
    if scales.size == 1:
        quantization = (float(scales[0]), int(zps[0]) if zps.size else 0)
    else:
        quantization = (0.0, 0)
    shape = t.shape if shape is None else shape
    return {
        "name": t.name,
        "index": int(t.index),
        "shape": np.asarray(shape, dtype=np.int32),
        "shape_signature": np.asarray(t.shape_signature, dtype=np.int32),
        "dtype": _scalar_type(t),
        "quantization": quantization,
        "quantization_parameters": {
            "scales": scales,
            "zero_points": zps,
            "quantized_dimension": qdim,
            "block_size": 0,
        },
        "sparsity_parameters": _sparsity_dict(t.sparsity),
    }


def _scalar_type(t: TensorSpec) -> type:
    if t.dtype == np.dtype(object):
        return np.bytes_  # STRING tensors, as LiteRT reports them
    return t.dtype.type


def op_details(spec: SubgraphSpec, op: OpNode) -> dict:
    """LiteRT's ``_get_op_details`` dict for one operator."""
    ins = np.asarray(op.inputs, np.int32)
    outs = np.asarray(op.outputs, np.int32)
    return {
        "index": int(op.index),
        "op_name": op.name,
        "inputs": ins,
        "outputs": outs,
        "operand_types": [_scalar_type(spec.tensors[i]) for i in op.inputs if i != -1],
        "result_types": [_scalar_type(spec.tensors[i]) for i in op.outputs if i != -1],
    }
