"""Oracle helper for the op-family tests (reductions, losses, normalizations, attention,
Einsum): convert once, run in LiteRT and in edgelite's interpreter, compare both with
ONNX Runtime or, for ops it lacks, ``onnx.reference``."""

from __future__ import annotations

import numpy as np

from tests.converter.helpers import check, helper, make_model, onnx, run_ort  # noqa: F401  (re-exported)

import edgelite
from tests.converter.helpers import op_names, run_tflite


def run_reference(model, feeds):
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)


def check_both(model, feeds, oracle="ort", rtol=1e-4, atol=1e-5, **options) -> list[str]:
    """Assert LiteRT and edgelite both match the oracle on ``feeds``; return the TFLite op names."""
    tfl = edgelite.convert(model, **options)
    want = run_ort(model, feeds) if oracle == "ort" else run_reference(model, feeds)
    for interpreter in ("litert", "edgelite"):
        got = run_tflite(tfl, feeds, interpreter)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            w = np.asarray(w)
            assert g.shape == w.shape, (interpreter, k, g.shape, w.shape)
            if w.dtype.kind in "biu":
                np.testing.assert_array_equal(g, w, err_msg=f"{interpreter} output {k}")
            else:
                finite = np.isfinite(w)
                assert np.array_equal(np.isinf(g), np.isinf(w)), (interpreter, k)
                scale = max(float(np.abs(w[finite]).max(initial=0.0)), 1e-6)
                np.testing.assert_allclose(g[finite], w[finite], rtol=rtol, atol=atol * scale,
                                           err_msg=f"{interpreter} output {k}")
    return op_names(tfl)
