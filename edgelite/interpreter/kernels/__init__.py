"""Operator kernels. Each module registers its kernels with ``@register(...)``.

The list below is explicit on purpose: importing a module is what registers its
kernels, and a test checks that every module here registers at least one.

Only the modules a model needs are imported: ``MODULE_OPS`` says which operators each
module registers, so resolving a model's ``CONV_2D`` imports ``conv`` and
``conv_quant`` and nothing else (importing all of them costs a few hundred
milliseconds at start-up). ``tests/interpreter/test_perf_structure.py`` checks that
every module registers exactly the operators listed here. When several modules
register one operator, their kernels are tried in ``KERNEL_MODULES`` order whatever
order the modules happened to be imported in.

Example:
    >>> from edgelite.interpreter.kernels import modules_for
    >>> modules_for("DEPTHWISE_CONV_2D")
    ('depthwise_conv_quant', 'depthwise_conv')
"""

from __future__ import annotations

import importlib

# One entry per op-family module, in no particular order.
KERNEL_MODULES: tuple[str, ...] = (
    "elementwise_quant",
    "activations_quant",
    "activations_quant16",
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
    "lrn",
    "bitwise",
    "atan2",
    "bitcast",
    "control_flow",
)

# Operators each module registers (space-separated builtin names). Keep in sync with
# the module's ``@register`` lines; a test fails when they differ.
MODULE_OPS: dict[str, str] = {
    "elementwise_quant": "ADD MAXIMUM MINIMUM MUL SQUARED_DIFFERENCE SUB",
    "activations_quant": (
        "ELU GELU HARD_SWISH LEAKY_RELU LOGISTIC PRELU RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 TANH"
    ),
    "activations_quant16": "LOGISTIC TANH",
    "softmax_quant": "LOG_SOFTMAX SOFTMAX",
    "reduce_quant": "ARG_MAX ARG_MIN MEAN REDUCE_MAX REDUCE_MIN SUM",
    "quantize_ops": "DEQUANTIZE QUANTIZE",
    "concat_quant": "CONCATENATION",
    "compare_quant": "EQUAL GREATER GREATER_EQUAL LESS LESS_EQUAL NOT_EQUAL",
    "resize_quant": "RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR",
    "l2norm_quant": "L2_NORMALIZATION",
    "unary_quant": "ABS RSQRT",
    "conv": "CONV_2D",
    "conv_quant": "CONV_2D",
    "depthwise_conv_quant": "DEPTHWISE_CONV_2D",
    "fully_connected_quant": "FULLY_CONNECTED",
    "pooling_quant": "AVERAGE_POOL_2D MAX_POOL_2D",
    "transpose_conv_quant": "TRANSPOSE_CONV",
    "batch_matmul_quant": "BATCH_MATMUL",
    "hybrid_conv": "CONV_2D",
    "hybrid_depthwise_conv": "DEPTHWISE_CONV_2D",
    "hybrid_fully_connected": "FULLY_CONNECTED",
    "embedding_hybrid": "EMBEDDING_LOOKUP",
    "depthwise_conv": "DEPTHWISE_CONV_2D",
    "pooling": "AVERAGE_POOL_2D L2_POOL_2D MAX_POOL_2D",
    "fully_connected": "FULLY_CONNECTED",
    "batch_matmul": "BATCH_MATMUL",
    "elementwise": (
        "ADD ADD_N DIV EQUAL FLOOR_DIV FLOOR_MOD GREATER GREATER_EQUAL LESS LESS_EQUAL "
        "LOGICAL_AND LOGICAL_NOT LOGICAL_OR MAXIMUM MINIMUM MUL NOT_EQUAL POW SELECT SELECT_V2 "
        "SQUARED_DIFFERENCE SUB"
    ),
    "unary": "ABS CEIL COS EXP FLOOR LOG NEG ROUND RSQRT SIGN SIN SQRT SQUARE",
    "activations": "ELU GELU HARD_SWISH LEAKY_RELU LOGISTIC PRELU RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 TANH",
    "softmax": "L2_NORMALIZATION LOG_SOFTMAX SOFTMAX",
    "reduce": (
        "ARG_MAX ARG_MIN CUMSUM MEAN REDUCE_ALL REDUCE_ANY REDUCE_MAX REDUCE_MIN REDUCE_PROD "
        "SUM TOPK_V2"
    ),
    "reshape": "EXPAND_DIMS RESHAPE SHAPE SQUEEZE",
    "concat": "CONCATENATION PACK SPLIT SPLIT_V UNPACK",
    "slicing": "SLICE STRIDED_SLICE",
    "gather": "EMBEDDING_LOOKUP GATHER GATHER_ND",
    "pad": "MIRROR_PAD PAD PADV2",
    "layout": "REVERSE_V2 TRANSPOSE",
    "space": "BATCH_TO_SPACE_ND DEPTH_TO_SPACE SPACE_TO_BATCH_ND SPACE_TO_DEPTH",
    "tile": "BROADCAST_TO TILE",
    "cast": "CAST FILL ONE_HOT RANGE WHERE ZEROS_LIKE",
    "dequantize": "DEQUANTIZE",
    "densify": "DENSIFY",
    "resize": "RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR",
    "transpose_conv": "TRANSPOSE_CONV",
    "lrn": "LOCAL_RESPONSE_NORMALIZATION",
    "bitwise": "BITWISE_XOR RIGHT_SHIFT",
    "atan2": "ATAN2",
    "bitcast": "BITCAST",
    "control_flow": "CALL_ONCE IF WHILE",
}

_loaded = False
_imported: set[str] = set()
_RANK = {name: i for i, name in enumerate(KERNEL_MODULES)}


def _op_modules() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for module in KERNEL_MODULES:
        for op in MODULE_OPS.get(module, "").split():
            table.setdefault(op, []).append(module)
    return {op: tuple(mods) for op, mods in table.items()}


_OP_MODULES = _op_modules()
# Listed modules missing from MODULE_OPS: imported for every operator until added there.
_UNMAPPED = tuple(m for m in KERNEL_MODULES if m not in MODULE_OPS)


def modules_for(op_name: str) -> tuple[str, ...]:
    """The kernel modules registering ``op_name``, in ``KERNEL_MODULES`` order."""
    return _OP_MODULES.get(op_name, ()) + _UNMAPPED


def load_for(op_name: str) -> None:
    """Import the modules that register ``op_name`` (every module for an unknown name).

    An operator no module lists may still have a kernel registered elsewhere (tests and
    applications can ``@register`` their own), so the full set is loaded for it.
    """
    if _loaded:
        return
    if op_name not in _OP_MODULES:
        load_all()
        return
    for name in modules_for(op_name):
        if name not in _imported:
            importlib.import_module(f"{__name__}.{name}")
            _imported.add(name)


def module_rank(module: str) -> int:
    """Position of a kernel's module (``__module__``) in ``KERNEL_MODULES``; others last."""
    return _RANK.get(module.rpartition(".")[2] if module.startswith(__name__ + ".") else "", len(_RANK))


def load_all() -> None:
    """Import every kernel module once (registration happens on import)."""
    global _loaded
    if _loaded:
        return
    for name in KERNEL_MODULES:
        importlib.import_module(f"{__name__}.{name}")
        _imported.add(name)
    _loaded = True
