"""Test-wide setup.

The oracle is LiteRT's Python package ``ai_edge_litert``. Where only its predecessor
``tflite_runtime`` is installed (the last release, 2.14, needs numpy < 2: Raspberry Pi OS
with numpy 1.24), it stands in under the same module names, so every test that imports
``ai_edge_litert.interpreter`` runs against it instead of being skipped.
"""

from __future__ import annotations

import importlib.util
import sys

if importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tflite_runtime") is not None:
    import tflite_runtime
    import tflite_runtime.interpreter

    sys.modules["ai_edge_litert"] = tflite_runtime
    sys.modules["ai_edge_litert.interpreter"] = tflite_runtime.interpreter
