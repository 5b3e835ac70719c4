"""``convert``: ONNX model in, ``.tflite`` flatbuffer bytes out (float or quantized).

The stages, in the order data flows: ``frontend.import_onnx`` (ONNX -> typed graph IR),
the named pass pipeline (``passes.pipeline``, QDQ import first), lowering (each node's
op converter emits TFLite operators), ``lower.build_model`` (an
``edgelite.schema.model.Model``) and ``edgelite.schema.write_model`` (bytes). With
``quantize=...`` (or a QDQ model) the float bytes then go through
``edgelite.quantize.quantize_model``: the converter hands over what only it knows,
the calibration data moved into each input's converted layout and the parameters a
QDQ model carries (``fixed_ranges`` and annotated weights).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgelite.converter.control_flow import attach_subgraphs
from edgelite.converter.frontend import import_onnx, load_onnx
from edgelite.converter.ir import Graph
from edgelite.converter.lower import Lowering, build_model, collapse_reshapes, conversion_metadata
from edgelite.converter.ops import load_all, registry
from edgelite.converter.options import QDQ_MODES, QUANTIZE_MODES, ConvertOptions
from edgelite.converter.passes import pipeline, run_pipeline
from edgelite.converter.passes.matmul_transpose import (
    fold_head_merges,
    fold_head_transposes,
    fold_matmul_transposes,
)
from edgelite.converter.passes.qdq import QdqImport, activation_ranges, annotate_lowered_weights
from edgelite.errors import ConversionError, QuantizationError, ShapeError

ProgressFn = Callable[[int, int, str], None]


def convert(model: Any, options: ConvertOptions | None = None, *, progress: ProgressFn | None = None,
            **kwargs) -> bytes:
    """Convert an ONNX model to a ``.tflite`` flatbuffer, optionally quantized.

    Args:
        model: path to a ``.onnx`` file (external data files beside it are read), its
            bytes, or an ``onnx.ModelProto``.
        options: a ``ConvertOptions``; keyword arguments override its fields
            (``keep_io_layout``, ``input_shapes``, ``allow_custom``, ``description``) and
            its quantization group: ``quantize`` (None, ``"int8"``, ``"dynamic"``,
            ``"float16"``, ``"int16x8"``), ``calibration`` (in the ONNX model's input
            layout, e.g. NCHW), ``io_type``, ``observer``, ``keep_float``,
            ``per_channel``, ``qdq`` (``"auto"``, ``"import"``, ``"off"``).
        progress: called as ``progress(done, total, stage)`` while calibrating.

    Returns:
        The ``.tflite`` file contents (``serving_default`` signature, metadata
        ``min_runtime_version``, ``CONVERSION_METADATA``, ``edgelite_conversion`` and
        ``edgelite_io_layout``). A QDQ model (QuantizeLinear/DequantizeLinear pairs)
        becomes an int8 model with its own scales and zero points, unless
        ``qdq="off"`` or another ``quantize`` mode is asked for.

    Raises:
        UnsupportedOperatorError: some ops have no TFLite equivalent (all are listed);
            nothing is produced.
        ConversionError: a pass failed; the message names the pass and the node.
        ShapeError: a dynamic input dimension needs ``input_shapes``: symbolic dimensions
            stay dynamic (``shape_signature`` -1, resize the inputs before allocating)
            unless the converted graph depends on their sizes; then a leading batch
            dimension becomes 1 and any other must be fixed.
        QuantizationError: bad quantization options, or calibration data missing.

    Example:
        >>> import numpy as np, onnx
        >>> from onnx import helper, TensorProto
        >>> import edgelite
        >>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
        >>> m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        >>> tfl = edgelite.convert(m)
        >>> tfl[4:8]
        b'TFL3'
        >>> data = np.random.default_rng(0).normal(size=(8, 1, 4)).astype(np.float32)
        >>> q = edgelite.convert(m, quantize="int8", calibration=data)
        >>> len(q) > 0
        True
    """
    opts = ConvertOptions.from_kwargs(options, **kwargs)
    qs = opts.quantization
    _validate_quantization(opts)
    if qs.mode is None:
        model = load_onnx(model)
        dynamic = _convert_dynamic(model, opts)
        if dynamic is not None:
            return dynamic
    conv = _convert(model, opts)
    graph = conv.graph
    mode = qs.mode if qs.mode is not None else ("int8" if conv.qdq.imported else None)
    if conv.qdq.imported and qs.mode not in (None, "int8"):
        warnings.warn(f"QDQ model converted with quantize={qs.mode!r}: its own int8 parameters are not used",
                      stacklevel=2)
    out = lower_graph(graph, annotate_weights=mode == "int8" and conv.qdq.imported, notes=conv.qdq.notes,
                      fold_heads=mode is None)
    # The metadata records the mode actually applied (int8 for an imported QDQ model).
    meta = conversion_metadata(replace(opts, quantization=replace(qs, mode=mode)), conv.io_layout,
                               graph.producer, graph.opset)
    tfl = build_model(graph, out.ops, meta, opts.description)
    attach_subgraphs(tfl, out.subgraphs)
    if mode is not None and len(tfl.subgraphs) > 1:
        raise QuantizationError(f"quantize={mode!r}: models with control flow (IF/WHILE subgraphs) cannot be "
                                "quantized yet; convert without quantization")
    from edgelite.schema import write_model

    if mode is None:
        return write_model(tfl)
    fixed = None
    if conv.qdq.imported and mode == "int8":
        _write_weight_parameters(tfl, out)
        fixed = activation_ranges(graph, out.ops)
        for note in conv.qdq.notes:
            warnings.warn(f"QDQ import: {note}", stacklevel=2)
    feeds = _calibration_feeds(qs.calibration, conv) if qs.calibration is not None else None
    # The one place the converter calls into quantize/ (a later stage of the data flow):
    # only convert() knows the layouts it chose and the parameters a QDQ model carries.
    from edgelite.quantize import quantize_model

    return quantize_model(
        write_model(tfl), mode, calibration=feeds, fixed_ranges=fixed or None, io_type=qs.io_type,
        observer=qs.observer, keep_float=tuple(qs.keep_float), per_channel=qs.per_channel,
        per_channel_fully_connected=qs.per_channel, bias_correction=qs.bias_correction, progress=progress,
        target_sqnr=qs.target_sqnr, metric=qs.metric, target=qs.target, fallback=qs.fallback,
        fixed_range_outputs=qs.fixed_range_outputs,
    )


def _convert_dynamic(proto, opts: ConvertOptions) -> bytes | None:
    """The float model with its symbolic input dimensions left dynamic (``shape_signature``
    -1), or None when it has none or the graph depends on their sizes (see ``dynamic_dims``)."""
    from edgelite.converter.dynamic_dims import merge_probes, probe_shapes, symbolic_dims
    from edgelite.schema import write_model

    symbolic = symbolic_dims(proto, opts.input_shapes)
    if not symbolic:
        return None
    probes = []
    for k in (0, 1):
        shapes = probe_shapes(proto, symbolic, k)
        if shapes is None:
            return None
        try:
            conv = _convert(proto, replace(opts, input_shapes={**opts.input_shapes, **shapes}))
        except ShapeError:
            # The graph only holds for particular sizes (a reshape to a fixed shape, say):
            # the fixed-shape conversion that follows reports what to fix, if anything.
            return None
        if conv.qdq.imported:
            return None  # QDQ models are quantized with their calibrated input shapes
        out = lower_graph(conv.graph)
        meta = conversion_metadata(opts, conv.io_layout, conv.graph.producer, conv.graph.opset)
        probes.append(build_model(conv.graph, out.ops, meta, opts.description))
    merged = merge_probes(*probes)
    return None if merged is None else write_model(merged)


@dataclass
class _Converted:
    graph: Graph
    io_layout: dict[str, str]
    # (name, ONNX logical shape, dtype, perm to the .tflite layout or None) per input
    inputs: list[tuple[str, tuple[int, ...], np.dtype, tuple[int, ...] | None]]
    qdq: QdqImport


def _validate_quantization(opts: ConvertOptions) -> None:
    qs = opts.quantization
    if qs.mode is not None and qs.mode not in QUANTIZE_MODES:
        raise QuantizationError(f"unknown quantize mode {qs.mode!r}; use one of {', '.join(QUANTIZE_MODES)}")
    if qs.qdq not in QDQ_MODES:
        raise QuantizationError(f"unknown qdq mode {qs.qdq!r}; use one of {', '.join(QDQ_MODES)}")
    if qs.mode in ("dynamic", "float16") and qs.calibration is not None:
        raise QuantizationError(f"quantize={qs.mode!r} takes no calibration data")


def _convert(model: Any, opts: ConvertOptions) -> _Converted:
    load_all()
    proto = load_onnx(model)
    g = import_onnx(proto, opts.input_shapes)
    passes = pipeline(keep_io_layout=opts.keep_io_layout, allow_custom=opts.allow_custom, qdq=opts.quantization.qdq)
    run_pipeline(g, passes)
    named = dict(passes)
    layout = named["layout"]
    inputs = [(v.name, tuple(layout.logical_shape(v)), np.dtype(v.dtype), v.perm) for v in g.inputs]
    return _Converted(g, dict(layout.io_layout), inputs, named["qdq_import"])


def convert_to_graph(model: Any, opts: ConvertOptions) -> tuple[Graph, dict[str, str]]:
    """Front end and pass pipeline only: the layout-assigned IR and the I/O layouts."""
    conv = _convert(model, opts)
    return conv.graph, conv.io_layout


def _calibration_feeds(calibration: Any, conv: _Converted) -> list[dict[str, np.ndarray]]:
    """The user's calibration data (ONNX layout) as feeds in the converted model's layout."""
    from edgelite.quantize.calibration import load_calibration

    feeds = load_calibration(calibration, [(n, shape, dt) for n, shape, dt, _ in conv.inputs])
    perms = {n: p for n, _, _, p in conv.inputs if p is not None}
    if perms:
        feeds = [{k: np.ascontiguousarray(a.transpose(perms[k])) if k in perms else a for k, a in f.items()}
                 for f in feeds]
    return feeds


def _write_weight_parameters(tfl, out: Lowering) -> None:
    """Copy the QDQ weights' parameters (``Value.quant`` of lowered constants) onto the tensors."""
    from edgelite.schema.model import QuantizationParameters

    by_name = {}
    for op in out.ops:
        for v in op.inputs:
            if v is not None and v.is_constant and v.quant is not None:
                by_name[v.name] = v.quant
    for t in tfl.subgraphs[0].tensors:
        q = by_name.get(t.name)
        if q is not None:
            scales, zps, dim = q
            t.quantization = QuantizationParameters(
                scale=np.asarray(scales, np.float32), zero_point=np.asarray(zps, np.int64), quantized_dimension=int(dim)
            )


