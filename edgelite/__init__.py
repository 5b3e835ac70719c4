"""edgelite: an on-device inference toolkit in the style of TensorFlow Lite (LiteRT).

Components, in the order data flows through them:

* ``edgelite.schema``: the ``.tflite`` flatbuffer format (read, write, typed model).
* ``edgelite.converter``: ONNX graphs to ``.tflite`` files.
* ``edgelite.quantize``: post-training quantization and quantization reports.
* ``edgelite.interpreter``: a LiteRT-compatible interpreter with numpy and Numba kernels.
* ``edgelite.delegates``: hardware acceleration for parts of a model.

Example:
    >>> import edgelite
    >>> edgelite.__version__
    '0.1.0'
"""

from __future__ import annotations

from edgelite.version import __version__

__all__ = ["__version__", "Interpreter", "convert", "load_delegate"]


def __getattr__(name: str):
    # Lazy so that `import edgelite` stays cheap (no numba, no onnx) for apps that
    # only run models.
    if name == "Interpreter":
        from edgelite.interpreter import Interpreter

        return Interpreter
    if name == "convert":
        from edgelite.converter import convert

        return convert
    if name == "load_delegate":
        from edgelite.delegates import load_delegate

        return load_delegate
    raise AttributeError(f"module 'edgelite' has no attribute {name!r}")
