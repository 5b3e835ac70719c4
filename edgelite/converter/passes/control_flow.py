"""The ``control_flow`` pass: shapes of If outputs, and Loop / Scan as one While node.

For an If with a run-time condition whose output shapes ONNX inference left open,
both branches are converted on the current input shapes; equal branch shapes become
the If's (different ones are refused: a TFLite tensor has one static shape).

A Loop or Scan becomes an ``edgelite::While`` node carrying two ONNX graphs built
around the original body (see ``edgelite.converter.control_flow``): the loop values
are ``[counter, limit, (Loop: cond), carried..., (Scan: scan inputs...), accumulators...,
run-time captures...]``. The While converter lowers it to TFLite ``WHILE`` plus one
``STRIDED_SLICE`` per scan output (dropping the accumulator's dummy row).
A Scan-8 (opset 8: a leading batch axis) becomes one such While per batch element,
stacked back; its ``sequence_lens`` must be absent or constant full lengths.
Forms edgelite cannot express are left in place with ``ann.cf_reason``; the
support check then refuses them naming the node.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.control_flow import _P, BodyIO, body, body_model, convert_body, n_real_inputs
from edgelite.converter.ir import Graph, Node, Value, WhileLoop
from edgelite.errors import ConversionError

I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)


def control_flow(g: Graph) -> None:
    from edgelite.converter.passes.fold import dead_code_elimination, shape_inference_and_folding

    for _ in range(64):
        changed = False
        for node in list(g.nodes):
            if node.domain not in ("", "ai.onnx") or node.op_type not in ("If", "Loop", "Scan"):
                continue
            if node.ann.cf_reason is not None or any(v is not None and v.shape is None for v in node.inputs):
                continue
            if node.op_type == "If":
                changed = _if_shapes(g, node)
            else:
                changed = _rewrite_loop(g, node) if node.op_type == "Loop" else _rewrite_scan(g, node)
            if changed:
                break
        if not changed:
            return
        shape_inference_and_folding(g)
        dead_code_elimination(g)


def _split_captures(node: Node) -> tuple[list[tuple[str, Value]], dict[str, np.ndarray]]:
    """(run-time captures as (name, value), constant captures name -> data)."""
    names = (node.ann.captures or [])
    vals = node.inputs[n_real_inputs(node):]
    runtime = [(n, v) for n, v in zip(names, vals) if not v.is_constant]
    consts = {n: v.data for n, v in zip(names, vals) if v.is_constant}
    return runtime, consts


def _io(v: Value, name: str) -> BodyIO:
    return BodyIO(name, tuple(v.shape), np.dtype(v.dtype))


def if_body_inputs(node: Node) -> tuple[list[BodyIO], dict[str, np.ndarray], list[Value]]:
    runtime, consts = _split_captures(node)
    return [_io(v, n) for n, v in runtime], consts, [v for _, v in runtime]


def _if_shapes(g: Graph, node: Node) -> bool:
    if all(o.shape is not None and o.dtype is not None for o in node.outputs):
        return False
    ios, consts, _ = if_body_inputs(node)
    outs = []
    for attr in ("then_branch", "else_branch"):
        _, bg = convert_body(body_model(body(node, attr), ios, consts, g.opsets), node.describe())
        outs.append([(v.shape, v.dtype) for v in bg.outputs])
    for k, (o, a, b) in enumerate(zip(node.outputs, *outs)):
        if a != b:
            node.ann.cf_reason = (f"output {k}: the branches give {a[1]}{list(a[0])} and {b[1]}{list(b[0])}; "
                                        "a TFLite IF output has one static shape")
            return False
        o.shape, o.dtype = tuple(a[0]), np.dtype(a[1])
    return True


def _loop_inputs_shapes(node: Node, ios: list[BodyIO], consts, g: Graph, where: str):
    """Convert the original body once to learn its output shapes and dtypes (None, with
    ``ann.cf_reason`` set, when a body value has no static shape)."""
    try:
        _, bg = convert_body(body_model(body(node, "body"), ios, consts, g.opsets), where)
    except ConversionError as e:
        if "[check_static_shapes]" not in str(e):
            raise
        # e.g. a Slice at the iteration counter: its shape is known only while looping
        node.ann.cf_reason = f"a body value has no static shape ({str(e).split('] ', 2)[-1][:160]})"
        return None
    return [(tuple(v.shape), np.dtype(v.dtype)) for v in bg.outputs]


def _rewrite_loop(g: Graph, node: Node) -> bool:
    from onnx import helper, numpy_helper

    bgp = body(node, "body")
    n_real = n_real_inputs(node)
    trip, cond = node.input(0), (node.input(1) if n_real > 1 else None)
    carried = node.inputs[2:n_real]
    n, k_scan = len(carried), len(node.outputs) - len(carried)
    if len(bgp.input) != n + 2 or len(bgp.output) != n + 1 + k_scan:
        raise ConversionError(f"[control_flow] {node.describe()}: body has {len(bgp.input)} inputs / "
                              f"{len(bgp.output)} outputs for {n} loop-carried values")
    runtime, consts = _split_captures(node)
    names_in = [i.name for i in bgp.input]
    ios = [BodyIO(names_in[0], (), I64), BodyIO(names_in[1], (), BOOL)]
    ios += [_io(v, names_in[2 + j]) for j, v in enumerate(carried)]
    ios += [_io(v, nm) for nm, v in runtime]
    shapes = _loop_inputs_shapes(node, ios, consts, g, node.describe())
    if shapes is None:
        return False
    for j, v in enumerate(carried):
        if shapes[1 + j] != (tuple(v.shape), np.dtype(v.dtype)):
            node.ann.cf_reason = (f"loop-carried value {j} changes from {v.dtype}{list(v.shape)} to "
                                        f"{shapes[1 + j][1]}{list(shapes[1 + j][0])} in one iteration")
            return False
    scan_shapes = shapes[1 + n:]
    m_static = int(np.asarray(trip.data).reshape(-1)[0]) if trip is not None and trip.is_constant else None
    for j, o in enumerate(node.outputs[n:]):
        if o.shape is None:
            if m_static is None or cond is not None and not (cond.is_constant and bool(np.asarray(cond.data).reshape(-1)[0])):
                node.ann.cf_reason = (f"scan output {j}: its length depends on run-time values and the model "
                                            "declares no shape for it")
                return False
            o.shape = (m_static,) + scan_shapes[j][0]
        o.dtype = scan_shapes[j][1]
    for j, o in enumerate(node.outputs[:n]):
        o.shape, o.dtype = tuple(carried[j].shape), np.dtype(carried[j].dtype)

    # Loop values: i, M, c, carried..., acc..., runtime captures...
    mv, cv = _P + "M", names_in[1]
    acc = [f"{_P}acc{j}" for j in range(k_scan)]
    cond_g = helper.make_graph(
        [helper.make_node("Less", [_P + "ci", _P + "cM"], [_P + "lt"]),
         helper.make_node("And", [_P + "lt", _P + "cc"], [_P + "go"])],
        "loop_cond",
        [],
        [helper.make_tensor_value_info(_P + "go", helper.np_dtype_to_tensor_dtype(BOOL), [])],
    )
    cond_names = [_P + "ci", _P + "cM", _P + "cc"] + [f"{_P}cv{j}" for j in range(n)] + \
        [f"{_P}ca{j}" for j in range(k_scan)] + [f"{_P}cr{j}" for j in range(len(runtime))]
    nodes = list(bgp.node)
    nodes.append(helper.make_node("Add", [names_in[0], _P + "one"], [_P + "i_next"]))
    inits = [numpy_helper.from_array(np.array(1, np.int64), _P + "one")]
    scan_names = [o.name for o in bgp.output[1 + n:]]
    for j in range(k_scan):
        shp = np.array((1,) + scan_shapes[j][0], np.int64)
        inits.append(numpy_helper.from_array(shp, f"{_P}shape{j}"))
        nodes.append(helper.make_node("Reshape", [scan_names[j], f"{_P}shape{j}"], [f"{_P}row{j}"]))
        nodes.append(helper.make_node("Concat", [acc[j], f"{_P}row{j}"], [f"{_P}acc_next{j}"], axis=0))
    outs = [_P + "i_next", mv, bgp.output[0].name] + [o.name for o in bgp.output[1:1 + n]]
    outs += [f"{_P}acc_next{j}" for j in range(k_scan)] + [nm for nm, _ in runtime]
    inits += list(bgp.initializer)
    # The carried outputs keep their inputs' shapes (checked above): declared, they reach
    # values ONNX inference cannot size (a slice whose bounds are the iteration count).
    typed = {o.name: (helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype)), list(v.shape))
             for o, v in zip(bgp.output[1:1 + n], carried)}
    body_g = helper.make_graph(nodes, "loop_body", [], [helper.make_tensor_value_info(o, *typed.get(o, (0, None)))
                                                        for o in outs], inits)
    body_names = [names_in[0], mv, cv] + names_in[2:2 + n] + acc + [nm for nm, _ in runtime]

    i0 = g.const(np.array(0, np.int64), _P + "i0")
    m_in = trip if trip is not None else g.const(np.array(np.iinfo(np.int64).max, np.int64), _P + "nolimit")
    c_in = cond if cond is not None else g.const(np.array(True), _P + "true")
    acc0 = [g.const(np.zeros((1,) + s, dt), f"{_P}acc0") for s, dt in scan_shapes]
    ins = [i0, m_in, c_in] + list(carried) + acc0 + [v for _, v in runtime]
    _replace_with_while(g, node, ins, cond_g, cond_names, body_g, body_names, consts, n_carried_out=n,
                        carried_at=3, accs=[(0, False)] * k_scan)
    return True


def _split_scan8(g: Graph, node: Node) -> bool:
    """Scan-8 (opset 8): inputs carry a leading batch axis, scan inputs scan along axis 1, and
    each batch element runs the body on its own. Without ``sequence_lens`` (or with constant
    full lengths) that is one opset-9 Scan per batch element on ``Gather(v, b, axis=0)``, each
    rewritten to a While, their outputs stacked back (``Unsqueeze`` + ``Concat``)."""
    n_real = n_real_inputs(node)
    seq, rest, caps = node.inputs[0], node.inputs[1:n_real], node.inputs[n_real:]
    n_scan_in = int(node.attrs["num_scan_inputs"])
    n = len(rest) - n_scan_in
    if any(len(v.shape) < (2 if j >= n else 1) for j, v in enumerate(rest)):
        node.ann.cf_reason = "Scan-8 input without its batch (and scan) axis"
        return False
    batch = {v.shape[0] for v in rest}
    if len(batch) != 1 or 0 in batch:
        node.ann.cf_reason = f"Scan-8 inputs with batch sizes {sorted(batch)}"
        return False
    n_batch = batch.pop()
    if seq is not None:
        t_len = rest[n].shape[1] if n_scan_in else None
        if not seq.is_constant or not np.all(np.asarray(seq.data) == t_len):
            node.ann.cf_reason = "Scan-8 sequence_lens other than constant full lengths"
            return False
    dirs = node.attrs.get("directions")
    stacked: list[list[Value]] = [[] for _ in node.outputs]
    for b in range(n_batch):
        idx = g.const(np.array(b, np.int64), f"{node.name}_b{b}")
        ins = []
        for v in rest:
            gv = g.add_node("Gather", [v, idx], [f"{node.name}_b{b}_in"], {"axis": 0}, before=node).outputs[0]
            gv.shape, gv.dtype = tuple(v.shape[1:]), v.dtype
            ins.append(gv)
        attrs = {"num_scan_inputs": n_scan_in, "body": node.attrs["body"]}
        if dirs is not None:
            attrs["scan_input_directions"] = list(dirs)
        sub = g.add_node("Scan", ins + list(caps), [f"{node.name}_b{b}_out" for _ in node.outputs], attrs,
                         name=f"{node.name}_b{b}", before=node)
        sub.ann.captures = node.ann.captures
        if not _rewrite_scan(g, sub, opset9=True):
            node.ann.cf_reason = sub.ann.cf_reason  # the orphaned per-batch nodes go with dead code
            return False
        for k, o in enumerate(sub.outputs):
            u = g.add_node("Unsqueeze", [o], [f"{o.name}_row"], {"axes": [0]}, before=node).outputs[0]
            u.shape, u.dtype = (1,) + tuple(o.shape), o.dtype
            stacked[k].append(u)
    for k, o in enumerate(node.outputs):
        g.add_node("Concat", stacked[k], [o], {"axis": 0}, name=f"{node.name}_stack{k}", before=node)
        o.shape, o.dtype = (n_batch,) + tuple(stacked[k][0].shape[1:]), stacked[k][0].dtype
    g.remove_node(node)
    g.toposort()  # the Whiles went to the end of the node list
    return True


def _rewrite_scan(g: Graph, node: Node, opset9: bool = False) -> bool:
    from onnx import helper, numpy_helper

    if g.opset < 9 and not opset9:
        return _split_scan8(g, node)
    bgp = body(node, "body")
    n_real = n_real_inputs(node)
    n_scan_in = int(node.attrs["num_scan_inputs"])
    n = n_real - n_scan_in
    states, xs = node.inputs[:n], node.inputs[n:n_real]
    k_scan = len(node.outputs) - n
    in_axes = list(node.attrs.get("scan_input_axes", [0] * n_scan_in))
    in_dirs = list(node.attrs.get("scan_input_directions", [0] * n_scan_in))
    out_axes = list(node.attrs.get("scan_output_axes", [0] * k_scan))
    out_dirs = list(node.attrs.get("scan_output_directions", [0] * k_scan))
    in_axes = [a % len(x.shape) for a, x in zip(in_axes, xs)]
    lengths = {x.shape[a] for a, x in zip(in_axes, xs)}
    if len(lengths) != 1:
        raise ConversionError(f"[control_flow] {node.describe()}: scan inputs have different lengths {sorted(lengths)}")
    t_len = lengths.pop()
    runtime, consts = _split_captures(node)
    names_in = [i.name for i in bgp.input]
    ios = [_io(v, names_in[j]) for j, v in enumerate(states)]
    for j, (x, a) in enumerate(zip(xs, in_axes)):
        ios.append(BodyIO(names_in[n + j], tuple(d for q, d in enumerate(x.shape) if q != a), np.dtype(x.dtype)))
    ios += [_io(v, nm) for nm, v in runtime]
    shapes = _loop_inputs_shapes(node, ios, consts, g, node.describe())
    if shapes is None:
        return False
    for j, v in enumerate(states):
        if shapes[j] != (tuple(v.shape), np.dtype(v.dtype)):
            node.ann.cf_reason = f"state {j} changes shape or type in one iteration"
            return False
    scan_shapes = shapes[n:]
    out_axes = [a % (len(s) + 1) for a, (s, _) in zip(out_axes, scan_shapes)]
    for j, o in enumerate(node.outputs[:n]):
        o.shape, o.dtype = tuple(states[j].shape), np.dtype(states[j].dtype)
    for j, o in enumerate(node.outputs[n:]):
        s = list(scan_shapes[j][0])
        s.insert(out_axes[j], t_len)
        o.shape, o.dtype = tuple(s), scan_shapes[j][1]

    iv, tv = _P + "i", _P + "T"
    acc = [f"{_P}acc{j}" for j in range(k_scan)]
    xsn = [f"{_P}xs{j}" for j in range(n_scan_in)]
    cond_names = [_P + "ci", _P + "cT"] + [f"{_P}c{j}" for j in range(n + n_scan_in + k_scan + len(runtime))]
    cond_g = helper.make_graph(
        [helper.make_node("Less", [_P + "ci", _P + "cT"], [_P + "go"])], "scan_cond", [],
        [helper.make_tensor_value_info(_P + "go", helper.np_dtype_to_tensor_dtype(BOOL), [])])
    inits = [numpy_helper.from_array(np.array(1, np.int64), _P + "one"),
             numpy_helper.from_array(np.array(t_len - 1, np.int64), _P + "last")]
    nodes = [helper.make_node("Sub", [_P + "last", iv], [_P + "ri"])]
    for j in range(n_scan_in):
        idx = _P + "ri" if in_dirs[j] else iv
        nodes.append(helper.make_node("Gather", [xsn[j], idx], [names_in[n + j]], axis=in_axes[j]))
    nodes += list(bgp.node)
    nodes.append(helper.make_node("Add", [iv, _P + "one"], [_P + "i_next"]))
    scan_names = [o.name for o in bgp.output[n:]]
    for j in range(k_scan):
        s = list(scan_shapes[j][0])
        s.insert(out_axes[j], 1)
        inits.append(numpy_helper.from_array(np.array(s, np.int64), f"{_P}shape{j}"))
        nodes.append(helper.make_node("Reshape", [scan_names[j], f"{_P}shape{j}"], [f"{_P}row{j}"]))
        pair = [f"{_P}row{j}", acc[j]] if out_dirs[j] else [acc[j], f"{_P}row{j}"]
        nodes.append(helper.make_node("Concat", pair, [f"{_P}acc_next{j}"], axis=out_axes[j]))
    outs = [_P + "i_next", tv] + [o.name for o in bgp.output[:n]] + xsn
    outs += [f"{_P}acc_next{j}" for j in range(k_scan)] + [nm for nm, _ in runtime]
    inits += list(bgp.initializer)
    body_g = helper.make_graph(nodes, "scan_body", [], [helper.make_tensor_value_info(o, 0, None) for o in outs], inits)
    body_names = [iv, tv] + names_in[:n] + xsn + acc + [nm for nm, _ in runtime]

    i0 = g.const(np.array(0, np.int64), _P + "i0")
    t_in = g.const(np.array(t_len, np.int64), _P + "T")
    acc0 = []
    for j, (s, dt) in enumerate(scan_shapes):
        s = list(s)
        s.insert(out_axes[j], 1)
        acc0.append(g.const(np.zeros(s, dt), f"{_P}acc0"))
    ins = [i0, t_in] + list(states) + list(xs) + acc0 + [v for _, v in runtime]
    _replace_with_while(g, node, ins, cond_g, cond_names, body_g, body_names, consts, n_carried_out=n,
                        carried_at=2, accs=list(zip(out_axes, [bool(d) for d in out_dirs])))
    return True


def _replace_with_while(g, node, ins, cond_g, cond_names, body_g, body_names, consts, *, n_carried_out, carried_at,
                        accs) -> None:
    """Put an ``edgelite::While`` where ``node`` was: outputs are one per loop value,
    then the node's scan outputs (cut from the accumulators by the While converter)."""
    acc_first = [j for j, nm in enumerate(body_names) if nm.startswith(_P + "acc")][:1]
    outs: list[Value] = []
    for j, v in enumerate(ins):
        if carried_at <= j < carried_at + n_carried_out:
            outs.append(node.outputs[j - carried_at])
        else:
            outs.append(g.new_value(f"{node.name}_loop{j}", tuple(v.shape), v.dtype))
    scan_values = node.outputs[n_carried_out:]
    g.remove_node(node)
    loop = WhileLoop(cond=cond_g, cond_names=cond_names, body=body_g, body_names=body_names, consts=consts,
                     acc_first=acc_first[0] if acc_first else len(ins), accs=accs, origin=node.describe())
    g.add_node("While", ins, outs + list(scan_values), {}, name=node.name, domain="edgelite").ann.loop = loop
    g.toposort()
