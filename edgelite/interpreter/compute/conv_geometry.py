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


import numpy as np

from edgelite.quick_dataclass import dataclass
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


@dataclass(frozen=True)
class Window2D:
    """The 2-D window of a CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV / pooling op.

    Built once in a kernel's ``prepare`` by :meth:`build` from the op's options and
    input height/width, with TFLite's padding rule (``ComputePaddingHeightWidth``).
    Every conv/pool params class holds one as ``win`` instead of copying these fields;
    Numba kernels still take the plain integers (``eval`` unpacks them).

    ``pad_h``/``pad_w`` are the implicit cells before the input (top/left),
    ``pad_h_offset``/``pad_w_offset`` the extra cell after it when the total is odd.
    For TRANSPOSE_CONV the "input" is the transposed op's output (the forward conv's
    input). A window whose input size is only known at eval (a dynamic TRANSPOSE_CONV
    output) is built with :meth:`unsized` (``in_h == -1``) and sized with :meth:`sized`.

    Example:
        >>> g = Window2D.build(224, 224, 3, 3, 2, 2, 1, 1, SAME)
        >>> (g.out_h, g.out_w, g.pad_h, g.pad_w)
        (112, 112, 0, 0)
    """

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    padding: int  # SAME / VALID code
    in_h: int = -1
    in_w: int = -1
    out_h: int = -1
    out_w: int = -1
    pad_h: int = -1
    pad_w: int = -1
    pad_h_offset: int = 0
    pad_w_offset: int = 0

    @classmethod
    def unsized(cls, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, padding: int) -> "Window2D":
        """Filter, strides, dilations and padding only; sizes -1 until :meth:`sized`."""
        return cls(int(kh), int(kw), int(sh), int(sw), int(dh), int(dw), int(padding))

    @classmethod
    def build(cls, in_h: int, in_w: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int,
              padding: int) -> "Window2D":
        """Output size and padding of both axes for an ``in_h x in_w`` input.

        ``out_h``/``out_w`` may be <= 0 (a VALID window larger than the input, a zero
        stride); callers turn that into a ``ShapeError`` naming the op.
        """
        return cls.unsized(kh, kw, sh, sw, dh, dw, padding).sized(in_h, in_w)

    @property
    def is_sized(self) -> bool:
        return self.in_h >= 0

    def sized(self, in_h: int, in_w: int) -> "Window2D":
        """This window over an ``in_h x in_w`` input."""
        gy = window_geometry(int(in_h), self.kh, self.sh, self.dh, self.padding)
        gx = window_geometry(int(in_w), self.kw, self.sw, self.dw, self.padding)
        return Window2D(self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.padding,
                        gy.in_size, gx.in_size, gy.out_size, gx.out_size,
                        gy.pad_before, gx.pad_before, gy.pad_offset, gx.pad_offset)

    @property
    def taps(self) -> tuple[int, int, int, int, int, int, int, int]:
        """``(kh, kw, sh, sw, dh, dw, pad_h, pad_w)``, the order the Numba conv kernels take."""
        return (self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.pad_h, self.pad_w)

    @property
    def im2col_args(self) -> tuple[int, int, int, int, int, int, int, int, int, int]:
        """``(kh, kw, sh, sw, dh, dw, pad_h, pad_w, out_h, out_w)``, the argument order of
        ``float_gemm.im2col``."""
        return (self.kh, self.kw, self.sh, self.sw, self.dh, self.dw,
                self.pad_h, self.pad_w, self.out_h, self.out_w)


    def tap_views(self, x: np.ndarray) -> list[np.ndarray]:
        """The numpy references' form of the window over ``x`` (NHWC, this window's input
        size): for each tap ``(i, j)`` in row-major order the ``(B, OH, OW, C)`` strided
        view ``v[b, y, x] = x[b, y*sh + i*dh - pad_h, x*sw + j*dw - pad_w]``, zeros where
        that lies outside ``x``."""
        eff_h = (self.kh - 1) * self.dh + 1
        eff_w = (self.kw - 1) * self.dw + 1
        pad_b = max(0, (self.out_h - 1) * self.sh + eff_h - x.shape[1] - self.pad_h)
        pad_r = max(0, (self.out_w - 1) * self.sw + eff_w - x.shape[2] - self.pad_w)
        xp = np.pad(x, ((0, 0), (self.pad_h, pad_b), (self.pad_w, pad_r), (0, 0)))
        views = []
        for i in range(self.kh):
            for j in range(self.kw):
                y0, x0 = i * self.dh, j * self.dw
                views.append(xp[:, y0 : y0 + (self.out_h - 1) * self.sh + 1 : self.sh,
                                x0 : x0 + (self.out_w - 1) * self.sw + 1 : self.sw, :])
        return views


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
