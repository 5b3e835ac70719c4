"""The README's first command: `edgelite quickstart` on the bundled digits model."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from edgelite.cli import main  # noqa: E402
from edgelite.quickstart import run_quickstart  # noqa: E402


def test_quickstart_figures(tmp_path):
    lines = []
    figures = run_quickstart(tmp_path, use_litert=True, log=lines.append)
    # A trained model: the float accuracy is far above chance (10%) on unseen digits...
    assert figures["accuracy_float32"] > 0.95
    # ...and full int8 costs at most one point of it (the acceptance).
    assert figures["accuracy_int8"] >= figures["accuracy_float32"] - 0.01
    assert figures["bytes_int8"] < figures["bytes_float32"] / 2
    assert (tmp_path / "digits_float32.tflite").exists() and (tmp_path / "digits_int8.tflite").exists()
    if "litert_int8_identical" in figures:
        assert figures["litert_int8_identical"] == 540
        assert figures["litert_float_rel_diff"] < 1e-5
    assert any("held-out accuracy" in line for line in lines)


def test_quickstart_cli(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path), "--no-litert"]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy (540 images)" in out
