"""RoiAlign (``ops/roi_align.py``) against the ONNX reference, in edgelite and LiteRT:
both coordinate modes, avg and max, regions partly or wholly outside the image,
malformed (inverted) regions, several batches, spatial_scale, sampling ratios."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op, one_node_model

onnx = pytest.importorskip("onnx")
import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402

rng = np.random.default_rng(41)

ROIS = np.array([
    [0, 0, 9, 9],
    [0, 5, 4, 9],
    [5, 5, 9, 9],
    [-3, -2, 4, 3],       # partly outside
    [8.5, 1.2, 14, 6.7],  # partly outside, fractional
    [20, 20, 25, 30],     # wholly outside
    [6, 6, 2, 3],         # inverted
    [3.3, 3.3, 3.4, 3.4],  # tiny
], np.float32)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("ctm", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("sampling_ratio,out_hw,scale", [(2, (5, 5), 1.0), (1, (3, 4), 0.5), (3, (2, 3), 1.0)])
def test_roi_align(mode, ctm, sampling_ratio, out_hw, scale):
    x = rng.standard_normal((2, 3, 10, 11)).astype(np.float32)
    rois = ROIS * np.float32(1.0 / scale)
    batch = rng.integers(0, 2, len(rois)).astype(np.int64)
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm, "sampling_ratio": sampling_ratio,
             "output_height": out_hw[0], "output_width": out_hw[1], "spatial_scale": scale}
    check_op("RoiAlign", {"x": x, "rois": rois, "batch": batch}, attrs=attrs, opset=16, use_reference=True,
             rtol=1e-5, atol=1e-6)


def test_roi_align_refuses_adaptive_sampling():
    m = one_node_model("RoiAlign", {"x": np.zeros((1, 1, 4, 4), np.float32), "rois": np.zeros((2, 4), np.float32),
                                    "batch": np.zeros(2, np.int64)}, attrs={"sampling_ratio": 0}, opset=16)
    with pytest.raises(UnsupportedOperatorError, match="sampling_ratio=0"):
        edgelite.convert(m)
