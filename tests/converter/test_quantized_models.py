"""Acceptance: ``edgelite.convert(..., quantize=...)`` on the PyTorch-exported models.

MobileNetV2, MobileNetV3-Small and ResNet18 (reduced sizes, ``tests/converter/models``)
are converted straight to int8 with random NCHW calibration data (the ONNX layout; the
converter moves it to NHWC). Each int8 model must load and run in LiteRT, hold no
TRANSPOSE, and edgelite's interpreter must reproduce LiteRT's outputs bit for bit
(``BUILTIN_WITHOUT_DEFAULT_DELEGATES``, the reference kernels). The dynamic, float16
and int16x8 conversions of the same models must run in both, float outputs within
1e-5 relative of each other.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")

import edgelite
from edgelite.errors import QuantizationError
from edgelite.schema import read_model
from tests.litert_child import assert_run_in_xnnpack

MODELS = os.path.join(os.path.dirname(__file__), "models")
NAMES = ["mobilenet_v2", "mobilenet_v3_small", "resnet18"]
NCHW = (1, 3, 96, 96)


def _path(name: str) -> str:
    return os.path.join(MODELS, f"{name}.onnx")


def _calibration(n: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n,) + NCHW[1:]).astype(np.float32)


def _inputs(n: int, seed: int = 1) -> list[np.ndarray]:
    """Test inputs in the converted (NHWC) layout."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(NCHW).astype(np.float32).transpose(0, 2, 3, 1).copy() for _ in range(n)]


def _run(interp, xs):
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    results = []
    for x in xs:
        if inp["dtype"] != np.float32:
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        results.append(interp.get_tensor(out["index"]))
    return results


def run_litert(tfl: bytes, xs, delegates: bool = False):
    kw = {} if delegates else {"experimental_op_resolver_type": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    return _run(litert.Interpreter(model_content=tfl, **kw), xs)


def run_edgelite(tfl: bytes, xs):
    return _run(edgelite.Interpreter(model_content=tfl), xs)


def op_names(tfl: bytes) -> list[str]:
    m = read_model(tfl)
    return [m.opcode_name(op) for op in m.subgraphs[0].operators]


def sqnr(ref, got) -> float:
    ref = np.concatenate([r.ravel() for r in ref]).astype(np.float64)
    got = np.concatenate([g.ravel() for g in got]).astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - got) ** 2), 1e-30)))


@pytest.fixture(scope="module")
def float_models():
    return {n: edgelite.convert(_path(n)) for n in NAMES}


@pytest.fixture(scope="module")
def int8_models():
    out = {}
    for n in NAMES:
        with warnings.catch_warnings():
            # The converter transposes NCHW calibration data itself: the quantizer's
            # NCHW guess (a UserWarning) and any float fallback must not happen.
            warnings.simplefilter("error")
            out[n] = edgelite.convert(_path(n), quantize="int8", calibration=_calibration())
    return out


# -- hand-checkable ------------------------------------------------------------------


def test_options_are_grouped_and_validated():
    from edgelite.converter import ConvertOptions

    o = ConvertOptions.from_kwargs(quantize="int8", keep_float="logits", per_channel=False)
    assert o.quantization.mode == "int8" and o.quantization.keep_float == ("logits",)
    assert o.quantization.per_channel is False and o.keep_io_layout is False
    with pytest.raises(TypeError):
        ConvertOptions.from_kwargs(quantise="int8")
    with pytest.raises(QuantizationError, match="unknown quantize mode"):
        edgelite.convert(_path("resnet18"), quantize="int4")
    with pytest.raises(QuantizationError, match="calibration"):
        edgelite.convert(_path("resnet18"), quantize="int8")  # int8 needs data (or a QDQ model)


def test_calibration_is_moved_to_the_converted_layout():
    """NCHW data calibrates exactly like the same data given NHWC to the quantizer."""
    from edgelite.quantize import quantize_model

    cal = _calibration(4, seed=3)
    ours = edgelite.convert(_path("resnet18"), quantize="int8", calibration=cal)
    direct = quantize_model(edgelite.convert(_path("resnet18")), "int8", calibration=cal.transpose(0, 2, 3, 1).copy())
    a, b = read_model(ours).subgraphs[0], read_model(direct).subgraphs[0]
    qa = {t.name: (tuple(t.quantization.scale), tuple(t.quantization.zero_point)) for t in a.tensors if t.quantization}
    qb = {t.name: (tuple(t.quantization.scale), tuple(t.quantization.zero_point)) for t in b.tensors if t.quantization}
    assert qa == qb and len(qa) > 20


