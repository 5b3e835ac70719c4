"""examples/rpi_classify.py, headless: image files and folders, fake picamera2 and OpenCV
cameras, labels, top-K, JSON lines, the kernel path it reports, and its errors.

Its scores are checked against LiteRT given the same preprocessed input. This file also
runs under arm64 emulation with Debian's numpy 1.24 and no Pillow (``tests/arm64/run.sh``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import edgelite
from edgelite.errors import DelegateError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "rpi_classify.py"
FIXTURES = ROOT / "tests" / "fixtures"
HAVE_PIL = importlib.util.find_spec("PIL") is not None


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("rpi_classify", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ppm(path: Path, img: np.ndarray) -> None:
    h, w, _ = img.shape
    path.write_bytes(b"P6\n# made by a test\n%d %d\n255\n" % (w, h) + img.tobytes())


@pytest.fixture()
def images(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    _ppm(tmp_path / "a.ppm", a)
    np.save(tmp_path / "b.npy", b)
    (tmp_path / "notes.txt").write_text("not an image")  # ignored in a folder
    return tmp_path, {"a.ppm": a, "b.npy": b}


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _run_main(app, capsys, *argv):
    rc = app.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("model", ["int8_cnn", "int8_io_cnn", "uint8_io_cnn", "float32_cnn"])
def test_folder_json_scores_match_litert(app, capsys, images, model, tmp_path):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    folder, imgs = images
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(10)) + "\n")
    path = FIXTURES / f"{model}.tflite"
    rc, out, err = _run_main(app, capsys, path, "--image", folder, "--labels", labels, "--top-k", 3, "--json",
                             "--mean", 0, "--std", 255)
    assert rc == 0, err
    recs = _json_lines(out)
    assert recs[0]["event"] == "start" and recs[0]["input"] == [32, 32, 3]
    assert recs[-1]["event"] == "end" and recs[-1]["frames"] == 2
    frames = recs[1:-1]
    assert [Path(r["source"]).name for r in frames] == ["a.ppm", "b.npy"]
    # LiteRT's built-in kernels, which edgelite follows; on aarch64 its default XNNPACK delegate
    # puts these int8 models' scores one step (1/256) away (measured under emulation)
    ref = litert.Interpreter(model_path=str(path),
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    clf = app.Classifier(str(path), 1, None, 0.0, 255.0)
    for rec in frames:
        x = clf.preprocess(imgs[Path(rec["source"]).name])
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        ref.invoke()
        od = ref.get_output_details()[0]
        y = ref.get_tensor(od["index"]).reshape(-1).astype(np.float32)
        if od["dtype"] != np.float32:
            y = (y - od["quantization"][1]) * od["quantization"][0]
        top = np.argsort(-y, kind="stable")[:3]
        assert [t["index"] for t in rec["top"]] == top.tolist()
        assert [t["label"] for t in rec["top"]] == [f"class {i}" for i in top]
        # exact on ARM too: edgelite follows the rounding of the LiteRT build of the machine
        # (edgelite/interpreter/compute/platform_rounding.py, softmax_lut_arm.py)
        np.testing.assert_allclose([t["score"] for t in rec["top"]], y[top], rtol=1e-4, atol=1e-5)
        assert rec["invoke_ms"] > 0 and rec["fps"] > 0


def test_text_output_and_loop_over_one_image(app, capsys, images):
    folder, _ = images
    rc, out, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--image", folder / "a.ppm", "--loop",
                             "--frames", 3, "--top-k", 2, "--warmup", 0)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("kernels: ")
    assert [ln.split("]")[0] for ln in lines[2:5]] == ["[1", "[2", "[3"]
    assert "ms invoke" in lines[2] and "FPS" in lines[2]
    assert lines[-1].startswith("3 frame(s): mean invoke")


def test_reports_the_kernel_path(app, capsys, images):
    from edgelite.interpreter.compute import jit, simd_gemm

    folder, _ = images
    rc, out, _ = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--image", folder / "b.npy", "--json")
    assert rc == 0
    kernels = _json_lines(out)[0]["kernels"]
    if jit.HAVE_NUMBA:
        assert kernels.startswith("Numba JIT kernels") and f"int8 GEMM: {simd_gemm.flavour() or 'none'}" in kernels
    else:
        assert kernels.startswith("numpy reference kernels (Numba not installed")


def test_without_numba_the_reference_kernels_run(images):
    """A process where ``import numba`` fails (as on a Pi with apt's numpy only)."""
    folder, _ = images
    code = ("import sys, runpy; sys.modules['numba'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code, str(SCRIPT), str(FIXTURES / "int8_cnn.tflite"), "--image",
                        str(folder / "a.ppm"), "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = _json_lines(r.stdout)
    assert recs[0]["kernels"].startswith("numpy reference kernels (Numba not installed")
    assert len(recs[1]["top"]) == 5


class _FakePicamera2:
    frames_served = 0

    def __init__(self):
        self.config = None

    def create_preview_configuration(self, main):
        return {"main": main}

    def configure(self, config):
        self.config = config

    def start(self):
        pass

    def stop(self):
        pass

    def capture_array(self):
        w, h = self.config["main"]["size"]
        _FakePicamera2.frames_served += 1
        bgr = np.zeros((h, w, 3), np.uint8)
        bgr[..., 0] = 255  # blue in memory order B, G, R
        return bgr


def test_fake_picamera2_frames_are_flipped_to_rgb(app, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=_FakePicamera2))
    seen = []
    real = app.Classifier.preprocess
    monkeypatch.setattr(app.Classifier, "preprocess", lambda self, rgb: seen.append(rgb.copy()) or real(self, rgb))
    rc, out, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--frames", 2, "--json")
    assert rc == 0, err
    recs = _json_lines(out)
    assert [r["source"] for r in recs[1:-1]] == ["picamera2:1", "picamera2:2"]
    assert seen[0].shape == (32, 32, 3)  # asked the ISP for the model's size
    assert (seen[0][..., 2] == 255).all() and not seen[0][..., :2].any()  # blue ended up in RGB's B


def test_fake_opencv_camera(app, capsys, monkeypatch):
    class Cap:
        def __init__(self, index):
            self.index, self.n = index, 0

        def isOpened(self):
            return self.index == 1

        def read(self):
            self.n += 1
            return self.n <= 2, np.full((24, 30, 3), 9, np.uint8)

        def release(self):
            pass

    fake = types.SimpleNamespace(VideoCapture=Cap, resize=lambda img, size, interpolation: app.resize_numpy(img, size[1], size[0]),
                                 INTER_LINEAR=1)
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setitem(sys.modules, "cv2", fake)
    rc, out, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--camera-index", 1, "--frames", 2, "--json")
    assert rc == 0, err
    assert [r["source"] for r in _json_lines(out)[1:-1]] == ["camera1:1", "camera1:2"]
    rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--camera-index", 0)
    assert rc == 2 and "could not open camera 0" in err
    rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--camera-index", 1, "--frames", 5)
    assert rc == 2 and "stopped delivering frames" in err


def test_no_camera_library_is_a_clear_error(app, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite")
    assert rc == 2 and "no camera library" in err and "--image" in err


def test_gpu_delegate_absent_or_failing_is_a_clear_error(app, capsys, images, monkeypatch):
    folder, _ = images
    argv = (FIXTURES / "int8_cnn.tflite", "--image", folder, "--delegate", "gpu")
    if not hasattr(edgelite, "load_delegate"):
        rc, _, err = _run_main(app, capsys, *argv)
        assert rc == 2 and "has no delegates" in err

    def refuse(name, options=None):
        raise DelegateError("no Vulkan adapter")

    monkeypatch.setattr(edgelite, "load_delegate", refuse, raising=False)
    rc, _, err = _run_main(app, capsys, *argv)
    assert rc == 2 and err.strip() == "rpi_classify: error: --delegate gpu: no Vulkan adapter"


def test_labels_file_formats(app, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("cat\ndog\n\n")
    indexed = tmp_path / "indexed.txt"
    indexed.write_text("0 background\n3 tabby cat\n")
    assert app.load_labels(str(plain)) == {0: "cat", 1: "dog"}
    assert app.load_labels(str(indexed)) == {0: "background", 3: "tabby cat"}


@pytest.mark.parametrize("argv, message", [
    (["MISSING.tflite", "--image", "x"], "MISSING.tflite"),
    ([FIXTURES / "text_embedding.tflite", "--image", "x"], "expected one image input"),
    ([FIXTURES / "int8_cnn.tflite", "--image", "no/such/dir"], "no such file or folder"),
])
def test_bad_input_is_a_clear_error(app, capsys, argv, message):
    rc, _, err = _run_main(app, capsys, *argv)
    assert rc == 2 and message in err and err.startswith("rpi_classify: error:")


def test_corrupt_images_are_clear_errors(app, capsys, tmp_path):
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(b"P6\n4 4\n255\n" + b"\0" * 5)  # too short
    rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--image", bad)
    assert rc == 2 and "bad.ppm" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--image", empty)
    assert rc == 2 and "no images" in err
    if HAVE_PIL:
        junk = tmp_path / "junk.jpg"
        junk.write_bytes(b"not a jpeg")
        rc, _, err = _run_main(app, capsys, FIXTURES / "int8_cnn.tflite", "--image", junk)
        assert rc == 2 and "junk.jpg" in err


@pytest.mark.skipif(not HAVE_PIL, reason="Pillow not installed: PNG/JPEG files are not read (PPM and .npy are)")
def test_png_through_pillow(app, tmp_path):
    from PIL import Image

    img = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "x.png")
    np.testing.assert_array_equal(app.read_image(tmp_path / "x.png"), img)


def test_numpy_resize(app):
    img = np.zeros((2, 2, 3), np.uint8)
    img[:, 1] = 200
    up = app.resize_numpy(img, 4, 4)
    # half-pixel centres: output columns sit at -0.25, 0.25, 0.75, 1.25 (clamped) of the input
    assert up[0, :, 0].tolist() == [0, 50, 150, 200] and (up[:, :, 0] == up[0, :, 0]).all()
    const = np.full((7, 9, 3), 77, np.uint8)
    assert (app.resize_numpy(const, 5, 3) == 77).all()