def lower_graph(g: Graph, annotate_weights: bool = False, notes: list[str] | None = None,
                fold_heads: bool = False) -> Lowering:
    """Run every node's op converter; the result holds the TFLite operators in order.

    With ``annotate_weights`` (QDQ import), filters made from weights that carry
    parameters get them too (``passes.qdq.annotate_lowered_weights``). ``fold_heads``
    (float models) turns attention head splits into per-head BATCH_MATMULs
    (``passes.matmul_transpose.fold_head_transposes``).
    """
    out = Lowering(graph=g)
    for node in g.nodes:
        conv = registry.get(node)
        if conv is None:
            raise ConversionError(f"[lowering] {node.describe()}: no converter registered")
        start = len(out.ops)
        try:
            conv.lower(node, out)
        except (ValueError, IndexError, KeyError, TypeError, AttributeError) as e:
            raise ConversionError(f"[lowering] {node.describe()}: {type(e).__name__}: {e}") from e
        if annotate_weights:
            annotate_lowered_weights(node, out.ops[start:], notes)
    out.ops = collapse_reshapes(out.ops, g)
    if fold_heads:  # head split of attention: weights regrouped instead of activations transposed
        out.ops = fold_head_merges(fold_head_transposes(out.ops, g, out.tmp), g, out.tmp)
    out.ops = fold_matmul_transposes(out.ops, g)  # K^T of attention -> BATCH_MATMUL adjY
    return out


def convert_file(
    src: str | os.PathLike, dst: str | os.PathLike, options: ConvertOptions | None = None, *,
    progress: ProgressFn | None = None, **kwargs
) -> int:
    """Convert ``src`` (.onnx) and write ``dst`` (.tflite); returns the number of bytes written.

    Nothing is written when conversion fails.

    Example:
        >>> # edgelite.converter.convert_file("model.onnx", "model.tflite", keep_io_layout=True)
    """
    data = convert(src, options, progress=progress, **kwargs)
    with open(dst, "wb") as f:
        f.write(data)
    return len(data)
