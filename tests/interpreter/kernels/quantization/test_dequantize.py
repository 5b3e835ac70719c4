"""Constant-weight DEQUANTIZE (float16, int8 per-tensor/per-channel) and DENSIFY."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.base import OpContext, TensorInfo
from edgelite.interpreter.kernels.tensor.densify import Densify
from edgelite.interpreter.kernels.quantization.dequantize import ConstantWeightDequantize
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.model import DimensionMetadata, SparsityParameters
from tests.interpreter.kernels.oracle import (
    Const,
    Out,
    compare,
    make_context,
    run_kernel,
    run_litert,
)


def test_float16_constant_matches_litert():
    w = np.random.default_rng(0).uniform(-3, 3, (4, 3)).astype(np.float16)
    compare("DEQUANTIZE", [Const(w)], outputs=[Out(np.float32)], version=3, rtol=0, atol=0)


@pytest.mark.parametrize("quant", [(0.02, 0), (0.5, -3)])
def test_int8_per_tensor_constant_matches_litert(quant):
    w = np.random.default_rng(1).integers(-127, 128, (3, 5)).astype(np.int8)
    compare("DEQUANTIZE", [Const(w, quant)], outputs=[Out(np.float32)], version=2, rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 1])
def test_int8_per_channel_constant_matches_litert(dim):
    rng = np.random.default_rng(2)
    w = rng.integers(-127, 128, (3, 4)).astype(np.int8)
    scales = rng.uniform(0.001, 0.1, w.shape[dim]).astype(np.float32)
    quant = (scales, np.zeros(w.shape[dim], np.int64), dim)
    compare("DEQUANTIZE", [Const(w, quant)], outputs=[Out(np.float32)], version=4, rtol=0, atol=0)


def test_per_channel_by_hand_and_bad_channel_count():
    w = np.array([[1, -2], [3, 4]], np.int8)
    (y,) = run_kernel("DEQUANTIZE", [Const(w, (np.array([0.5, 0.25]), np.zeros(2), 1))], outputs=[Out()])
    assert y.tolist() == [[0.5, -0.5], [1.5, 1.0]]
    with pytest.raises(ShapeError):
        run_kernel("DEQUANTIZE", [Const(w, (np.array([0.5, 0.25, 1.0]), np.zeros(3), 1))], outputs=[Out()])


def test_non_constant_int8_is_left_to_the_int8_kernels():
    from tests.interpreter.kernels.oracle import Var

    ctx = make_context("DEQUANTIZE", [Var(np.zeros(3, np.int8), (0.1, 0))], None, [Out()])
    assert not ConstantWeightDequantize().accepts(ctx)


# -- DENSIFY ---------------------------------------------------------------------------


def block_csr(dense: np.ndarray, block: int):
    """Encode a 2-D matrix as rows x CSR column-blocks of width ``block``."""
    rows, cols = dense.shape
    nb = cols // block
    segments, indices, values = [0], [], []
    for r in range(rows):
        for c in range(nb):
            blk = dense[r, c * block:(c + 1) * block]
            if blk.any():
                indices.append(c)
                values.extend(blk.tolist())
        segments.append(len(indices))
    meta = [DimensionMetadata(0, rows), DimensionMetadata(1, 0, np.array(segments, np.int32), np.array(indices, np.int32))]
    if block > 1:
        return SparsityParameters([0, 1, 2], [1], meta + [DimensionMetadata(0, block)]), np.array(values, dense.dtype)
    return SparsityParameters([0, 1], [], meta), np.array(values, dense.dtype)


def sparse_matrix(seed, shape, block):
    rng = np.random.default_rng(seed)
    dense = rng.uniform(-2, 2, shape).astype(np.float32)
    mask = rng.random((shape[0], shape[1] // block)) < 0.4
    return dense * np.repeat(mask, block, axis=1)


def densify_model(values, sparsity, shape) -> bytes:
    b = ModelBuilder()
    buf = b.add_buffer(values)
    w = b.add_tensor("w", shape, values.dtype, buffer=buf)
    b.subgraph.tensors[w].sparsity = sparsity
    y = b.add_tensor("y", shape, values.dtype)
    b.add_operator("DENSIFY", inputs=[w], outputs=[y])
    b.mark_output(y)
    return b.build()


def run_densify_kernel(values, sparsity, shape):
    x = TensorInfo(0, "w", tuple(shape), values.dtype, 0, data=values)
    x.sparsity = sparsity
    ctx = OpContext("DENSIFY", 0, 1, None, None, None, [x], [TensorInfo(1, "y", None, values.dtype, 0)])
    k = Densify()
    assert k.accepts(ctx)
    p = k.prepare(ctx)
    out = np.empty(ctx.output_shapes[0], values.dtype)
    k.eval(p, [values], [out])
    return out


@pytest.mark.parametrize("block", [1, 2, 4])
def test_densify_matches_litert_and_the_dense_matrix(block):
    dense = sparse_matrix(block, (6, 8), block)
    sparsity, values = block_csr(dense, block)
    got = run_densify_kernel(values, sparsity, dense.shape)
    np.testing.assert_array_equal(got, dense)
    (want,) = run_litert(densify_model(values, sparsity, dense.shape), [])
    np.testing.assert_array_equal(got, want)


def test_densify_of_an_already_dense_input_copies_it():
    dense = sparse_matrix(9, (3, 4), 1)
    (got,) = run_kernel("DENSIFY", [Const(dense)])
    np.testing.assert_array_equal(got, dense)


def test_densify_with_inconsistent_encoding_fails():
    sparsity, values = block_csr(sparse_matrix(3, (4, 4), 1), 1)
    with pytest.raises(ShapeError):
        run_densify_kernel(np.concatenate([values, values]), sparsity, (4, 4))
