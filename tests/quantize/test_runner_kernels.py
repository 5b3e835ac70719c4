"""Which kernels quantization runs: small models use the reference kernels, so a fresh
install quantizes them without loading Numba or compiling anything."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from edgelite.quantize.runner import SMALL_MODEL_ELEMENTS, _tensor_elements

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def test_small_and_large_models_are_told_apart():
    assert _tensor_elements((FIXTURES / "float32_cnn.tflite").read_bytes()) < SMALL_MODEL_ELEMENTS
    assert _tensor_elements((FIXTURES / "mobilenet_v1_025_96_float32.tflite").read_bytes()) > SMALL_MODEL_ELEMENTS


def test_quantizing_a_small_model_loads_no_numba():
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from edgelite.quantize import quantize_model
        src = open({str(FIXTURES / "float32_cnn.tflite")!r}, "rb").read()
        from edgelite.interpreter import Interpreter
        d = Interpreter(model_content=src).get_input_details()[0]
        rng = np.random.default_rng(0)
        out = quantize_model(src, mode="int8", calibration=[rng.standard_normal(d["shape"]).astype(np.float32)
                                                            for _ in range(4)])
        print(len(out) > 0, "numba" in sys.modules)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["True", "False"], run.stdout
