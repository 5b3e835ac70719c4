"""Weight-only quantization: dynamic range (int8 weights, hybrid kernels) and float16.

Neither needs calibration. ``dynamic`` stores the weights of CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, BATCH_MATMUL and EMBEDDING_LOOKUP as int8 (symmetric; per channel for
the convolutions) and lets LiteRT's hybrid kernels quantize activations on the fly, as
TFLite's dynamic-range quantization does. ``float16`` stores every float32 constant as
float16 and adds a DEQUANTIZE (float16 -> float32) operator for each, at the start.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema import read_model
    >>> from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 4), np.float32)
    >>> w = b.add_constant("w", np.ones((2, 4), np.float32)); y = b.add_tensor("y", (1, 2), np.float32)
    >>> _ = b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], FullyConnectedOptionsT()); b.mark_output(y)
    >>> q = quantize_float16(read_model(b.build()))
    >>> [q.opcode_name(op) for op in q.subgraphs[0].operators]
    ['DEQUANTIZE', 'FULLY_CONNECTED']
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from edgelite.quantize.graph import GraphEditor, qparams
from edgelite.quantize.numerics import symmetric_weights
from edgelite.quantize.versions import min_runtime_version, op_version
from edgelite.schema.model import Model, TensorType
from edgelite.schema.op_facts import WEIGHTS

_LOG = logging.getLogger(__name__)
_F16_MAX = float(np.finfo(np.float16).max)

_F32 = TensorType.FLOAT32
# op -> (weight input position, per-channel dimension or None): per channel only for the
# convolutions, as TFLite's dynamic-range quantizer does.
_DYNAMIC = {
    op: (WEIGHTS[op].weight_input, WEIGHTS[op].channel_axis if op in ("CONV_2D", "DEPTHWISE_CONV_2D") else None)
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "EMBEDDING_LOOKUP")
}


def _set_runtime_version(g: GraphEditor) -> None:
    versions = [(g.op_name(op), g.model.operator_codes[op.opcode_index].version) for op in g.ops]
    rt = min_runtime_version(versions)
    if rt is not None:
        g.add_metadata("min_runtime_version", rt.encode().ljust(16, b"\0"))


def quantize_dynamic(model: Model, *, min_elements: int = 1024, per_channel: bool = True,
                     keep_float=()) -> Model:
    """Dynamic-range quantization of ``model`` (not modified).

    Args:
        model: float model.
        min_elements: weights with fewer elements stay float.
        per_channel: per-channel int8 weights for CONV_2D / DEPTHWISE_CONV_2D.
        keep_float: tensor or operator-type names whose operators stay float.
    """
    g = GraphEditor(model)
    keep = set(keep_float)
    cache: dict[tuple[int, int | None], int] = {}
    for op in g.source_ops:
        name = g.op_name(op)
        rule = _DYNAMIC.get(name)
        outs = [g.tensors[o].name for o in op.outputs]
        if rule is None or name in keep or any(n in keep for n in outs):
            g.emit_copy(op)
            continue
        pos, dim = rule
        if not per_channel:
            dim = None
        w = op.inputs[pos] if len(op.inputs) > pos else -1
        data = g.const_data(w)
        x = op.inputs[0] if name != "EMBEDDING_LOOKUP" else -1
        if (data is None or g.tensors[w].type != _F32 or data.size < min_elements
                or (x >= 0 and g.tensors[x].type != _F32)):
            g.emit_copy(op)
            continue
        key = (w, dim)
        if key not in cache:
            q, scales = symmetric_weights(data, dim, 8)
            cache[key] = g.add_constant(g.tensors[w].name, q, qparams(scales, np.zeros(len(scales), np.int64), dim or 0))
        inputs = list(op.inputs)
        inputs[pos] = cache[key]
        options = op.builtin_options
        if name in ("FULLY_CONNECTED", "BATCH_MATMUL") and options is not None:
            options = copy.copy(options)
            options.asymmetricQuantizeInputs = True
        types_in = [g.tensors[i].type for i in inputs if i >= 0]
        if name == "EMBEDDING_LOOKUP":
            types_in = [TensorType.INT32, TensorType.INT8]
        version = op_version(name, types_in, [_F32], options, per_channel=dim is not None,
                             num_inputs=len(inputs))
        g.emit_copy(op, inputs, version=version, options=options)
    _set_runtime_version(g)
    return g.finish()


def quantize_float16(model: Model) -> Model:
    """Store every float32 constant of subgraph 0 as float16 behind a DEQUANTIZE.

    A constant with finite values beyond float16's range (65504) stays float32 (with a
    warning): stored as float16 it would become infinities.
    """
    g = GraphEditor(model)
    used = {i for op in g.source_ops for i in op.inputs if i >= 0}
    for t in sorted(used):
        tensor = g.tensors[t]
        data = g.const_data(t)
        if tensor.type != _F32 or data is None or tensor.sparsity is not None:
            continue
        finite = np.asarray(data)[np.isfinite(data)]
        if finite.size and float(np.max(np.abs(finite))) > _F16_MAX:
            # float16 would turn these values into infinities: a silently wrong model
            _LOG.warning("float16: %s keeps float32 (|values| up to %.3g exceed float16's %.0f)",
                         tensor.name, float(np.max(np.abs(finite))), _F16_MAX)
            continue
        half = g.add_constant(tensor.name + "_fp16", np.asarray(data, np.float16))
        tensor.buffer = 0
        g.emit("DEQUANTIZE", [half], [t], version=op_version("DEQUANTIZE", [TensorType.FLOAT16], [_F32]))
    for op in g.source_ops:
        g.emit_copy(op)
    _set_runtime_version(g)
    return g.finish()
