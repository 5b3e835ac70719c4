"""Ops whose parameters arrive at run time (``ops/resize_runtime.py``,
``ops/slice_pad_runtime.py``), against ONNX Runtime in LiteRT and edgelite's interpreter:
Resize with run-time scales (every mode and coordinate transform, antialias,
exclude_outside), keep_aspect_ratio sizes and tf_crop_and_resize roi; Slice with
run-time starts/ends/axes/steps; Pad with run-time pads/value/axes in every mode."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from hypothesis import given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def _resize(scales, out_shape, **attrs):
    return make_model(
        [helper.make_node("Resize", ["x", "", "s"], ["y"], **attrs)],
        [("x", np.float32, [1, 2, 4, 5]), ("s", np.float32, [4])], [("y", np.float32, out_shape)], opset=19,
    ), np.asarray(scales, np.float32)


RESIZE = [
    ("nearest_up", [1, 1, 2.0, 1.5], {"mode": "nearest"}),
    ("nearest_down_ceil", [1, 1, 0.6, 0.7], {"mode": "nearest", "nearest_mode": "ceil",
                                           "coordinate_transformation_mode": "asymmetric"}),
    ("linear_half_pixel", [1, 1, 1.7, 0.6], {"mode": "linear"}),
    # align_corners: ONNX's reference divides by scale * in - 1, ONNX Runtime by out - 1;
    # scales with an integral scale * in keep both oracles equal.
    ("linear_align_corners", [1, 1, 0.75, 1.4], {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    ("linear_symmetric", [1, 1, 0.6, 2.2], {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}),
    ("cubic_asymmetric", [1, 1, 1.5, 0.8], {"mode": "cubic", "coordinate_transformation_mode": "asymmetric"}),
    ("cubic_exclude", [1, 1, 0.8, 1.6], {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}),
    ("cubic_antialias", [1, 1, 0.6, 0.5], {"mode": "cubic", "antialias": 1}),
    ("linear_antialias", [1, 1, 0.5, 0.7], {"mode": "linear", "antialias": 1}),
    ("pytorch_half_pixel", [1, 1, 0.6, 1.2], {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}),
]


@BOTH
@pytest.mark.parametrize("name,scales,attrs", RESIZE, ids=[r[0] for r in RESIZE])
def test_resize_runtime_scales(interp, name, scales, attrs):
    out = [int(np.floor(d * s)) for d, s in zip([1, 2, 4, 5], scales)]
    m, s = _resize(scales, out, **attrs)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5)).astype(np.float32)
    check(m, {"x": x, "s": s}, interpreter=interp, rtol=1e-4, atol=1e-5)


@BOTH
def test_resize_tf_crop_runtime_roi(interp):
    m = make_model(
        [helper.make_node("Resize", ["x", "roi", "", "sz"], ["y"], mode="linear",
                          coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0, axes=[2, 3])],
        [("x", np.float32, [1, 1, 4, 4]), ("roi", np.float32, [4])], [("y", np.float32, [1, 1, 3, 3])],
        {"sz": np.array([3, 3], np.int64)}, opset=19,
    )
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    check(m, {"x": x, "roi": np.array([0.4, -0.3, 0.9, 0.8], np.float32)}, interpreter=interp)


@BOTH
@pytest.mark.parametrize("policy,out", [("not_larger", [1, 1, 3, 5]), ("not_smaller", [1, 1, 4, 6])])
def test_resize_keep_aspect_runtime_sizes(interp, policy, out):
    m = make_model(
        [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest", keep_aspect_ratio_policy=policy, axes=[2, 3])],
        [("x", np.float32, [1, 1, 2, 3]), ("sz", np.int64, [2])], [("y", np.float32, out)], opset=19,
    )
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    check(m, {"x": x, "sz": np.array([3, 5] if policy == "not_larger" else [4, 4], np.int64)}, interpreter=interp)


@BOTH
@pytest.mark.parametrize("starts,ends,axes,steps,out", [
    ([1, 0], [3, 10], [0, 1], [1, 1], [2, 10]),
    ([-1], [-1000], [1], [-3], [5, 4]),
    ([20, 2], [-2**63, 9], [-2, -1], [-1, 2], [5, 4]),
])
def test_slice_runtime_parameters(interp, starts, ends, axes, steps, out):
    m = make_model(
        [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
        [("x", np.float32, [5, 10]), ("st", np.int64, [len(starts)]), ("en", np.int64, [len(ends)]),
         ("ax", np.int64, [len(axes)]), ("sp", np.int64, [len(steps)])],
        [("y", np.float32, out)], opset=13,
    )
    feeds = {"x": np.arange(50, dtype=np.float32).reshape(5, 10), "st": np.array(starts, np.int64),
             "en": np.array(ends, np.int64), "ax": np.array(axes, np.int64), "sp": np.array(steps, np.int64)}
    check(m, feeds, interpreter=interp)


@BOTH
@pytest.mark.parametrize("starts,ends,axes,out", [
    ([1000], [1000], [1], [5, 0]),  # starts past the end
    ([3, 4], [1, 8], [0, 1], [0, 4]),  # ends before starts
])
def test_slice_runtime_parameters_empty_output(interp, starts, ends, axes, out):
    """A static output of no element: one SLICE of that size, which LiteRT reads back."""
    import edgelite
    from tests.converter.ext_helpers import oracle
    from tests.converter.helpers import op_names, run_tflite

    m = make_model(
        [helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"])],
        [("x", np.float32, [5, 10]), ("st", np.int64, [len(starts)]), ("en", np.int64, [len(ends)]),
         ("ax", np.int64, [len(axes)])],
        [("y", np.float32, out)], opset=13,
    )
    feeds = {"x": np.arange(50, dtype=np.float32).reshape(5, 10), "st": np.array(starts, np.int64),
             "en": np.array(ends, np.int64), "ax": np.array(axes, np.int64)}
    tfl = edgelite.convert(m, keep_io_layout=True)
    assert op_names(tfl) == ["SLICE"]
    want = oracle(m, feeds)[0]
    got = np.asarray(run_tflite(tfl, feeds, interp)[0])
    assert got.shape == want.shape == tuple(out) and got.dtype == want.dtype


@BOTH
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_runtime_pads_every_mode(interp, mode):
    pads = np.array([1, 2, 0, 1, 2, 1], np.int64)
    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype(np.float32)
    ins = [("x", np.float32, [2, 4, 3]), ("p", np.int64, [6])] + ([("v", np.float32, [])] if mode == "constant" else [])
    node = helper.make_node("Pad", ["x", "p", "v"] if mode == "constant" else ["x", "p"], ["y"], mode=mode)
    m = make_model([node], ins, [("y", np.float32, [4, 8, 4])], opset=19)
    feeds = {"x": x, "p": pads}
    if mode == "constant":
        feeds["v"] = np.array(1.5, np.float32)
    check(m, feeds, interpreter=interp)


@BOTH
@pytest.mark.parametrize("mode", ["edge", "constant"])
def test_pad_opset2_attributes(interp, mode):
    """Pad-2 takes pads (and value) as attributes (PyTorch's ReplicationPad2d export)."""
    x = np.random.default_rng(3).standard_normal((1, 2, 3, 4)).astype(np.float32)
    node = helper.make_node("Pad", ["x"], ["y"], mode=mode, pads=[0, 0, 3, 1, 0, 0, 4, 2], value=0.5)
    m = make_model([node], [("x", np.float32, [1, 2, 3, 4])], [("y", np.float32, [1, 2, 10, 7])], opset=6)
    check(m, {"x": x}, interpreter=interp)


@BOTH
def test_pad_runtime_axes_and_cropping(interp):
    m = make_model(
        [helper.make_node("Pad", ["x", "p", "", "ax"], ["y"], mode="wrap")],
        [("x", np.int64, [3, 4]), ("p", np.int64, [2]), ("ax", np.int64, [1])], [("y", np.int64, [3, 5])], opset=19,
    )
    feeds = {"x": np.arange(12, dtype=np.int64).reshape(3, 4), "p": np.array([-1, 2], np.int64), "ax": np.array([-1], np.int64)}
    check(m, feeds, interpreter=interp)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), b=st.integers(-2, 3), a=st.integers(-2, 3), mode=st.sampled_from(["constant", "edge", "wrap", "reflect"]))
def test_pad_runtime_property(n, b, a, mode):
    from hypothesis import assume

    assume(n + b + a > 0 and max(-b, -a, 0) < n)
    kept = n - max(-b, 0) - max(-a, 0)
    if mode == "reflect":  # ONNX Runtime: at least 2 kept elements, pads shorter than them
        assume(kept >= 2 and max(b, a) < kept)
    m = make_model([helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)],
                   [("x", np.float32, [2, n]), ("p", np.int64, [4])], [("y", np.float32, [2, n + b + a])], opset=19)
    feeds = {"x": np.random.default_rng(n).standard_normal((2, n)).astype(np.float32), "p": np.array([0, b, 0, a], np.int64)}
    check(m, feeds, interpreter="edgelite")
