"""ai.onnx.ml ops: Binarizer, ArrayFeatureExtractor, against the ONNX reference, in edgelite and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import assert_close, oracle

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.helpers import op_names, run_tflite  # noqa: E402

rng = np.random.default_rng(11)


def ml_model(op, feeds, attrs=None, out_dtype=None):
    names = list(feeds)
    node = helper.make_node(op, names, ["y"], domain="ai.onnx.ml", **(attrs or {}))
    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)) for k, v in feeds.items()]
    out_dt = helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype or next(iter(feeds.values())).dtype))
    g = helper.make_graph([node], "t", ins, [helper.make_tensor_value_info("y", out_dt, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 10
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def check_ml(op, feeds, attrs=None, out_shape=None):
    """``out_shape``: declared where ONNX shape inference gives none (a rank-1 ArrayFeatureExtractor input)."""
    m = ml_model(op, feeds, attrs)
    m.graph.output[0].CopyFrom(next(v for v in list(m.graph.value_info) + list(m.graph.output) if v.name == "y"))
    if out_shape is not None:
        dt = m.graph.output[0].type.tensor_type.elem_type
        m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", dt, list(out_shape)))
    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, feeds, use_reference=True)
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, runtime)
        assert len(got) == 1
        assert_close(np.asarray(got[0]), np.asarray(want[0]), rtol=0, atol=0)
    return op_names(tfl)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, 2.5, np.inf, -np.inf, np.nan, 3e9, -3e9])
def test_binarizer_float(threshold):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32) * 2
    x.flat[:6] = [1.0, -0.5, 2.5, np.nan, np.inf, -np.inf]
    check_ml("Binarizer", {"x": x}, {"threshold": float(threshold)})


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, 2.5, -2.0, np.inf, -np.inf, np.nan, 3e9, -3e9, 2147483647.0])
def test_binarizer_int32(threshold):
    x = rng.integers(-4, 5, (4, 6)).astype(np.int32)
    x.flat[:2] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max]
    check_ml("Binarizer", {"x": x}, {"threshold": float(threshold)})


def test_binarizer_refuses_int64():
    m = ml_model("Binarizer", {"x": np.zeros((2, 3), np.int64)}, {"threshold": 1.0})
    with pytest.raises(UnsupportedOperatorError, match="Binarizer on int64"):
        edgelite.convert(m)


@pytest.mark.parametrize("xshape,idx", [
    ((3, 4), [0, 1]),
    ((3, 4), [3, -1, 0, 2, 2]),
    ((2, 3, 5), [[4, 0], [1, -5]]),
    ((2, 3, 5), [[1, 2, 3]]),
    ((6,), [5, 0, -2]),
], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_array_feature_extractor(xshape, idx, dtype):
    x = rng.integers(-50, 50, xshape).astype(dtype)
    i = np.array(idx, np.int64)
    out_shape = (1, i.size) if len(xshape) == 1 else None
    ops = check_ml("ArrayFeatureExtractor", {"x": x, "i": i}, out_shape=out_shape)
    assert "GATHER" in ops
