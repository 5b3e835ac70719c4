"""ConvInteger (and the product of QLinearConv): exact int32 convolutions as float32
CONV_2D / DEPTHWISE_CONV_2D in NHWC, with the patch lowering of ``integer_ops`` left for
what they do not cover.

Strategies, in order:

1. ``ConvIntegerChannelsLast`` (``applies``: constant weights and weight zero point, a 1-D
   or 2-D convolution, ``group`` 1 or depthwise, and no single input channel whose window
   sum can reach 2^24): the data goes channels-last through the layout pass like a float
   ``Conv``'s (``conv.ConvGeometry``: same window, SAME / VALID / explicit ``PAD``), is
   shifted by its zero point in float32 (``x - x_zp``: integers in [-255, 255]) and
   convolved with the constant float32 filter ``w - w_zp``. Padding with zeros after the
   shift is ONNX's padding with ``x_zp`` before it. The input channels are cut into chunks
   (``channel_chunks``) so that, for every output channel ``o``, the chunk's worst case
   ``sum_c sum_taps |w[o, c, tap] - w_zp[o]| * max|x - x_zp|`` (from the weights' actual
   values) stays below 2^24; each chunk is one ``SLICE`` + ``CONV_2D`` whose output is
   ``CAST`` to int32, and the chunks are ``ADD``-ed in int32.
2. ``ConvInteger``: ``integer_ops.lower_conv`` (GATHER-built patches in ONNX layout,
   ``BATCH_MATMUL``): run-time weights, other groups, 3-D, very large windows.

Why float32 is exact here: every term ``(x - x_zp) * (w - w_zp)`` is an integer of
magnitude at most 255 * 255, and every partial sum a kernel can form (any order, any
blocking, with or without FMA, the padded zeros included) is a sum of a subset of one
output's terms of one chunk, so its magnitude is below the chunk's bound, 2^24, where
every integer is a float32: no addition ever rounds. This holds for any float32 kernel
that computes the direct convolution (edgelite's, LiteRT's built-in and XNNPACK's in
float32 mode). It does **not** hold for a kernel that stores or computes in float16
(edgelite's GPU delegate with ``precision_loss_allowed`` / ``is_precision_loss_allowed``,
NNAPI's ``allow_fp16``, XNNPACK's fp16 inference flag) or that transforms the data
(Winograd, FFT): those round intermediates and can give wrong integers. edgelite's GPU
delegate in its default fp32 mode runs a direct loop per output and stays exact.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ops.integer_conv import channel_chunks
    >>> terms = np.full((2, 600), 9 * 255.0 * 255.0)   # 3x3 windows at the extremes
    >>> [(a, b) for a, b in channel_chunks(terms)][:2]  # 28 channels * 9 * 65025 < 2^24
    [(0, 28), (28, 56)]
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.conv import ConvGeometry, filter_of, is_depthwise
from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.integer_ops import EXACT_F32, Shifted, conv_operands, conv_reason, lower_conv
from edgelite.converter.ops.layout_rules import ChannelsLast
from edgelite.converter.ops.registry import OpConverter, register


def channel_terms(w_shifted: np.ndarray, x_bound: float) -> np.ndarray:
    """``[C_out, C_in / group]``: per output and input channel, the largest ``|sum over the
    window|`` of ``(x - x_zp) * (w - w_zp)``."""
    cout, cg = w_shifted.shape[:2]
    return np.abs(w_shifted).reshape(cout, cg, -1).sum(axis=2).astype(np.float64) * x_bound


def channel_chunks(terms: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` chunks of the input channels whose summed ``terms`` stay below
    2^24 for every output channel (greedy; each single channel must already be below)."""
    chunks, start, running = [], 0, np.zeros(terms.shape[0])
    for c in range(terms.shape[1]):
        if c > start and float((running + terms[:, c]).max()) >= EXACT_F32:
            chunks.append((start, c))
            start, running = c, np.zeros(terms.shape[0])
        running = running + terms[:, c]
    chunks.append((start, terms.shape[1]))
    return chunks


