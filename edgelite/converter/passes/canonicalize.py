"""Canonicalization: one spelling per idea before the bigger passes run.

* ``fold_batchnorm``: ``BatchNormalization`` after a ``Conv``/``ConvTranspose`` (that
  nothing else reads) is folded into its weights and bias; any other
  ``BatchNormalization`` becomes ``Mul`` + ``Add`` with per-channel constants.
* ``canonicalize``: axes/split/min/max given as constant inputs (newer opsets) become
  attributes; ``Flatten`` becomes ``Reshape``; ``GlobalAveragePool``/``GlobalMaxPool``
  become ``ReduceMean``/``ReduceMax`` over the spatial axes; ``Sub``/``Div`` by a
  constant stay as they are (TFLite has both).

Example:
    >>> from edgelite.converter.passes.canonicalize import canonicalize
    >>> canonicalize.__name__
    'canonicalize'
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph

_AXES_AS_INPUT = {
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL2",
    "ReduceL1",
    "ReduceSumSquare",
    "ReduceLogSumExp",
    "Squeeze",
    "Unsqueeze",
}


def _single_reader(g: Graph, v, cons) -> bool:
    return len(cons.get(id(v), [])) == 1 and not g.is_output(v)


def fold_batchnorm(g: Graph) -> None:
    cons = g.consumers()
    for bn in [n for n in g.nodes if n.op_type == "BatchNormalization"]:
        x = bn.inputs[0]
        params = bn.inputs[1:5]
        if (
            any(p is None or not p.is_constant for p in params)
            # training mode normalizes with the batch's statistics, not the constant ones
            or int(bn.attrs.get("training_mode", 0))
            or len(bn.outputs) > 1
            and any(id(o) in cons or g.is_output(o) for o in bn.outputs[1:])
        ):
            continue
        scale, bias, mean, var = (np.asarray(p.data, np.float64) for p in params)
        eps = float(bn.attrs.get("epsilon", 1e-5))
        mul = scale / np.sqrt(var + eps)
        add = bias - mean * mul
        conv = x.producer
        if (
            conv is not None
            and conv.op_type in ("Conv", "ConvTranspose")
            and _single_reader(g, x, cons)
            and conv.inputs[1].is_constant
            and (conv.input(2) is None or conv.inputs[2].is_constant)
        ):
            w = np.asarray(conv.inputs[1].data, np.float64)
            if conv.op_type == "Conv":
                w = w * mul.reshape((-1,) + (1,) * (w.ndim - 1))
            else:  # ConvTranspose weight is [C_in, C_out / group, k...]
                group = int(conv.attrs.get("group", 1))
                cout_g = w.shape[1]
                m = mul.reshape(group, cout_g)
                cin_g = w.shape[0] // group
                w = (
                    w.reshape((group, cin_g, cout_g) + w.shape[2:])
                    * m.reshape((group, 1, cout_g) + (1,) * (w.ndim - 2))
                ).reshape(w.shape)
            b0 = np.zeros(len(mul)) if conv.input(2) is None else np.asarray(conv.inputs[2].data, np.float64)
            dt = conv.inputs[1].data.dtype
            new_w = g.const(w.astype(dt), conv.inputs[1].name + "_bn")
            new_b = g.const((b0 * mul + add).astype(dt), (conv.name or "conv") + "_bias_bn")
            conv.inputs = [conv.inputs[0], new_w, new_b]
            g.remove_node(bn)
            g.replace_uses(bn.outputs[0], x)
            continue
        # A free-standing BatchNormalization: y = x * mul + add, channel axis 1.
        r = len(x.shape) if x.shape is not None else 4
        cshape = (-1,) + (1,) * max(r - 2, 0)
        dt = params[0].data.dtype
        mul_c = g.const(mul.astype(dt).reshape(cshape), bn.name + "_mul")
        add_c = g.const(add.astype(dt).reshape(cshape), bn.name + "_add")
        m = g.add_node("Mul", [x, mul_c], [bn.name + "_scaled"], before=bn)
        g.add_node("Add", [m.outputs[0], add_c], [bn.outputs[0]], name=bn.name, before=bn)
        g.remove_node(bn)
        m.outputs[0].shape, m.outputs[0].dtype = x.shape, x.dtype


def canonicalize(g: Graph) -> None:
    for n in list(g.nodes):
        if n.op_type in _AXES_AS_INPUT and n.input(1) is not None and n.inputs[1].is_constant:
            n.attrs["axes"] = [int(a) for a in np.asarray(n.inputs[1].data).ravel()]
            n.inputs = n.inputs[:1]
        elif (
            n.op_type in _AXES_AS_INPUT
            and len(n.inputs) == 1
            and n.op_type.startswith("Reduce")
            and "axes" not in n.attrs
            and n.attrs.get("noop_with_empty_axes", 0) == 0
        ):
            n.attrs["axes"] = list(range(len(n.inputs[0].shape)))
        if n.op_type == "Split" and n.input(1) is not None and n.inputs[1].is_constant:
            n.attrs["split"] = [int(a) for a in np.asarray(n.inputs[1].data).ravel()]
            n.inputs = n.inputs[:1]
        if n.op_type == "Clip":
            lo = n.attrs.pop("min", None)
            hi = n.attrs.pop("max", None)
            if n.input(1) is not None and n.inputs[1].is_constant:
                lo = float(n.inputs[1].data)
            if n.input(2) is not None and n.inputs[2].is_constant:
                hi = float(n.inputs[2].data)
            if all(v is None or v.is_constant for v in n.inputs[1:]):
                n.inputs = n.inputs[:1]
                n.ann.clip_min, n.ann.clip_max = lo, hi
        if n.op_type == "Flatten":
            shp = n.inputs[0].shape
            axis = n.attrs.pop("axis", 1) % max(len(shp), 1) if shp else 1
            new = (int(np.prod(shp[:axis], dtype=np.int64)), int(np.prod(shp[axis:], dtype=np.int64)))
            n.op_type = "Reshape"
            n.inputs = [n.inputs[0], g.const(np.array(new, np.int64), n.name + "_shape")]
        if n.op_type in ("GlobalAveragePool", "GlobalMaxPool"):
            r = len(n.inputs[0].shape)
            n.op_type = "ReduceMean" if n.op_type == "GlobalAveragePool" else "ReduceMax"
            n.attrs = {"axes": list(range(2, r)), "keepdims": 1}
