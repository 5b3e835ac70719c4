"""``convert``: ONNX model in, ``.tflite`` flatbuffer bytes out.

The stages, in the order data flows: ``frontend.import_onnx`` (ONNX -> typed graph IR),
the named pass pipeline (``passes.pipeline``), lowering (each node's op converter
emits TFLite operators), ``lower.build_model`` (an ``edgelite.schema.model.Model``) and
``edgelite.schema.write_model`` (bytes).
"""

from __future__ import annotations

import os
from typing import Any

from edgelite.converter.frontend import import_onnx, load_onnx
from edgelite.converter.ir import Graph
from edgelite.converter.lower import Lowering, build_model, collapse_reshapes, conversion_metadata
from edgelite.converter.ops import load_all, registry
from edgelite.converter.options import ConvertOptions
from edgelite.converter.passes import pipeline, run_pipeline
from edgelite.errors import ConversionError


def convert(model: Any, options: ConvertOptions | None = None, **kwargs) -> bytes:
    """Convert an ONNX model to a ``.tflite`` flatbuffer.

    Args:
        model: path to a ``.onnx`` file (external data files beside it are read), its
            bytes, or an ``onnx.ModelProto``.
        options: a ``ConvertOptions``; keyword arguments override its fields
            (``keep_io_layout``, ``input_shapes``, ``allow_custom``, ``description``).

    Returns:
        The ``.tflite`` file contents (``serving_default`` signature, metadata
        ``min_runtime_version``, ``CONVERSION_METADATA``, ``edgelite_conversion`` and
        ``edgelite_io_layout``).

    Raises:
        UnsupportedOperatorError: some ops have no TFLite equivalent (all are listed);
            nothing is produced.
        ConversionError: a pass failed; the message names the pass and the node.
        ShapeError: a dynamic input dimension needs ``input_shapes``.

    Example:
        >>> import numpy as np, onnx
        >>> from onnx import helper, TensorProto
        >>> import edgelite
        >>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
        >>> tfl = edgelite.convert(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
        >>> tfl[4:8]
        b'TFL3'
    """
    opts = ConvertOptions.from_kwargs(options, **kwargs)
    graph, io_layout = convert_to_graph(model, opts)
    out = lower_graph(graph)
    meta = conversion_metadata(opts, io_layout, graph.producer, graph.opset)
    tfl = build_model(graph, out.ops, meta, opts.description)
    from edgelite.schema import write_model

    return write_model(tfl)


def convert_to_graph(model: Any, opts: ConvertOptions) -> tuple[Graph, dict[str, str]]:
    """Front end and pass pipeline only: the layout-assigned IR and the I/O layouts."""
    load_all()
    proto = load_onnx(model)
    g = import_onnx(proto, opts.input_shapes)
    passes = pipeline(keep_io_layout=opts.keep_io_layout, allow_custom=opts.allow_custom)
    run_pipeline(g, passes)
    layout = dict(passes)["layout"]
    return g, dict(layout.io_layout)


def lower_graph(g: Graph) -> Lowering:
    """Run every node's op converter; the result holds the TFLite operators in order."""
    out = Lowering(graph=g)
    for node in g.nodes:
        conv = registry.get(node)
        if conv is None:
            raise ConversionError(f"[lowering] {node.describe()}: no converter registered")
        try:
            conv.lower(node, out)
        except (ValueError, IndexError, KeyError, TypeError, AttributeError) as e:
            raise ConversionError(f"[lowering] {node.describe()}: {type(e).__name__}: {e}") from e
    out.ops = collapse_reshapes(out.ops, g)
    return out


def convert_file(
    src: str | os.PathLike, dst: str | os.PathLike, options: ConvertOptions | None = None, **kwargs
) -> int:
    """Convert ``src`` (.onnx) and write ``dst`` (.tflite); returns the number of bytes written.

    Nothing is written when conversion fails.

    Example:
        >>> # edgelite.converter.convert_file("model.onnx", "model.tflite", keep_io_layout=True)
    """
    data = convert(src, options, **kwargs)
    with open(dst, "wb") as f:
        f.write(data)
    return len(data)
