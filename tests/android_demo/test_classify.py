"""android_demo/classify.py, headless: decoding, preprocessing, delegates, exit codes.

NNAPI is reached through the NNAPI test double (tests/delegates/nnapi_double.py) via
EDGELITE_NNAPI_LIBRARY, exactly as a phone's libneuralnetworks.so would be.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.delegates.nnapi_helpers import double_path
from tests.fixtures import catalog

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("classify", ROOT / "android_demo" / "classify.py")
classify = importlib.util.module_from_spec(spec)
spec.loader.exec_module(classify)

MODEL = str(catalog.fixture("mobilenet_v2_035_96_int8").path)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    PIL = pytest.importorskip("PIL.Image", reason="Pillow writes the test images")
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    img[:, :20] = 200  # a flat area: PNG encoders pick different row filters
    d = tmp_path_factory.mktemp("img")
    PIL.fromarray(img).save(d / "a.png")
    PIL.fromarray(img).save(d / "a.jpg", quality=95)
    PIL.fromarray(img[..., 0]).save(d / "g.png")
    (d / "a.ppm").write_bytes(b"P6\n# test\n53 37\n255\n" + img.tobytes())
    return d, img


def run(argv, monkeypatch, capsys, library=None):
    monkeypatch.delenv("EDGELITE_NNAPI_LIBRARY", raising=False)
    if library:
        monkeypatch.setenv("EDGELITE_NNAPI_LIBRARY", library)
    rc = classify.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_decoders_without_pillow_match_pillow(image, monkeypatch):
    d, img = image
    assert (classify._png((d / "a.png").read_bytes()) == img).all()
    assert (classify._pnm((d / "a.ppm").read_bytes()) == img).all()
    monkeypatch.setitem(sys.modules, "PIL", None)  # no Pillow
    assert (classify.load_image(str(d / "g.png")) == np.repeat(img[..., :1], 3, axis=2)).all()
    with pytest.raises(classify.ImageError, match="python-pillow"):
        classify.load_image(str(d / "a.jpg"))


def test_preprocess_quantizes_with_the_input_parameters():
    detail = {"shape": np.array([1, 4, 4, 3]), "dtype": np.int8, "quantization": (1 / 64, 3)}
    img = np.full((8, 8, 3), 255, np.uint8)
    img[:, :, 1] = 0
    img[:, :, 2] = 159  # (159 - 127.5) / 127.5 = 0.247 -> 15.8 -> 16 + 3
    x = classify.preprocess(img, detail, 127.5, 127.5)
    assert x.dtype == np.int8 and x.shape == (1, 4, 4, 3)
    assert (x[..., 0] == 67).all() and (x[..., 1] == -61).all() and (x[..., 2] == 19).all()
    detail = {"shape": np.array([1, 2, 2, 3]), "dtype": np.float32, "quantization": (0.0, 0)}
    x = classify.preprocess(np.zeros((5, 5, 3), np.uint8), detail, 0.0, 255.0)
    assert x.dtype == np.float32 and (x == 0).all()


def test_cpu_json(image, monkeypatch, capsys):
    d, _ = image
    labels = d / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(10)))
    rc, out, _ = run(["--model", MODEL, "--image", str(d / "a.jpg"), "--labels", str(labels), "--top", "3",
                      "--delegate", "cpu", "--json"], monkeypatch, capsys)
    assert rc == 0
    res = json.loads(out)
    assert res["delegate"] == "cpu" and len(res["top"]) == 3
    assert res["top"][0]["label"].startswith("class ")
    scores = [t["score"] for t in res["top"]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[0] <= 1


def test_nnapi_missing_exits_2(image, monkeypatch, capsys):
    d, _ = image
    rc, _, err = run(["--model", MODEL, "--image", str(d / "a.png"), "--delegate", "nnapi"], monkeypatch, capsys)
    assert rc == 2
    assert "NNAPI is not available on this system" in err


def test_nnapi_through_the_test_double_matches_cpu(image, monkeypatch, capsys):
    d, _ = image
    lib = double_path()
    argv = ["--model", MODEL, "--image", str(d / "a.png"), "--json", "--top", "10"]
    rc, out, _ = run(argv + ["--delegate", "nnapi"], monkeypatch, capsys, library=lib)
    assert rc == 0
    nn = json.loads(out)
    rc, out, _ = run(argv + ["--delegate", "cpu"], monkeypatch, capsys)
    cpu = json.loads(out)
    assert nn["delegate"] == "nnapi"
    assert nn["top"][0]["index"] == cpu["top"][0]["index"]
    a = {t["index"]: t["score"] for t in cpu["top"]}
    assert all(abs(t["score"] - a.get(t["index"], t["score"])) <= 0.05 for t in nn["top"])


def test_auto_prefers_nnapi_and_reports_skips(image, monkeypatch, capsys):
    d, _ = image
    rc, out, _ = run(["--model", MODEL, "--image", str(d / "a.png"), "--json"], monkeypatch, capsys,
                     library=double_path())
    assert rc == 0 and json.loads(out)["delegate"] == "nnapi"


def test_bad_inputs_exit_1(image, monkeypatch, capsys):
    d, _ = image
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    rc, _, err = run(["--model", MODEL, "--image", str(d / "bad.png"), "--delegate", "cpu"], monkeypatch, capsys)
    assert rc == 1 and err.startswith("classify:")
    rc, _, err = run(["--model", str(d / "a.png"), "--image", str(d / "a.png"), "--delegate", "cpu"], monkeypatch,
                     capsys)
    assert rc == 1 and err.startswith("classify:")


def test_termux_run_script(image, tmp_path):
    d, _ = image
    demo = tmp_path / "demo"
    demo.mkdir()
    os.symlink(MODEL, demo / "model.tflite")
    os.symlink(d / "a.png", demo / "image.jpg")
    env = {**os.environ, "EDGELITE_DEMO_DIR": str(demo), "DELEGATE": "cpu", "PYTHONPATH": str(ROOT)}
    env.pop("EDGELITE_NNAPI_LIBRARY", None)
    res = subprocess.run(["bash", str(ROOT / "android_demo/termux/run.sh"), "--json", "--top", "2"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["delegate"] == "cpu"


def test_auto_without_nnapi_says_why_and_falls_back(image, monkeypatch, capsys):
    d, _ = image
    rc, out, _ = run(["--model", MODEL, "--image", str(d / "a.png"), "--json", "--top", "1"], monkeypatch, capsys)
    assert rc == 0
    res = json.loads(out)
    assert res["delegate"] in ("gpu", "cpu")  # gpu where wgpu finds an adapter
    assert any(n.startswith("nnapi: NNAPI is not available on this system") for n in res["delegate_notes"])
