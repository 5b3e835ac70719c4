"""Acceptance: the PyTorch-exported models (small committed copies, built by
``models/make_models.py``) convert, run in LiteRT and in edgelite's interpreter, match
ONNX Runtime within 1e-4 relative, and hold no TRANSPOSE the I/O layout does not ask for."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import edgelite
from tests.converter.helpers import op_names, run_ort, run_tflite

HERE = os.path.join(os.path.dirname(__file__), "models")
CNNS = ["mobilenet_v2", "mobilenet_v3_small", "resnet18", "unet", "kws_conv1d"]
ALL = CNNS + ["transformer_encoder"]


def feeds_for(model, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.name == "input_ids":
            feeds[vi.name] = rng.integers(0, 1000, shape).astype(np.int64)
        elif vi.name == "attention_mask":
            mask = np.ones(shape, np.int64)
            mask[:, shape[1] * 3 // 4 :] = 0
            feeds[vi.name] = mask
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


@pytest.fixture(scope="module", params=ALL)
def converted(request):
    path = os.path.join(HERE, f"{request.param}.onnx")
    model = onnx.load(path)
    feeds = feeds_for(model)
    return request.param, model, edgelite.convert(path), feeds, run_ort(model, feeds)


def _rel_err(got, want):
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


@pytest.mark.parametrize("interpreter", ["litert", "edgelite"])
def test_matches_onnxruntime(converted, interpreter):
    name, _, tfl, feeds, want = converted
    got = run_tflite(tfl, feeds, interpreter)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert _rel_err(g, w) < 1e-4, name


def test_no_layout_transposes(converted):
    name, model, tfl, _, _ = converted
    ops = op_names(tfl)
    if name in CNNS:
        assert "TRANSPOSE" not in ops
    else:
        # Attention moves heads around with Transpose in the ONNX graph itself; none may be added.
        onnx_transposes = sum(n.op_type == "Transpose" for n in model.graph.node)
        assert ops.count("TRANSPOSE") <= onnx_transposes


def test_patterns_in_acceptance_models(converted):
    name, _, tfl, _, _ = converted
    ops = set(op_names(tfl))
    if name == "mobilenet_v3_small":
        assert "HARD_SWISH" in ops
    if name == "transformer_encoder":
        assert {"GELU", "SOFTMAX", "GATHER", "FULLY_CONNECTED", "SELECT_V2"} <= ops
    if name == "unet":
        assert {"TRANSPOSE_CONV", "RESIZE_BILINEAR", "CONCATENATION"} <= ops
    assert not {"RELU", "RELU6"} & ops or name == "transformer_encoder"


@pytest.mark.parametrize("name", ["resnet18", "kws_conv1d"])
def test_keep_io_layout_only_adds_io_transposes(name):
    path = os.path.join(HERE, f"{name}.onnx")
    model = onnx.load(path)
    tfl = edgelite.convert(path, keep_io_layout=True)
    assert op_names(tfl).count("TRANSPOSE") == 1  # the input; the output is 2-D
    feeds = feeds_for(model)
    got = run_tflite(tfl, feeds)[0]
    assert _rel_err(got, run_ort(model, feeds)[0]) < 1e-4
