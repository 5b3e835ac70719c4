"""float16 (and bfloat16) MatMul, Gemm, Conv, reductions and softmax (pass ``widen_float16``): computed in
float32 between CASTs, compared with ONNX Runtime in edgelite and LiteRT. The tolerance is
one float16 step (``rtol`` 1e-3, float16's epsilon): both sides round a float32
accumulation once."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite
from tests.converter.ext_helpers import check_op
from tests.converter.helpers import op_names

rng = np.random.default_rng(16)


def f16(*shape):
    return rng.standard_normal(shape).astype(np.float16)


def test_matmul_float16():
    names = check_op("MatMul", {"a": f16(2, 3, 16), "b": f16(2, 16, 5)}, opset=13, rtol=1e-3, atol=1e-3)
    assert names.count("CAST") == 3 and "BATCH_MATMUL" in names


def test_gemm_float16_runtime_b():
    check_op("Gemm", {"a": f16(4, 8), "b": f16(6, 8), "c": f16(6)}, attrs={"transB": 1, "alpha": 0.5},
             opset=13, rtol=1e-3, atol=1e-3)


def test_conv_float16():
    check_op("Conv", {"x": f16(1, 3, 8, 8)}, consts={"w": f16(4, 3, 3, 3)}, attrs={"pads": [1, 1, 1, 1]},
             opset=13, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean"])
def test_reduce_float16(op):
    x = f16(3, 4, 5)
    if op in ("ReduceMax", "ReduceMin"):
        check_op(op, {"x": x}, attrs={"axes": [1], "keepdims": 0}, opset=13, rtol=0, atol=0)  # exact
    else:
        check_op(op, {"x": x}, consts={"axes": np.array([1], np.int64)}, opset=18, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_float16(op):
    check_op(op, {"x": f16(2, 7)}, attrs={"axis": -1}, opset=13, rtol=1e-3, atol=1e-3)


def test_float32_graph_untouched():
    from tests.converter.ext_helpers import one_node_model

    x = {"a": rng.standard_normal((2, 3)).astype(np.float32), "b": rng.standard_normal((3, 4)).astype(np.float32)}
    assert "CAST" not in op_names(edgelite.convert(one_node_model("MatMul", x, opset=13)))


def test_matmul_bfloat16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tests.converter.ext_helpers import one_node_model
    from tests.converter.helpers import run_tflite

    a = rng.standard_normal((3, 16)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((16, 4)).astype(ml_dtypes.bfloat16)
    tfl = edgelite.convert(one_node_model("MatMul", {"a": a, "b": b}, opset=13))
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(ml_dtypes.bfloat16)  # rounded once
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"a": a, "b": b}, runtime)[0]
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=8e-3, atol=1e-2)


def test_bfloat16_add_is_exact_through_float32():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tests.converter.ext_helpers import one_node_model
    from tests.converter.helpers import run_tflite

    a = rng.standard_normal((5, 7)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((7,)).astype(ml_dtypes.bfloat16)
    tfl = edgelite.convert(one_node_model("Add", {"a": a, "b": b}, opset=14))
    want = a + b  # ml_dtypes: float32 sum rounded once
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, {"a": a, "b": b}, runtime)[0]
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


# -- bfloat16 data movement (``BF16_MOVED``): the float32 values moved, Cast back exact -----------------


def _bf16_model(nodes, inputs, outputs, opset=18):
    from onnx import helper

    def vi(name, dt, shape):
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape)

    g = helper.make_graph(nodes, "g", [vi(*i) for i in inputs], [vi(*o) for o in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def _bf16_values(*shape):
    import ml_dtypes

    x = (rng.standard_normal(shape) * 50).astype(ml_dtypes.bfloat16)
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 3.3895e38, 1e-40], np.float32).astype(ml_dtypes.bfloat16)
    x.flat[: min(x.size, 6)] = special[: min(x.size, 6)]
    return x


def _check_bf16(m, feeds):
    from tests.converter.ext_helpers import oracle
    from tests.converter.helpers import run_tflite

    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, feeds, use_reference=True)
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, runtime)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.astype(np.float32) if a.dtype.kind == "V" or a.dtype.name == "bfloat16"
                                          else a, b.astype(np.float32) if b.dtype.name == "bfloat16" else b)
    return op_names(tfl)


# (A bfloat16 Transpose from a graph input straight to an output is not here: the layout pass
# moves it past the Cast, onto bfloat16, and the model is refused at load time, as before.)
@pytest.mark.parametrize("case", [
    "Gather", "Slice", "Concat", "Where", "Compress", "Pad", "Tile", "Cast", "Unique", "OneHot", "Expand", "Split",
    "Trilu", "GatherElements",
])
def test_bfloat16_data_movement(case):
    import ml_dtypes
    from onnx import helper, numpy_helper

    bf = ml_dtypes.bfloat16
    x = _bf16_values(3, 4)
    ins, feeds, extra = [("x", bf, [3, 4])], {"x": x}, []
    if case == "Gather":
        ins.append(("i", np.int64, [5]))
        feeds["i"] = np.array([2, 0, -1, 1, 2], np.int64)
        nodes, out = [helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], [("y", bf, [3, 5])]
    elif case == "Slice":
        extra = [helper.make_node("Constant", [], [n], value=numpy_helper.from_array(np.array(v, np.int64), n))
                 for n, v in (("s", [1]), ("e", [4]), ("a", [1]))]
        nodes, out = extra + [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], [("y", bf, [3, 3])]
    elif case == "Concat":
        ins.append(("z", bf, [3, 2]))
        feeds["z"] = _bf16_values(3, 2)
        nodes, out = [helper.make_node("Concat", ["x", "z"], ["y"], axis=1)], [("y", bf, [3, 6])]
    elif case == "Where":
        ins += [("c", np.bool_, [3, 4]), ("z", bf, [4])]
        feeds["c"], feeds["z"] = rng.random((3, 4)) < 0.5, _bf16_values(4)
        nodes, out = [helper.make_node("Where", ["c", "x", "z"], ["y"])], [("y", bf, [3, 4])]
    elif case == "Compress":
        ins.append(("c", np.bool_, [4]))
        feeds["c"] = np.array([True, False, True, True])
        nodes, out = [helper.make_node("Compress", ["x", "c"], ["y"], axis=1)], [("y", bf, [3, 3])]
    elif case == "Pad":
        extra = [helper.make_node("Constant", [], ["p"], value=numpy_helper.from_array(np.array([0, 1, 1, 0], np.int64), "p")),
                 helper.make_node("Constant", [], ["v"], value=numpy_helper.from_array(np.array(2.5, bf), "v"))]
        nodes, out = extra + [helper.make_node("Pad", ["x", "p", "v"], ["y"])], [("y", bf, [4, 5])]
    elif case == "Tile":
        extra = [helper.make_node("Constant", [], ["r"], value=numpy_helper.from_array(np.array([2, 1], np.int64), "r"))]
        nodes, out = extra + [helper.make_node("Tile", ["x", "r"], ["y"])], [("y", bf, [6, 4])]
    elif case == "Cast":  # a copy: CAST to float32 and back
        nodes, out = [helper.make_node("Cast", ["x"], ["y"], to=16)], [("y", bf, [3, 4])]
    elif case == "Expand":
        extra = [helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([2, 3, 4], np.int64), "s"))]
        nodes, out = extra + [helper.make_node("Expand", ["x", "s"], ["y"])], [("y", bf, [2, 3, 4])]
    elif case == "Split":
        extra = [helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([1, 3], np.int64), "s"))]
        nodes = extra + [helper.make_node("Split", ["x", "s"], ["y0", "y1"], axis=1)]
        out = [("y0", bf, [3, 1]), ("y1", bf, [3, 3])]
    elif case == "Trilu":
        nodes, out = [helper.make_node("Trilu", ["x"], ["y"], upper=0)], [("y", bf, [3, 4])]
    elif case == "GatherElements":
        ins.append(("i", np.int64, [3, 2]))
        feeds["i"] = np.array([[0, 3], [2, -1], [1, 1]], np.int64)
        nodes, out = [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)], [("y", bf, [3, 2])]
    elif case == "Unique":
        feeds["x"] = np.array([[1, 2, 1, -0.0], [0, 3, 2, 2], [np.inf, 1, -5, 3]], np.float32).astype(bf)
        nodes = [helper.make_node("Unique", ["x"], ["y", "idx", "inv", "cnt"], sorted=1)]
        out = [("y", bf, [7]), ("idx", np.int64, [7]), ("inv", np.int64, [12]), ("cnt", np.int64, [7])]
    else:  # OneHot with bfloat16 values
        ins = [("i", np.int64, [5])]
        feeds = {"i": np.array([0, 3, -1, 2, 7], np.int64)}
        extra = [helper.make_node("Constant", [], ["d"], value=numpy_helper.from_array(np.array(4, np.int64), "d")),
                 helper.make_node("Constant", [], ["v"], value=numpy_helper.from_array(np.array([-1.5, 3e38], bf), "v"))]
        nodes, out = extra + [helper.make_node("OneHot", ["i", "d", "v"], ["y"])], [("y", bf, [5, 4])]
    names = _check_bf16(_bf16_model(nodes, ins, out), feeds)
    assert "CAST" in names
