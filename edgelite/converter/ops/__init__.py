"""ONNX op converters, one module per op family, each registering with ``@register``.

``OP_MODULES`` is explicit on purpose: importing a module registers its converters,
and a test checks that each module listed here (and each file in this folder other
than ``SUPPORT_MODULES``) registers at least one op. To add an op family, add a file
and append its name here.
"""

from __future__ import annotations

import importlib

OP_MODULES: tuple[str, ...] = (
    "conv",
    "pool",
    "elementwise",
    "activation",
    "reduce",
    "shape",
    "matmul",
    "resize",
    "normalization",
    "custom",
    "cast_like",
    "movement_ext",
    "quant_ops",
    "resize_ext",
    "indexing",
    "norm_ext",
    "spatial_ext",
    "math_ext",
    "activation_ext",
    "losses",
    "attention",
    "bitwise",
    "einsum",
    "generators",
    "conv_transpose_ext",
    "resize_runtime",
    "scatter",
    "slice_pad_runtime",
    "select_ext",
    "nms",
    "recurrent",
    "spectral",
    "bitcast",
    "glu",
    "control_flow",
    "erf",
    "grid_sample",
)

# Infrastructure shared by the op modules (they register nothing themselves).
SUPPORT_MODULES: tuple[str, ...] = ("registry", "layout_rules", "common", "emit", "dtype_rules", "infinities")

_loaded = False


def load_all() -> None:
    """Import every op module once (registration happens on import)."""
    global _loaded
    if _loaded:
        return
    for name in OP_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True
