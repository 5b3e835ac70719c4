"""The column split of a float GEMM (few rows): taken only where it equals the unsplit
product bit for bit on this machine's BLAS (OpenBLAS's AVX2 kernels give a block's edge
columns other bits), so 1 and 2 threads always give the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.compute import float_gemm, jit
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

needs_numba = pytest.mark.skipif(not jit.HAVE_NUMBA or not float_gemm.load_numba_blas(),
                                 reason="the pool's GEMM needs Numba and SciPy's BLAS")


def _rows_keep_bits() -> bool:
    """Whether this machine's BLAS gives a product's rows the same bits however the rows
    are chunked (true of OpenBLAS's AVX-512 kernels; its AVX2 (Haswell) kernels sum the
    tiles at a chunk's edge in another order, so there float results of the row split
    may differ in the last bit between 1 and 2 threads: docs/benchmarks-interpreter.md).
    Probed on one ResNet-like shape split unevenly."""
    rng = np.random.default_rng(1)
    x = rng.random((300, 2304), dtype=np.float32) - np.float32(0.5)
    w = rng.random((2304, 256), dtype=np.float32) - np.float32(0.5)
    return bool(np.array_equal(x @ w, np.concatenate([x[:131] @ w, x[131:] @ w])))


def _same_or_close(got, want, bit_exact: bool):
    if bit_exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)  # sums of thousands of O(1) terms


@pytest.mark.parametrize("n, m, k, threads", [
    (256, 196, 2304, 2), (160, 49, 960, 2), (33, 200, 5000, 2), (1000, 100, 100, 2), (96, 196, 576, 2),
    (512, 49, 4608, 3), (100, 255, 1200, 4),
])
def test_bounds_cover_the_columns_in_big_enough_chunks(n, m, k, threads):
    b = float_gemm.column_bounds(n, m, k, threads)
    assert b is not None
    w = np.diff(b)
    assert b[0] == 0 and b[-1] == n and (w > 0).all()
    assert 2 <= len(w) <= float_gemm.COL_CHUNKS_PER_THREAD * threads
    assert (m * w * k >= float_gemm.COL_CHUNK_MIN_MNK).all()
    assert (b[1:-1] % float_gemm.COL_UNIT == 0).all()


@pytest.mark.parametrize("n, m, k, threads", [
    (64, 49, 384, 2),     # chunks would be below the BLAS small-matrix size
    (24, 196, 2304, 2),   # one unit of columns: nothing to split
    (2048, 1, 2048, 2),   # one row (BLAS may take a matrix-vector path)
    (256, 3136, 576, 2),  # rows enough: the row split
    (256, 196, 2304, 1),  # one thread
])
def test_no_column_split(n, m, k, threads):
    assert float_gemm.column_bounds(n, m, k, threads) is None


@needs_numba
@pytest.mark.parametrize("m, k, n, threads", [
    (196, 2304, 256, 2),   # a ResNet 14x14 3x3 conv
    (49, 4608, 512, 2),    # a ResNet 7x7 3x3 conv
    (49, 960, 160, 2),     # N not a multiple of the chunk
    (200, 5000, 33, 2),    # a last chunk wider than a unit, N < 2 units per thread + 1
    (100, 1200, 100, 4),   # more threads than the machine may have
    (100, 2500, 40, 3),    # fewer chunks than threads
])
@pytest.mark.parametrize("epilogue", [True, False])
def test_column_split_equals_the_unsplit_product(m, k, n, threads, epilogue):
    rng = np.random.default_rng(m + k + n)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32)
    lo, hi = (np.float32(-1.0), np.float32(6.0)) if epilogue else (np.float32(-np.inf), np.float32(np.inf))
    want = np.empty((m, n), np.float32)
    float_gemm.gemm_bias_act_fast(x, w, bias, lo, hi, want, epilogue)
    bounds = float_gemm.column_bounds(n, m, k, threads)
    assert bounds is not None
    if not float_gemm.column_split_is_exact(m, k, bounds):
        # this BLAS sums a block's columns in another order: the kernels must not split so
        assert float_gemm.exact_column_bounds(n, m, k, threads) is None
        return
    assert np.array_equal(float_gemm.exact_column_bounds(n, m, k, threads), bounds)
    wp = float_gemm.pack_columns(w, bounds)
    tmp = float_gemm.column_scratch(m, bounds, threads)
    assert tmp.shape[0] == min(threads, len(bounds) - 1)
    for _ in range(3):  # whoever claims which chunk, the same bits
        got = np.full((m, n), np.nan, np.float32)
        float_gemm.gemm_cols_parallel(x, wp, bounds, bias, lo, hi, got, tmp, epilogue)
        np.testing.assert_array_equal(got, want)


def _conv_model(h: int, cin: int, cout: int, kernel: int) -> bytes:
    rng = np.random.default_rng(h * cout + kernel)
    b = ModelBuilder()
    x = b.add_input("x", (1, h, h, cin), np.float32)
    c = Conv2DOptionsT(); c.strideW = c.strideH = 1; c.padding = 0; c.fusedActivationFunction = 3  # SAME, RELU6
    y = b.add_tensor("y", (1, h, h, cout), np.float32)
    b.add_operator("CONV_2D", [x, b.add_constant("w", rng.standard_normal((cout, kernel, kernel, cin)).astype(np.float32)),
                               b.add_constant("b", rng.standard_normal(cout).astype(np.float32))], [y], c)
    b.mark_output(y)
    return b.build()


@needs_numba
@pytest.mark.parametrize("h, cin, cout, kernel", [(14, 256, 256, 3), (7, 512, 200, 3), (14, 1024, 256, 1), (7, 960, 160, 1)])
def test_conv_column_split_matches_one_thread(h, cin, cout, kernel):
    model = _conv_model(h, cin, cout, kernel)
    its = [Interpreter(model_content=model, num_threads=t) for t in (1, 2)]
    for it in its:
        it.allocate_tensors()
    params = its[1]._runtime().steps[0].params
    bounds = float_gemm.column_bounds(cout, h * h, kernel * kernel * cin, 2)
    # the shape takes the column split wherever this BLAS keeps the bits
    assert (params.col_bounds is not None) == float_gemm.column_split_is_exact(h * h, kernel * kernel * cin, bounds)
    x = np.random.default_rng(3).standard_normal((1, h, h, cin)).astype(np.float32)
    outs = []
    for it in its:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    # the column split keeps the bits by construction; the row split where the BLAS does
    _same_or_close(outs[1], outs[0], params.col_bounds is not None or _rows_keep_bits())


def _fc_model(m: int, k: int, units: int) -> bytes:
    rng = np.random.default_rng(m + k + units)
    b = ModelBuilder()
    x = b.add_input("x", (m, k), np.float32)
    o = FullyConnectedOptionsT(); o.fusedActivationFunction = 1  # RELU
    y = b.add_tensor("y", (m, units), np.float32)
    b.add_operator("FULLY_CONNECTED", [x, b.add_constant("w", rng.standard_normal((units, k)).astype(np.float32)),
                                       b.add_constant("b", rng.standard_normal(units).astype(np.float32))], [y], o)
    b.mark_output(y)
    return b.build()


@needs_numba
@pytest.mark.parametrize("m, k, units", [(64, 2048, 1000), (100, 1024, 333), (8, 4096, 4096)])
def test_fully_connected_column_split_matches_one_thread(m, k, units):
    model = _fc_model(m, k, units)
    its = [Interpreter(model_content=model, num_threads=t) for t in (1, 2)]
    for it in its:
        it.allocate_tensors()
    bounds = float_gemm.column_bounds(units, m, k, 2)
    taken = its[1]._runtime().steps[0].params.col_bounds is not None
    assert taken == float_gemm.column_split_is_exact(m, k, bounds)
    x = np.random.default_rng(5).standard_normal((m, k)).astype(np.float32)
    outs = []
    for it in its:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    _same_or_close(outs[1], outs[0], taken or _rows_keep_bits())


@needs_numba
@pytest.mark.parametrize("m, k, n", [(300, 2304, 256), (1000, 64, 17), (3136, 576, 64), (257, 1024, 100)])
def test_row_split_equals_the_unsplit_product(m, k, n):
    rng = np.random.default_rng(m * n + k)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32)
    lo, hi = np.float32(0.0), np.float32(6.0)
    want = np.empty((m, n), np.float32)
    float_gemm.gemm_bias_act_fast(x, w, bias, lo, hi, want, True)
    per, chunks = float_gemm._row_chunks(m, 2.0 * m * k * n, 2, m)
    assert chunks == 1 or per >= min(m, float_gemm.ROW_CHUNK_MIN_ROWS)
    got = np.full((m, n), np.nan, np.float32)
    float_gemm.gemm_rows_parallel(x, w, bias, lo, hi, got, -(-m // 2), True)
    _same_or_close(got, want, _rows_keep_bits())
