"""Quantization parameters that every runtime reading ``.tflite`` accepts.

A calibrated range can be (nearly) empty (a dead ReLU channel, a squeeze-excite
branch that is constant on the calibration data), and a weight channel can be all
zero or tiny. Taken literally, such ranges give scales like 1e-15 and requantization
multipliers (input scale x weight scale / output scale) far outside what the kernels
were written for. LiteRT's built-in kernels mostly cope (they flush tiny multipliers
to zero); XNNPACK, LiteRT's default CPU path, refuses them when it builds its runtime,
and LiteRT then fails ``allocate_tensors`` (or, inside a larger graph, aborts the
process). This module holds the limits and the two halves of the fix:

* choosing parameters inside the limits (``expand_tiny_range``,
  ``legal_weight_scales``, ``min_output_scale``), used by ``full_integer`` while it
  quantizes each operator;
* ``check_runtime_limits``: the last look at a quantized model before its bytes are
  written; what is still outside the limits (parameters that were given, e.g. by an
  ONNX QDQ model) fails with ``QuantizationError`` naming the operator.

The limits, as LiteRT 2.x and XNNPACK check them (see docs/quantization.md):

* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV (XNNPACK
  ``xnn_create_*_qs8_qc8w`` / ``xnn_init_qs8_conv_minmax_*_params``): every
  channel's requantization scale in ``[2**-32, 256)``.
* ADD / SUB (built-in kernels): ``2 * max(s1, s2) / (2**20 * s_out) < 1``
  (``QuantizeMultiplierSmallerThanOneExp``; the process aborts otherwise).
* HARD_SWISH (built-in kernels): ``(s_in / 128) / s_out < 1``.
* every scale finite and positive.

Example:
    >>> expand_tiny_range(0.0, 0.0)
    (-5e-07, 5e-07)
    >>> min_output_scale("CONV_2D", 0.5, [0.01, 0.02]) == 0.5 * 0.02 / 128
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgelite.errors import QuantizationError
from edgelite.schema.model import Model, TensorType

# Ranges narrower than this are "degenerate": the value was (nearly) constant on the
# calibration data. LiteRT's MLIR quantizer uses the same tolerance
# (kNearZeroTolerance) and widens such ranges to at least [-5e-7, 5e-7].
NEAR_ZERO_RANGE = 1.0e-6

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
# XNNPACK: requantization scale of a quantized convolution / fully connected layer.
XNN_CONV_REQUANT_MIN = 2.0 ** -32
XNN_CONV_REQUANT_MAX = 256.0
# Built-in ADD/SUB: their output multiplier must stay below one.
ADD_LEFT_SHIFT = 20
# Kept between the chosen scales and the limits, so float32 rounding in a runtime's
# own computation of the same ratio cannot cross them.
MARGIN = 2.0


def is_degenerate(lo: float, hi: float) -> bool:
    """Whether a calibrated range [lo, hi] (widened to hold 0) is (nearly) empty."""
    return max(float(hi), 0.0) - min(float(lo), 0.0) <= NEAR_ZERO_RANGE


def expand_tiny_range(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] widened to at least [-5e-7, 5e-7] when it is degenerate (else unchanged)."""
    if not is_degenerate(lo, hi):
        return float(lo), float(hi)
    half = NEAR_ZERO_RANGE / 2
    return min(float(lo), -half), max(float(hi), half)


def min_output_scale(op: str, in_scale: float | Sequence[float], weight_scales: Sequence[float] = ()) -> float:
    """The smallest output scale ``op``'s int8 kernels accept (0.0 when unbounded).

    Args:
        op: the operator name.
        in_scale: the activation input's scale (ADD/SUB: both inputs' scales).
        weight_scales: per-channel weight scales (convolutions, fully connected).
    """
    if op in CONV_OPS:
        return float(in_scale) * float(np.max(weight_scales)) / XNN_CONV_REQUANT_MAX * MARGIN
    if op in ("ADD", "SUB"):
        return 2.0 * max(in_scale) / 2.0 ** ADD_LEFT_SHIFT * MARGIN
    if op == "HARD_SWISH":
        return float(in_scale) / 128.0 * MARGIN
    return 0.0


