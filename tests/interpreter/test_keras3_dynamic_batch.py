"""Keras 3 models with a dynamic batch, as TensorFlow 2.21 writes them, against LiteRT.

The fixtures (``tests/fixtures/keras3_*``, made by ``make_fixtures.py``) build their
reshapes from SHAPE / STRIDED_SLICE / PACK and share constants between operators; each
is run at batch 1 and, after ``resize_tensor_input``, at batch 3, in all four
quantization modes, and compared with LiteRT's built-in kernels on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from tests.fixtures import catalog

FIXTURES = catalog.fixtures("keras3_dynamic_batch")


def _run(it, batch: int, x: np.ndarray) -> np.ndarray:
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], [batch] + list(d["shape"][1:]))
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def test_the_fixtures_cover_every_mode():
    modes = {m for fx in FIXTURES for m in ("float", "dynamic", "float16", "int8") if m in fx.categories}
    assert modes == {"float", "dynamic", "float16", "int8"}
    assert all(fx.info["inputs"][0]["shape_signature"][0] == -1 for fx in FIXTURES)
    assert all({"SHAPE", "PACK", "STRIDED_SLICE"} <= set(fx.ops) for fx in FIXTURES)


@pytest.mark.parametrize("fx", FIXTURES, ids=catalog.name_of)
@pytest.mark.parametrize("batch", [1, 3])
def test_matches_litert_after_resize(fx, batch):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) is the oracle")
    data = fx.read_bytes()
    ours = Interpreter(model_content=data)
    shape = [batch] + list(ours.get_input_details()[0]["shape"][1:])
    x = np.random.default_rng(batch).uniform(-1, 1, shape).astype(np.float32)
    out = _run(ours, batch, x)
    theirs = _run(litert.Interpreter(model_content=data, experimental_op_resolver_type=(
        litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)), batch, x)
    assert out.shape == theirs.shape == (batch,) + tuple(fx.info["outputs"][0]["shape"][1:])
    if "int8" in fx.categories:
        np.testing.assert_array_equal(out, theirs)  # bit-exact with the built-in int8 kernels
    else:
        np.testing.assert_allclose(out, theirs, rtol=1e-4, atol=1e-5)
