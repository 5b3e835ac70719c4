"""Float RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR against LiteRT, by hand and by property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import Spec, TSpec, assert_close, check_float, f32, run_edgelite, run_litert
from edgelite.errors import ShapeError
from edgelite.interpreter.kernels.resize import bilinear_tables, nearest_indices
from edgelite.schema.fb.ResizeBilinearOptions import ResizeBilinearOptionsT
from edgelite.schema.fb.ResizeNearestNeighborOptions import ResizeNearestNeighborOptionsT

MODES = [(False, False), (True, False), (False, True)]  # (align_corners, half_pixel_centers)


def resize_spec(op, x_shape, size, align, half, const_size=True):
    o = ResizeBilinearOptionsT() if op == "RESIZE_BILINEAR" else ResizeNearestNeighborOptionsT()
    o.alignCorners, o.halfPixelCenters = align, half
    s = np.array(size, np.int32)
    return Spec(op, [TSpec(x_shape, np.float32), TSpec((2,), np.int32, data=s if const_size else None, const=const_size)],
                [TSpec((x_shape[0], size[0], size[1], x_shape[3]), np.float32)], options=o)


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
    check_float(resize_spec(op, x_shape, size, align, half), [f32(rng, x_shape)])


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
        assert_close(got, want)


def test_resize_rejects_align_and_half_pixel_together():
    with pytest.raises(ShapeError):
        run_edgelite(resize_spec("RESIZE_BILINEAR", (1, 2, 2, 1), (4, 4), True, True), [np.zeros((1, 2, 2, 1), np.float32)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"]), mode=st.sampled_from(MODES),
       h=st.integers(1, 9), w=st.integers(1, 9), oh=st.integers(1, 20), ow=st.integers(1, 20),
       seed=st.integers(0, 2**16))
def test_resize_property_vs_litert(op, mode, h, w, oh, ow, seed):
    rng = np.random.default_rng(seed)
    check_float(resize_spec(op, (1, h, w, 3), (oh, ow), *mode), [f32(rng, (1, h, w, 3))])
