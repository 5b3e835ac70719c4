"""``lut_vec``: the 64-byte VBMI table lookup against ``table[xb]`` (numpy), and what runs
where the CPU lacks VBMI."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.compute import lut, lut_vec

numba = pytest.importorskip("numba")


def _compiled():
    run_fn = lut_vec.intrinsic()

    @numba.njit
    def run(table, xb, out):
        return run_fn(table, xb, out)

    return run


@pytest.mark.skipif(not lut_vec.vbmi_available(), reason="no AVX-512 VBMI on this CPU (or Numba targets another CPU)")
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_vbmi_blocks_equal_numpy_take(dtype):
    run = _compiled()
    rng = np.random.default_rng(int(dtype == np.uint8))
    for trial in range(30):
        table = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, 256).astype(dtype)
        n = int(rng.integers(0, 700))
        xb = rng.integers(0, 256, n).astype(np.uint8)
        if n >= 256 and trial % 2 == 0:
            xb[:256] = np.arange(256, dtype=np.uint8)  # every index, 127/128 included
        out = np.full(n + 5, 33, dtype)
        done = run(table, xb, out[:n])
        assert done == n // 64 * 64  # whole blocks only: the kernel's loop does the tail
        np.testing.assert_array_equal(out[:done], table[xb[:done]])
        assert (out[done:] == 33).all()


def test_without_vbmi_nothing_is_done(monkeypatch):
    """Where the vector lookup cannot run, the bound function does no value (the loop does all)."""
    monkeypatch.setattr(lut_vec, "_built", None)
    monkeypatch.setattr(lut_vec, "vbmi_available", lambda: False)
    run = _compiled()
    out = np.zeros(200, np.int8)
    assert run(np.arange(256, dtype=np.int64).astype(np.int8), np.arange(200, dtype=np.uint8), out) == 0
    assert not out.any()


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 200, 4096 + 17])
def test_lut_kernel_all_lengths(n):
    """The LUT kernel (vector blocks, then its own loop) against numpy's take."""
    rng = np.random.default_rng(n)
    table = rng.integers(-128, 128, 256).astype(np.int8)
    x = rng.integers(-128, 128, n).astype(np.int8)
    out = np.zeros(n, np.int8)
    lut.apply_lut_8bit_jit(table, x, out)
    np.testing.assert_array_equal(out, table[x.view(np.uint8)])
