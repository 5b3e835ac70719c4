"""``edgelite run`` and ``edgelite benchmark`` through ``edgelite.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.interpreter.cli_run import random_input, summarize_output
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.AddOptions import AddOptionsT


@pytest.fixture()
def add_model(tmp_path):
    """y = x + c (int8) with input name 'x', signature input name 'lhs'."""
    b = ModelBuilder()
    x = b.add_input("x", (1, 4), np.int8, quant=(0.05, -3), shape_signature=(-1, 4))
    c = b.add_constant("c", np.array([[-100, -5, 7, 120]], np.int8), quant=(0.04, 2))
    y = b.add_tensor("out/y:0", (1, 4), np.int8, quant=(0.1, 1), shape_signature=(-1, 4))
    b.add_operator("ADD", [x, c], [y], AddOptionsT())
    b.mark_output(y)
    b.add_signature("serving_default", {"lhs": x}, {"sum": y})
    path = tmp_path / "add.tflite"
    path.write_bytes(b.build())
    return path


def test_run_with_input_file_matches_litert(add_model, tmp_path, capsys):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    x = np.array([[-128, -1, 50, 127], [0, 1, 2, 3]], np.int8)  # batch 2: the CLI resizes
    np.save(tmp_path / "x.npy", x)
    out_dir = tmp_path / "outs"
    assert main(["run", str(add_model), "--input", f"lhs={tmp_path / 'x.npy'}", "--save-outputs", str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert "out/y:0: shape [2, 4] int8" in text and "min" in text and "mean" in text
    saved = np.load(out_dir / "out_y_0.npy")
    ref = litert.Interpreter(model_path=str(add_model))
    ref.resize_tensor_input(0, [2, 4])
    ref.allocate_tensors()
    ref.set_tensor(0, x)
    ref.invoke()
    np.testing.assert_array_equal(saved, ref.get_tensor(2))


def test_run_random_inputs_are_seeded(add_model, tmp_path, capsys):
    for seed_dir, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert main(["run", str(add_model), "--seed", str(seed), "--save-outputs", str(tmp_path / seed_dir)]) == 0
    a, b, c = (np.load(tmp_path / d / "out_y_0.npy") for d in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_run_bad_input_name_is_a_clean_error(add_model, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.int8))
    assert main(["run", str(add_model), "--input", f"nope={tmp_path / 'x.npy'}"]) == 1
    err = capsys.readouterr().err
    assert "no input named 'nope'" in err and "lhs" in err and "Traceback" not in err
    np.save(tmp_path / "f.npy", np.zeros((1, 4), np.float32))
    assert main(["run", str(add_model), "--input", f"x={tmp_path / 'f.npy'}"]) == 1
    assert "FLOAT32" in capsys.readouterr().err


def test_run_missing_model_is_a_clean_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.tflite")]) == 1
    assert "error" in capsys.readouterr().err


def test_benchmark_json(add_model, capsys):
    assert main(["benchmark", str(add_model), "--runs", "7", "--warmup", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (r,) = payload["results"]
    assert r["runtime"] == "edgelite" and r["runs"] == 7 and r["num_threads"] == 1
    assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
    assert r["arena_bytes"] == 2 * 64  # x and y, 4 bytes each, 64-byte aligned
    assert r["peak_rss_delta_bytes"] >= 0 and r["init_ms"] > 0


def test_benchmark_profile_and_compare(add_model, capsys):
    pytest.importorskip("ai_edge_litert.interpreter")
    assert main(["benchmark", str(add_model), "--runs", "3", "--warmup", "0", "--profile", "--compare", "litert"]) == 0
    text = capsys.readouterr().out
    assert "edgelite" in text and "litert" in text and "ratio" in text and "median ms" in text
    assert "Operator-wise profiling" in text and "ADD" in text and "Top" in text


def test_benchmark_rejects_zero_runs(add_model, capsys):
    with pytest.raises(ValueError):
        main(["benchmark", str(add_model), "--runs", "0"])


def test_random_input_ranges():
    rng = np.random.default_rng(0)
    d8 = {"name": "a", "shape": np.array([1000], np.int32), "dtype": np.int8}
    v = random_input(d8, rng)
    assert v.dtype == np.int8 and v.min() < -100 and v.max() > 100
    d32 = {"name": "b", "shape": np.array([50], np.int32), "dtype": np.int32}
    v = random_input(d32, rng)
    assert v.dtype == np.int32 and 0 <= v.min() and v.max() <= 8
    db = {"name": "c", "shape": np.array([2, 3], np.int32), "dtype": np.bool_}
    assert random_input(db, rng).dtype == np.bool_


def test_summary_top5_dequantizes():
    detail = {"name": "scores", "quantization": (0.5, 10)}
    lines = summarize_output(detail, np.array([[10, 12, 30, 11, 14, 16]], np.int8))
    assert "scale 0.5" in lines[0]
    assert "max 10" in lines[1]  # (30 - 10) * 0.5
    assert lines[2].startswith("  top-5: [2] 10, [5] 3, [4] 2, [1] 1, [3] 0.5")
