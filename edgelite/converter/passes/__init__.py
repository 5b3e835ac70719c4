"""The converter's pass pipeline: one ordered list of named passes.

Each pass is a callable ``pass(graph)`` that rewrites the graph in place. A pass that
fails raises ``ConversionError`` naming itself and the node; ``run_pipeline`` adds the
pass name to any error that lacks it.

Example:
    >>> from edgelite.converter.passes import pipeline
    >>> [name for name, _ in pipeline()][:3]
    ['qdq_import', 'shape_inference', 'dead_code_elimination']
"""

from __future__ import annotations

from typing import Callable

from edgelite.converter.ir import Graph
from edgelite.converter.passes.canonicalize import canonicalize, fold_batchnorm
from edgelite.converter.passes.control_flow import control_flow
from edgelite.converter.passes.functions import expand_functions
from edgelite.converter.passes.half_precision import widen_float16
from edgelite.converter.passes.sequences import static_sequences
from edgelite.converter.passes.fold import dead_code_elimination, shape_inference_and_folding
from edgelite.converter.passes.fusion import fuse_activations
from edgelite.converter.passes.layernorm import layer_norm
from edgelite.converter.passes.layout import LayoutPass
from edgelite.converter.passes.qdq import QdqImport
from edgelite.converter.passes.qdq_mean import qdq_mean
from edgelite.converter.passes.patterns import fully_connected, gelu, hard_swish
from edgelite.converter.passes.support import SupportCheck, check_static_shapes
from edgelite.errors import ConversionError

Pass = Callable[[Graph], None]


def pipeline(keep_io_layout: bool = False, allow_custom: bool = False, qdq: str = "auto") -> list[tuple[str, Pass]]:
    """The ordered, named passes (fresh ``QdqImport``/``LayoutPass`` objects each call: they record results)."""
    return [
        ("qdq_import", QdqImport(qdq)),  # before folding: Q/DQ pairs -> parameters on values
        ("shape_inference", shape_inference_and_folding),  # + constant folding, to a fixpoint
        ("expand_functions", expand_functions),  # ops without a converter -> their ONNX function body
        ("static_sequences", static_sequences),  # sequences of static length -> stacked tensors
        ("dead_code_elimination", dead_code_elimination),
        ("control_flow", control_flow),  # If shapes from its branches; Loop/Scan -> edgelite::While
        ("layer_norm", layer_norm),  # LayerNorm decompositions (PyTorch, Paddle, Keras) -> LayerNormalization
        ("fold_batchnorm", fold_batchnorm),
        ("canonicalize", canonicalize),
        ("qdq_mean", qdq_mean),  # QDQ ReduceMean -> ReduceSum + Mul(1/n): ONNX Runtime's single rounding
        ("hard_swish", hard_swish),
        ("gelu", gelu),
        ("fully_connected", fully_connected),
        ("widen_float16", widen_float16),  # float16 MatMul/reductions/softmax -> float32 between Casts
        ("dead_code_elimination_2", dead_code_elimination),
        ("check_supported", SupportCheck(allow_custom)),  # lists every unsupported node at once
        ("check_static_shapes", check_static_shapes),
        ("layout", LayoutPass(keep_io_layout)),  # NCHW -> NHWC, transpose sinking
        ("fuse_activations", fuse_activations),
        ("dead_code_elimination_3", dead_code_elimination),
    ]


def run_pipeline(g: Graph, passes: list[tuple[str, Pass]]) -> None:
    for name, p in passes:
        try:
            p(g)
        except ConversionError as e:
            if str(e).startswith("["):
                raise
            raise ConversionError(f"[{name}] {e}") from e
