"""Window2D: the one 2-D window-geometry type of the conv / depthwise / transpose / pool kernels."""

import dataclasses

import pytest

from edgelite.interpreter.compute.conv_geometry import SAME, VALID, Window2D, window_geometry


@pytest.mark.parametrize(
    "h, w, kh, kw, sh, sw, dh, dw, padding",
    [
        (224, 224, 3, 3, 2, 2, 1, 1, SAME),  # odd total padding: the extra cell after the image
        (7, 5, 3, 3, 2, 1, 1, 2, VALID),
        (10, 9, 3, 2, 1, 3, 2, 1, SAME),
        (5, 6, 4, 4, 1, 1, 1, 1, SAME),
        (2, 2, 5, 5, 1, 1, 1, 1, VALID),  # filter larger than the input: negative output size
    ],
)
def test_build_is_the_two_axes_of_window_geometry(h, w, kh, kw, sh, sw, dh, dw, padding):
    win = Window2D.build(h, w, kh, kw, sh, sw, dh, dw, padding)
    gy = window_geometry(h, kh, sh, dh, padding)
    gx = window_geometry(w, kw, sw, dw, padding)
    assert (win.in_h, win.out_h, win.pad_h, win.pad_h_offset) == (h, gy.out_size, gy.pad_before, gy.pad_offset)
    assert (win.in_w, win.out_w, win.pad_w, win.pad_w_offset) == (w, gx.out_size, gx.pad_before, gx.pad_offset)
    assert win.taps == (kh, kw, sh, sw, dh, dw, gy.pad_before, gx.pad_before)
    assert win.im2col_args == win.taps + (gy.out_size, gx.out_size)


def test_hand_case_same_stride_2():
    win = Window2D.build(224, 224, 3, 3, 2, 2, 1, 1, SAME)
    assert (win.out_h, win.out_w, win.pad_h, win.pad_w, win.pad_h_offset) == (112, 112, 0, 0, 1)


def test_unsized_then_sized_equals_build():
    u = Window2D.unsized(3, 2, 2, 2, 1, 1, SAME)
    assert not u.is_sized and u.out_h == -1
    s = u.sized(9, 8)
    assert s.is_sized and s == Window2D.build(9, 8, 3, 2, 2, 2, 1, 1, SAME)


def test_frozen():
    win = Window2D.build(4, 4, 2, 2, 1, 1, 1, 1, VALID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        win.kh = 3  # type: ignore[misc]
