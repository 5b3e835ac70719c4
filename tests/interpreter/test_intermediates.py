"""Quantized models: with ``experimental_preserve_all_tensors`` every intermediate tensor
equals LiteRT's (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``) bit for bit, not only the outputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.catalog import fixtures, real_models

litert = pytest.importorskip("ai_edge_litert.interpreter")

import edgelite  # noqa: E402
from tests.interpreter.model_inputs import random_inputs  # noqa: E402

QUANTIZED = sorted({f.path for category in ("int8", "uint8", "int16", "tf1") for f in fixtures(category)})
# Full-size TF-made int8 models, where benchmarks/make_real_models.py ran.
PARAMS = [pytest.param(p, id=p.stem) for p in QUANTIZED] + [
    pytest.param(p, id=f"real/{p.stem}", marks=pytest.mark.slow) for p in real_models("*_int8.tflite")
]


@pytest.mark.parametrize("path", PARAMS)
def test_every_intermediate_equals_litert(path):
    ref = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    ours = edgelite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    inputs = random_inputs(ref.get_input_details(), 0)
    for it in (ref, ours):
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), inputs):
            it.set_tensor(d["index"], x)
        it.invoke()
    compared = 0
    for op in ref._get_ops_details():
        for t in op["outputs"]:
            expected = ref.get_tensor(t)
            got = ours.get_tensor(t)
            assert got.dtype == expected.dtype and got.shape == expected.shape, f"tensor {t} of {op['op_name']}"
            if np.issubdtype(expected.dtype, np.floating):
                # float tensors in quantized models: the edges (QUANTIZE input, DEQUANTIZE output)
                scale = max(float(np.max(np.abs(expected))), 1e-30)
                assert float(np.max(np.abs(got - expected))) / scale <= 1e-6, f"tensor {t} of {op['op_name']}"
            else:
                np.testing.assert_array_equal(got, expected, err_msg=f"tensor {t}, output of {op['op_name']} #{op['index']}")
            compared += 1
    assert compared == sum(len(op["outputs"]) for op in ref._get_ops_details())
