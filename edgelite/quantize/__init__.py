"""Post-training quantization of ``.tflite`` models, calibration, and quantization reports.

Works on the typed ``.tflite`` model like TFLite's own quantizer works on the
flatbuffer: float model + calibration data -> quantized model. Modes: ``int8`` (full
integer), ``int16x8``, ``dynamic`` (int8 weights, hybrid kernels) and ``float16``.
See ``docs/quantization.md``.

Example:
    >>> import numpy as np
    >>> from edgelite.quantize import QuantizeOptions, quantize_model
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 4), np.float32)
    >>> y = b.add_tensor("y", (1, 4), np.float32); _ = b.add_operator("RELU", [x], [y]); b.mark_output(y)
    >>> q = quantize_model(b.build(), options=QuantizeOptions(mode="int8", fixed_ranges={"x": (0.02, 0), "y": (0.01, -128)}))
    >>> q[4:8]
    b'TFL3'
"""

from edgelite.quantize.api import quantize_model
from edgelite.quantize.calibration import ImageOptions, load_calibration
from edgelite.quantize.options import QuantizeOptions

__all__ = ["quantize_model", "QuantizeOptions", "ImageOptions", "load_calibration"]
