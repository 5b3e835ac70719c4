"""Casts from int4 / uint4 and between bfloat16 and float32 / float16 (``cast_like``),
against the ONNX reference, in edgelite and LiteRT (which both take INT4 / UINT4 tensors as
int8 / uint8 values, one per byte, and BFLOAT16 as ``ml_dtypes.bfloat16``)."""

from __future__ import annotations

import numpy as np
import pytest

ml_dtypes = pytest.importorskip("ml_dtypes")

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.ext_helpers import one_node_model, oracle  # noqa: E402
from tests.converter.helpers import op_names, run_tflite  # noqa: E402

rng = np.random.default_rng(4)
ONNX_TYPE = {"float32": 1, "uint8": 2, "int8": 3, "float16": 10, "float64": 11, "bfloat16": 16, "int32": 6}


def held(x):
    """How a runtime takes ``x``: int4 / uint4 as int8 / uint8."""
    return x.astype({"int4": np.int8, "uint4": np.uint8}.get(x.dtype.name, x.dtype))


def cast_case(x, to: str):
    model = one_node_model("Cast", {"x": x}, attrs={"to": ONNX_TYPE[to]}, opset=21)
    want = oracle(model, {"x": x}, use_reference=True)[0]
    tfl = edgelite.convert(model, keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"x": held(x)}, runtime)[0]
        assert got.dtype == want.dtype, (runtime, got.dtype, want.dtype)
        np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64), err_msg=runtime)
    return op_names(tfl)


@pytest.mark.parametrize("to", ["float32", "float16", "int8", "int32"])
def test_int4_to(to):
    x = np.arange(-8, 8).reshape(4, 4).astype(ml_dtypes.int4)
    names = cast_case(x, to)
    assert names.count("CAST") == (1 if to == "float32" else 2)


@pytest.mark.parametrize("to", ["float32", "float16", "uint8"])
def test_uint4_to(to):
    cast_case(np.arange(16).reshape(2, 8).astype(ml_dtypes.uint4), to)


def test_float32_to_bfloat16_rounds_to_nearest_even():
    x = rng.standard_normal(64).astype(np.float32)
    # ties (low 16 bits 0x8000) both ways, NaN, infinities, the largest finite value
    ties = np.array([0x3F808000, 0x3F818000, 0x7FC00000, 0x7F800000, 0xFF800000, 0x7F7FFFFF], np.uint32)
    cast_case(np.concatenate([x, ties.view(np.float32)]), "bfloat16")


@pytest.mark.parametrize("src", ["float16"])
def test_to_bfloat16_through_float32(src):
    cast_case(rng.standard_normal(32).astype(src), "bfloat16")


@pytest.mark.parametrize("to", ["float32", "float16", "float64"])
def test_bfloat16_to(to):
    cast_case((rng.standard_normal(32) * 100).astype(ml_dtypes.bfloat16), to)


@pytest.mark.parametrize("src,to,why", [
    ("float32", "int4", "4-bit"),
    ("int32", "bfloat16", "round twice"),
    ("float64", "bfloat16", "round twice"),
])
def test_refused(src, to, why):
    x = np.ones(4, np.float32).astype(src)
    onnx_to = {"int4": 22}.get(to) or ONNX_TYPE[to]
    model = one_node_model("Cast", {"x": x}, attrs={"to": onnx_to}, opset=21)
    with pytest.raises(UnsupportedOperatorError, match=why):
        edgelite.convert(model)
