"""Quantized RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR (int8, uint8, int16) against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
import edgelite.interpreter.kernels.resize.resize_quant as rq  # noqa: F401  (registers the kernel)
from edgelite.interpreter.kernels.resize.resize_float import nearest_indices
from edgelite.interpreter.kernels.resize.resize_quant import ResizeQuantized, q10_tables, q16_nearest
from edgelite.schema.fb.ResizeBilinearOptions import ResizeBilinearOptionsT
from edgelite.schema.fb.ResizeNearestNeighborOptions import ResizeNearestNeighborOptionsT

MODES = [(False, False), (True, False), (False, True)]  # (align_corners, half_pixel_centers)
DTYPES = [np.int8, np.uint8, np.int16]
OPS = ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"]


def _q(dt):
    return (0.05, 128) if dt == np.uint8 else (0.05, 0 if dt == np.int16 else -3)


def resize_spec(op, shape, size, align, half, dt, const_size=True, qout=None):
    o = ResizeBilinearOptionsT() if op == "RESIZE_BILINEAR" else ResizeNearestNeighborOptionsT()
    o.alignCorners, o.halfPixelCenters = align, half
    s = np.array(size, np.int32)
    return Spec(op, [TSpec(shape, dt, _q(dt)), TSpec((2,), np.int32, data=s if const_size else None, const=const_size)],
                [TSpec((shape[0], size[0], size[1], shape[3]), dt, qout or _q(dt))], o, version=3 if dt != np.uint8 else 1)


# -- by hand ---------------------------------------------------------------------------------


def test_q10_tables_by_hand():
    # 2 -> 4: s = 512; v = 0, 512, 1024, 1536
    lo, hi, w = q10_tables(2, 4, False, False)
    assert (lo.tolist(), hi.tolist(), w.tolist()) == ([0, 0, 1, 1], [0, 1, 1, 1], [0, 512, 0, 512])
    # half pixel 2 -> 4: v = o*512 + 256 - 512 = -256, 256, 768, 1280
    lo, hi, w = q10_tables(2, 4, False, True)
    assert (lo.tolist(), hi.tolist(), w.tolist()) == ([0, 0, 0, 1], [0, 1, 1, 1], [-256, 256, 768, 256])
    # align corners 3 -> 5: s = (2048 + 2) // 4 = 512
    lo, hi, w = q10_tables(3, 5, True, False)
    assert (lo.tolist(), hi.tolist(), w.tolist()) == ([0, 0, 1, 1, 2], [0, 1, 1, 2, 2], [0, 512, 0, 512, 0])


def test_q16_nearest_differs_from_float_formula():
    # 2 -> 82: Q16 scale (2 << 16) // 82 + 1 = 1599; 41 * 1599 >> 16 = 1, but 41 * (2/82) = 0.99999994 in float32
    assert q16_nearest(2, 82)[41] == 1 and nearest_indices(2, 82, False, False)[41] == 0


@pytest.mark.parametrize("jit", [False, True])
def test_int8_bilinear_hand_case(jit):
    # 1x2 -> 1x4 along x: v = 0, 0.5, 1, 1.5 -> [a, (a+b)/2, b, b]; (-3 + 4) / 2 = 0.5 rounds away to 1
    spec = resize_spec("RESIZE_BILINEAR", (1, 1, 2, 1), (1, 4), False, False, np.int8)
    x = np.array([-3, 4], np.int8).reshape(1, 1, 2, 1)
    got = run_edgelite(spec, [x], use_jit=jit)[0].ravel().tolist()
    assert got == [-3, 1, 4, 4]
    x = np.array([-4, 3], np.int8).reshape(1, 1, 2, 1)  # -0.5 rounds away to -1
    assert run_edgelite(spec, [x], use_jit=jit)[0].ravel().tolist() == [-4, -1, 3, 3]


@pytest.mark.parametrize("jit", [False, True])
def test_uint8_bilinear_hand_case(jit):
    # float path: trunc(v + 0.5): (3 + 4) / 2 = 3.5 -> 4
    spec = resize_spec("RESIZE_BILINEAR", (1, 1, 2, 1), (1, 4), False, False, np.uint8)
    x = np.array([3, 4], np.uint8).reshape(1, 1, 2, 1)
    assert run_edgelite(spec, [x], use_jit=jit)[0].ravel().tolist() == [3, 4, 4, 4]


def test_float_kernel_still_takes_float_and_quantized_kernel_refuses_it():
    from tests.interpreter.kernels.quant_harness import make_context

    spec = resize_spec("RESIZE_BILINEAR", (1, 2, 2, 1), (3, 3), False, False, np.int8)
    assert ResizeQuantized().accepts(make_context(spec))
    spec.inputs[0] = TSpec((1, 2, 2, 1), np.float32)
    spec.outputs[0] = TSpec((1, 3, 3, 1), np.float32)
    assert not ResizeQuantized().accepts(make_context(spec))


# -- against LiteRT --------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", range(3))
def test_against_litert(op, dt, mode):
    align, half = MODES[mode]
    rng = np.random.default_rng(mode * 11 + len(op))
    for shape, size in [((1, 4, 5, 3), (7, 9)), ((2, 6, 6, 8), (3, 4)), ((1, 3, 3, 2), (3, 3)), ((1, 1, 1, 4), (5, 2)),
                        ((1, 2, 2, 8), (16, 16)), ((1, 5, 7, 1), (10, 14))]:
        check(resize_spec(op, shape, size, align, half, dt), [random_q(rng, shape, dt)])


def test_uint8_half_pixel_x8_special_case():
    # LiteRT's ResizeBilinear888Uint8 (depth % 8 == 0, exact x8 upscale, 8.8 fixed point)
    rng = np.random.default_rng(4)
    for shape in [(1, 2, 3, 8), (2, 3, 2, 16)]:
        size = (shape[1] * 8, shape[2] * 8)
        check(resize_spec("RESIZE_BILINEAR", shape, size, False, True, np.uint8), [random_q(rng, shape, np.uint8)])


@pytest.mark.parametrize("size", [(82, 1), (94, 3), (123, 2)])
def test_uint8_nearest_q16_sizes(size):
    shape = (1, 2 if size[0] < 100 else 3, 2, 3)
    x = random_q(np.random.default_rng(size[0]), shape, np.uint8)
    check(resize_spec("RESIZE_NEAREST_NEIGHBOR", shape, size, False, False, np.uint8), [x])


@pytest.mark.parametrize("op", OPS)
def test_dynamic_size_input(op):
    rng = np.random.default_rng(1)
    shape = (1, 3, 4, 2)
    spec = resize_spec(op, shape, (5, 7), False, True, np.int8, const_size=False)
    x = random_q(rng, shape, np.int8)
    check(spec, [x, np.array([5, 7], np.int32)])


def test_output_quantization_is_not_applied():
    # LiteRT copies/interpolates stored integers even when the output scale differs.
    rng = np.random.default_rng(2)
    shape = (1, 3, 3, 2)
    spec = resize_spec("RESIZE_BILINEAR", shape, (5, 5), True, False, np.int8, qout=(0.2, 7))
    check(spec, [random_q(rng, shape, np.int8)])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(op=st.sampled_from(OPS), dt=st.sampled_from(DTYPES), mode=st.integers(0, 2),
       b=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 9),
       oh=st.integers(1, 24), ow=st.integers(1, 24), seed=st.integers(0, 2**31))
def test_property_matches_litert(op, dt, mode, b, h, w, c, oh, ow, seed):
    align, half = MODES[mode]
    rng = np.random.default_rng(seed)
    check(resize_spec(op, (b, h, w, c), (oh, ow), align, half, dt), [random_q(rng, (b, h, w, c), dt)])
