"""`edgelite inspect` agrees with LiteRT on inputs, outputs and the operator list."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.schema import read_model
from edgelite.schema.model import TensorType, numpy_dtype
from edgelite.schema.summary import summarize
from tests.schema.helpers import conv_gelu_model

litert = pytest.importorskip("ai_edge_litert.interpreter")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _models():
    from tests.fixtures.catalog import mediapipe_models, real_models

    items = [("builder_conv_gelu", conv_gelu_model())]
    items += [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("*.tflite"))]
    # Published MediaPipe models (fetched by .ci/run) and full-size models where present.
    items += [(f"mediapipe/{p.name}", p.read_bytes()) for p in mediapipe_models(builtin_only=True)]
    items += [(f"real/{p.name}", p.read_bytes()) for p in real_models()]
    return items


def _litert_op_counter(it) -> Counter:
    return Counter(d["op_name"] for d in it._get_ops_details())


@pytest.mark.parametrize("name,data", _models(), ids=lambda v: v if isinstance(v, str) else "")
def test_inspect_agrees_with_litert(name, data):
    summary = summarize(read_model(data))
    it = litert.Interpreter(model_content=data)
    sg = summary["subgraphs"][0]
    for ours, theirs in ((sg["inputs"], it.get_input_details()), (sg["outputs"], it.get_output_details())):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a["name"] == b["name"]
            assert a["index"] == b["index"]
            assert a["shape"] == list(b["shape"])
            assert a["shape_signature"] == list(b["shape_signature"])
            if a["dtype"] == "string":
                assert b["dtype"] in (np.bytes_, np.object_, np.str_)
            else:
                assert numpy_dtype(TensorType[a["dtype"].upper()]) == np.dtype(b["dtype"])
            scale, zp = b["quantization"]
            if "quantization" in a:
                assert a["quantization"]["scales"][0] == pytest.approx(scale, rel=1e-7)
                assert a["quantization"]["zero_points"][0] == zp
            else:
                assert scale == 0.0
    ours_ops = Counter({e["op"]: 0 for e in sg["ops"]})
    for e in sg["ops"]:
        ours_ops[e["op"]] += e["count"]
    assert ours_ops == _litert_op_counter(it)
    assert [s["key"] for s in summary["signatures"]] == list(it.get_signature_list())


def test_cli_inspect_table_and_json(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_gelu_model())
    assert main(["inspect", str(path)]) == 0
    table = capsys.readouterr().out
    assert "GELU" in table and "image" in table and "min_runtime_version: 1.14.0" in table
    assert main(["inspect", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["subgraphs"][0]["inputs"][0]["shape"] == [1, 8, 8, 3]
    assert data["parameters"] == 4 * 27 + 4 + 2 + 2560 + 10
    assert data["weight_bytes"] == {"float32": 4 * (108 + 4 + 2560 + 10), "int32": 8}


def test_cli_inspect_bad_file_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "bad.tflite"
    path.write_bytes(b"\x00" * 64)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert "ModelFormatError" in err and "Traceback" not in err
