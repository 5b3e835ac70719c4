"""Einsum, MatMul with 1-D operands and general Gemm: LiteRT and edgelite vs ONNX Runtime
(Einsum also vs numpy.einsum), and the honest refusals."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

import edgelite
from edgelite.converter.ops.einsum import parse
from edgelite.errors import UnsupportedOperatorError

F32 = np.float32
rng = np.random.default_rng(9)


def test_parse_implicit_and_ellipsis():
    assert parse("ij,jk", [2, 2]) == (["ij", "jk"], "ik")
    terms, out = parse("...ii->...i", [4])
    assert len(terms[0]) == 4 and out == terms[0][:2] + terms[0][3]


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij->ji", [(3, 4)]),
        ("ij->", [(3, 4)]),
        ("ii->i", [(4, 4)]),
        ("...ii->...i", [(2, 3, 3)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("i,i->", [(5,), (5,)]),
        ("i,j->ij", [(3,), (4,)]),
        ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
        ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
        ("ij,jk", [(2, 3), (3, 2)]),
        ("abc,ab->c", [(2, 3, 4), (2, 3)]),
    ],
)
def test_einsum(eq, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    feeds = {n: rng.standard_normal(s).astype(F32) for n, s in zip(names, shapes)}
    node = helper.make_node("Einsum", names, ["y"], equation=eq)
    m = make_model([node], [(n, F32, list(s)) for n, s in zip(names, shapes)], [("y", F32, None)], opset=12)
    check_both(m, feeds)
    from tests.converter.helpers import run_tflite

    got = run_tflite(edgelite.convert(m), feeds, "edgelite")[0]
    np.testing.assert_allclose(got, np.einsum(eq, *feeds.values()), rtol=1e-5, atol=1e-5)


def test_einsum_float64_is_refused():
    from onnx import TensorProto

    vi = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 2])
    g = helper.make_graph([helper.make_node("Einsum", ["x"], ["y"], equation="ij->ji")], "g", [vi],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    with pytest.raises(UnsupportedOperatorError, match="Einsum"):
        edgelite.convert(helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)]))


@pytest.mark.parametrize(
    "a,b", [((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))]
)
def test_matmul_shapes(a, b):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    m = make_model([node], [("a", F32, list(a)), ("b", F32, list(b))], [("y", F32, None)], opset=13)
    check_both(m, {"a": rng.standard_normal(a).astype(F32), "b": rng.standard_normal(b).astype(F32)})


def test_matmul_int_is_refused():
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    m = make_model([node], [("a", np.int32, [2, 3]), ("b", np.int32, [3, 2])], [("y", np.int32, None)], opset=13)
    with pytest.raises(UnsupportedOperatorError, match="MatMul"):
        edgelite.convert(m)


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize(
    "alpha,beta,c_shape", [(1.0, 1.0, None), (0.5, 2.0, (3, 5)), (1.0, 0.7, (1,)), (2.0, 1.0, (5,))]
)
def test_gemm_runtime_operands(trans_a, trans_b, alpha, beta, c_shape):
    a_shape = (4, 3) if trans_a else (3, 4)
    b_shape = (5, 4) if trans_b else (4, 5)
    names = ["a", "b"] + (["c"] if c_shape else [])
    node = helper.make_node("Gemm", names, ["y"], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)
    shapes = [a_shape, b_shape] + ([c_shape] if c_shape else [])
    m = make_model([node], [(n, F32, list(s)) for n, s in zip(names, shapes)], [("y", F32, None)], opset=13)
    check_both(m, {n: rng.standard_normal(s).astype(F32) for n, s in zip(names, shapes)})
