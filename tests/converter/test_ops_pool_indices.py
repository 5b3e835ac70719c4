"""MaxPool with its Indices output (``ops/pool_indices.py``) in edgelite and LiteRT:
padding, strides, dilations, ceil_mode, both storage orders, 1-D/2-D/3-D and ties
against ONNX Runtime; NaN and -inf against the ONNX reference's window scan (first
value, then strictly greater), which ONNX Runtime does not follow there (it starts from
the lowest float, so a window of -inf gets index -1). The reference itself is not the
oracle for stride 1: that path decodes the window's argmax with the output shape."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op

rng = np.random.default_rng(21)


def test_maxpool_indices_by_hand():
    x = np.array([[[[1, 5, 2], [7, 0, 7], [3, 4, 9]]]], np.float32)
    ops = check_op("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2]}, opset=22, n_outputs=2, rtol=0, atol=0)
    assert "MAX_POOL_2D" not in ops


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]},
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [2, 3], "strides": [2, 1], "pads": [0, 1, 1, 0]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "dilations": [2, 2]},
    {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
], ids=str)
@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices_2d(attrs, storage_order):
    x = rng.integers(-4, 5, (2, 3, 6, 7)).astype(np.float32)  # small integers: many ties
    check_op("MaxPool", {"x": x}, attrs={**attrs, "storage_order": storage_order}, opset=22, n_outputs=2, rtol=0, atol=0)


@pytest.mark.parametrize("attrs", [{"kernel_shape": [3]}, {"kernel_shape": [2], "strides": [2], "pads": [1, 1]}], ids=str)
def test_maxpool_indices_1d(attrs):
    x = rng.standard_normal((2, 2, 9)).astype(np.float32)
    check_op("MaxPool", {"x": x}, attrs=attrs, opset=22, n_outputs=2, rtol=0, atol=0)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices_3d(storage_order):
    x = rng.integers(-3, 4, (1, 2, 4, 5, 3)).astype(np.float32)
    check_op("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2, 2], "pads": [1, 0, 1, 0, 1, 1],
                                          "storage_order": storage_order},
             opset=22, n_outputs=2, rtol=0, atol=0)


def test_maxpool_indices_nan_and_infinities():
    """A NaN first in its window is the output (and its index); a later NaN is never taken;
    a window of -inf values gives -inf at its first position, padding never."""
    x = np.array([[[[np.nan, 1, 2, -np.inf],
                    [3, np.nan, -np.inf, -np.inf],
                    [0, 0, np.inf, 5],
                    [np.nan, np.nan, 5, 5]]]], np.float32)
    for pads in ([0, 0, 0, 0], [1, 1, 1, 1]):  # strides 2: the reference's window scan
        check_op("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2], "pads": pads, "strides": [2, 2]}, opset=22,
                 n_outputs=2, use_reference=True, rtol=0, atol=0)
    check_op("MaxPool", {"x": x}, attrs={"kernel_shape": [3, 3], "strides": [1, 2]}, opset=22,
             n_outputs=2, use_reference=True, rtol=0, atol=0)


def test_maxpool_without_indices_still_uses_the_builtin():
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    ops = check_op("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, opset=22)
    assert ops.count("MAX_POOL_2D") == 1
