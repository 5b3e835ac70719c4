"""Front end: an ONNX ``ModelProto`` (or a path to one) into the converter's ``Graph``.

Initializers and ``Constant`` nodes become constant values; attributes become plain
Python values (ints, floats, lists, numpy arrays); dynamic input dimensions are fixed
from ``ConvertOptions.input_shapes`` (a leading batch dimension defaults to 1).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgelite.converter.control_flow import add_captures
from edgelite.converter.ir import Graph, Value
from edgelite.errors import ConversionError, ModelFormatError, ShapeError, UnsupportedOperatorError


def load_onnx(model: Any):
    """Load ``model`` (a path, bytes or an ``onnx.ModelProto``), external data included."""
    import onnx

    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        return _check_model(model, "the ONNX model")
    if isinstance(model, (bytes, bytearray, memoryview)):
        try:
            proto = onnx.load_from_string(bytes(model))
        except (ValueError, DecodeError) as e:
            raise ModelFormatError(f"cannot parse ONNX model bytes ({len(model)} bytes): {e}") from e
        return _check_model(proto, f"ONNX model bytes ({len(model)} bytes)")
    path = os.fspath(model)
    if not os.path.exists(path):
        raise ModelFormatError(f"ONNX model {path!r} does not exist")
    try:
        # load_external_data=True reads tensors stored beside the model file.
        proto = onnx.load(path, load_external_data=True)
    except (OSError, ValueError, DecodeError) as e:
        raise ModelFormatError(f"cannot read ONNX model {path!r}: {e}") from e
    return _check_model(proto, f"ONNX model {path!r}")


def _check_model(proto, what: str):
    """Protobuf parses many byte strings (the empty one included) as a ModelProto with no graph."""
    if not proto.HasField("graph") or not proto.graph.output:
        raise ModelFormatError(f"{what} is not an ONNX model: it has no graph outputs")
    return proto


def _attr_value(attr) -> Any:
    from onnx import helper, numpy_helper

    if attr.type == attr.TENSOR:
        return numpy_helper.to_array(attr.t)
    if attr.type == attr.GRAPH or attr.type == attr.GRAPHS:
        return attr  # kept opaque: edgelite.converter.control_flow converts the bodies
    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [x.decode("utf-8") for x in v]
    return v


def _elem_dtype(elem_type: int) -> np.dtype | None:
    from onnx import helper

    if elem_type == 0:
        return None
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def _fixed_shape(name: str, dims, user: tuple[int, ...] | None) -> tuple[int, ...]:
    if user is not None:
        user = tuple(int(d) for d in user)
        if len(user) != len(dims):
            raise ShapeError(f"input {name!r}: --input-shape gives rank {len(user)}, the model has rank {len(dims)}")
        for i, (d, u) in enumerate(zip(dims, user)):
            if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != u:
                raise ShapeError(f"input {name!r}: dimension {i} is fixed to {d.dim_value} in the model, not {u}")
        return user
    shape = []
    for i, d in enumerate(dims):
        if d.HasField("dim_value") and d.dim_value > 0:
            shape.append(int(d.dim_value))
        elif i == 0:
            shape.append(1)  # a dynamic batch dimension: convert for batch 1
        else:
            raise ShapeError(
                f"input {name!r}: dimension {i} ({d.dim_param or '?'}) is dynamic; fix it with "
                f"input_shapes={{'{name}': (...)}} or --input-shape {name}=d0,d1,..."
            )
    return tuple(shape)


def import_onnx(proto, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """Build a ``Graph`` from an ONNX model.

    Raises:
        ShapeError: an input has a dynamic dimension the user did not fix.
        ConversionError: the graph uses an input name nothing produces.
    """
    from onnx import numpy_helper

    input_shapes = dict(input_shapes or {})
    _reject_non_tensor_io(proto.graph)
    g = Graph()
    g.opsets = {(o.domain or ""): int(o.version) for o in proto.opset_import}
    if "ai.onnx" in g.opsets and "" not in g.opsets:
        g.opsets[""] = g.opsets["ai.onnx"]
    g.producer = f"{proto.producer_name} {proto.producer_version}".strip()
    graph = proto.graph
    env: dict[str, Value] = {}
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        env[init.name] = Value(init.name, tuple(arr.shape), arr.dtype, data=arr)
        g._names.add(init.name)
    for vi in graph.input:
        if vi.name in env:
            continue  # opset < 9 lists initializers as inputs too
        tt = vi.type.tensor_type
        shape = _fixed_shape(vi.name, tt.shape.dim, input_shapes.pop(vi.name, None))
        env[vi.name] = g.add_input(Value(vi.name, shape, _elem_dtype(tt.elem_type)))
    if input_shapes:
        raise ShapeError(
            f"input_shapes names {sorted(input_shapes)}, which are not graph inputs "
            f"(inputs: {[v.name for v in g.inputs]})"
        )
    for i, n in enumerate(graph.node):
        attrs = {a.name: _attr_value(a) for a in n.attribute}
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            env[n.output[0]] = _constant_value(n.output[0], attrs)
            g._names.add(n.output[0])
            continue
        inputs = node_inputs(n, env, "frontend")
        node = g.add_node(n.op_type, inputs, [], attrs, name=n.name or f"{n.op_type}_{i}", domain=n.domain)
        for name in n.output:
            v = Value(name if name else g.unique_name(f"{node.name}_unused"), producer=node)
            g._names.add(v.name)
            node.outputs.append(v)
            env[v.name] = v
        add_captures(node, env)  # outer values its bodies (If/Loop/Scan...) read become inputs
    for info in graph.value_info:  # declared shapes help where inference cannot (custom ops)
        v = env.get(info.name)
        tt = info.type.tensor_type
        if v is not None and v.shape is None and tt.HasField("shape") and all(d.dim_value > 0 for d in tt.shape.dim):
            v.shape = tuple(int(d.dim_value) for d in tt.shape.dim)
            v.dtype = v.dtype or _elem_dtype(tt.elem_type)
    for vo in graph.output:
        if vo.name not in env:
            raise ConversionError(f"[frontend] graph output {vo.name!r} is not produced by any node")
        v = env[vo.name]
        if v.dtype is None:
            v.dtype = _elem_dtype(vo.type.tensor_type.elem_type)
        tt = vo.type.tensor_type
        if v.shape is None and tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            # A declared output shape: the only static shape of ops whose shape depends on
            # a runtime input (reduction axes fed at run time); the .tflite output is dynamic.
            v.shape = tuple(int(d.dim_value) for d in tt.shape.dim)
        g.outputs.append(v)
    return g


def node_inputs(n, env: dict[str, Value], where: str) -> list[Value | None]:
    """The values an ONNX ``NodeProto`` reads, looked up by name (None for an omitted input)."""
    inputs: list[Value | None] = []
    for name in n.input:
        if name == "":
            inputs.append(None)
        elif name in env:
            inputs.append(env[name])
        else:
            raise ConversionError(f"[{where}] node {n.name!r} ({n.op_type}) reads {name!r}, which nothing produces")
    return inputs


def _reject_non_tensor_io(graph) -> None:
    """Sequence-, optional- or map-typed graph inputs/outputs: a .tflite tensor cannot hold them.

    Raises:
        UnsupportedOperatorError: naming every node that reads or writes such a value.
    """
    ops, lines = [], []
    for vi in list(graph.input) + list(graph.output):
        kind = vi.type.WhichOneof("value")
        if kind in (None, "tensor_type"):
            continue
        users = [(n.op_type, n.name or f"{n.op_type}_{i}") for i, n in enumerate(graph.node)
                 if vi.name in n.input or vi.name in n.output]
        ops += users or [("<graph io>", vi.name)]
        lines.append(f"  {vi.name!r} is a {kind.replace('_type', '')}, used by " +
                     (", ".join(f"{t} node {nm!r}" for t, nm in users) or "no node"))
    if ops:
        raise UnsupportedOperatorError(
            "[frontend] graph inputs/outputs that are not tensors (TFLite tensors cannot hold "
            "sequences, optionals or maps):\n" + "\n".join(lines), ops)


def _constant_value(name: str, attrs: dict) -> Value:
    if "value" in attrs:
        arr = np.asarray(attrs["value"])
    elif "value_float" in attrs:
        arr = np.array(attrs["value_float"], np.float32)
    elif "value_floats" in attrs:
        arr = np.array(attrs["value_floats"], np.float32)
    elif "value_int" in attrs:
        arr = np.array(attrs["value_int"], np.int64)
    elif "value_ints" in attrs:
        arr = np.array(attrs["value_ints"], np.int64)
    else:
        raise ConversionError(f"[frontend] Constant {name!r}: unsupported attribute {sorted(attrs)}")
    return Value(name, tuple(arr.shape), arr.dtype, data=arr)
