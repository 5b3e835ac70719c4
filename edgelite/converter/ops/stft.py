"""STFT (opset 17) of a float32 signal of static shape, as the ONNX reference frames it.

The reference cuts ``n_frames = 1 + (N - frame_length) // frame_step`` frames of the
window's length at ``f * frame_step``, multiplies each by the window (float32), and
transforms each with numpy's FFT of ``frame_length`` points (one-sided by default). Here
the frames are one ``GATHER`` of constant sample indices, the window one ``MUL``, and the
transform the DFT lowering's constant matrix (``spectral.dft_matrix``) in one
``FULLY_CONNECTED``.

``frame_step`` and ``frame_length`` may be graph inputs: the framing depends on their
values, so the pairs that give the output's declared static shape are found at
conversion (usually one) and computed; a run-time pair is matched with ``EQUAL`` and
picked by ``SELECT_V2``. Values that match no such pair contradict the declared shape:
the output is then NaN, never another pair's result.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("STFT") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register
from edgelite.converter.ops.spectral import dft_matrix

_F32 = np.dtype(np.float32)
_MAX_MATRIX = 1 << 24
_MAX_PAIRS = 8


def _scalar(v):
    return None if v is None or not v.is_constant else int(np.asarray(v.data).reshape(-1)[0])


@register("STFT")
class STFT(OpConverter):
    def _pairs(self, node):
        """``[(frame_length, frame_step)]`` that the node may compute, or a reason."""
        x, y = node.inputs[0], node.outputs[0]
        n = x.shape[1]
        step_v, win, len_v = node.input(1), node.input(2), node.input(3)
        onesided = bool(node.attrs.get("onesided", 1))
        if win is not None:
            if win.shape is None or len(win.shape) != 1:
                return "a window without a static 1-D shape"
            lengths = [win.shape[0]]
            if len_v is not None and len_v.is_constant and _scalar(len_v) != win.shape[0]:
                return "frame_length other than the window's length"
        elif len_v is None:
            lengths = [n]
        elif len_v.is_constant:
            lengths = [_scalar(len_v)]
        else:
            lengths = list(range(1, n + 1))
        steps = [_scalar(step_v)] if step_v.is_constant else list(range(1, n + 1))
        pairs = []
        for ln in lengths:
            if not 1 <= ln <= n:
                continue
            bins = ln // 2 + 1 if onesided else ln
            for s in steps:
                if s >= 1 and (x.shape[0], 1 + (n - ln) // s, bins, 2) == tuple(y.shape):
                    pairs.append((ln, s))
        if not pairs:
            return ("no frame_length / frame_step gives the output's static shape (ONNX's shape inference reads "
                    "onesided's default as 0, the spec and the reference as 1: give onesided explicitly)")
        if len(pairs) > _MAX_PAIRS:
            return f"{len(pairs)} frame_length / frame_step pairs give the output's shape (at most {_MAX_PAIRS})"
        return pairs

    def check(self, node):
        x, y = node.inputs[0], node.outputs[0]
        if x.dtype != _F32:
            return f"{x.dtype} signal (float32 only)"
        if x.shape is None or len(x.shape) != 3 or x.shape[-1] not in (1, 2):
            return "signal without a static shape [batch, length, 1 or 2]"
        if y.shape is None or len(y.shape) != 4:
            return "output without a static shape"
        win = node.input(2)
        if win is not None and win.dtype != _F32:
            return f"{win.dtype} window (float32 only)"
        pairs = self._pairs(node)
        if isinstance(pairs, str):
            return pairs
        for ln, _ in pairs:
            if y.shape[2] * 2 * ln * x.shape[2] > _MAX_MATRIX:
                return f"a DFT matrix over {_MAX_MATRIX} elements"
        return None

    def _frames(self, e: Emitter, node, ln: int, step: int):
        from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

        x, win = node.inputs[0], node.input(2)
        b, c = x.shape[0], x.shape[2]
        n_frames = 1 + (x.shape[1] - ln) // step
        idx = np.arange(n_frames)[:, None] * step + np.arange(ln)[None, :]
        fr = e.gather(x, e.const(idx.astype(np.int32), tag="frames"), axis=1)  # [b, frames, ln, c]
        if win is not None:
            fr = e.mul(fr, e.reshape(win, (ln, 1)))
        onesided = bool(node.attrs.get("onesided", 1))
        bins = ln // 2 + 1 if onesided else ln
        w = dft_matrix(ln, ln, c, 2, inverse=False, onesided=onesided).astype(np.float32)
        flat = e.reshape(fr, (b * n_frames, ln * c))
        prod = e._tmp("stft", (b * n_frames, bins * 2), _F32, None)
        e.out.emit("FULLY_CONNECTED", [flat, e.const(w, tag="dft_matrix"), None], [prod], FullyConnectedOptionsT())
        return e.reshape(prod, (b, n_frames, bins, 2))

    def lower(self, node, out):
        e = Emitter(out, node.name)
        y = node.outputs[0]
        pairs = self._pairs(node)
        step_v, len_v = node.input(1), node.input(3)
        runtime = [(v, k) for v, k in ((len_v, 0), (step_v, 1)) if v is not None and not v.is_constant]
        if not runtime:
            e.reshape(self._frames(e, node, *pairs[0]), tuple(y.shape), y=y)
            return
        result = e.const(np.full(y.shape, np.nan, _F32), tag="contradiction")
        for i, pair in enumerate(pairs):
            hit = None
            for v, k in runtime:
                eq = e.binary("EQUAL", e.reshape(v, ()), e.const(np.array(pair[k], v.dtype), tag="expect"))
                hit = eq if hit is None else e.binary("LOGICAL_AND", hit, eq)
            last = i == len(pairs) - 1
            result = e.select(hit, self._frames(e, node, *pair), result, y=y if last else None)
