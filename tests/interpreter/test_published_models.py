"""Published MediaPipe models and full-size TF-made models: the schema round trip and the
interpreter against LiteRT (float within 1e-5 relative, integers exact).

MediaPipe models come from the `mediapipe` wheel on PyPI (``tests/fixtures/fetch_mediapipe.py``,
run by ``.ci/run``); the full-size models from ``benchmarks/make_real_models.py`` (needs
TensorFlow, so only where someone ran it). Where neither exists these tests do not run.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema import read_model, write_model
from tests.fixtures.catalog import mediapipe_models, real_models

litert = pytest.importorskip("ai_edge_litert.interpreter")

import edgelite  # noqa: E402
from tests.interpreter.model_inputs import random_inputs  # noqa: E402

# Dynamic-range models re-quantize float activations before every hybrid layer, which
# turns an ulp into a quantization step; edgelite's float kernels follow LiteRT's order
# in them (``float_order``), so they meet the plain bar with no XNNPACK allowance.
DYNAMIC_RANGE_TOLERANCE = 1e-5


MODELS = [pytest.param(p, id=f"mediapipe/{p.stem}") for p in mediapipe_models(builtin_only=True)] + [
    pytest.param(p, id=f"real/{p.stem}", marks=pytest.mark.slow) for p in real_models()
]


def _run(interp, inputs):
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def _litert(data):
    return litert.Interpreter(
        model_content=data,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


@pytest.mark.parametrize("path", MODELS)
def test_roundtrip_runs_identically_in_litert(path):
    data = path.read_bytes()
    again = write_model(read_model(path))
    ref = _litert(data)
    inputs = random_inputs(ref.get_input_details())
    for a, b in zip(_run(ref, inputs), _run(_litert(again), inputs)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", MODELS)
def test_interpreter_matches_litert(path):
    data = path.read_bytes()
    ref = _litert(data)
    inputs = random_inputs(ref.get_input_details())
    expected = _run(ref, inputs)
    ours = edgelite.Interpreter(model_path=str(path))
    got = _run(ours, inputs)
    assert len(got) == len(expected)
    xnnpack = None
    for k, (a, b) in enumerate(zip(got, expected)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"output {k}"
        if np.issubdtype(b.dtype, np.floating):
            rel = _rel(a, b)
            if path.stem.endswith("_dynamic"):
                assert rel <= DYNAMIC_RANGE_TOLERANCE, f"output {k}: relative difference {rel:.2e}"
            elif rel > 1e-5:
                # Deep float nets amplify summation-order differences. Then the bar is
                # LiteRT's own: its default (XNNPACK) path against its reference path.
                xnnpack = xnnpack or _run(litert.Interpreter(model_content=data), inputs)
                own = _rel(xnnpack[k], b)
                message = f"output {k}: relative difference {rel:.2e} (LiteRT XNNPACK vs reference: {own:.2e})"
                assert rel <= own, message
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"output {k}")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Max absolute difference over max absolute reference value."""
    scale = max(float(np.max(np.abs(b))), 1e-30)
    return float(np.max(np.abs(a.astype(np.float64) - b))) / scale