def test_dict_calibration_and_keep_float(float_models):
    cal = {"input": _calibration(4, seed=4)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = edgelite.convert(_path("resnet18"), quantize="int8", calibration=cal, keep_float=["FULLY_CONNECTED"])
    m = read_model(q)
    fc = [op for op in m.subgraphs[0].operators if m.opcode_name(op) == "FULLY_CONNECTED"]
    assert len(fc) == 1 and m.subgraphs[0].tensors[fc[0].outputs[0]].type == 0  # FLOAT32
    xs = _inputs(2)
    for e, ref in zip(run_edgelite(q, xs), run_litert(q, xs)):
        np.testing.assert_allclose(e, ref, rtol=1e-5, atol=1e-6)


# -- acceptance ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_int8_model_is_integer_and_has_no_transpose(int8_models, name):
    ops = op_names(int8_models[name])
    assert "TRANSPOSE" not in ops
    assert ops.count("QUANTIZE") == 1 and ops.count("DEQUANTIZE") == 1  # float only at the edges
    m = read_model(int8_models[name])
    sg = m.subgraphs[0]
    for op in sg.operators:
        if m.opcode_name(op) not in ("QUANTIZE", "DEQUANTIZE"):
            assert all(sg.tensors[o].type == 9 for o in op.outputs), m.opcode_name(op)  # INT8


@pytest.mark.parametrize("name", NAMES)
def test_int8_bit_exact_with_litert(int8_models, float_models, name):
    xs = _inputs(4)
    ref = run_litert(int8_models[name], xs)
    got = run_edgelite(int8_models[name], xs)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(g, r)
    # and the int8 model still computes the float model's function
    assert sqnr(run_litert(float_models[name], xs), ref) > 25.0


@pytest.mark.parametrize("name", NAMES)
def test_int8_io_type_bit_exact(name):
    q = edgelite.convert(_path(name), quantize="int8", calibration=_calibration(4), io_type="int8")
    m = read_model(q)
    sg = m.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].type == 9 and sg.tensors[sg.outputs[0]].type == 9
    assert "QUANTIZE" not in op_names(q) and "DEQUANTIZE" not in op_names(q)
    xs = _inputs(2)
    for r, g in zip(run_litert(q, xs), run_edgelite(q, xs)):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("name", NAMES)
def test_int8_xnnpack_within_one_step(int8_models, name):
    """LiteRT's default path (XNNPACK) may round differently: at most one output step."""
    q = int8_models[name]
    # First in a child process: XNNPACK can abort the process on parameters it refuses.
    assert_run_in_xnnpack({name: q})
    xs = _inputs(4)
    ref = run_litert(q, xs)
    fast = run_litert(q, xs, delegates=True)
    m = read_model(q)
    sg = m.subgraphs[0]
    deq = next(op for op in sg.operators if m.opcode_name(op) == "DEQUANTIZE")
    step = float(sg.tensors[deq.inputs[0]].quantization.scale[0])
    for r, f in zip(ref, fast):
        assert np.max(np.abs(r - f)) <= step * 1.001


_OTHER_MODES = [(name, mode) for mode in ("dynamic", "float16", "int16x8") for name in NAMES]


@pytest.mark.parametrize("name,mode", _OTHER_MODES)
def test_other_modes_run_in_litert_and_edgelite(mode, name):
    cal = _calibration(4) if mode == "int16x8" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # int16x8 leaves some operators float, and says so
        q = edgelite.convert(_path(name), quantize=mode, calibration=cal)
    assert "TRANSPOSE" not in op_names(q)
    xs = _inputs(2)
    ref = run_litert(q, xs)
    got = run_edgelite(q, xs)
    for r, g in zip(ref, got):
        assert r.dtype == np.float32
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(r))))


def test_convert_to_an_accuracy_target():
    """``convert(..., target_sqnr=DB)``: the fewest layers kept float meet the target on
    held-back calibration samples; the choice is recorded in the model."""
    from edgelite.quantize.mixed import stored_report

    cal = np.random.default_rng(0).standard_normal((12, 40, 49)).astype(np.float32)
    q = edgelite.convert(os.path.join(MODELS, "kws_conv1d.onnx"), quantize="int8", calibration=cal, target_sqnr=55.0)
    record = stored_report(q)
    assert record["met"] and record["reached"] >= 55.0 > record["int8_score"] and record["kept"]
    m = read_model(q)
    types = {t.name: t.type for t in m.subgraphs[0].tensors}
    assert all(types[k["name"]] == 0 for k in record["kept"])  # FLOAT32
    assert_run_in_xnnpack({"kws_target": q})
