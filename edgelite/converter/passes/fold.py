"""Shape inference, constant folding and dead-code elimination.

Shape inference asks ONNX's own inference (``onnx.shape_inference``, with data
propagation) on a light copy of the graph: big constants travel as typed inputs
without their bytes, so it stays fast on large models. Folding then evaluates every
node whose inputs are all constant (``Shape`` of a static tensor counts) with
``onnx.reference``; the two alternate until nothing changes, which resolves the
``Shape -> Gather -> Concat -> Reshape`` chains exporters write.

Example:
    >>> from edgelite.converter.passes.fold import dead_code_elimination
    >>> callable(dead_code_elimination)
    True
"""

from __future__ import annotations

import copy

import numpy as np

from edgelite.converter.control_flow import inline_if, is_control_flow, n_real_inputs
from edgelite.converter.ir import Graph, Node
from edgelite.errors import ConversionError

# Constants up to this many elements go to ONNX shape inference with their data
# (shape tensors, axes); larger ones only with their type and shape.
_SMALL_CONST = 64
# Folding would materialize huge constants (e.g. Expand of a scalar to an image);
# above this many elements (1 GiB of float32) the node is left to run at inference
# time. Weights built by ConstantOfShape (ONNX's "light" models: AlexNet's fc6 holds
# 38M values, VGG-19's 103M) must fold: TFLite has no ConstantOfShape.
_MAX_FOLD_ELEMENTS = 1 << 28


def dead_code_elimination(g: Graph) -> None:
    """Drop nodes whose outputs nobody reads (walking back from the graph outputs).

    A value that only an ``If``/``Loop`` body reads is an input of that node (its capture).
    """
    live: set[int] = {id(v) for v in g.outputs}
    kept: list[Node] = []
    for node in reversed(g.nodes):
        if any(id(o) in live for o in node.outputs):
            kept.append(node)
            live.update(id(v) for v in node.inputs if v is not None)
    g.nodes = kept[::-1]


