"""Accuracy target (``target_sqnr`` / ``metric`` + ``target``): the fewest layers kept
float that meet it on calibration samples held back from range estimation."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.errors import QuantizationError
from edgelite.quantize import quantize_model
from edgelite.quantize.mixed import MixedPrecisionReport, model_outputs, sqnr_metric, stored_report
from edgelite.schema import read_model
from edgelite.schema.model import TensorType
from tests.quantize.models import image_batch, small_cnn

CAL = image_batch(24, 16)


@pytest.fixture(scope="module")
def float_model():
    return small_cnn()


def _run(f, **kw):
    reports = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        q = quantize_model(f, "int8", calibration=CAL, backend="edgelite", on_target_report=reports.append, **kw)
    return q, reports[0], [str(r.message) for r in rec]


def _float_ops(q: bytes) -> set[str]:
    m = read_model(q)
    sg = m.subgraphs[0]
    return {sg.tensors[op.outputs[0]].name for op in sg.operators
            if m.opcode_name(op) not in ("QUANTIZE", "DEQUANTIZE") and sg.tensors[op.outputs[0]].type == TensorType.FLOAT32}


def _held_sqnr(f, q, held_idx):
    held = [{"image": CAL[k][None]} for k in held_idx]
    return sqnr_metric(model_outputs(f, held, "edgelite"), model_outputs(q, held, "edgelite"))


def test_a_reachable_target_keeps_few_layers_float_and_is_met(float_model):
    q, rep, warned = _run(float_model, target_sqnr=52.0)
    assert rep.met and rep.reached >= 52.0 > rep.int8_score
    kept = {k.name for k in rep.kept}
    assert kept and len(kept) < rep.candidates
    assert kept <= _float_ops(q) | {n + "_float" for n in kept}
    # the score is what the held-back samples give (every 4th of 24: 6 samples)
    assert rep.samples == 6
    assert _held_sqnr(float_model, q, [k * 24 // 6 for k in range(6)]) == pytest.approx(rep.reached)
    assert not any("not reached" in w for w in warned)
    # deterministic bytes, and the record in the metadata
    again, _, _ = _run(float_model, target_sqnr=52.0)
    assert again == q
    record = stored_report(q)
    assert record["met"] and [k["name"] for k in record["kept"]] == [k.name for k in rep.kept]
    assert rep.size_final > 0 and rep.latency_final_ms is not None and rep.latency_int8_ms is not None
    assert "layers kept float" in rep.to_table() and json.loads(rep.to_json())["target"] == 52.0


def test_a_target_the_int8_model_meets_keeps_everything_int8(float_model):
    q, rep, _ = _run(float_model, target_sqnr=10.0)
    assert rep.met and not rep.kept and _float_ops(q) == set()
    assert "the all-int8 model meets it" in rep.to_table()


def test_user_metric_and_an_unreachable_target_are_reported(float_model):
    def never(float_outputs, quant_outputs):
        return -1.0

    q, rep, warned = _run(float_model, metric=never, target=0.0)
    assert not rep.met and rep.reached == -1.0 and rep.metric == "never"
    assert any("accuracy target not reached" in w and "out of reach" in w for w in warned)
    assert rep.kept and rep.notes

    def top1(float_outputs, quant_outputs):
        a = [np.argmax(f[0]) == np.argmax(g[0]) for f, g in zip(float_outputs, quant_outputs)]
        return float(np.mean(a))

    _, rep, _ = _run(float_model, metric=top1, target=1.0)
    assert rep.met and rep.reached == 1.0


@pytest.mark.parametrize("kw,match", [
    ({"target_sqnr": 40.0, "fallback": "int4"}, "unknown fallback"),
    ({"metric": sqnr_metric}, "go together"),
    ({"target_sqnr": 40.0, "metric": sqnr_metric, "target": 3.0}, "not both"),
    ({"target_sqnr": 40.0, "mode": "int16x8"}, "needs mode 'int8'"),
])
def test_bad_target_options_are_typed_errors(float_model, kw, match):
    mode = kw.pop("mode", "int8")
    with pytest.raises(QuantizationError, match=match):
        quantize_model(float_model, mode, calibration=CAL, **kw)


def test_too_few_samples_for_a_target(float_model):
    with pytest.raises(QuantizationError, match="at least 2 calibration samples"):
        quantize_model(float_model, "int8", calibration=CAL[:1], target_sqnr=40.0)


def test_cli_target_sqnr_and_quant_report(float_model, tmp_path, capsys):
    src, dst, data = (os.path.join(tmp_path, n) for n in ("f.tflite", "q.tflite", "cal.npy"))
    with open(src, "wb") as f:
        f.write(float_model)
    np.save(data, CAL)
    assert main(["quantize", src, "-o", dst, "--calibration", data, "--target-sqnr", "52", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "target sqnr_db >= 52: met" in out and "latency" in out
    assert main(["quant-report", src, dst, "--data", data, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "accuracy target (recorded when the model was quantized)" in out and "layers kept float" in out
    assert main(["quant-report", src, dst, "--data", data, "--no-progress", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["mixed_precision"]["met"] is True
    assert MixedPrecisionReport.from_dict(d["mixed_precision"]).met


def test_int16x8_fallback_keeps_layers_in_int16_bit_exact_with_litert(float_model):
    q, rep, _ = _run(float_model, target_sqnr=52.0, fallback="int16x8")
    assert rep.met and rep.kept and rep.fallback == "int16x8"
    m = read_model(q)
    types = {t.name: t.type for t in m.subgraphs[0].tensors}
    assert all(types[k.name] == TensorType.INT16 for k in rep.kept)
    assert _float_ops(q) == set()  # nothing float but the edges
    from tests.quantize.litert_util import run_litert

    feeds = [{"image": CAL[k][None]} for k in range(3)]
    got = model_outputs(q, feeds, "edgelite")
    for a, b in zip(got, run_litert(q, feeds)):
        np.testing.assert_array_equal(a[0], b[0])
