"""edgelite.converter: ONNX models to ``.tflite`` files.

Stages (see ``docs/converter.md``): ``frontend`` (ONNX -> typed graph IR in ``ir``),
``passes`` (shape inference and constant folding, dead-code elimination, batch-norm
folding, canonicalization, pattern recognition, fully-connected, support check,
layout NCHW -> NHWC with transpose sinking, activation fusion), ``ops`` (one op
converter per ONNX op family) and ``lower`` (TFLite operators -> schema Model).

Example:
    >>> from edgelite.converter import convert, ConvertOptions
    >>> opts = ConvertOptions(keep_io_layout=False, input_shapes={"input": (1, 3, 224, 224)})
    >>> # tflite_bytes = convert("mobilenet_v2.onnx", opts)
"""

from __future__ import annotations

from edgelite.converter.api import convert, convert_file
from edgelite.converter.options import ConvertOptions

__all__ = ["convert", "convert_file", "ConvertOptions"]
