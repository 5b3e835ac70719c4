"""``edgelite convert MODEL.onnx -o OUT.tflite --quantize ... --calibration ...`` (the CLI, in process)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")

import edgelite
from edgelite.cli import main
from edgelite.schema import read_model

MODEL = os.path.join(os.path.dirname(__file__), "models", "resnet18.onnx")
INT8, UINT8, FLOAT32, FLOAT16 = 9, 3, 0, 1


@pytest.fixture(scope="module")
def calib_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "calib.npz"
    np.savez(path, input=np.random.default_rng(0).standard_normal((6, 3, 96, 96)).astype(np.float32))  # NCHW
    return str(path)


def _io_types(path):
    with open(path, "rb") as f:
        sg = read_model(f.read()).subgraphs[0]
    return sg.tensors[sg.inputs[0]].type, sg.tensors[sg.outputs[0]].type


def test_int8_with_calibration_and_progress(tmp_path, calib_npz, capsys):
    out = tmp_path / "r18_int8.tflite"
    rc = main(["convert", MODEL, "-o", str(out), "--quantize", "int8", "--calibration", calib_npz, "--io-type", "int8"])
    assert rc == 0
    cap = capsys.readouterr()
    assert "wrote" in cap.out and "int8" in cap.out
    assert "calibrating" in cap.err and "6/6" in cap.err  # the progress bar, on stderr
    assert _io_types(out) == (INT8, INT8)
    # the same model as the Python API makes from the same data (metadata aside: it names the source)
    data = np.load(calib_npz)["input"]
    api = read_model(edgelite.convert(MODEL, quantize="int8", calibration=data, io_type="int8")).subgraphs[0]
    cli = read_model(out.read_bytes()).subgraphs[0]

    def params(sg):
        return [(t.name, tuple(t.quantization.scale), tuple(t.quantization.zero_point)) for t in sg.tensors
                if t.quantization is not None]

    assert params(cli) == params(api) and len(params(cli)) > 20


def test_uint8_io_observer_and_no_progress(tmp_path, calib_npz, capsys):
    out = tmp_path / "r18_u8.tflite"
    rc = main(["convert", MODEL, "-o", str(out), "--quantize", "int8", "--calibration", calib_npz,
               "--io-type", "uint8", "--observer", "percentile", "--no-progress"])
    assert rc == 0 and capsys.readouterr().err == ""
    assert _io_types(out) == (UINT8, UINT8)
    it = litert.Interpreter(model_path=str(out))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.full((1, 96, 96, 3), 128, np.uint8))
    it.invoke()


def test_float16_and_keep_float(tmp_path, calib_npz):
    out = tmp_path / "r18_fp16.tflite"
    assert main(["convert", MODEL, "-o", str(out), "--quantize", "float16"]) == 0
    m = read_model(out.read_bytes())
    assert any(t.type == FLOAT16 for t in m.subgraphs[0].tensors)
    out2 = tmp_path / "r18_keep.tflite"
    assert main(["convert", MODEL, "-o", str(out2), "--quantize", "int8", "--calibration", calib_npz,
                 "--keep-float", "FULLY_CONNECTED", "--no-progress"]) == 0
    m2 = read_model(out2.read_bytes())
    fc = next(op for op in m2.subgraphs[0].operators if m2.opcode_name(op) == "FULLY_CONNECTED")
    assert m2.subgraphs[0].tensors[fc.outputs[0]].type == FLOAT32


def test_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "x.tflite"
    assert main(["convert", MODEL, "-o", str(out), "--quantize", "int8"]) == 1  # no calibration
    err = capsys.readouterr().err
    assert "QuantizationError" in err and "calibration" in err and not out.exists()
    bad = tmp_path / "bad.npz"
    np.savez(bad, input=np.zeros((2, 3, 50, 50), np.float32))
    assert main(["convert", MODEL, "-o", str(out), "--quantize", "int8", "--calibration", str(bad)]) == 1
    assert "ShapeError" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", MODEL, "--quantize", "int4"])


def test_qdq_model_needs_no_option(tmp_path):
    from tests.converter.test_qdq_import import qdq_conv_model

    m, _, _ = qdq_conv_model()
    src = tmp_path / "qdq.onnx"
    src.write_bytes(m.SerializeToString())
    out = tmp_path / "qdq.tflite"
    assert main(["convert", str(src), "-o", str(out)]) == 0
    sg = read_model(out.read_bytes()).subgraphs[0]
    assert any(t.type == INT8 for t in sg.tensors)
    assert main(["convert", str(src), "-o", str(out), "--qdq", "off"]) == 0
    assert all(t.type != INT8 for t in read_model(out.read_bytes()).subgraphs[0].tensors if t.name == "input")


def _body(data: bytes) -> list:
    """Tensors with their types, constant bytes and parameters (the metadata left out:
    it records the options and names the source)."""
    m = read_model(data)
    rows = []
    for t in m.subgraphs[0].tensors:
        c = m.tensor_data(t)
        q = t.quantization
        rows.append((t.name, t.type, None if c is None else c.tobytes(),
                     None if q is None else (tuple(q.scale), tuple(q.zero_point))))
    return rows


def test_bias_correction_option(tmp_path, calib_npz):
    """--bias-correction on/off reach the quantizer (the API option's model); auto is one of them."""
    data = np.load(calib_npz)["input"]
    api = {bc: _body(edgelite.convert(MODEL, quantize="int8", calibration=data, bias_correction=bc))
           for bc in (True, False, "auto")}
    assert api[True] != api[False] and api["auto"] in (api[True], api[False])
    for flag, bc in (("on", True), ("off", False)):
        out = tmp_path / f"r18_{flag}.tflite"
        rc = main(["convert", MODEL, "-o", str(out), "--quantize", "int8", "--calibration", calib_npz,
                   "--bias-correction", flag, "--no-progress"])
        assert rc == 0
        assert _body(out.read_bytes()) == api[bc]
