"""Activations built from several builtins (activation_ext), vs ONNX Runtime, in both runtimes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op

rng = np.random.default_rng(3)
X = (rng.standard_normal((2, 3, 4)) * 3).astype(np.float32)

CASES = [
    ("Elu", {}, 6),
    ("Elu", {"alpha": 0.5}, 6),
    ("Selu", {}, 6),
    ("Selu", {"alpha": 2.0, "gamma": 3.0}, 6),
    ("Celu", {"alpha": 2.0}, 12),
    ("ThresholdedRelu", {"alpha": 1.5}, 10),
    ("Shrink", {"bias": 1.5, "lambd": 1.0}, 9),
    ("Softplus", {}, 1),
    ("Softsign", {}, 1),
    ("Mish", {}, 18),
    ("Hardmax", {"axis": 1}, 13),
    ("Hardmax", {"axis": 1}, 11),  # before opset 13: flattened to 2-D from the axis
]


@pytest.mark.parametrize("op,attrs,opset", CASES)
def test_formula(op, attrs, opset):
    check_op(op, {"x": X}, attrs=attrs, opset=opset, rtol=1e-5, atol=1e-5)


def test_hardmax_takes_the_first_of_tied_maxima():
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], np.float32)
    check_op("Hardmax", {"x": x}, opset=13)


def test_float16_activation_computed_in_float32():
    check_op("Softsign", {"x": X.astype(np.float16)}, opset=13, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("slope_shape", [(4,), (3, 4), (2, 3, 4), (1,)])
def test_prelu_runtime_slope_broadcast(slope_shape):
    slope = rng.standard_normal(slope_shape).astype(np.float32)
    check_op("PRelu", {"x": X, "slope": slope}, opset=16)


def test_prelu_5d_uses_select():
    x = rng.standard_normal((1, 2, 2, 2, 3)).astype(np.float32)
    ops = check_op("PRelu", {"x": x}, consts={"s": np.array([0.1, 0.2, 0.3], np.float32)}, opset=16)
    assert "SELECT_V2" in ops


def test_prelu_opset6_slope_is_per_channel():
    import edgelite
    from tests.converter.ext_helpers import one_node_model
    from tests.converter.helpers import run_tflite

    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    slope = np.array([0.1, 0.5, 2.0], np.float32)
    model = one_node_model("PRelu", {"x": x}, consts={"s": slope}, opset=6)
    want = np.where(x >= 0, x, x * slope.reshape(3, 1, 1))  # PRelu-6 semantics
    tfl = edgelite.convert(model, keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        np.testing.assert_allclose(run_tflite(tfl, {"x": x}, runtime)[0], want, rtol=1e-6)