def channels_last_reason(node, x: Shifted, w: Shifted) -> str | None:
    """Why ``lower_channels_last`` does not take this ConvInteger / QLinearConv (None: it does)."""
    wq = w.shifted_constant()
    if wq is None:
        return "run-time weights or weight zero point"
    if wq.ndim not in (3, 4) or x.value.shape is None or len(x.value.shape) != wq.ndim:
        return f"weights of rank {wq.ndim} (1-D and 2-D convolutions only)"
    group, cin = int(node.attrs.get("group", 1)), int(x.value.shape[1])
    if group != 1 and not is_depthwise(wq, group, cin):
        return f"group={group}, neither 1 nor depthwise"
    worst = float(channel_terms(wq, x.bound()).max(initial=0))
    if worst >= EXACT_F32:
        return f"one input channel's window sum can reach {worst:.3g} (2^24 or more)"
    return None


def lower_channels_last(e: Emitter, node, x: Shifted, w: Shifted):
    """The exact int32 convolution on channels-last data: ``[N, OH, OW, C_out]`` (2-D) or
    ``[N, OW, C_out]`` (1-D). ``x.value`` is the node's physical (NHWC / NWC) input."""
    wq = w.shifted_constant()
    nsp = wq.ndim - 2
    geom = ConvGeometry.of(node, x.value.shape, wq.shape)
    x4 = geom.input_4d(e.out, x.emit(e), node.name)
    w4 = wq if nsp == 2 else wq[:, :, None, :]
    cout, group, cin = int(w4.shape[0]), int(node.attrs.get("group", 1)), int(x4.shape[3])
    depthwise = is_depthwise(w4, group, cin)
    op, opts, version = geom.options(depthwise, cout // group)
    chunks = [(0, cin)] if depthwise else channel_chunks(channel_terms(w4, x.bound()))
    oh, ow = geom.output_hw(x4.shape)
    zero_bias = e.const(np.zeros(cout, np.float32), tag="zero_bias")
    acc = None
    for c0, c1 in chunks:
        xc = e.slice(x4, [0, 0, 0, c0], [-1, -1, -1, c1 - c0])
        filt = e.const(filter_of(w4 if depthwise else w4[:, c0:c1], depthwise).astype(np.float32), tag="filter")
        part = e.cast(e.op(op, [xc, filt, zero_bias], (x4.shape[0], oh, ow, cout), np.float32, opts, version), np.int32)
        acc = part if acc is None else e.add(acc, part)
    return acc if nsp == 2 else e.reshape(acc, (x4.shape[0], ow, cout))


@register("ConvInteger")
class ConvIntegerChannelsLast(ChannelsLast, OpConverter):
    """``conv(x - x_zp, w - w_zp)`` in int32, exactly, as float32 CONV_2D / DEPTHWISE_CONV_2D
    chunks in NHWC (module docstring); first strategy for ConvInteger."""

    def applies(self, node):
        x, w = conv_operands(node, 2, 1, 3)
        return self.check(node) is None and channels_last_reason(node, x, w) is None

    def check(self, node):
        x, w = conv_operands(node, 2, 1, 3)
        return conv_reason(node, x, w)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, w = conv_operands(node, 2, 1, 3)
        e.reshape(lower_channels_last(e, node, x, w), node.outputs[0].shape, y=node.outputs[0])


@register("ConvInteger", after=ConvIntegerChannelsLast)
class ConvInteger(OpConverter):
    """``conv(x - x_zp, w - w_zp)`` in int32, exactly, over patches in ONNX layout
    (``integer_ops.lower_conv``); ``w_zp`` per tensor or per output channel, weights
    constant or run-time, any group, stride, dilation and padding."""

    def check(self, node):
        x, w = conv_operands(node, 2, 1, 3)
        return conv_reason(node, x, w)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, w = conv_operands(node, 2, 1, 3)
        e.reshape(lower_conv(e, node, x, w), node.outputs[0].shape, y=node.outputs[0])
