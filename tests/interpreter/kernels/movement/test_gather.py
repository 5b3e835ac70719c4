"""GATHER (axis, batch_dims), GATHER_ND, EMBEDDING_LOOKUP: LiteRT and numpy."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import InvocationError, ShapeError
from edgelite.schema.fb.GatherOptions import GatherOptionsT
from tests.interpreter.kernels.movement_cases import MOVE_CASES, MOVE_IDS, data
from tests.interpreter.kernels.oracle import Const, Out, compare, run_kernel


def g_opts(axis, batch_dims=0):
    o = GatherOptionsT()
    o.axis, o.batchDims = axis, batch_dims
    return o


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_matches_litert(dtype, quant, axis):
    x, out = data(np.random.default_rng(0), (3, 4, 5), dtype, quant)
    idx = np.array([[0, 2], [1, 1], [2, 0]], np.int32)
    compare("GATHER", [x, Const(idx)], g_opts(axis), outputs=[out])


@pytest.mark.parametrize("axis,batch_dims", [(1, 1), (2, 1), (2, 2), (-1, -1)])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_gather_batch_dims_matches_litert(axis, batch_dims, index_dtype):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    ishape = (2, 3, 2) if batch_dims == 2 else (2, 5)
    idx = rng.integers(0, 3, ishape).astype(index_dtype)
    compare("GATHER", [x, idx], g_opts(axis, batch_dims))


def test_gather_by_hand_and_errors():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = run_kernel("GATHER", [x, Const(np.array([2, 0], np.int32))], g_opts(1))
    assert y.tolist() == [[2, 0], [5, 3]]
    with pytest.raises(ShapeError):
        run_kernel("GATHER", [x, Const(np.array([0], np.int32))], g_opts(2))
    with pytest.raises(ShapeError):
        run_kernel("GATHER", [x, Const(np.zeros((3, 1), np.int32))], g_opts(1, 1))


@pytest.mark.parametrize("dtype,quant", MOVE_CASES, ids=MOVE_IDS)
def test_gather_nd_matches_litert(dtype, quant):
    x, out = data(np.random.default_rng(2), (3, 4, 5), dtype, quant)
    compare("GATHER_ND", [x, Const(np.array([[0, 1], [2, 3], [1, 0]], np.int32))], outputs=[out])
    compare("GATHER_ND", [x, Const(np.array([[[2]], [[0]]], np.int32))], outputs=[out])


@pytest.mark.parametrize("dtype,quant", [(np.float32, None), (np.int8, (0.1, 3)), (np.int32, None)])
def test_embedding_lookup_matches_litert(dtype, quant):
    rng = np.random.default_rng(3)
    table = rng.uniform(-4, 4, (6, 3, 2))
    from tests.interpreter.kernels.movement_cases import sample

    table = sample(rng, (6, 3, 2), dtype)
    ids = np.array([5, 0, 2, 2], np.int32)
    if dtype == np.int8:
        # LiteRT treats an int8 table as the hybrid (float output) case, so check by hand.
        (got,) = run_kernel("EMBEDDING_LOOKUP", [ids, Const(table, quant)], outputs=[Out(dtype, quant)])
        np.testing.assert_array_equal(got, table[ids])
    else:
        compare("EMBEDDING_LOOKUP", [ids, Const(table, quant)], outputs=[Out(dtype, quant)])


def test_string_gather_and_reshape_match_litert():
    from edgelite.schema.builder import ModelBuilder
    from tests.interpreter.kernels.oracle import run_litert

    words = np.array([b"zero", b"one", b"", b"three"], dtype=object)
    idx = np.array([[3, 0], [2, 1]], np.int32)
    b = ModelBuilder()
    t = b.add_constant("words", words)
    i = b.add_input("idx", shape=(2, 2), dtype=np.int32)
    g = b.add_tensor("g", shape=(2, 2), dtype=np.object_)
    b.add_operator("GATHER", inputs=[t, i], outputs=[g], options=g_opts(0))
    b.mark_output(g)
    (want,) = run_litert(b.build(), [idx])
    from edgelite.interpreter.kernels.base import select_kernel
    from edgelite.schema.model import TensorType
    from tests.interpreter.kernels.oracle import make_context

    ctx = make_context("GATHER", [Const(words), idx], g_opts(0), [Out(np.object_)])
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    out = np.empty(ctx.output_shapes[0], object)
    k.eval(p, [words, idx], [out])
    assert ctx.outputs[0].type == TensorType.STRING
    assert [bytes(v) for v in out.ravel()] == [bytes(v) for v in np.asarray(want).ravel()]
    (r,) = run_kernel("RESHAPE", [out, Const(np.array([4], np.int32))], outputs=[Out(np.object_)])
    assert r.tolist() == [b"three", b"zero", b"", b"one"]


@pytest.mark.parametrize("bad", [3, -1])
def test_out_of_range_indices_fail_the_invoke_like_litert(bad):
    """numpy would wrap -1 to the last row and raise a bare IndexError for 3; LiteRT fails its
    invoke for both, and so does edgelite, with a typed error naming the op."""
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    idx = np.array([0, bad], np.int32)
    with pytest.raises(InvocationError, match="GATHER: index"):
        run_kernel("GATHER", [x, idx], g_opts(0))
    with pytest.raises(InvocationError, match="GATHER_ND: index"):
        run_kernel("GATHER_ND", [x, idx.reshape(2, 1)])
    with pytest.raises(InvocationError, match="EMBEDDING_LOOKUP: index"):
        run_kernel("EMBEDDING_LOOKUP", [idx, Const(x)])
    from tests.interpreter.kernels.oracle import run_litert, single_op_model
    with pytest.raises(RuntimeError):  # LiteRT's own verdict on the same model
        run_litert(single_op_model("GATHER", [x, idx], [Out(np.float32, None, (2, 2))], g_opts(0)), [x, idx])
