"""DeformConv (``ops/deform_conv.py``) against the ONNX reference, in edgelite and LiteRT:
offsets inside and outside the image, pads, strides, dilations, groups, offset groups,
mask and bias, batch 2, infinities next to taps that fall outside."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import check_op, one_node_model

onnx = pytest.importorskip("onnx")
import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402

rng = np.random.default_rng(31)


def _out(size, k, s, d, pb, pa):
    return (size + pb + pa - ((k - 1) * d + 1)) // s + 1


def test_deform_conv_zero_offsets_is_a_conv():
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    off = np.zeros((1, 18, 3, 4), np.float32)
    check_op("DeformConv", {"x": x, "w": w, "off": off}, attrs={"kernel_shape": [3, 3]}, opset=22,
             use_reference=True, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cfg", [
    dict(kernel=(2, 2)),
    dict(kernel=(3, 3), pads=(1, 1, 1, 1)),
    dict(kernel=(3, 2), strides=(2, 1), pads=(1, 0, 0, 1)),
    dict(kernel=(2, 2), dilations=(2, 2)),
    dict(kernel=(2, 2), group=2, cin=4, cout=4),
    dict(kernel=(2, 2), offset_group=2, cin=4),
    dict(kernel=(3, 3), pads=(1, 1, 1, 1), group=2, offset_group=2, cin=4, cout=2, mask=True, bias=True, n=2),
], ids=str)
def test_deform_conv(cfg):
    n, cin, cout = cfg.get("n", 1), cfg.get("cin", 2), cfg.get("cout", 3)
    kh, kw = cfg["kernel"]
    s, d, p = cfg.get("strides", (1, 1)), cfg.get("dilations", (1, 1)), cfg.get("pads", (0, 0, 0, 0))
    g, og = cfg.get("group", 1), cfg.get("offset_group", 1)
    h, w_ = 5, 6
    oh, ow = _out(h, kh, s[0], d[0], p[0], p[2]), _out(w_, kw, s[1], d[1], p[1], p[3])
    feeds = {
        "x": rng.standard_normal((n, cin, h, w_)).astype(np.float32),
        "w": rng.standard_normal((cout, cin // g, kh, kw)).astype(np.float32),
        "off": rng.uniform(-2.5, 2.5, (n, og * kh * kw * 2, oh, ow)).astype(np.float32),  # some taps fall outside
    }
    if cfg.get("bias") or cfg.get("mask"):
        feeds["b"] = rng.standard_normal(cout).astype(np.float32)
    if cfg.get("mask"):
        feeds["m"] = rng.uniform(0, 1, (n, og * kh * kw, oh, ow)).astype(np.float32)
    attrs = {"kernel_shape": [kh, kw], "strides": list(s), "dilations": list(d), "pads": list(p), "group": g,
             "offset_group": og}
    check_op("DeformConv", feeds, attrs=attrs, opset=22, use_reference=True, rtol=1e-4, atol=1e-5)


def test_deform_conv_outside_taps_read_zero_next_to_infinities():
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    x[0, 0, 0, :] = np.inf  # the clamped index of a tap above the image lands here
    off = np.full((1, 8, 3, 3), -3.0, np.float32)
    off[:, 1::2] = 0.25  # w offsets: inside
    w = np.ones((1, 1, 2, 2), np.float32)
    check_op("DeformConv", {"x": x, "w": w, "off": off}, attrs={"kernel_shape": [2, 2]}, opset=22,
             use_reference=True, rtol=1e-5, atol=1e-6)


def test_deform_conv_refuses_a_size_1_input():
    m = one_node_model("DeformConv", {"x": np.zeros((1, 1, 1, 4), np.float32), "w": np.zeros((1, 1, 1, 2), np.float32),
                                      "off": np.zeros((1, 4, 1, 3), np.float32)}, attrs={"kernel_shape": [1, 2]}, opset=22)
    with pytest.raises(UnsupportedOperatorError, match="height or width 1"):
        edgelite.convert(m)
