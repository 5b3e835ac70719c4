"""Whole models through the GPU delegate against LiteRT's built-in kernels.

fp32: every output within 1e-4 of LiteRT's, relative to the output's largest magnitude
(summation order differs between a shader and a CPU kernel, so element-wise relative
error is meaningless where values cancel). fp16 storage: within 2e-2 and the same
arg-max for classifier outputs. Inputs are image-like (uniform in [0, 1)).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from tests.delegates.conftest import make_gpu
from tests.fixtures import catalog

FIXTURES = ["mobilenet_v1_025_96_float32", "mobilenet_v2_035_96_float16", "efficientnet_small_96_float32",
            "resnet_small_64_float32", "unet_small_64_float32", "float32_cnn", "float16_weights"]
# A subset of the published MediaPipe models, small enough for lavapipe on a shared CPU.
MEDIAPIPE = ["face_detection_short_range.tflite", "face_landmark.tflite", "iris_landmark.tflite", "hand_recrop.tflite"]


def _mediapipe():
    found = {p.name: p for p in catalog.mediapipe_models(fetch=False, builtin_only=True)}
    return [found[n] for n in MEDIAPIPE if n in found]


def _litert(path, values):
    lr = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert not installed: no LiteRT oracle")
    it = lr.Interpreter(model_path=str(path),
                        experimental_op_resolver_type=lr.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for i, v in values.items():
        it.set_tensor(i, v)
    it.invoke()
    return {d["index"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _run_gpu(path, options):
    it = Interpreter(model_path=str(path), experimental_delegates=[make_gpu(**options)])
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    values = {}
    for d in it.get_input_details():
        assert d["dtype"] == np.float32
        values[d["index"]] = rng.uniform(0, 1, d["shape"]).astype(np.float32)
        it.set_tensor(d["index"], values[d["index"]])
    it.invoke()
    return it, values, {d["index"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _check(path, options, rtol, argmax=False):
    it, values, got = _run_gpu(path, options)
    plan = it.get_delegation_plan()
    assert plan.delegated_nodes > 0, plan.describe()
    ref = _litert(path, values)
    for i, r in ref.items():
        scale = max(float(np.abs(r).max()), 1e-6)
        err = float(np.abs(got[i].astype(np.float64) - r).max())
        assert err <= rtol * scale, f"output {i}: max abs diff {err:.3g} > {rtol} * {scale:.3g}\n{plan.describe()}"
        if argmax and r.ndim == 2 and r.shape[-1] > 1:
            assert np.array_equal(np.argmax(got[i], -1), np.argmax(r, -1))
    return plan


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_fp32(gpu, name):
    plan = _check(catalog.fixture(name).path, {}, 1e-4)
    cpu_ops = [e for e in plan.execution if e[0] == "cpu"]
    assert not cpu_ops, f"expected the whole model on the GPU: {plan.describe()}"


@pytest.mark.parametrize("name", ["mobilenet_v2_035_96_float16", "efficientnet_small_96_float32", "unet_small_64_float32"])
def test_fixture_fp16(gpu_f16, name):
    plan = _check(catalog.fixture(name).path, {"is_precision_loss_allowed": 1}, 2e-2, argmax=True)
    assert plan.partitions[0].kernel.stats()["storage"] == "f16"


@pytest.mark.parametrize("path", _mediapipe() or [pytest.param(None, marks=pytest.mark.skip(
    reason="MediaPipe models not fetched (tests/fixtures/fetch_mediapipe.py)"))], ids=lambda p: getattr(p, "stem", "none"))
def test_mediapipe_fp32(gpu, path):
    _check(path, {}, 1e-4)


def test_validate_mode_on_a_model(gpu):
    it, _, _ = _run_gpu(catalog.fixture("resnet_small_64_float32").path, {"validate": True, "validate_tolerance": 1e-3})
    v = it.get_delegation_plan().partitions[0].validation
    assert v.invokes == 1 and 0 <= v.max_rel <= 1e-3


INT8 = ["mobilenet_v1_025_96_int8", "mobilenet_v2_035_96_int8", "int8_io_cnn", "uint8_io_cnn", "resnet_small_64_int8",
        "unet_small_64_int8", "uint8_tf1"]


@pytest.mark.parametrize("name", INT8)
def test_int8_models_run_in_float(gpu, name):
    """enable_quant (default): int8/uint8 models run in float with every output rounded to
    its int8 grid, as LiteRT's GPU delegate does. They differ from LiteRT's integer
    kernels by a few quantization steps (rounding happens in a different place)."""
    path = catalog.fixture(name).path
    it = Interpreter(model_path=str(path), experimental_delegates=[make_gpu()])
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    values = {}
    for d in it.get_input_details():
        if d["dtype"] == np.float32:
            v = rng.uniform(0, 1, d["shape"]).astype(np.float32)
        else:
            info = np.iinfo(d["dtype"])
            v = rng.integers(info.min, info.max + 1, d["shape"]).astype(d["dtype"])
        values[d["index"]] = v
        it.set_tensor(d["index"], v)
    it.invoke()
    plan = it.get_delegation_plan()
    assert not [e for e in plan.execution if e[0] == "cpu"], plan.describe()
    ref = _litert(path, values)
    for d in it.get_output_details():
        got, r = it.get_tensor(d["index"]), ref[d["index"]]
        assert got.dtype == r.dtype
        step = d["quantization"][0] if d["dtype"] != np.float32 else 1.0 / 256
        diff = np.abs(got.astype(np.float64) - r.astype(np.float64))
        if d["dtype"] != np.float32:
            diff = diff * step
        assert diff.max() <= 8 * step, f"{d['name']}: {diff.max() / step:.1f} steps"


def test_enable_quant_off_keeps_int8_on_the_cpu(gpu):
    it = Interpreter(model_path=str(catalog.fixture("int8_io_cnn").path),
                     experimental_delegates=[make_gpu(enable_quant="false")])
    plan = it.get_delegation_plan()
    assert plan.partitions == []
    assert any("enable_quant is off" in why for _, why in plan.unsupported["GPU"])


def _real_float_models():
    paths = [p for p in catalog.real_models() if "int8" not in p.name and "dynamic" not in p.name]
    return paths or [pytest.param(None, marks=pytest.mark.skip(
        reason="no full-size models in models/ (benchmarks/make_real_models.py writes them; it needs TensorFlow)"))]


@pytest.mark.parametrize("path", _real_float_models(), ids=lambda p: getattr(p, "stem", "none"))
def test_real_models_fp32(gpu, path):
    _check(path, {}, 1e-4)
