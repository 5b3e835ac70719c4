"""Resize forms beyond TFLite's resize ops (``ops/resize_ext.py``) against ONNX Runtime,
in LiteRT and edgelite's interpreter, plus the run-time shape-parameter ops of
``ops/movement_ext.py``."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from onnx import TensorProto, helper  # noqa: E402

import edgelite
from edgelite.errors import UnsupportedOperatorError

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def test_axis_matrix_linear_half_pixel_by_hand():
    from edgelite.converter.ops.resize_ext import axis_matrix

    m, b = axis_matrix(2, 4, {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}, scale=2.0)
    # half_pixel x2: source coords -0.25, 0.25, 0.75, 1.25 (clamped at the edges)
    np.testing.assert_allclose(m, [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], atol=1e-6)
    assert not b.any()


def _resize(x_shape, out_shape, sizes=None, scales=None, **attrs):
    inits = {"roi": np.zeros(0, np.float32)}
    names = ["x", "roi"]
    if scales is not None:
        inits["scales"] = np.asarray(scales, np.float32)
        names.append("scales")
    else:
        inits["sizes"] = np.asarray(sizes, np.int64)
        names += ["", "sizes"]
    return make_model(
        [helper.make_node("Resize", names, ["y"], **attrs)],
        [("x", np.float32, x_shape)],
        [("y", np.float32, out_shape)],
        inits=inits,
        opset=19,
    )


@BOTH
@pytest.mark.parametrize(
    "attrs",
    [
        dict(mode="nearest"),  # half_pixel + round_prefer_floor
        dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"),
        dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1),
        dict(mode="linear", antialias=1),
        dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
    ],
)
def test_resize_sizes(interp, attrs):
    ops = check(_resize([1, 2, 5, 6], [1, 2, 3, 9], sizes=[1, 2, 3, 9], **attrs), interpreter=interp)
    assert not any(o.startswith("RESIZE") for o in ops)


@BOTH
def test_resize_constant_scales_3d_axes(interp):
    m = _resize([2, 3, 4], [2, 3, 10], scales=[1.0, 1.0, 2.5], mode="linear", coordinate_transformation_mode="align_corners")
    check(m, interpreter=interp)


def test_resize_runtime_scales_computed_in_model():
    """Run-time scales used to be refused; ``resize_runtime.py`` now computes the coordinates."""
    from onnx.reference import ReferenceEvaluator

    from tests.converter.helpers import run_tflite

    vi = helper.make_tensor_value_info
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")
    g = helper.make_graph(
        [node], "r", [vi("x", TensorProto.FLOAT, [1, 1, 2, 2]), vi("s", TensorProto.FLOAT, [4])],
        [vi("y", TensorProto.FLOAT, [1, 1, 4, 4])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    feeds = {"x": np.array([[[[1, 2], [3, 4]]]], np.float32), "s": np.array([1, 1, 2, 2], np.float32)}
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    got = run_tflite(edgelite.convert(m), feeds, "edgelite")[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def _runtime_param_model(op, x_shape, p_name, p_shape, y_shape, **attrs):
    vi = helper.make_tensor_value_info
    g = helper.make_graph(
        [helper.make_node(op, ["x", p_name], ["y"], **attrs)],
        "m",
        [vi("x", TensorProto.FLOAT, x_shape), vi(p_name, TensorProto.INT64, p_shape)],
        [vi("y", TensorProto.FLOAT, y_shape)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


@BOTH
@pytest.mark.parametrize(
    "op,x_shape,p,y_shape",
    [
        ("Squeeze", [1, 3, 1, 2], [0, 2], [3, 2]),
        ("Unsqueeze", [3, 2], [0, -1], [1, 3, 2, 1]),
        ("Reshape", [2, 3, 4], [4, 0, -1], [4, 3, 2]),
        ("Tile", [2, 3], [3, 2], [6, 6]),
        ("Expand", [3, 1], [2, 3, 4], [2, 3, 4]),
    ],
)
def test_runtime_shape_parameters(interp, op, x_shape, p, y_shape):
    m = _runtime_param_model(op, x_shape, "p", [len(p)], y_shape)
    rng = np.random.default_rng(0)
    check(m, {"x": rng.standard_normal(x_shape).astype(np.float32), "p": np.array(p, np.int64)}, interpreter=interp)
