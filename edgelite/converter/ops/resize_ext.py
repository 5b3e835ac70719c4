"""Resize / Upsample forms TFLite's two resize ops cannot express.

TFLite's RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR cover a few (mode, coordinate
transform, rounding) combinations on H and W (``resize.py``). Every other form whose
per-axis scale is known when converting (``sizes`` given, or constant ``scales``)
is lowered here, in ONNX's layout, one resized axis at a time, because ONNX resizing
is separable: along axis ``a`` the output is ``M_a @ x + b_a`` with an ``[O, I]``
interpolation matrix ``M_a`` (and, for ``tf_crop_and_resize``, an extrapolation
bias ``b_a``).

``M_a`` and ``b_a`` come from ONNX's reference Resize applied to an identity matrix
(and to zeros, for the bias) with the node's own attributes, so every coordinate
transform, rounding mode, cubic coefficient, ``exclude_outside`` and ``antialias``
setting is reproduced exactly. Nearest modes become a ``GATHER`` with constant
indices (exact, any dtype); the others a ``BATCH_MATMUL`` by the constant matrix
(float tensors), plus an ``ADD`` of the bias when it is non-zero.

Not handled (refused at conversion): ``scales`` or ``roi`` fed at run time (the
coordinates would depend on run-time values), and ``keep_aspect_ratio_policy`` with
run-time ``sizes``.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ops.resize_ext import axis_matrix
    >>> m, b = axis_matrix(2, 4, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
    ...                           "nearest_mode": "floor"}, scale=2.0)
    >>> m.argmax(1).tolist(), float(abs(b).max())
    ([0, 0, 1, 1], 0.0)
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.layout_rules import OnnxLayoutData
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.resize import Resize as _Resize

_ATTRS = (
    "mode",
    "coordinate_transformation_mode",
    "cubic_coeff_a",
    "exclude_outside",
    "extrapolation_value",
    "nearest_mode",
    "antialias",
)


def _attrs(node, opset: int) -> dict:
    """The node's resize attributes in Resize-19 spelling (Upsample and Resize-10 included)."""
    a = {k: node.attrs[k] for k in _ATTRS if k in node.attrs}
    if node.op_type == "Upsample" or opset < 11 or len(node.inputs) == 2:  # Resize-10 has (X, scales)
        a["coordinate_transformation_mode"] = "asymmetric"
        a["nearest_mode"] = "floor"
    if a.get("mode") == "bilinear":
        a["mode"] = "linear"
    a.setdefault("mode", "nearest")
    return a


def axis_matrix(in_size: int, out_size: int, attrs: dict, scale: float | None = None, roi=None, sizes: bool = False):
    """``(M, b)``: ONNX's 1-D resize from ``in_size`` to ``out_size`` as ``y = M @ x + b``.

    ``scale`` is the axis' scale factor (ONNX derives it from ``sizes`` as
    ``out / in`` when ``sizes`` is set); ``roi`` is ``(start, end)`` for
    ``tf_crop_and_resize``.
    """
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    inputs = ["X", "roi" if roi is not None else ""]
    feeds: dict = {}
    if sizes:
        inputs += ["", "sizes"]
        feeds["sizes"] = np.array([out_size, in_size], np.int64)
    else:
        inputs += ["scales"]
        feeds["scales"] = np.array([scale, 1.0], np.float32)
    if roi is not None:
        feeds["roi"] = np.array([roi[0], 0.0, roi[1], 1.0], np.float32)
    node = helper.make_node("Resize", inputs, ["Y"], **attrs)
    graph = helper.make_graph(
        [node],
        "axis",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [in_size, in_size])]
        + [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)) for k, v in feeds.items()],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    ref = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]))
    eye = ref.run(None, {"X": np.eye(in_size, dtype=np.float32), **feeds})[0]
    zero = ref.run(None, {"X": np.zeros((in_size, in_size), np.float32), **feeds})[0]
    if eye.shape != (out_size, in_size):
        raise ValueError(f"reference resize gave {eye.shape}, expected {(out_size, in_size)}")
    bias = zero[:, 0].astype(np.float32)
    return (eye - zero).astype(np.float32), bias


def _input(node, i):
    v = node.input(i)
    if v is None or (v.shape is not None and int(np.prod(v.shape)) == 0):
        return None  # omitted, or an empty placeholder tensor
    return v


