"""Which operators have integer kernels in TFLite, and how each one is quantized.

For each operator: the role of each input and how the output's parameters are
chosen. Roles:

* ``"a"``: an activation (a constant there is quantized per tensor like one);
* ``"w0"`` / ``"w3"`` / ``"wfc"``: a constant weight, symmetric, per channel along
  dim 0 / dim 3 (FULLY_CONNECTED: per tensor unless asked per channel);
* ``"b"``: a constant bias (int32, or int64 for int16x8), scale input x weight;
* ``"s"``: a constant quantized with the output's parameters (PADV2's pad value:
  a max-pool's -FLT_MAX padding becomes the lowest integer);
* ``"-"``: not quantized (shapes, axes, indices);
* a role ending in ``*`` repeats for every remaining input.

Output kinds: ``"calib"`` (from calibration), ``"same"`` (the first activation
input's parameters: TFLite requires them equal), ``"fixed"`` (the values TFLite's
kernels require), ``"shared"`` (inputs are brought to the output's parameters, as
the spec asks for CONCATENATION, PACK, MAXIMUM, MINIMUM).

Operators missing here stay float, with QUANTIZE/DEQUANTIZE around them, so the
quantizer never produces a model that LiteRT rejects.

Example:
    >>> INT8_OPS["CONV_2D"].roles
    ('a', 'w0', 'b')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpQuantSpec:
    roles: tuple[str, ...]
    output: str = "calib"
    # (scale, zero_point) for output == "fixed", int8 and int16.
    fixed8: tuple[float, int] | None = None
    fixed16: tuple[float, int] | None = None
    # Index of the input whose scale (times the weight's) is the bias scale.
    bias_input: int = 0

    def role(self, position: int) -> str:
        if position < len(self.roles):
            return self.roles[position].rstrip("*")
        last = self.roles[-1] if self.roles else "-"
        return last.rstrip("*") if last.endswith("*") else "-"

    def source_position(self) -> int:
        """Input whose parameters a ``"same"`` output copies."""
        for k, r in enumerate(self.roles):
            if r.rstrip("*") == "a":
                return k
        return 0


_S = OpQuantSpec
INT8_OPS: dict[str, OpQuantSpec] = {
    "CONV_2D": _S(("a", "w0", "b")),
    "DEPTHWISE_CONV_2D": _S(("a", "w3", "b")),
    "FULLY_CONNECTED": _S(("a", "wfc", "b")),
    "TRANSPOSE_CONV": _S(("-", "w0", "a", "b"), bias_input=2),
    "ADD": _S(("a", "a")),
    "SUB": _S(("a", "a")),
    "MUL": _S(("a", "a")),
    "SQUARED_DIFFERENCE": _S(("a", "a")),  # with RSQRT: a LayerNorm's variance and 1 / std
    "RSQRT": _S(("a",)),
    "AVERAGE_POOL_2D": _S(("a",), "same"),
    "MAX_POOL_2D": _S(("a",), "same"),
    "RESHAPE": _S(("a", "-"), "same"),
    "SQUEEZE": _S(("a",), "same"),
    "EXPAND_DIMS": _S(("a", "-"), "same"),
    "CONCATENATION": _S(("a*",), "shared"),
    "PACK": _S(("a*",), "shared"),
    "MAXIMUM": _S(("a", "a"), "shared"),
    "MINIMUM": _S(("a", "a"), "shared"),
    "SOFTMAX": _S(("a",), "fixed", (1.0 / 256, -128), (1.0 / 32768, 0)),
    "LOGISTIC": _S(("a",), "fixed", (1.0 / 256, -128), (1.0 / 32768, 0)),
    "TANH": _S(("a",), "fixed", (1.0 / 128, 0), (1.0 / 32768, 0)),
    "LOG_SOFTMAX": _S(("a",), "fixed", (16.0 / 256, 127)),
    "L2_NORMALIZATION": _S(("a",), "fixed", (1.0 / 128, 0)),
    "RELU": _S(("a",)),
    "RELU6": _S(("a",)),
    "RELU_0_TO_1": _S(("a",)),
    "RELU_N1_TO_1": _S(("a",)),
    "LEAKY_RELU": _S(("a",)),
    "HARD_SWISH": _S(("a",)),
    "EXP": _S(("a",)),
    "MEAN": _S(("a", "-")),
    "SUM": _S(("a", "-")),
    "REDUCE_MAX": _S(("a", "-"), "same"),
    "PAD": _S(("a", "-"), "same"),
    "PADV2": _S(("a", "-", "s"), "same"),
    "RESIZE_BILINEAR": _S(("a", "-"), "same"),
    "RESIZE_NEAREST_NEIGHBOR": _S(("a", "-"), "same"),
    "TRANSPOSE": _S(("a", "-"), "same"),
    "GATHER": _S(("a", "-"), "same"),
    "SLICE": _S(("a", "-", "-"), "same"),
    "STRIDED_SLICE": _S(("a", "-", "-", "-"), "same"),
    "SPACE_TO_DEPTH": _S(("a",), "same"),
    "DEPTH_TO_SPACE": _S(("a",), "same"),
    "SPACE_TO_BATCH_ND": _S(("a", "-", "-"), "same"),
    "BATCH_TO_SPACE_ND": _S(("a", "-", "-"), "same"),
    "SPLIT": _S(("-", "a"), "same"),
    "SPLIT_V": _S(("a", "-", "-"), "same"),
    "UNPACK": _S(("a",), "same"),
    # the update is brought to the output's (calibrated) parameters, the operand too
    "DYNAMIC_UPDATE_SLICE": _S(("a", "a", "-"), "shared"),
}

# int16 activations / int8 weights: the subset whose int16 kernels LiteRT has and
# edgelite's tests check.
INT16_OPS: dict[str, OpQuantSpec] = {
    name: INT8_OPS[name]
    for name in (
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL",
        "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "CONCATENATION",
        "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "MEAN", "PAD", "PADV2", "TRANSPOSE",
        "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "MAXIMUM", "MINIMUM", "GATHER",
        "SLICE", "STRIDED_SLICE",
    )
}

# Operators whose bias is int64 in int16x8 mode.
INT64_BIAS_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}
