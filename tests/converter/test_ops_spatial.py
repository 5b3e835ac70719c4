"""Pooling / convolution over gathered patches (``ops/spatial_ext.py``) against ONNX
Runtime, in LiteRT and edgelite's interpreter: 3-D, dilations, ceil_mode, padding
excluded from averages, LpPool, Conv with run-time weights and groups."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from onnx import helper  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def test_patch_table_by_hand():
    from edgelite.converter.ops.spatial_ext import patch_table

    # 1-D, kernel 2, dilation 2, stride 1 over 5 elements: windows (0,2) (1,3) (2,4)
    t, padded = patch_table((5,), (2,), (1,), (2,), [(0, 0)], (3,))
    assert t.tolist() == [[0, 1, 2], [2, 3, 4]] and padded == (5,)


def _pool(op, x_shape, y_shape, **attrs):
    return make_model(
        [helper.make_node(op, ["x"], ["y"], **attrs)],
        [("x", np.float32, x_shape)],
        [("y", np.float32, y_shape)],
        opset=19,
    )


@BOTH
@pytest.mark.parametrize(
    "op,attrs,y,patched",
    [
        ("MaxPool", dict(kernel_shape=[2, 2, 2], dilations=[2, 1, 1], strides=[1, 2, 2], ceil_mode=1), [1, 2, 2, 3, 3], 1),
        ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 2, 1, 0]), [1, 2, 5, 4], 1),
        # padding counted: PAD + AVERAGE_POOL_2D stays exact, no fallback
        ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 2, 1, 0], count_include_pad=1), [1, 2, 5, 4], 0),
        ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), [1, 2, 3, 3], 0),  # = TF SAME
        ("LpPool", dict(kernel_shape=[2, 3], p=3, pads=[0, 1, 1, 1]), [1, 2, 5, 5], 1),
    ],
)
def test_pool_fallbacks(interp, op, attrs, y, patched):
    x_shape = [1, 2, 5, 5] if len(attrs["kernel_shape"]) == 2 else [1, 2, 4, 5, 5]
    ops = check(_pool(op, x_shape, y, **attrs), interpreter=interp)
    assert ("GATHER" in ops) == bool(patched)


@BOTH
def test_global_lp_pool(interp):
    m = make_model(
        [helper.make_node("GlobalLpPool", ["x"], ["y"], p=3)],
        [("x", np.float32, [2, 3, 4, 5])],
        [("y", np.float32, [2, 3, 1, 1])],
        opset=18,
    )
    check(m, interpreter=interp)


@BOTH
@pytest.mark.parametrize("group", [1, 2])
def test_conv_runtime_weights_and_fused_relu(interp, group):
    # The Relu after the fallback conv must not be dropped (no fused activation there).
    m = make_model(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[2, 1],
                             dilations=[1, 2], group=group),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        [("x", np.float32, [2, 4, 7, 6]), ("w", np.float32, [6, 4 // group, 3, 3]), ("b", np.float32, [6])],
        [("y", np.float32, [2, 6, 4, 4])],
        opset=17,
    )
    ops = check(m, interpreter=interp)
    assert "BATCH_MATMUL" in ops and "RELU" in ops


@BOTH
def test_conv3d_constant_weights(interp):
    rng = np.random.default_rng(0)
    m = make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[2, 3, 3], pads=[0, 1, 1, 1, 1, 1])],
        [("x", np.float32, [1, 3, 4, 5, 5])],
        [("y", np.float32, [1, 4, 4, 5, 5])],
        inits={"w": rng.standard_normal((4, 3, 2, 3, 3)).astype(np.float32)},
        opset=17,
    )
    check(m, interpreter=interp)
