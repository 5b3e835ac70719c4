"""DFT for static sizes, as one ``FULLY_CONNECTED`` with a constant DFT matrix.

Along the transformed axis a DFT (forward or inverse, full or one-sided, padded or
truncated to ``dft_length``) is linear in the real and imaginary parts of its input,
so the whole transform is a matrix ``W [L_out * C_out, L_in * C_in]`` over the
interleaved ``(re, im)`` layout ONNX uses (``C`` = 1 for real signals, 2 for complex).
The matrix is built column by column by transforming each unit impulse with numpy's
FFT (the same function ONNX's reference calls), so truncation, zero padding and the
inverse real transform's treatment of the DC and Nyquist bins agree with it exactly.

The graph is then ``TRANSPOSE`` (the axis next to the complex dimension, when it is
not there already) -> ``RESHAPE [rows, L_in * C_in]`` -> ``FULLY_CONNECTED`` ->
``RESHAPE`` -> ``TRANSPOSE`` back. An ``axis`` given as a run-time input (opset 20)
is resolved by computing every axis whose result has the output's static shape and
choosing with ``SELECT_V2`` on ``axis == a``.

Example:
    >>> import numpy as np
    >>> w = dft_matrix(4, 4, 1, 2, inverse=False, onesided=False)
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> y = (w @ x).reshape(4, 2)
    >>> np.allclose(y[:, 0] + 1j * y[:, 1], np.fft.fft(x))
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)
_MAX_MATRIX = 1 << 24  # elements of the DFT matrix (64 MiB of float32)


def dft_matrix(n_in: int, length: int, c_in: int, c_out: int, inverse: bool, onesided: bool) -> np.ndarray:
    """``W [L_out * c_out, n_in * c_in]`` (float64) of one DFT along an axis of ``n_in`` samples."""

    def transform(sig):
        if inverse and onesided:
            return np.fft.irfft(sig, n=length)
        full = np.fft.ifft(sig, n=length) if inverse else np.fft.fft(sig, n=length)
        return full[: length // 2 + 1] if onesided else full

    cols = []
    for j in range(n_in):
        for c in range(c_in):
            sig = np.zeros(n_in, np.complex128)
            sig[j] = 1.0 if c == 0 else 1j
            y = transform(sig)
            cols.append(np.real(y)[:, None] if c_out == 1 else np.stack([y.real, y.imag], axis=-1))
    return np.stack([col.reshape(-1) for col in cols], axis=1)


def _out_len(n_in: int, length: int, inverse: bool, onesided: bool) -> int:
    if inverse and onesided:
        return length
    return length // 2 + 1 if onesided else length


@register("DFT")
class DFT(OpConverter):
    """ONNX DFT (opsets 17 and 20) on float32 signals of static shape."""

    def _axis_input(self, node):
        return node.input(2) if "axis" not in node.attrs else None

    def _length(self, node, axis):
        x = node.inputs[0]
        ln = node.input(1)
        if ln is not None:
            return int(np.asarray(ln.data).reshape(-1)[0])
        if node.attrs.get("inverse", 0) and node.attrs.get("onesided", 0):
            return 2 * (x.shape[axis] - 1)
        return x.shape[axis]

    def _candidates(self, node):
        """Axes the node may transform: the attribute/constant one, or every axis whose
        result has the output's static shape (a run-time axis)."""
        x, y = node.inputs[0], node.outputs[0]
        r = len(x.shape)
        a_in = self._axis_input(node)
        if "axis" in node.attrs:
            return [int(node.attrs["axis"]) % r]
        if a_in is None:
            return [r - 2]  # opset 20's default axis -2
        if a_in.is_constant:
            return [int(np.asarray(a_in.data).reshape(-1)[0]) % r]
        out = []
        for a in range(r - 1):
            if y.shape is not None and tuple(y.shape) == self._out_shape(node, a):
                out.append(a)
        return out

    def _out_shape(self, node, axis):
        x = node.inputs[0]
        inverse, onesided = bool(node.attrs.get("inverse", 0)), bool(node.attrs.get("onesided", 0))
        length = self._length(node, axis)
        shape = list(x.shape)
        shape[axis] = _out_len(x.shape[axis], length, inverse, onesided)
        shape[-1] = 1 if inverse and onesided else 2
        return tuple(shape)

    def check(self, node):
        x = node.inputs[0]
        if x.dtype is not None and x.dtype != _F32:
            return f"{x.dtype} signal (float32 only)"
        if x.shape is None or len(x.shape) < 2 or x.shape[-1] not in (1, 2):
            return "signal without a static shape [..., L, 1 or 2]"
        if node.input(1) is not None and not node.input(1).is_constant:
            return "run-time dft_length"
        cands = self._candidates(node)
        if not cands:
            return "no axis gives the output's static shape"
        for a in cands:
            if a == len(x.shape) - 1:
                return "axis is the complex dimension"
            length = self._length(node, a)
            if length < 1:
                return f"dft_length {length}"
            n_out = _out_len(x.shape[a], length, bool(node.attrs.get("inverse", 0)), bool(node.attrs.get("onesided", 0)))
            if n_out * 2 * x.shape[a] * x.shape[-1] > _MAX_MATRIX:
                return f"a DFT matrix over {_MAX_MATRIX} elements"
        if self._axis_input(node) is not None and not self._axis_input(node).is_constant and len(cands) > 1:
            if node.outputs[0].shape is None:
                return "run-time axis without a static output shape"
        return None

    def _one_axis(self, e: Emitter, node, axis, y=None):
        from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

        x = node.inputs[0]
        r = len(x.shape)
        inverse, onesided = bool(node.attrs.get("inverse", 0)), bool(node.attrs.get("onesided", 0))
        length = self._length(node, axis)
        c_in = x.shape[-1]
        c_out = 1 if inverse and onesided else 2
        n_in = x.shape[axis]
        n_out = _out_len(n_in, length, inverse, onesided)
        w = dft_matrix(n_in, length, c_in, c_out, inverse, onesided).astype(np.float32)
        perm = [d for d in range(r - 1) if d != axis] + [axis, r - 1]
        xt = e.transpose(x, perm)
        rest = [x.shape[d] for d in perm[:-2]]
        rows = int(np.prod(rest, dtype=np.int64)) if rest else 1
        flat = e.reshape(xt, (rows, n_in * c_in))
        prod = e._tmp("dft", (rows, n_out * c_out), _F32, None)
        e.out.emit("FULLY_CONNECTED", [flat, e.const(w, tag="dft_matrix"), None], [prod], FullyConnectedOptionsT())
        back = e.reshape(prod, tuple(rest) + (n_out, c_out))
        inv = [perm.index(d) for d in range(r)]
        if inv == list(range(r)):
            return e.reshape(back, None, y=y) if y is not None else back
        return e.transpose(back, inv, y=y)

    def lower(self, node, out):
        e = Emitter(out, node.name)
        y = node.outputs[0]
        cands = self._candidates(node)
        if len(cands) == 1:
            self._one_axis(e, node, cands[0], y=y)
            return
        a_in = self._axis_input(node)
        r = len(node.inputs[0].shape)
        result = self._one_axis(e, node, cands[-1])
        for i, a in enumerate(reversed(cands[:-1])):
            hit = e.binary(
                "LOGICAL_OR",
                e.binary("EQUAL", a_in, e.const(np.array(a, a_in.dtype), tag="axis")),
                e.binary("EQUAL", a_in, e.const(np.array(a - r, a_in.dtype), tag="axis")),
            )
            last = i == len(cands) - 2
            result = e.select(hit, self._one_axis(e, node, a), result, y=y if last else None)
