"""Calibration data loading (every accepted form), layout fix-up, and the runner."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import QuantizationError, ShapeError
from edgelite.quantize.calibration import ImageOptions, load_calibration

ONE = [("x", (1, 4, 4, 3), np.float32)]
TWO = [("a", (1, 2), np.float32), ("b", (1, 3), np.float32)]


def test_forms_of_one_input_data(tmp_path):
    arr = np.arange(5 * 4 * 4 * 3, dtype=np.float32).reshape(5, 4, 4, 3)
    want = [a[None] for a in arr]
    np.save(tmp_path / "d.npy", arr)
    np.savez(tmp_path / "d.npz", whatever=arr)
    sources = [arr, list(arr), [a[None] for a in arr], ({"x": a} for a in arr), str(tmp_path / "d.npy"),
               tmp_path / "d.npz", {"x": arr}]
    for src in sources:
        feeds = load_calibration(src, ONE)
        assert len(feeds) == 5
        for f, w in zip(feeds, want):
            np.testing.assert_array_equal(f["x"], w)


def test_two_inputs_from_dicts_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(3, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", a=a, b=b)
    for src in ({"a": a, "b": b}, tmp_path / "d.npz", [{"a": a[k], "b": b[k]} for k in range(3)]):
        feeds = load_calibration(src, TWO)
        assert len(feeds) == 3 and feeds[2]["b"].shape == (1, 3)
        np.testing.assert_array_equal(feeds[1]["a"][0], a[1])
    with pytest.raises(QuantizationError, match="dicts"):
        load_calibration([a[0]], TWO)
    with pytest.raises(QuantizationError, match="unknown inputs"):
        load_calibration({"a": a, "c": b}, TWO)
    with pytest.raises(QuantizationError, match="no value for input 'b'"):
        load_calibration([{"a": a[0]}], TWO)


def test_nchw_data_is_transposed_with_warning():
    nchw = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="NCHW"):
        feeds = load_calibration(nchw, ONE)
    np.testing.assert_array_equal(feeds[1]["x"][0], nchw[1].transpose(1, 2, 0))


def test_bad_shape_and_empty():
    with pytest.raises(ShapeError, match="expects"):
        load_calibration(np.zeros((2, 5, 5, 3), np.float32), ONE)
    with pytest.raises(QuantizationError, match="empty"):
        load_calibration([], ONE)
    with pytest.raises(QuantizationError, match="required"):
        load_calibration(None, ONE)


def test_max_samples():
    assert len(load_calibration(np.zeros((10, 4, 4, 3), np.float32), ONE, max_samples=3)) == 3


def test_image_folder_of_npy(tmp_path):
    for k in range(3):
        np.save(tmp_path / f"img{k}.npy", np.full((8, 8, 3), 255.0 * k / 2, np.float32))
    (tmp_path / "notes.txt").write_text("ignored")
    feeds = load_calibration(tmp_path, ONE, image_options=ImageOptions(mean=(0.5,), std=(0.5,)))
    assert len(feeds) == 3 and feeds[0]["x"].shape == (1, 4, 4, 3)  # resized 8x8 -> 4x4
    assert feeds[0]["x"].min() == -1.0 and feeds[2]["x"].max() == 1.0


def test_image_folder_with_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(np.full((10, 12, 3), 255, np.uint8)).save(tmp_path / "a.png")
    feeds = load_calibration(tmp_path, ONE)
    assert feeds[0]["x"].shape == (1, 4, 4, 3)
    np.testing.assert_allclose(feeds[0]["x"], 1.0)


def test_runner_prefers_edgelite_then_litert():
    from edgelite.quantize.runner import make_runner
    from tests.quantize.models import small_cnn

    pytest.importorskip("ai_edge_litert")
    r = make_runner(small_cnn(), collect=[0], backend="auto")
    assert r.backend in ("edgelite", "litert")
    x = np.ones((1, 16, 16, 3), np.float32)
    np.testing.assert_array_equal(r.run({"image": x})[0], x)
    with pytest.raises(ShapeError):
        r.run({"image": np.ones((1, 8, 8, 3), np.float32)})
    with pytest.raises(QuantizationError, match="no data"):
        r.run({})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_calibration_data_names_the_sample_and_input(bad):
    data = {"a": np.zeros((3, 1, 4), np.float32), "b": np.ones((3, 1, 2), np.float32)}
    data["b"][2, 0, 1] = bad
    inputs = [("a", (1, 4), np.float32), ("b", (1, 2), np.float32)]
    with pytest.raises(QuantizationError, match="calibration sample 2, input 'b': 1 of 2 values are not finite"):
        load_calibration(data, inputs)
    with pytest.raises(QuantizationError, match="sample 0, input 'a'"):
        load_calibration(np.full((2, 1, 4), np.nan, np.float32), inputs[:1])
