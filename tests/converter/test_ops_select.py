"""NonZero, Compress, ReverseSequence, CenterCropPad (``ops/select_ext.py``) and Gather with
run-time negative indices (``ops/indexing.py``), against ONNX Runtime / the ONNX
reference, in LiteRT and edgelite's interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model, run_tflite

from onnx import helper  # noqa: E402

import edgelite  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def test_center_crop_pad_plan_by_hand():
    from edgelite.converter.ops.select_ext import center_crop_pad_plan

    assert center_crop_pad_plan((5, 2), (2, 5)) == ([1, 0], [2, 2], [(0, 0), (1, 2)])


@BOTH
def test_nonzero(interp):
    x = np.array([[1, 0, 3], [0, 5, 0]], np.float32)
    m = make_model([helper.make_node("NonZero", ["x"], ["y"])], [("x", np.float32, [2, 3])], [("y", np.int64, [2, 3])])
    ops = check(m, {"x": x}, interpreter=interp)
    assert "WHERE" in ops


@BOTH
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_compress(interp, axis):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    n = 12 if axis is None else x.shape[axis]
    cond = np.zeros(n - 1, np.bool_)
    cond[[0, n - 2]] = True  # shorter than the axis, as ONNX allows
    kw = {} if axis is None else {"axis": axis}
    out = [2] if axis is None else ([2, 4] if axis == 0 else [3, 2])
    m = make_model([helper.make_node("Compress", ["x", "c"], ["y"], **kw)],
                   [("x", np.float32, [3, 4]), ("c", np.bool_, [n - 1])], [("y", np.float32, out)], opset=11)
    check(m, {"x": x, "c": cond}, interpreter=interp)


@BOTH
@pytest.mark.parametrize("time_axis,batch_axis", [(0, 1), (1, 0)])
def test_reverse_sequence(interp, time_axis, batch_axis):
    x = np.arange(4 * 3 * 2, dtype=np.float32).reshape((4, 3, 2) if time_axis == 0 else (3, 4, 2))
    lens = np.array([4, 1, 2], np.int64)
    m = make_model(
        [helper.make_node("ReverseSequence", ["x", "l"], ["y"], time_axis=time_axis, batch_axis=batch_axis)],
        [("x", np.float32, list(x.shape)), ("l", np.int64, [3])], [("y", np.float32, list(x.shape))], opset=10,
    )
    check(m, {"x": x, "l": lens}, interpreter=interp)


@pytest.mark.parametrize("target", [[2, 5, 3], [6, 1, 3]])
def test_center_crop_pad_vs_reference(target):
    from onnx.reference import ReferenceEvaluator

    m = make_model([helper.make_node("CenterCropPad", ["x", "s"], ["y"])],
                   [("x", np.float32, [4, 2, 3])], [("y", np.float32, target)], {"s": np.array(target, np.int64)}, opset=18)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    want = ReferenceEvaluator(m).run(None, {"x": x})[0]
    for interp in ("litert", "edgelite"):
        np.testing.assert_array_equal(run_tflite(edgelite.convert(m), {"x": x}, interp)[0], want)


@BOTH
def test_gather_runtime_negative_indices(interp):
    m = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
                   [("x", np.float32, [2, 5]), ("i", np.int64, [3])], [("y", np.float32, [2, 3])], opset=13)
    ops = check(m, {"x": np.arange(10, dtype=np.float32).reshape(2, 5), "i": np.array([-1, 0, -5], np.int64)},
                interpreter=interp)
    assert "FLOOR_MOD" in ops


def test_bfloat16_reverse_sequence():
    """bfloat16 ReverseSequence runs on the float32 values (pass ``widen_float16``)."""
    import ml_dtypes
    from onnx import TensorProto

    from tests.converter.ext_helpers import oracle
    from tests.converter.helpers import run_tflite

    g = helper.make_graph([helper.make_node("ReverseSequence", ["x", "l"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [3, 2]),
                           helper.make_tensor_value_info("l", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [3, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": np.array([[1.5, -0.0], [np.nan, 3e38], [-2.25, 7.0]], ml_dtypes.bfloat16),
             "l": np.array([3, 2], np.int64)}
    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, feeds, use_reference=True)[0]
    for runtime in ("edgelite", "litert"):
        got = np.asarray(run_tflite(tfl, feeds, runtime)[0])
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))