"""Operator kernels. Each module registers its kernels with ``@register(...)``.

The list below is explicit on purpose: importing a module is what registers its
kernels, and a test checks that every module here registers at least one.
"""

from __future__ import annotations

import importlib

# One entry per op-family module, in no particular order.
KERNEL_MODULES: tuple[str, ...] = (
    "elementwise_quant",
    "activations_quant",
    "softmax_quant",
    "reduce_quant",
    "quantize_ops",
    "concat_quant",
    "compare_quant",
    "resize_quant",
    "l2norm_quant",
    "unary_quant",
    "conv",
    "conv_quant",
    "depthwise_conv_quant",
    "fully_connected_quant",
    "pooling_quant",
    "transpose_conv_quant",
    "batch_matmul_quant",
    "hybrid_conv",
    "hybrid_depthwise_conv",
    "hybrid_fully_connected",
    "embedding_hybrid",
    "depthwise_conv",
    "pooling",
    "fully_connected",
    "batch_matmul",
    "elementwise",
    "unary",
    "activations",
    "softmax",
    "reduce",
    "reshape",
    "concat",
    "slicing",
    "gather",
    "pad",
    "layout",
    "space",
    "tile",
    "cast",
    "dequantize",
    "densify",
    "resize",
    "transpose_conv",
)

_loaded = False


def load_all() -> None:
    """Import every kernel module once (registration happens on import)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in KERNEL_MODULES:
        importlib.import_module(f"{__name__}.{name}")
