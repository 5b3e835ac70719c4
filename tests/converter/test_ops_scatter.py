"""Scatter / ScatterElements / ScatterND (``ops/scatter.py``) against ONNX Runtime and the
ONNX reference, in LiteRT and edgelite's interpreter: every reduction, negative and
duplicate indices, int32/int64 data; a by-hand case and a hypothesis sweep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model, op_names, open_interpreter, run_tflite

from hypothesis import given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

import edgelite  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])
REDUCTIONS = ["none", "add", "mul", "max", "min"]


def test_scatter_elements_by_hand():
    m = make_model(
        [helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=1, reduction="add")],
        [("d", np.float32, [2, 3]), ("i", np.int64, [2, 2]), ("u", np.float32, [2, 2])],
        [("y", np.float32, [2, 3])], opset=18,
    )
    d = np.zeros((2, 3), np.float32)
    i = np.array([[0, 0], [-1, 1]], np.int64)  # duplicate target in row 0, negative in row 1
    u = np.array([[1, 2], [3, 4]], np.float32)
    got = run_tflite(edgelite.convert(m), {"d": d, "i": i, "u": u}, "edgelite")[0]
    np.testing.assert_array_equal(got, [[3, 0, 0], [0, 4, 3]])


@BOTH
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_scatter_elements_reductions(interp, reduction, dtype):
    rng = np.random.default_rng(3)
    d = rng.integers(-5, 5, (3, 4)).astype(dtype)
    i = rng.integers(-4, 4, (3, 2)).astype(np.int64)
    if reduction == "none":  # ONNX leaves duplicate targets undefined without a reduction
        i = np.stack([rng.permutation(4)[:2] - 4 * (r % 2) for r in range(3)]).astype(np.int64)
    u = rng.integers(-5, 5, (3, 2)).astype(dtype)
    m = make_model(
        [helper.make_node("ScatterElements", ["d", "i", "u"], ["y"], axis=1, reduction=reduction)],
        [("d", dtype, [3, 4]), ("i", np.int64, [3, 2]), ("u", dtype, [3, 2])], [("y", dtype, [3, 4])], opset=18,
    )
    check(m, {"d": d, "i": i, "u": u}, interpreter=interp)


@BOTH
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_scatter_nd_slices(interp, reduction):
    rng = np.random.default_rng(4)
    d = rng.standard_normal((4, 3, 2)).astype(np.float32)
    i = np.array([[0], [-1]], np.int64) if reduction == "none" else np.array([[0], [-1], [0]], np.int64)
    u = rng.standard_normal((len(i), 3, 2)).astype(np.float32)
    m = make_model(
        [helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction=reduction)],
        [("d", np.float32, [4, 3, 2]), ("i", np.int64, list(i.shape)), ("u", np.float32, list(u.shape))],
        [("y", np.float32, [4, 3, 2])], opset=18,
    )
    check(m, {"d": d, "i": i, "u": u}, interpreter=interp)


def test_scatter_opset10_constant_indices():
    m = make_model(
        [helper.make_node("Scatter", ["d", "i", "u"], ["y"], axis=0)],
        [("d", np.float32, [3, 3]), ("u", np.float32, [1, 3])], [("y", np.float32, [3, 3])],
        {"i": np.array([[2, 0, -3]], np.int64)}, opset=10,
    )
    rng = np.random.default_rng(5)
    feeds = {"d": rng.standard_normal((3, 3)).astype(np.float32), "u": rng.standard_normal((1, 3)).astype(np.float32)}
    want = feeds["d"].copy()  # ONNX's reference has no opset-10 Scatter: the spec by hand
    for j, row in enumerate([2, 0, 0]):  # -3 wraps to 0
        want[row, j] = feeds["u"][0, j]
    got = run_tflite(edgelite.convert(m), feeds, "edgelite")[0]
    np.testing.assert_array_equal(got, want)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), s=st.integers(1, 3), u=st.integers(1, 4), red=st.sampled_from(REDUCTIONS[1:]),
       seed=st.integers(0, 1000))
def test_scatter_nd_property(n, s, u, red, seed):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n, s)).astype(np.float32)
    i = rng.integers(-n, n, (u, 1)).astype(np.int64)
    upd = rng.standard_normal((u, s)).astype(np.float32)
    m = make_model(
        [helper.make_node("ScatterND", ["d", "i", "u"], ["y"], reduction=red)],
        [("d", np.float32, [n, s]), ("i", np.int64, [u, 1]), ("u", np.float32, [u, s])], [("y", np.float32, [n, s])],
        opset=18,
    )
    check(m, {"d": d, "i": i, "u": upd}, interpreter="edgelite")


@pytest.mark.parametrize("mode,upd_len", [("linear", 2), ("circular", 3)])
def test_tensor_scatter_vs_reference(mode, upd_len):
    from onnx.reference import ReferenceEvaluator

    m = make_model(
        [helper.make_node("TensorScatter", ["c", "u", "w"], ["y"], mode=mode)],
        [("c", np.float32, [2, 3, 4, 2]), ("u", np.float32, [2, 3, upd_len, 2]), ("w", np.int64, [2])],
        [("y", np.float32, [2, 3, 4, 2])], opset=24,
    )
    rng = np.random.default_rng(6)
    feeds = {"c": rng.standard_normal((2, 3, 4, 2)).astype(np.float32),
             "u": rng.standard_normal((2, 3, upd_len, 2)).astype(np.float32),
             "w": np.array([2, 0] if mode == "linear" else [3, 1], np.int64)}
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    for interp in ("litert", "edgelite"):
        np.testing.assert_array_equal(run_tflite(edgelite.convert(m), feeds, interp)[0], want)


@pytest.mark.parametrize("write", ["runtime", "constant", "absent"])
@pytest.mark.parametrize("axis", [-2, 1])
def test_tensor_scatter_batch_one_is_one_dynamic_update_slice(write, axis):
    """Batch 1 (one write position) in linear mode lowers to DYNAMIC_UPDATE_SLICE alone."""
    from onnx.reference import ReferenceEvaluator

    shape = [1, 3, 6, 2]
    upd_shape = list(shape)
    upd_shape[axis] = 2
    ins, inputs, inits = ["c", "u", "w" if write != "absent" else ""], [("c", np.float32, shape), ("u", np.float32, upd_shape)], []
    w = np.array([1 if axis == 1 else 3], np.int64)
    if write == "runtime":
        inputs.append(("w", np.int64, [1]))
    m = make_model([helper.make_node("TensorScatter", ins, ["y"], mode="linear", axis=axis)],
                   inputs, [("y", np.float32, shape)], inits={"w": w} if write == "constant" else None, opset=24)
    rng = np.random.default_rng(11)
    feeds = {"c": rng.standard_normal(shape).astype(np.float32), "u": rng.standard_normal(upd_shape).astype(np.float32)}
    if write == "runtime":
        feeds["w"] = w
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    tfl = edgelite.convert(m)
    assert "DYNAMIC_UPDATE_SLICE" in op_names(tfl) and "SELECT_V2" not in op_names(tfl)
    for interp in ("litert", "edgelite"):
        np.testing.assert_array_equal(run_tflite(tfl, feeds, interp)[0], want)


def test_tensor_scatter_int8_runs_dynamic_update_slice_in_int8_like_litert():
    """Converted with int8 quantization, the KV-cache update stays one int8
    DYNAMIC_UPDATE_SLICE, and edgelite's interpreter gives LiteRT's outputs bit for bit."""
    from edgelite.schema import read_model
    from edgelite.schema.model import TensorType

    shape, upd_shape = [1, 2, 8, 4], [1, 2, 1, 4]
    m = make_model(
        [helper.make_node("Mul", ["c", "k"], ["c2"]), helper.make_node("TensorScatter", ["c2", "u", "w"], ["y"], mode="linear")],
        [("c", np.float32, shape), ("u", np.float32, upd_shape), ("w", np.int64, [1])], [("y", np.float32, shape)],
        inits={"k": np.array(0.5, np.float32)}, opset=24,
    )
    rng = np.random.default_rng(0)
    calib = [{"c": rng.normal(0, 1, shape).astype(np.float32), "u": rng.normal(0, 1, upd_shape).astype(np.float32),
              "w": np.array([k % 8], np.int64)} for k in range(16)]
    q = edgelite.convert(m, quantize="int8", calibration=calib)
    model = read_model(q)
    sg = model.subgraphs[0]
    dus = [op for op in sg.operators if model.opcode_name(op) == "DYNAMIC_UPDATE_SLICE"]
    assert len(dus) == 1
    assert all(sg.tensors[t].type == TensorType.INT8 for t in (*dus[0].inputs[:2], dus[0].outputs[0]))
    feeds = {"c": rng.normal(0, 1, shape).astype(np.float32), "u": rng.normal(0, 1, upd_shape).astype(np.float32),
             "w": np.array([5], np.int64)}
    outs = []
    for interp in ("edgelite", "litert"):  # LiteRT's built-in kernels, no XNNPACK
        it = open_interpreter(q, interp)
        for d in it.get_input_details():
            it.set_tensor(d["index"], feeds[d["name"]])
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    got, want = outs
    np.testing.assert_array_equal(got, want)
    ref = feeds["c"] * 0.5
    ref[:, :, 5:6, :] = feeds["u"]
    assert np.abs(got - ref).max() < 0.1


def test_max_unpool_by_hand():
    from tests.converter.ext_helpers import check_op

    x = np.array([[[[5, 6], [7, 8]]]], np.float32)
    i = np.array([[[[5, 7], [13, 15]]]], np.int64)
    ops = check_op("MaxUnpool", {"x": x, "i": i}, attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, opset=22, rtol=0, atol=0)
    assert "SCATTER_ND" not in ops
    got = run_tflite(edgelite.convert(make_model(
        [helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
        [("x", np.float32, [1, 1, 2, 2]), ("i", np.int64, [1, 1, 2, 2])], [("y", np.float32, [1, 1, 4, 4])], opset=22)),
        {"x": x, "i": i}, "edgelite")[0]
    want = np.zeros(16, np.float32)
    want[[5, 7, 13, 15]] = [5, 6, 7, 8]
    np.testing.assert_array_equal(got.reshape(-1), want)


@pytest.mark.parametrize("out_hw,runtime_shape", [(None, False), ((5, 5), False), ((4, 5), False), ((4, 4), False),
                                                  ((5, 5), True), ((4, 5), True)])
def test_max_unpool_duplicates_negatives_and_output_shape(runtime_shape, out_hw):
    """Duplicate indices (the last write wins, as in the reference's loop); negative ones
    wrap; output_shape constant or read at run time: the reference scatters into the
    unpooled 4x4 and puts that in the leading corner of output_shape (ONNX Runtime
    instead indexes output_shape itself; the suite's expected data follows the reference)."""
    from tests.converter.ext_helpers import check_op

    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    n = 2 * 3 * 4 * 4
    i = rng.integers(-n, n, (2, 3, 2, 2)).astype(np.int64)
    i[0, 0, 0, 0] = i[1, 2, 1, 1] = i[0, 1, 1, 0]  # duplicates, with different values
    feeds, consts = {"x": x, "i": i}, None
    out_shape = None
    if out_hw is not None:
        shape = np.array([2, 3, *out_hw], np.int64)
        if runtime_shape:
            feeds["s"] = shape
            out_shape = [2, 3, *out_hw]
        else:
            consts = {"s": shape}
    check_op("MaxUnpool", feeds, consts=consts, attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, opset=22,
             use_reference=True, rtol=0, atol=0, out_shape=out_shape)


def test_max_unpool_refuses_an_output_shape_smaller_than_unpooled():
    from tests.converter.ext_helpers import one_node_model

    from edgelite.errors import UnsupportedOperatorError

    m = one_node_model("MaxUnpool", {"x": np.zeros((1, 1, 2, 2), np.float32), "i": np.zeros((1, 1, 2, 2), np.int64)},
                       consts={"s": np.array([1, 1, 3, 4], np.int64)}, attrs={"kernel_shape": [2, 2], "strides": [2, 2]},
                       opset=22)
    with pytest.raises(UnsupportedOperatorError, match="smaller than the unpooled"):
        edgelite.convert(m)


def test_max_unpool_refuses_a_scatter_too_large():
    from tests.converter.ext_helpers import one_node_model

    from edgelite.errors import UnsupportedOperatorError

    m = one_node_model("MaxUnpool", {"x": np.zeros((1, 64, 64, 64), np.float32), "i": np.zeros((1, 64, 64, 64), np.int64)},
                       attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, opset=22)
    with pytest.raises(UnsupportedOperatorError, match="MaxUnpool of 262144 values"):
        edgelite.convert(m)
