"""Float RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR against LiteRT, by hand and by property.

Both kernels must equal LiteRT's output bit for bit (``eval`` and the Numba
``eval_jit`` alike): a one-ulp difference in a resize feeding a hybrid (dynamic-range)
layer can land on a quantization tie and change that layer's output by a whole step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import Spec, TSpec, f32, run_edgelite, run_litert
from edgelite.errors import ShapeError
from edgelite.interpreter.compute.jit import HAVE_NUMBA
from edgelite.interpreter.kernels.resize.resize_float import bilinear_tables, nearest_indices
from edgelite.schema.fb.ResizeBilinearOptions import ResizeBilinearOptionsT
from edgelite.schema.fb.ResizeNearestNeighborOptions import ResizeNearestNeighborOptionsT

MODES = [(False, False), (True, False), (False, True)]  # (align_corners, half_pixel_centers)


def resize_spec(op, x_shape, size, align, half, const_size=True):
    o = ResizeBilinearOptionsT() if op == "RESIZE_BILINEAR" else ResizeNearestNeighborOptionsT()
    o.alignCorners, o.halfPixelCenters = align, half
    s = np.array(size, np.int32)
    return Spec(op, [TSpec(x_shape, np.float32), TSpec((2,), np.int32, data=s if const_size else None, const=const_size)],
                [TSpec((x_shape[0], size[0], size[1], x_shape[3]), np.float32)], options=o)


def assert_bits_equal(got, want, what=""):
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32, what
    bad = got.view(np.int32) != want.view(np.int32)
    assert not bad.any(), f"{what}: {int(bad.sum())} of {bad.size} values differ, first at {np.argwhere(bad)[0]}"


def check_exact(spec, feeds):
    """LiteRT, edgelite ``eval`` and ``eval_jit`` give identical float32 bits."""
    want = run_litert(spec, feeds)[0]
    assert_bits_equal(run_edgelite(spec, feeds)[0], want, "eval vs LiteRT")
    assert_bits_equal(run_edgelite(spec, feeds, use_jit=True)[0], want, "eval_jit vs LiteRT")
    return want


def test_index_tables_by_hand():
    # 3 -> 5, align_corners: scale 0.5, sources 0, 0.5, 1, 1.5, 2; round half away from zero
    assert nearest_indices(3, 5, True, False).tolist() == [0, 1, 1, 2, 2]
    # half_pixel: (o + 0.5) * 0.6 -> 0.3, 0.9, 1.5, 2.1, 2.7
    assert nearest_indices(3, 5, False, True).tolist() == [0, 0, 1, 2, 2]
    lo, hi, f = bilinear_tables(2, 4, False, True)  # v = (o + .5) * .5 - .5 = -.25, .25, .75, 1.25
    assert lo.tolist() == [0, 0, 0, 1] and hi.tolist() == [0, 1, 1, 1]
    assert f.tolist() == [-0.25, 0.25, 0.75, 0.25]


@pytest.mark.parametrize("jit", [False, True])
def test_bilinear_hand_case_2x_upsample(jit):
    x = np.array([[0, 4], [8, 12]], np.float32).reshape(1, 2, 2, 1)
    out = run_edgelite(resize_spec("RESIZE_BILINEAR", x.shape, (3, 3), True, False), [x], use_jit=jit)[0]
    assert out[0, :, :, 0].tolist() == [[0, 2, 4], [4, 6, 8], [8, 10, 12]]


@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("align,half", MODES)
@pytest.mark.parametrize("x_shape,size", [((1, 4, 5, 3), (8, 10)), ((2, 7, 6, 2), (3, 4)), ((1, 5, 5, 4), (13, 9)),
                                          ((1, 1, 3, 2), (4, 1))])
def test_resize_matches_litert(op, align, half, x_shape, size):
    rng = np.random.default_rng(sum(size))
    check_exact(resize_spec(op, x_shape, size, align, half), [f32(rng, x_shape)])


def test_bilinear_2x_upsample_special_case_by_hand():
    # LiteRT's exact-2x path: the odd/odd output is ((a + c)/2 + (b + d)/2)/2, not the
    # weighted sum a/4 + b/4 + c/4 + d/4 (they differ in the last bit for these values).
    a, b, c, d = np.float32(0.1), np.float32(0.1), np.float32(0.1), np.float32(1.3)
    x = np.array([[a, b], [c, d]], np.float32).reshape(1, 2, 2, 1)
    want = ((a + c) * np.float32(0.5) + (b + d) * np.float32(0.5)) * np.float32(0.5)
    assert want != ((np.float32(0) + a * np.float32(0.25) + b * np.float32(0.25)) + c * np.float32(0.25)) + d * np.float32(0.25)
    for jit in (False, True):
        out = run_edgelite(resize_spec("RESIZE_BILINEAR", x.shape, (4, 4), False, False), [x], use_jit=jit)[0]
        assert out[0, 1, 1, 0] == want and out[0, 0, 1, 0] == (a + b) * np.float32(0.5)
        assert out[0, 3, 3, 0] == d  # the last row/column repeat the edge
    check_exact(resize_spec("RESIZE_BILINEAR", x.shape, (4, 4), False, False), [x])


@pytest.mark.parametrize("align,half", MODES)
def test_bilinear_signed_zeros_and_many_channels_match_litert(align, half):
    # 37 channels run through LiteRT's 32-, 4- and 1-wide loops; -0.0 inputs check that
    # the accumulation starts from +0.0 as LiteRT's does.
    rng = np.random.default_rng(37)
    x = f32(rng, (2, 5, 6, 37))
    x[:, ::2, :, ::3] = -0.0
    for size in ((10, 12), (7, 4), (5, 6)):
        check_exact(resize_spec("RESIZE_BILINEAR", x.shape, size, align, half), [x])


def test_resize_dynamic_size_returns_output():
    rng = np.random.default_rng(13)
    x = f32(rng, (1, 4, 4, 2))
    spec = resize_spec("RESIZE_BILINEAR", x.shape, (6, 7), False, True, const_size=False)
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    ctx = make_context(spec)
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    assert 0 in ctx.dynamic_outputs
    size = np.array([6, 7], np.int32)
    want = run_litert(spec, [x, size])[0]
    for fn in (k.eval, k.eval_jit):
        got = fn(p, [x, size], [None])[0]
        assert_bits_equal(got, want)


def test_resize_rejects_align_and_half_pixel_together():
    with pytest.raises(ShapeError):
        run_edgelite(resize_spec("RESIZE_BILINEAR", (1, 2, 2, 1), (4, 4), True, True), [np.zeros((1, 2, 2, 1), np.float32)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"]), mode=st.sampled_from(MODES),
       h=st.integers(1, 9), w=st.integers(1, 9), oh=st.integers(1, 20), ow=st.integers(1, 20),
       c=st.integers(1, 40), twice=st.booleans(), seed=st.integers(0, 2**16))
def test_resize_property_vs_litert(op, mode, h, w, oh, ow, c, twice, seed):
    if twice:
        oh, ow = 2 * h, 2 * w  # LiteRT's special 2x path (when neither flag is set)
    rng = np.random.default_rng(seed)
    check_exact(resize_spec(op, (1, h, w, c), (oh, ow), *mode), [f32(rng, (1, h, w, c))])


def test_jit_is_compiled_where_numba_is_installed():
    # eval_jit above is the Numba kernel, not its Python body, whenever Numba exists.
    from edgelite.interpreter.kernels.resize import resize_float as resize

    assert hasattr(resize._bilinear, "py_func") == HAVE_NUMBA
