"""``edgelite quantize`` and ``edgelite quant-report`` end to end."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.quantize.cli_quantize import ProgressBar
from edgelite.schema import read_model
from edgelite.schema.model import TensorType
from tests.quantize.models import image_batch, small_cnn

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "f.tflite").write_bytes(small_cnn())
    np.save(d / "data.npy", image_batch(10, 16))
    return d


def test_quantize_then_report(files, capsys):
    out = files / "q.tflite"
    rc = main(["quantize", str(files / "f.tflite"), "-o", str(out), "--calibration", str(files / "data.npy"),
               "--observer", "percentile", "--io-type", "int8", "--backend", "litert"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "calibrating" in captured.err and "10/10" in captured.err
    m = read_model(out.read_bytes())
    assert m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]].type == TensorType.INT8
    rc = main(["quant-report", str(files / "f.tflite"), str(out), "--data", str(files / "data.npy"), "--json",
               "--html", str(files / "r.html"), "--no-progress", "--backend", "litert"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples"] == 10 and doc["layers"]
    assert "<svg" in (files / "r.html").read_text()


def test_quantize_errors_are_one_line(files, capsys):
    rc = main(["quantize", str(files / "f.tflite"), "-o", str(files / "x.tflite"), "--mode", "int8"])
    assert rc == 1
    assert "QuantizationError" in capsys.readouterr().err


def test_float16_needs_no_data(files):
    out = files / "h.tflite"
    assert main(["quantize", str(files / "f.tflite"), "-o", str(out), "--mode", "float16"]) == 0
    assert any(t.type == TensorType.FLOAT16 for t in read_model(out.read_bytes()).subgraphs[0].tensors)


def test_progress_bar():
    s = io.StringIO()
    bar = ProgressBar(stream=s, width=10)
    bar(1, 4, "cal")
    bar(4, 4, "cal")
    text = s.getvalue()
    assert "[##        ] 1/4" in text and text.endswith("[##########] 4/4\n")


def test_bias_correction_flag(files):
    """--bias-correction on/off force it (on changes some conv bias: the weights round with a
    mean shift); the default (auto) writes exactly one of the two; a bare flag means on."""
    args = ["quantize", str(files / "f.tflite"), "--calibration", str(files / "data.npy"), "--no-progress",
            "--backend", "litert"]
    out = {}
    for name, extra in (("auto", []), ("off", ["--bias-correction", "off"]), ("on", ["--bias-correction", "on"]),
                        ("bare", ["--bias-correction"])):
        assert main(args + ["-o", str(files / f"{name}.tflite")] + extra) == 0
        out[name] = (files / f"{name}.tflite").read_bytes()

    def biases(data):
        m = read_model(data)
        return [m.tensor_data(t).tobytes() for t in m.subgraphs[0].tensors if t.type == TensorType.INT32
                and m.tensor_data(t) is not None]

    assert len(biases(out["off"])) == len(biases(out["on"])) > 0 and biases(out["off"]) != biases(out["on"])
    assert out["bare"] == out["on"]
    assert out["auto"] in (out["on"], out["off"])


def test_threads_flag(files, monkeypatch):
    """--threads N reaches the quantizer as num_threads and changes nothing in the file."""
    from edgelite.quantize import api

    seen = []
    real = api.calibrate

    def spy(*a, **kw):
        seen.append(kw["num_threads"])
        return real(*a, **kw)

    monkeypatch.setattr(api, "calibrate", spy)
    args = ["quantize", str(files / "f.tflite"), "--calibration", str(files / "data.npy"), "--no-progress"]
    assert main(args + ["-o", str(files / "t1.tflite"), "--threads", "1"]) == 0
    assert main(args + ["-o", str(files / "t3.tflite"), "--threads", "3"]) == 0
    assert seen == [1, 3]
    assert (files / "t1.tflite").read_bytes() == (files / "t3.tflite").read_bytes()
