"""Erf as a rational function: checked against math.erf, ONNX Runtime and LiteRT."""

from __future__ import annotations

import math

import numpy as np

from tests.converter.helpers import check, make_model, run_tflite
from onnx import helper

import edgelite


def _model(shape):
    return make_model([helper.make_node("Erf", ["x"], ["y"])], [("x", np.float32, shape)], [("y", np.float32, shape)])


def test_erf_matches_ort_in_both_runtimes():
    x = (np.random.default_rng(0).standard_normal((2, 3, 40)) * 2).astype(np.float32)
    for interp in ("edgelite", "litert"):
        check(_model([2, 3, 40]), {"x": x}, rtol=2e-6, atol=1e-6, interpreter=interp)


def test_erf_error_is_a_few_ulps_and_edge_values():
    x = np.concatenate([np.linspace(-6, 6, 4001), [0.0, -0.0, 1e-30, -1e-7, np.inf, -np.inf, np.nan]]).astype(np.float32)
    tfl = edgelite.convert(_model([x.size]))
    want = np.array([math.erf(float(v)) for v in x])
    for interp in ("edgelite", "litert"):
        (got,) = run_tflite(tfl, {"x": x}, interp)
        finite = ~np.isnan(want)
        assert np.max(np.abs(got[finite] - want[finite])) < 5e-7
        assert np.max(np.abs(got[finite] - want[finite]) / np.maximum(np.abs(want[finite]), 1e-30)) < 5e-7
        assert np.isnan(got[-1])
        assert got[-3] == 1.0 and got[-2] == -1.0
