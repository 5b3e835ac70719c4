"""Det (the Leibniz sum for 1x1 to 3x3), against the ONNX reference and ONNX Runtime, in edgelite and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op, one_node_model

onnx = pytest.importorskip("onnx")
import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402

rng = np.random.default_rng(17)


def test_det_2x2_by_hand():
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)  # 0*3 - 1*2
    check_op("Det", {"x": x}, opset=22, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (4, 2, 2), (2, 3, 3, 3), (5, 1, 1)], ids=str)
@pytest.mark.parametrize("use_reference", [False, True], ids=["ort", "reference"])
def test_det_well_conditioned(shape, use_reference):
    # Diagonally dominant: far from singular, so float32 results agree to a few steps.
    x = rng.uniform(-1, 1, shape).astype(np.float32) + 4 * np.eye(shape[-1], dtype=np.float32)
    ops = check_op("Det", {"x": x}, opset=22, use_reference=use_reference, rtol=1e-5, atol=1e-6)
    assert "GATHER" in ops


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (6, 3, 3)], ids=str)
def test_det_integers_exact(shape):
    # Small integers: every product and sum is exact in float32, so any order gives the same.
    x = rng.integers(-5, 6, shape).astype(np.float32)
    check_op("Det", {"x": x}, opset=22, use_reference=True, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 5)], ids=str)
def test_det_refuses_matrices_larger_than_3x3(shape):
    m = one_node_model("Det", {"x": np.zeros(shape, np.float32)}, opset=22)
    with pytest.raises(UnsupportedOperatorError, match=f"Det of {shape[-1]}x{shape[-1]} matrices"):
        edgelite.convert(m)
