"""GridSample lowered to GATHERs: random grids reaching outside the image, every mode,
padding and align_corners, checked against ONNX's reference implementation and
ONNX Runtime in edgelite's interpreter and in LiteRT."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.converter.helpers import make_model, run_ort, run_tflite
from onnx import helper
from onnx.reference import ReferenceEvaluator

import edgelite
from edgelite.errors import UnsupportedOperatorError

CASES = [(m, p, a) for m, p, a in itertools.product(("nearest", "linear", "cubic"), ("zeros", "border", "reflection"), (0, 1))]


def _model(x_shape, g_shape, **attrs):
    out = list(x_shape[:2]) + list(g_shape[1:-1])
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], **attrs)
    return make_model([node], [("x", np.float32, list(x_shape)), ("grid", np.float32, list(g_shape))],
                      [("y", np.float32, out)], opset=22)


@pytest.mark.parametrize("mode,padding,align", CASES)
def test_grid_sample_2d(mode, padding, align):
    rng = np.random.default_rng(hash((mode, padding, align)) % 1000)
    feeds = {"x": rng.standard_normal((2, 3, 5, 4)).astype(np.float32),
             "grid": rng.uniform(-2.5, 2.5, (2, 6, 7, 2)).astype(np.float32)}
    m = _model((2, 3, 5, 4), (2, 6, 7, 2), mode=mode, padding_mode=padding, align_corners=align)
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    tfl = edgelite.convert(m)
    for interp in ("edgelite", "litert"):
        (got,) = run_tflite(tfl, feeds, interp)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if not (mode == "cubic" or padding == "reflection"):  # ORT agrees with the reference there
        np.testing.assert_allclose(run_ort(m, feeds)[0], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_grid_sample_3d(mode):
    rng = np.random.default_rng(5)
    feeds = {"x": rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32),
             "grid": rng.uniform(-1.3, 1.3, (1, 2, 3, 4, 3)).astype(np.float32)}
    m = _model((1, 2, 3, 4, 5), (1, 2, 3, 4, 3), mode=mode, padding_mode="border")
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    (got,) = run_tflite(edgelite.convert(m), feeds, "edgelite")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_cubic_volume_is_refused_naming_the_node():
    m = _model((1, 1, 2, 2, 2), (1, 1, 1, 1, 3), mode="cubic")
    with pytest.raises(UnsupportedOperatorError, match="cubic sampling of a volume"):
        edgelite.convert(m)