def infer_shapes(g: Graph) -> None:
    """Fill ``shape``/``dtype`` of every value ONNX shape inference can resolve."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def vi(v):
        return helper.make_tensor_value_info(v.name, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))

    inputs, inits, seen = [], [], set()
    for v in g.inputs:
        inputs.append(vi(v))
        seen.add(id(v))
    nodes = []
    opaque = {id(o) for n in g.nodes if n.domain == "edgelite" for o in n.outputs}  # edgelite::While
    for n in g.nodes:
        for v in n.inputs:
            if v is None or id(v) in seen:
                continue
            seen.add(id(v))
            if id(v) in opaque and v.shape is not None and v.dtype is not None:
                inputs.append(vi(v))
                continue
            if v.is_constant:
                if v.data.size <= _SMALL_CONST:
                    inits.append(numpy_helper.from_array(np.asarray(v.data), v.name))
                else:
                    inputs.append(vi(v))
            elif v.shape is not None and v.dtype is not None and v.producer is None:
                inputs.append(vi(v))
        if n.domain == "edgelite":
            continue
        attrs = {k: a for k, a in n.attrs.items() if not k.startswith("_")}
        n_inputs = len(n.inputs)
        if n.ann.captures:  # its bodies read outer values by their ONNX names
            n_inputs = n_real_inputs(n)
            for name, v in zip(n.ann.captures, n.inputs[n_inputs:]):
                if v.name != name:
                    nodes.append(helper.make_node("Identity", [v.name], [name]))
        nodes.append(
            helper.make_node(
                n.op_type,
                [v.name if v is not None else "" for v in n.inputs[:n_inputs]],
                [o.name for o in n.outputs],
                name=n.name,
                domain=n.domain or None,
                **{k: _onnx_attr(a) for k, a in attrs.items()},
            )
        )
    outs = [helper.make_tensor_value_info(v.name, TensorProto.UNDEFINED, None) for v in g.outputs]
    # Shapes known already (declared, or inferred in an earlier round) seed inference past
    # ops it cannot see through (custom domains).
    known_vi = [vi(o) for n in g.nodes for o in n.outputs
                if o.shape is not None and o.dtype is not None and id(o) not in opaque]
    graph = helper.make_graph(nodes, "g", inputs, outs, inits, value_info=known_vi)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in g.opsets.items()])
    model.ir_version = 8
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except onnx.shape_inference.InferenceError as e:
        raise ConversionError(f"[shape_inference] ONNX shape inference failed: {e}") from e
    known = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = info.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = tt.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            dt = None if tt.elem_type == 0 else np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
            known[info.name] = (tuple(int(d.dim_value) for d in dims), dt)
    for n in g.nodes:
        for o in n.outputs:
            if o.name in known:
                shape, dt = known[o.name]
                o.shape = shape
                if dt is not None:
                    o.dtype = dt


def _onnx_attr(a):
    from onnx import AttributeProto

    if isinstance(a, AttributeProto):  # subgraphs of control-flow ops, kept opaque by the front end
        return a.g if a.type == AttributeProto.GRAPH else list(a.graphs)
    if isinstance(a, np.ndarray):
        from onnx import numpy_helper

        return numpy_helper.from_array(a)
    return a


def fold_constants(g: Graph) -> bool:
    """Evaluate nodes whose inputs are all constant; return True when anything folded."""
    changed = False
    for node in list(g.nodes):
        if is_control_flow(node):
            if node.op_type == "If" and inline_if(g, node):  # a constant condition: its branch
                changed = True
            elif all(v is None or v.is_constant for v in node.inputs) and node.inputs:
                # Everything it reads (inputs and the outer values its body reads) is constant.
                _make_const(g, node, _evaluate_with_captures(g, node))
                changed = True
            continue
        if _castlike_to_cast(node):  # then it folds like any Cast when its input is constant
            changed = True
        if _optional_of_tensor(g, node):
            changed = True
            continue
        if node.op_type == "Shape" and node.inputs[0] is not None and node.inputs[0].shape is not None:
            shape = np.array(node.inputs[0].shape, np.int64)
            start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
            _make_const(g, node, [shape[start:end]])
            changed = True
            continue
        if node.op_type == "Size" and node.inputs[0].shape is not None:
            _make_const(g, node, [np.array(int(np.prod(node.inputs[0].shape)), np.int64)])
            changed = True
            continue
        if node.op_type in ("Identity", "Dropout") and node.domain in ("", "ai.onnx"):
            src = node.inputs[0]
            if len(node.outputs) == 1 or all(g.consumers().get(id(o)) is None for o in node.outputs[1:]):
                if not (g.is_output(node.outputs[0]) and (src.producer is None)):
                    g.remove_node(node)
                    g.replace_uses(node.outputs[0], src)
                    changed = True
                    continue
        if not node.inputs or any(v is not None and not v.is_constant for v in node.inputs):
            continue
        if node.domain not in ("", "ai.onnx"):
            continue
        if any(o.shape is not None and int(np.prod(o.shape)) > _MAX_FOLD_ELEMENTS for o in node.outputs):
            continue
        _make_const(g, node, _evaluate_with_captures(g, node))
        changed = True
    return changed


def _evaluate_with_captures(g: Graph, node: Node) -> list[np.ndarray]:
    """``_evaluate`` of a node whose inputs, captures included, are all constant: the
    captures (the outer values its bodies read) are fed under their body names."""
    if not node.ann.captures:
        return _evaluate(g, node)
    n_real = n_real_inputs(node)
    captured = {name: np.asarray(v.data) for name, v in zip(node.ann.captures, node.inputs[n_real:])}
    alone = copy.copy(node)
    alone.inputs = node.inputs[:n_real]
    return _evaluate(g, alone, captured)


# Producers whose output may be an optional value (Optional itself, and bodies that can return one).
_MAY_BE_OPTIONAL = {"Optional", "If", "Loop", "Scan"}


def _optional_of_tensor(g: Graph, node: Node) -> bool:
    """``OptionalHasElement`` / ``OptionalGetElement`` of a plain tensor (or of no input):
    the tensor is there, so HasElement is a constant (True; False with no input) and
    GetElement the tensor itself (an ``Identity``). Inputs that may be optional values
    are left to the support check, which refuses them."""
    if node.op_type not in ("OptionalHasElement", "OptionalGetElement") or node.domain not in ("", "ai.onnx"):
        return False
    x = node.input(0)
    if x is not None and x.producer is not None and x.producer.op_type in _MAY_BE_OPTIONAL:
        return False
    if node.op_type == "OptionalHasElement":
        _make_const(g, node, [np.array(x is not None)])
        return True
    if x is None:
        return False  # the reference raises: nothing to get
    node.op_type = "Identity"
    return True


def _castlike_to_cast(node: Node) -> bool:
    """``CastLike(x, like)`` reads only the dtype of ``like``: once known, it is ``Cast(x, to=...)``."""
    like = node.input(1)
    if node.op_type != "CastLike" or node.domain not in ("", "ai.onnx") or like is None or like.dtype is None:
        return False
    from onnx import helper

    node.op_type = "Cast"
    node.attrs = {**node.attrs, "to": int(helper.np_dtype_to_tensor_dtype(like.dtype))}
    node.inputs = node.inputs[:1]
    return True


def _evaluate(g: Graph, node: Node, captured: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Run ``node`` alone in ONNX's reference evaluator on its constant inputs.

    ``captured`` holds the outer values its bodies read (its captures): they
    enter the one-node model as graph inputs under their own names.
    """
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    captured = captured or {}
    names = [f"__edgelite_fold_in{i}" if v is not None else "" for i, v in enumerate(node.inputs)]
    outs = [f"__edgelite_fold_out{i}" for i in range(len(node.outputs))]
    attrs = {k: _onnx_attr(a) for k, a in node.attrs.items() if not k.startswith("_")}
    onode = helper.make_node(node.op_type, names, outs, **attrs)
    feeds = {n: np.asarray(v.data) for n, v in zip(names, node.inputs) if v is not None}
    feeds.update(captured)
    graph = helper.make_graph(
        [onode],
        "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
         for n, a in feeds.items()],
        [helper.make_tensor_value_info(o, 0, None) for o in outs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", g.opset)])
    try:
        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
    except (ValueError, TypeError, RuntimeError, IndexError, KeyError, AttributeError, ZeroDivisionError,
            NotImplementedError) as e:
        # The evaluator's own message describes its internals (result tables, Python
        # types); the user needs the node, its inputs and what to check. The cause stays
        # chained for debugging.
        given = ", ".join(f"{a.dtype}{list(a.shape)}" for a in feeds.values()) or "none"
        raise ConversionError(
            f"[constant_folding] {node.describe()}: all its inputs are constant (given: {given}), but "
            f"computing it at conversion time failed ({type(e).__name__}); check its attributes and "
            f"input shapes against the ONNX opset {g.opset} definition of {node.op_type}"
        ) from e


def _make_const(g: Graph, node: Node, results: list[np.ndarray]) -> None:
    g.remove_node(node)
    for o, r in zip(node.outputs, results):
        o.data = np.asarray(r)
        o.shape = tuple(o.data.shape)
        o.dtype = o.data.dtype
        o.producer = None


def shape_inference_and_folding(g: Graph, max_rounds: int = 8) -> None:
    """Alternate ONNX shape inference and constant folding until neither changes anything."""
    for _ in range(max_rounds):
        infer_shapes(g)
        seeded = shapes_from_output_shape_inputs(g)
        if not fold_constants(g) and not seeded:
            break
        dead_code_elimination(g)
    shapes_from_unary_readers(g)
    shapes_from_broadcast_readers(g)
    unique_output_bounds(g)


def shapes_from_broadcast_readers(g: Graph) -> None:
    """Give a run-time ``Slice`` result of unknown shape the all-ones shape its reader forces.

    When ``Add``/``Sub``/``Mul``/``Div`` of it and a static operand has a known output of all
    ones (a declared shape: a loop body's ``y_out``), every dimension of the slice is 1 (0
    would make the output empty, more than 1 would widen it), and a Slice keeps its input's
    rank. ONNX's inference cannot see that when the slice bounds arrive at run time.
    """
    for node in g.nodes:
        if node.op_type not in ("Add", "Sub", "Mul", "Div") or node.domain not in ("", "ai.onnx"):
            continue
        y = node.outputs[0]
        if y.shape is None or any(d != 1 for d in y.shape) or len(node.inputs) != 2:
            continue
        unknown = [v for v in node.inputs if v is not None and v.shape is None]
        if len(unknown) != 1 or any(v is None or (v.shape is None) != (v is unknown[0]) for v in node.inputs):
            continue
        v = unknown[0]
        src = v.producer
        if src is None or src.op_type != "Slice" or src.domain not in ("", "ai.onnx") or src.inputs[0].shape is None:
            continue
        rank = len(src.inputs[0].shape)
        if rank <= len(y.shape):
            v.shape = (1,) * rank
            v.dtype = v.dtype or src.inputs[0].dtype


def unique_output_bounds(g: Graph) -> None:
    """Give the outputs of a ``Unique`` that ONNX leaves unsized (their length is the number
    of distinct values or slices, known at run time) the shape of all ``n`` values (slices
    along ``axis``): an upper bound that only the written ``.tflite`` carries, as the first
    shape of tensors the ``Unique`` lowering resizes at run time. Only outputs that no
    node reads get one, so no converter takes the bound for the real length."""
    readers = g.consumers()
    for node in g.nodes:
        if node.op_type != "Unique" or node.domain not in ("", "ai.onnx"):
            continue
        x = node.inputs[0]
        if x is None or x.shape is None or not x.shape:
            continue
        if "axis" in node.attrs:  # slices along the axis: Y keeps the others
            n = int(x.shape[int(node.attrs["axis"]) % len(x.shape)])
            y_shape = tuple(x.shape)
        else:
            n = int(np.prod(x.shape, dtype=np.int64))
            y_shape = (n,)
        for i, o in enumerate(node.outputs):
            if o is not None and o.shape is None and id(o) not in readers:
                o.shape = y_shape if i == 0 else (n,)
                o.dtype = o.dtype or (x.dtype if i == 0 else np.dtype(np.int64))


def shapes_from_output_shape_inputs(g: Graph) -> bool:
    """Give a ``MaxUnpool`` with a constant ``output_shape`` input that shape (ONNX shape
    inference only takes its rank); True when a shape was set, so inference runs again
    past it."""
    changed = False
    for node in g.nodes:
        if node.op_type != "MaxUnpool" or node.domain not in ("", "ai.onnx") or len(node.inputs) < 3:
            continue
        shape, y = node.inputs[2], node.outputs[0]
        if shape is not None and shape.is_constant and y.shape is None:
            y.shape = tuple(int(d) for d in np.asarray(shape.data).reshape(-1))
            y.dtype = y.dtype or node.inputs[0].dtype
            changed = True
    return changed


# Ops whose output 0 has input 0's shape (no broadcasting).
_SHAPE_PRESERVING = {"Cast", "CastLike", "Sqrt", "Log", "Exp", "Abs", "Neg", "Identity", "Relu", "Sigmoid", "Tanh"}


def shapes_from_unary_readers(g: Graph) -> None:
    """Give a value of unknown shape the shape of its shape-preserving reader's output.

    A reduction over axes fed at run time has no inferable shape; when it is followed
    by ``Sqrt``/``Log``/``Cast``... up to a graph output whose shape the model declares
    (the expanded ``ReduceL2``/``ReduceLogSum`` functions), that shape flows back.
    """
    for node in reversed(g.nodes):
        if node.op_type not in _SHAPE_PRESERVING or node.domain not in ("", "ai.onnx") or not node.inputs:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if x is not None and x.shape is None and y.shape is not None and not x.is_constant:
            x.shape = tuple(y.shape)
            if x.dtype is None and node.op_type not in ("Cast", "CastLike"):
                x.dtype = y.dtype
            elif x.dtype is None and x.producer is not None and x.producer.op_type.startswith("Reduce"):
                x.dtype = x.producer.inputs[0].dtype  # a reduction keeps its input's dtype
    for node in g.nodes:  # dtypes forward along the same chains
        if node.op_type not in _SHAPE_PRESERVING or node.domain not in ("", "ai.onnx") or not node.inputs:
            continue
        y = node.outputs[0]
        if y.dtype is None and y.shape is not None:
            if node.op_type == "Cast":
                from onnx import helper

                y.dtype = np.dtype(helper.tensor_dtype_to_np_dtype(int(node.attrs["to"])))
            elif node.op_type == "CastLike":
                y.dtype = node.inputs[1].dtype
            else:
                y.dtype = node.inputs[0].dtype


def _is_read(g: Graph, v) -> bool:
    return g.is_output(v) or id(v) in g.consumers()
