"""Lowering: the layout-assigned graph into TFLite operators, then an ``edgelite.schema`` Model.

``Lowering`` is what op converters write into: ``emit`` appends one TFLite operator
(by builtin name, with a flatc object-API options object), ``const``/``tmp`` create
constant and intermediate values. ``build_model`` then numbers tensors and buffers,
deduplicates operator codes, and writes the ``serving_default`` signature and the
metadata entries.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.lower import Lowering
    >>> out = Lowering()
    >>> c = out.const(np.zeros(3, np.float32), "zeros")
    >>> c.shape
    (3,)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.converter.ir import Graph, Value, read_counts
from edgelite.errors import ConversionError
from edgelite.schema.op_facts import model_min_runtime

# Oldest LiteRT that runs each op at the version we write (from the runtime's version table).


@dataclass
class TflOp:
    op: str  # builtin name ("CONV_2D") or "CUSTOM"
    inputs: list[Value | None]
    outputs: list[Value]
    options: Any = None
    version: int = 1
    custom_code: str | None = None
    custom_options: bytes | None = None


@dataclass
class Lowering:
    """The sink op converters write TFLite operators into."""

    ops: list[TflOp] = field(default_factory=list)
    graph: Graph | None = None
    subgraphs: list = field(default_factory=list)  # bodies of IF/WHILE (TFLite Models), in index order
    _n: int = 0

    def emit(self, op: str, inputs, outputs, options=None, version: int = 1, custom_code=None, custom_options=None):
        self.ops.append(TflOp(op, list(inputs), list(outputs), options, version, custom_code, custom_options))

    def _name(self, base: str) -> str:
        if self.graph is not None:
            return self.graph.unique_name(base)
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, array, name: str = "const") -> Value:
        a = np.asarray(array)
        a = a.copy(order="C") if not a.flags.c_contiguous else a  # (ascontiguousarray makes 0-d 1-d)
        return Value(self._name(name), tuple(a.shape), a.dtype, data=a)

    def tmp(self, name: str, shape, dtype) -> Value:
        return Value(self._name(name), tuple(int(d) for d in shape), np.dtype(dtype))


def activation_code(node) -> int:
    """``node.ann.activation`` as an ``ActivationFunctionType`` value (NONE = 0)."""
    from edgelite.schema.fb.ActivationFunctionType import ActivationFunctionType as A

    kind = node.ann.activation
    return {None: A.NONE, "RELU": A.RELU, "RELU6": A.RELU6, "RELU_N1_TO_1": A.RELU_N1_TO_1}[kind]


def _builtin_code(name: str) -> int:
    from edgelite.schema.fb.BuiltinOperator import BuiltinOperator

    try:
        return int(getattr(BuiltinOperator, name))
    except AttributeError:
        raise ConversionError(f"[lowering] unknown TFLite builtin operator {name!r}") from None


def _options_type(obj) -> int:
    from edgelite.schema.fb.BuiltinOptions import BuiltinOptions

    cls = type(obj).__name__
    return int(getattr(BuiltinOptions, cls[:-1] if cls.endswith("T") else cls))


def _tensor_type(dtype: np.dtype) -> int:
    from edgelite.schema.model import tensor_type_of

    return int(tensor_type_of(dtype))


def build_model(g: Graph, ops: list[TflOp], metadata: dict[str, bytes], description: str):
    """Number tensors, buffers and opcodes; return an ``edgelite.schema.model.Model``."""
    from edgelite.schema import model as m

    model = m.Model(description=description)
    sub = m.Subgraph(name="main")
    index: dict[int, int] = {}

    def tensor(v: Value | None) -> int:
        if v is None:
            return -1
        if id(v) in index:
            return index[id(v)]
        if v.shape is None or v.dtype is None:
            raise ConversionError(f"[lowering] tensor {v.name!r} has no static shape/dtype")
        buf = 0
        if v.is_constant:
            data = np.ascontiguousarray(v.data)
            if data.dtype.kind == "b":
                data = data.astype(np.bool_)
            if data.dtype.byteorder == ">" or (data.dtype.byteorder == "=" and sys.byteorder == "big"):
                data = data.astype(data.dtype.newbyteorder("<"))
            raw = data.reshape(-1).view(np.uint8)  # zero-copy on little-endian machines
            model.buffers.append(m.Buffer(data=raw))
            buf = len(model.buffers) - 1
        t = m.Tensor(
            name=v.name, shape=tuple(int(d) for d in v.shape), type=_tensor_type(v.dtype), buffer=buf, has_rank=True
        )
        sub.tensors.append(t)
        index[id(v)] = len(sub.tensors) - 1
        return index[id(v)]

    sub.inputs = [tensor(v) for v in g.inputs]
    codes: dict[tuple, int] = {}
    for op in ops:
        code = _builtin_code(op.op)
        ck = (code, op.custom_code, op.version)
        if ck not in codes:
            codes[ck] = len(model.operator_codes)
            model.operator_codes.append(
                m.OperatorCode(
                    builtin_code=code,
                    custom_code=op.custom_code,
                    version=op.version,
                    deprecated_builtin_code=min(code, 127),
                )
            )
        o = m.Operator(
            opcode_index=codes[ck], inputs=[tensor(v) for v in op.inputs], outputs=[tensor(v) for v in op.outputs]
        )
        if op.options is not None:
            o.builtin_options_type = _options_type(op.options)
            o.builtin_options = op.options
        if op.custom_options is not None:
            o.custom_options = op.custom_options
        sub.operators.append(o)
    sub.outputs = [tensor(v) for v in g.outputs]
    model.subgraphs.append(sub)
    model.signature_defs.append(
        m.SignatureDef(
            inputs=[m.TensorMap(v.name, index[id(v)]) for v in g.inputs],
            outputs=[m.TensorMap(v.name, index[id(v)]) for v in g.outputs],
            signature_key="serving_default",
            subgraph_index=0,
        )
    )
    min_runtime = model_min_runtime([(op.op, op.version) for op in ops if op.custom_code is None])
    entries = {"min_runtime_version": min_runtime.encode("ascii").ljust(16, b"\0")}
    entries.update(metadata)
    for name, data in entries.items():
        model.buffers.append(m.Buffer(data=np.frombuffer(data, np.uint8)))
        model.metadata.append(m.Metadata(name=name, buffer=len(model.buffers) - 1))
    return model


def conversion_metadata(options, io_layout: dict[str, str], producer: str, opset: int) -> dict[str, bytes]:
    """The metadata entries edgelite writes besides ``min_runtime_version``."""
    from edgelite.version import __version__

    conv = {
        "producer": f"edgelite {__version__}",
        "source": "onnx",
        "source_producer": producer,
        "onnx_opset": opset,
        "options": options.as_metadata(),
    }
    return {
        "CONVERSION_METADATA": conversion_metadata_flatbuffer(f"edgelite {__version__}", options.allow_custom),
        "edgelite_conversion": json.dumps(conv, sort_keys=True).encode("utf-8"),
        "edgelite_io_layout": json.dumps(io_layout, sort_keys=True).encode("utf-8"),
    }


def conversion_metadata_flatbuffer(producer: str, allow_custom: bool) -> bytes:
    """TFLite's ``CONVERSION_METADATA`` entry (``conversion_metadata.fbs``), as LiteRT's converter writes it.

    ``ConversionMetadata{environment: Environment{tensorflow_version (here the producer
    string), api_version, model_type (NONE: ONNX has no code)}, options:
    ConversionOptions{allow_custom_ops, ...}}``.
    """
    import flatbuffers

    b = flatbuffers.Builder(128)
    version = b.CreateString(producer)
    b.StartObject(3)  # Environment
    b.PrependUOffsetTRelativeSlot(0, version, 0)
    env = b.EndObject()
    b.StartObject(5)  # ConversionOptions
    b.PrependBoolSlot(1, bool(allow_custom), False)
    opts = b.EndObject()
    b.StartObject(2)  # ConversionMetadata
    b.PrependUOffsetTRelativeSlot(0, env, 0)
    b.PrependUOffsetTRelativeSlot(1, opts, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def collapse_reshapes(ops: list[TflOp], g: Graph) -> list[TflOp]:
    """Peephole after lowering: RESHAPE chains become one RESHAPE, and a RESHAPE that changes
    nothing disappears (1-D convolutions in a row leave ``4-D -> 3-D -> 4-D`` pairs).

    A tensor that is a graph input or output is never removed.
    """
    readers = read_counts(ops)
    public = {id(v) for v in list(g.inputs) + list(g.outputs)}
    producer: dict[int, TflOp] = {}
    dead: set[int] = set()
    rename: dict[int, Value] = {}
    for op in ops:
        op.inputs = [rename.get(id(v), v) if v is not None else None for v in op.inputs]
        if op.op == "RESHAPE":
            src = op.inputs[0]
            first = producer.get(id(src))
            if first is not None and first.op == "RESHAPE" and readers.get(id(src)) == 1 and id(src) not in public:
                dead.add(id(first))
                op.inputs[0] = src = first.inputs[0]
            out = op.outputs[0]
            if src.shape == out.shape and id(out) not in public:
                dead.add(id(op))
                rename[id(out)] = src
                continue
        for o in op.outputs:
            producer[id(o)] = op
    return [op for op in ops if id(op) not in dead]