def legal_weight_scales(scales: np.ndarray, bound: np.ndarray, in_scale: float,
                        bias: np.ndarray | None) -> np.ndarray:
    """Per-channel weight scales every runtime accepts, from the plain max-abs ones.

    * An all-zero channel (``bound == 0``) takes the largest scale of the others
      (any scale represents zeros exactly; this one keeps the requantization
      scale ordinary), or 1.0 when every channel is zero.
    * A channel's scale is raised until its bias fits in the middle half of int32
      (``|bias| < 0.5 * in_scale * w_scale * 2**31``), as TFLite's quantizer does
      (``AdjustWeightsForBiasScale``); otherwise the bias saturates and the channel
      silently loses it.

    The lower requantization bound (it needs the output scale) is applied by
    ``raise_for_requant_floor`` once the output scale is known.
    """
    scales = np.asarray(scales, np.float64).copy()
    live = np.asarray(bound) > 0
    fill = float(np.max(scales[live])) if live.any() else 1.0
    scales[~live] = fill
    if bias is not None and in_scale > 0:
        b = np.abs(np.asarray(bias, np.float64)).reshape(-1)
        if b.size == scales.size or scales.size == 1:
            need = 2.0 * (b.max() if scales.size == 1 else b) / (in_scale * 2.0 ** 31)
            scales = np.maximum(scales, need)
    return scales.astype(np.float32)


def raise_for_requant_floor(scales: np.ndarray, in_scale: float, out_scale: float) -> np.ndarray:
    """Weight scales raised so that ``in_scale * w_scale / out_scale >= 2**-32``.

    A channel this small contributes less than one output step whatever its inputs
    (|acc| <= 127 * 255 * K), so a larger scale (its weights round to about zero)
    changes nothing a runtime can show.
    """
    floor = XNN_CONV_REQUANT_MIN * MARGIN * out_scale / in_scale
    return np.maximum(np.asarray(scales, np.float32), np.float32(floor)).astype(np.float32)


# -- the check before writing ---------------------------------------------------------------


@dataclass(frozen=True)
class LimitViolation:
    """One operator whose quantization parameters a runtime refuses."""

    op_index: int
    op: str
    output: str
    problem: str

    def __str__(self) -> str:
        return f"operator #{self.op_index} {self.op} (output {self.output!r}): {self.problem}"


def _scales(model: Model, t: int) -> np.ndarray | None:
    if t < 0:
        return None
    q = model.subgraphs[0].tensors[t].quantization
    if q is None or not q.is_quantized:
        return None
    return np.asarray(q.scale, np.float64)