def _plan(node, opset: int):
    """Per resized axis ``(axis, in, out, scale, roi, sizes)``. Only for nodes
    :func:`static_reason` accepts (it raises ValueError for the others)."""
    x, y = node.inputs[0], node.outputs[0]
    r = len(x.shape)
    if node.op_type == "Upsample":
        scales_v, sizes_v, roi_v = (node.input(1) if opset >= 9 else None), None, None
        if scales_v is None:
            scales = np.asarray(node.attrs["scales"], np.float32)
    else:
        if opset < 11 or len(node.inputs) == 2:
            roi_v, scales_v, sizes_v = None, _input(node, 1), None
        else:
            roi_v, scales_v, sizes_v = _input(node, 1), _input(node, 2), _input(node, 3)
    attrs = _attrs(node, opset)
    axes = [int(a) % r for a in node.attrs.get("axes", range(r))]
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = None
    if crop:
        if roi_v is None or not roi_v.is_constant:
            raise ValueError("tf_crop_and_resize with a run-time roi")
        roi = np.asarray(roi_v.data, np.float64).ravel()
    if sizes_v is not None:
        if node.attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise ValueError(f"keep_aspect_ratio_policy={node.attrs['keep_aspect_ratio_policy']}")
        use_sizes, scales = True, None
    else:
        use_sizes = False
        if scales_v is not None:
            if not scales_v.is_constant:
                raise ValueError("scales fed at run time")
            scales = np.asarray(scales_v.data, np.float32).ravel()
    steps = []
    for k, a in enumerate(axes):
        i_sz, o_sz = int(x.shape[a]), int(y.shape[a])
        sc, use = (None if use_sizes else float(scales[k])), use_sizes
        rk = None if roi is None else (float(roi[k]), float(roi[k + len(axes)]))
        identity = i_sz == o_sz and (sc is None or sc == 1.0) and not crop
        if not identity:
            steps.append((a, i_sz, o_sz, sc, rk, use))
    return attrs, steps


def static_reason(node, opset: int) -> str | None:
    """Why :func:`_plan` cannot lay this node out statically (None: it can)."""
    if node.op_type == "Upsample":
        scales_v = node.input(1) if opset >= 9 else None
        if scales_v is None and "scales" not in node.attrs:
            return "Upsample without scales"
        roi_v, sizes_v = None, None
    elif opset < 11 or len(node.inputs) == 2:
        roi_v, scales_v, sizes_v = None, _input(node, 1), None
    else:
        roi_v, scales_v, sizes_v = _input(node, 1), _input(node, 2), _input(node, 3)
    if _attrs(node, opset).get("coordinate_transformation_mode") == "tf_crop_and_resize":
        if roi_v is None or not roi_v.is_constant:
            return "tf_crop_and_resize with a run-time roi"
    if sizes_v is not None:
        if node.attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            return f"keep_aspect_ratio_policy={node.attrs['keep_aspect_ratio_policy']}"
    elif scales_v is not None and not scales_v.is_constant:
        return "scales fed at run time"
    return None


@register("Resize", "Upsample", after=_Resize)
class ResizeGather(OnnxLayoutData, OpConverter):
    """Per-axis GATHER / BATCH_MATMUL with static sampling, where ``resize.Resize`` does
    not apply (``resize_runtime.ResizeRuntime`` follows for run-time sampling)."""

    def applies(self, node):
        x, y = node.inputs[0], node.outputs[0]
        if x.shape is None or y.shape is None:
            return True  # check_static_shapes reports it
        return static_reason(node, 19 if node.op_type == "Resize" else 9) is None

    def check(self, node):
        x, y = node.inputs[0], node.outputs[0]
        if x.shape is None or y.shape is None:
            return None  # check_static_shapes reports it
        attrs = _attrs(node, 19 if node.op_type == "Resize" else 9)
        if attrs["mode"] != "nearest" and np.dtype(x.dtype).kind != "f":
            return f"{attrs['mode']} resize of {np.dtype(x.dtype).name} data"
        return None

    def lower(self, node, out):
        opset = out.graph.opset if out.graph is not None else 19
        attrs, steps = _plan(node, opset)
        e = Emitter(out, node.name)
        x, y = node.inputs[0], node.outputs[0]
        cur = x
        if not steps:
            e.reshape(cur, y.shape, y=y)
            return
        for n, (a, i_sz, o_sz, sc, rk, use_sizes) in enumerate(steps):
            m, b = axis_matrix(i_sz, o_sz, attrs, scale=sc, roi=rk, sizes=use_sizes)
            last = n == len(steps) - 1
            into = y if last else None
            cur = _apply_axis(e, cur, a, m, b, attrs["mode"] == "nearest", into)


def _apply_axis(e: Emitter, x, axis: int, m: np.ndarray, b: np.ndarray, nearest: bool, into):
    o_sz, i_sz = m.shape
    out_shape = tuple(x.shape[:axis]) + (o_sz,) + tuple(x.shape[axis + 1 :])
    if nearest and not np.any(b) and np.all((m == 0) | (m == 1)) and np.all(m.sum(1) == 1):
        idx = e.const(m.argmax(1).astype(np.int32), tag="idx")
        return e.gather(x, idx, axis, y=into)
    pre = int(np.prod(x.shape[:axis], dtype=np.int64))
    post = int(np.prod(x.shape[axis + 1 :], dtype=np.int64))
    x3 = e.reshape(x, (pre, i_sz, post))
    mat = e.const(m.reshape(1, o_sz, i_sz).astype(x.dtype), tag="interp")
    from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

    y3 = e.op("BATCH_MATMUL", [mat, x3], (pre, o_sz, post), x.dtype, BatchMatMulOptionsT(), version=4)
    if np.any(b):
        y3 = e.binary("ADD", y3, e.const(b.reshape(1, o_sz, 1).astype(x.dtype), tag="extrapolation"))
    if into is not None:
        return e.reshape(y3, out_shape, y=into)
    return e.reshape(y3, out_shape)
