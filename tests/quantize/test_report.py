"""quant-report: metrics checked by hand on a model with a known error, renderings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgelite.quantize import quantize_model
from edgelite.quantize.report import compare_models
from edgelite.schema.builder import ModelBuilder
from tests.quantize.models import image_batch, small_cnn


def _relu_model(quant=None, dtype=np.float32):
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.float32)
    y = b.add_tensor("y", (1, 4), np.float32)
    b.add_operator("RELU", [x], [y])
    b.mark_output(y)
    return b.build()


def test_metrics_by_hand():
    """int8 RELU with fixed parameters: the error of every element is known exactly."""
    f = _relu_model()
    q = quantize_model(f, "int8", fixed_ranges={"x": (0.5, 0), "y": (0.5, -128)})
    data = np.array([[[0.2, -1.0, 1.4, 3.0]]], np.float32)  # one sample
    rep = compare_models(f, q, data, backend="litert")
    layers = {s.name: s for s in rep.layers}
    # x is the float input itself in both models.
    assert layers["x"].sqnr_db == math.inf and layers["x"].mse == 0.0
    # y: float relu [0.2, 0, 1.4, 3.0]; int8 with scale 0.5 -> [0.0, 0, 1.5, 3.0]
    err = np.array([-0.2, 0.0, 0.1, 0.0])
    ref = np.array([0.2, 0.0, 1.4, 3.0])
    y = layers["y"]
    assert y.mse == pytest.approx(np.mean(err**2), rel=1e-5)
    assert y.max_abs_error == pytest.approx(0.2, rel=1e-5)
    assert y.mean_error == pytest.approx(err.mean(), rel=1e-5, abs=1e-7)
    assert y.sqnr_db == pytest.approx(10 * np.log10(np.sum(ref**2) / np.sum(err**2)), rel=1e-4)
    assert rep.worst()[0].name == "y"


@pytest.fixture(scope="module")
def cnn_report():
    f = small_cnn()
    data = image_batch(12, 16, seed=3)
    q = quantize_model(f, "int8", calibration=data, backend="litert")
    return compare_models(f, q, data, backend="litert")


def test_cnn_report_covers_layers(cnn_report):
    ops = {s.op for s in cnn_report.layers}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED", "SOFTMAX", "INPUT"} <= ops
    assert cnn_report.unmatched == []
    sq = [s.sqnr_db for s in cnn_report.worst()]
    assert sq == sorted(sq)
    assert all(15.0 < s < 80.0 for s in sq if math.isfinite(s))


def test_renderings(cnn_report):
    table = cnn_report.to_table(top=3)
    assert len(table.splitlines()) == 2 + 3 + 1
    assert cnn_report.worst()[0].name in table.splitlines()[2]
    doc = json.loads(cnn_report.to_json())
    assert doc["samples"] == 12 and len(doc["layers"]) == len(cnn_report.layers)
    assert doc["layers"][0]["name"] == cnn_report.worst()[0].name
    page = cnn_report.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and page.count("<rect") == len(cnn_report.layers)
