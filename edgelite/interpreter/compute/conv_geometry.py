"""Window geometry shared by convolution and pooling kernels (float and quantized).

Pure functions, no numpy arrays: output sizes and padding exactly as TFLite computes
them (``tensorflow/lite/kernels/padding.h``), and the clamp range of a fused
activation (``CalculateActivationRange``). The int8 kernels import these too, so the
two families agree on every shape.

* SAME: ``out = ceil(in / stride)``; VALID: ``out = floor((in - eff + stride) / stride)``
  with ``eff = (filter - 1) * dilation + 1`` (C integer division).
* Padding: ``total = max(0, (out - 1) * stride + eff - in)``; the window starts
  ``total // 2`` cells before the input, and the extra cell of an odd ``total`` is at the
  end (``offset = total % 2``), which only transpose convolution needs.

Example:
    >>> from edgelite.interpreter.compute.conv_geometry import window_geometry, SAME
    >>> g = window_geometry(224, filter_size=3, stride=2, dilation=1, padding=SAME)
    >>> (g.out_size, g.pad_before, g.pad_offset)
    (112, 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelite.errors import UnsupportedOperatorError

# tflite::Padding codes (schema enum ``Padding``).
SAME = 0
VALID = 1

# tflite::ActivationFunctionType codes.
ACT_NONE = 0
ACT_RELU = 1
ACT_RELU_N1_TO_1 = 2
ACT_RELU6 = 3
ACT_TANH = 4
ACT_SIGN_BIT = 5


def _cdiv(a: int, b: int) -> int:
    """C-style integer division (truncates toward zero), as TFLite's int arithmetic."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def conv_output_size(in_size: int, filter_size: int, stride: int, dilation: int, padding: int) -> int:
    """Output length of a windowed op along one axis (TFLite ``ComputeOutSize``).

    Returns 0 for a zero stride and may return a negative number for a VALID window
    larger than the input; callers turn that into a ``ShapeError`` naming the op.

    Example:
        >>> conv_output_size(7, 3, 2, 1, VALID)
        3
    """
    eff = (filter_size - 1) * dilation + 1
    if stride == 0:
        return 0
    if padding == SAME:
        return _cdiv(in_size + stride - 1, stride)
    if padding == VALID:
        return _cdiv(in_size + stride - eff, stride)
    raise UnsupportedOperatorError(f"unknown padding code {padding}")


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> tuple[int, int]:
    """``(pad_before, offset)``: TFLite ``ComputePaddingWithOffset``.

    ``pad_before`` cells of implicit zeros precede the input; the window of output
    ``o`` starts at input index ``o * stride - pad_before``. ``offset`` is 1 when the
    total padding is odd (the extra cell goes after the input).

    Example:
        >>> compute_padding(1, 1, 5, 3, 5)
        (1, 0)
    """
    eff = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + eff - in_size)
    return total // 2, total % 2


@dataclass(frozen=True)
class WindowGeometry:
    """One spatial axis of a windowed op."""

    in_size: int
    filter_size: int
    stride: int
    dilation: int
    out_size: int
    pad_before: int
    pad_offset: int


def window_geometry(in_size: int, filter_size: int, stride: int, dilation: int, padding: int) -> WindowGeometry:
    """Output size and padding of one axis, as TFLite ``ComputePaddingHeightWidth``."""
    out = conv_output_size(in_size, filter_size, stride, dilation, padding)
    pad, off = compute_padding(stride, dilation, in_size, filter_size, max(out, 0))
    return WindowGeometry(in_size, filter_size, stride, dilation, out, pad, off)


def activation_range(code: int, op_name: str = "", strict: bool = True) -> tuple[float, float]:
    """Clamp range ``(lo, hi)`` of a fused activation on float outputs.

    NONE gives ``(-inf, inf)``. TANH and SIGN_BIT are not clamps. LiteRT's float
    CONV_2D-family kernels accept them and apply no activation at all
    (``CalculateActivationRange`` falls through to the full range); pass
    ``strict=False`` to reproduce that. Its FULLY_CONNECTED refuses them in prepare,
    which ``strict=True`` (the default) does with ``UnsupportedOperatorError``.

    Example:
        >>> activation_range(ACT_RELU6)
        (0.0, 6.0)
        >>> activation_range(ACT_TANH, "CONV_2D", strict=False)
        (-inf, inf)
    """
    if code == ACT_NONE:
        return -np.inf, np.inf
    if code == ACT_RELU:
        return 0.0, np.inf
    if code == ACT_RELU_N1_TO_1:
        return -1.0, 1.0
    if code == ACT_RELU6:
        return 0.0, 6.0
    if not strict and code in (ACT_TANH, ACT_SIGN_BIT):
        return -np.inf, np.inf
    raise UnsupportedOperatorError(
        f"{op_name or 'operator'}: fused activation code {code} is not supported on this op; "
        "apply the activation as a separate operator",
        [(op_name, "")],
    )