def runtime_limit_violations(model: Model) -> list[LimitViolation]:
    """Every integer operator of subgraph 0 whose parameters LiteRT or XNNPACK refuse."""
    sg = model.subgraphs[0]
    found: list[LimitViolation] = []
    int_types = (TensorType.INT8, TensorType.UINT8, TensorType.INT16)
    for k, op in enumerate(sg.operators):
        name = model.opcode_name(op)
        out = op.outputs[0] if op.outputs else -1
        out_name = sg.tensors[out].name if out >= 0 else "?"
        for t in list(op.inputs) + list(op.outputs):
            s = _scales(model, t)
            if s is not None and not (np.all(np.isfinite(s)) and np.all(s > 0)):
                found.append(LimitViolation(k, name, out_name, f"tensor {sg.tensors[t].name!r} has a scale "
                                            f"that is not finite and positive ({s.min():g})"))
        if out < 0 or sg.tensors[out].type not in int_types:
            continue
        s_out = _scales(model, out)
        if s_out is None:
            continue
        so = float(s_out[0])
        if name in CONV_OPS and sg.tensors[out].type == TensorType.INT8:
            x_pos, w_pos = (2, 1) if name == "TRANSPOSE_CONV" else (0, 1)
            if len(op.inputs) <= x_pos:
                continue
            s_in, s_w = _scales(model, op.inputs[x_pos]), _scales(model, op.inputs[w_pos])
            if s_in is None or s_w is None:
                continue
            # XNNPACK computes the ratio in float32.
            req = (np.float32(s_in[0]) * s_w.astype(np.float32)) / np.float32(so)
            if np.any(req >= XNN_CONV_REQUANT_MAX):
                found.append(LimitViolation(k, name, out_name, (
                    f"requantization scale {float(req.max()):.4g} (input scale x weight scale / output scale) "
                    f"is not below {XNN_CONV_REQUANT_MAX:g}; XNNPACK refuses the operator")))
        elif name in ("ADD", "SUB") and sg.tensors[out].type == TensorType.INT8:
            s_in = [_scales(model, t) for t in op.inputs[:2]]
            if any(s is None for s in s_in):
                continue
            twice_max = 2.0 * max(float(s[0]) for s in s_in)
            if twice_max / (2.0 ** ADD_LEFT_SHIFT * so) >= 1.0:
                found.append(LimitViolation(k, name, out_name, (
                    f"output scale {so:.4g} is too small for input scales {twice_max / 2:.4g}: LiteRT's "
                    "built-in kernel needs an output multiplier below one (the process aborts)")))
        elif name == "HARD_SWISH":
            s_in = _scales(model, op.inputs[0])
            # QuantizeMultiplier rounds a multiplier within 2**-32 of one up to one.
            if s_in is not None and float(s_in[0]) / 128.0 / so >= 1.0 - 2.0 ** -32:
                found.append(LimitViolation(k, name, out_name, (
                    f"output scale {so:.4g} is below input scale / 128; LiteRT's built-in kernel refuses it")))
    return found


def check_runtime_limits(model: Model) -> None:
    """Raise ``QuantizationError`` naming every operator a runtime would refuse.

    Example:
        >>> import numpy as np
        >>> from edgelite.schema.builder import ModelBuilder
        >>> from edgelite.schema import read_model
        >>> b = ModelBuilder(); x = b.add_input("x", (1, 4), np.float32)
        >>> y = b.add_tensor("y", (1, 4), np.float32); _ = b.add_operator("RELU", [x], [y]); b.mark_output(y)
        >>> check_runtime_limits(read_model(b.build()))  # a float model: nothing to check
    """
    found = runtime_limit_violations(model)
    if found:
        listing = "; ".join(str(v) for v in found[:6])
        more = f" (+{len(found) - 6} more)" if len(found) > 6 else ""
        raise QuantizationError(
            f"{len(found)} quantized operator(s) have parameters that LiteRT/XNNPACK refuse: {listing}{more}. "
            "Widen the given ranges (fixed_ranges / the QDQ model's scales) or keep these operators float "
            "(keep_float)."
        )


def describe_degenerate(names_ranges: Sequence[tuple[str, float, float]], limit: int = 6) -> str:
    """One sentence listing (nearly) empty calibrated ranges, for warnings and reports."""
    items = ", ".join(f"{n!r} [{lo:.3g}, {hi:.3g}]" for n, lo, hi in names_ranges[:limit])
    more = f" (+{len(names_ranges) - limit} more)" if len(names_ranges) > limit else ""
    return (f"{len(names_ranges)} activation(s) have a (nearly) empty calibrated range: {items}{more}; "
            f"quantized with the minimum range [-{NEAR_ZERO_RANGE / 2:g}, {NEAR_ZERO_RANGE / 2:g}] widened where "
            "a kernel needs a larger output scale (more varied calibration data gives them real ranges)")


__all__ = [
    "NEAR_ZERO_RANGE", "CONV_OPS", "LimitViolation", "is_degenerate", "expand_tiny_range",
    "min_output_scale", "legal_weight_scales", "raise_for_requant_floor", "runtime_limit_violations",
    "check_runtime_limits", "describe_degenerate",
]
