"""NonMaxSuppression (``ops/nms.py``) against ONNX's reference, in LiteRT and edgelite's
interpreter: corner and centre boxes, flipped corners, score ties, thresholds, limits,
several batches and classes; a hypothesis sweep on random boxes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import make_model, run_tflite

from hypothesis import given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

import edgelite  # noqa: E402


def _model(b, c, n, num, center=0, with_score_threshold=True):
    ins = ["boxes", "scores", "k", "iou"] + (["st"] if with_score_threshold else [])
    inputs = [("boxes", np.float32, [b, n, 4]), ("scores", np.float32, [b, c, n]), ("k", np.int64, [1]),
              ("iou", np.float32, [1])] + ([("st", np.float32, [1])] if with_score_threshold else [])
    return make_model([helper.make_node("NonMaxSuppression", ins, ["y"], center_point_box=center)], inputs,
                      [("y", np.int64, [num, 3])], opset=11)


def _compare(m, feeds):
    from onnx.reference import ReferenceEvaluator

    want = ReferenceEvaluator(m).run(None, feeds)[0]
    tfl = edgelite.convert(m)
    for interp in ("litert", "edgelite"):
        got = run_tflite(tfl, feeds, interp)[0]
        np.testing.assert_array_equal(got, want)
    return want


def test_onnx_rank_ties_by_index():
    from edgelite.converter.ops.nms import onnx_rank

    assert onnx_rank([0.3, 0.3, 0.9, 0.3]).tolist() == [1, 2, 0, 3]


def test_nms_by_hand_two_overlapping_one_apart():
    boxes = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 5, 1, 6]]], np.float32)
    scores = np.array([[[0.8, 0.9, 0.7]]], np.float32)
    feeds = {"boxes": boxes, "scores": scores, "k": np.array([3], np.int64), "iou": np.array([0.5], np.float32),
             "st": np.array([0.0], np.float32)}
    got = _compare(_model(1, 1, 3, 2), feeds)
    assert got.tolist() == [[0, 0, 1], [0, 0, 2]]  # box 1 (best) suppresses box 0


@pytest.mark.parametrize("center", [0, 1])
def test_nms_batches_classes_limit(center):
    rng = np.random.default_rng(0)
    xy = rng.random((2, 8, 2)).astype(np.float32) * 4
    wh = rng.random((2, 8, 2)).astype(np.float32) + 0.5
    boxes = np.concatenate([xy, wh], -1) if center else np.concatenate([xy[..., ::-1], xy[..., ::-1] + wh], -1)
    scores = np.round(rng.random((2, 3, 8)), 1).astype(np.float32)  # rounding makes ties
    feeds = {"boxes": boxes, "scores": scores, "k": np.array([2], np.int64), "iou": np.array([0.3], np.float32),
             "st": np.array([0.2], np.float32)}
    from onnx.reference import ReferenceEvaluator

    num = ReferenceEvaluator(_model(2, 3, 8, 1, center)).run(None, feeds)[0].shape[0]
    _compare(_model(2, 3, 8, num, center), feeds)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 10_000), iou=st.sampled_from([0.0, 0.3, 0.7]))
def test_nms_property_flipped_boxes(n, seed, iou):
    rng = np.random.default_rng(seed)
    corners = rng.random((1, n, 4)).astype(np.float32) * 3  # arbitrary corner order
    scores = rng.random((1, 1, n)).astype(np.float32)
    feeds = {"boxes": corners, "scores": scores, "k": np.array([n], np.int64), "iou": np.array([iou], np.float32)}
    from onnx.reference import ReferenceEvaluator

    num = ReferenceEvaluator(_model(1, 1, n, 1, with_score_threshold=False)).run(None, feeds)[0].shape[0]
    _compare(_model(1, 1, n, num, with_score_threshold=False), feeds)


def test_nms_too_many_boxes_refused():
    from edgelite.converter.ops.nms import MAX_BOXES
    from edgelite.errors import UnsupportedOperatorError

    with pytest.raises(UnsupportedOperatorError, match="unrolled selection"):
        edgelite.convert(_model(1, 1, MAX_BOXES + 1, 1))
