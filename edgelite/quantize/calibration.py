"""Calibration data: from what users have to one ``{input_name: array}`` feed per sample.

Accepted sources (``load_calibration``):

* an iterable of arrays (one-input models) or of ``{input_name: array}`` dicts;
* one array (one-input models) or a dict of arrays, with a leading sample dimension;
* a ``.npy`` file (one-input models) or a ``.npz`` file (one array per input name);
* a folder of images (``.npy`` images always, ``.png``/``.jpg``/... with Pillow),
  resized to the model's input and normalised as ``(x * scale - mean) / std``.

Data comes in the source model's own layout. When a 4-D array arrives NCHW for an
NHWC model input (the converter makes image inputs NHWC), it is transposed and a
warning says so.

Example:
    >>> import numpy as np
    >>> feeds = load_calibration(np.zeros((3, 1, 4), np.float32), [("x", (1, 4), np.float32)])
    >>> len(feeds), feeds[0]["x"].shape
    (3, (1, 4))
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from edgelite.errors import QuantizationError, ShapeError

InputDesc = tuple  # (name, shape, dtype)
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm")


@dataclass
class ImageOptions:
    """How image files become model inputs: ``(pixels * scale - mean) / std``.

    Attributes:
        size: (height, width) to resize to; None takes the model input's.
        scale: multiplies raw pixel values first (1/255 maps 8-bit pixels to [0, 1]).
        mean: per-channel mean subtracted after scaling.
        std: per-channel standard deviation divided by last.
    """

    size: tuple[int, int] | None = None
    scale: float = 1.0 / 255.0
    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)


def load_calibration(
    source: Any,
    inputs: Sequence[InputDesc],
    *,
    max_samples: int | None = None,
    image_options: ImageOptions | None = None,
) -> list[dict[str, np.ndarray]]:
    """Turn ``source`` into a list of feeds, each shaped exactly as the model's inputs.

    Args:
        source: see the module docstring.
        inputs: the model's inputs as ``(name, shape, dtype)``.
        max_samples: keep at most this many samples (the first ones).
        image_options: normalisation for image folders.

    Raises:
        QuantizationError: no data, data that names unknown inputs, or NaN/Inf values.
        ShapeError: an array that fits no input shape.
    """
    if source is None:
        raise QuantizationError("calibration data is required for this mode (or give fixed_ranges)")
    names = [d[0] for d in inputs]
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            if len(inputs) != 1:
                raise QuantizationError("an image folder can calibrate one-input models only")
            source = _image_folder(path, inputs[0], image_options or ImageOptions())
        elif path.endswith(".npz"):
            with np.load(path) as z:
                source = {k: z[k] for k in z.files}
            if len(inputs) == 1 and names[0] not in source and len(source) == 1:
                source = next(iter(source.values()))
        elif path.endswith(".npy"):
            source = np.load(path)
        else:
            raise QuantizationError(f"calibration file {path!r}: use .npy, .npz or a folder of images")
    feeds: list[dict[str, np.ndarray]] = []
    warned: set[str] = set()
    for sample in _samples(source, names):
        per_input = {}
        for name, shape, dtype in inputs:
            if name not in sample:
                raise QuantizationError(f"calibration sample has no value for input {name!r} (has {sorted(sample)})")
            per_input[name] = _conform(sample[name], tuple(shape), np.dtype(dtype), name, warned)
        count = len(next(iter(per_input.values()))) if per_input else 0
        for k in range(count):
            feed = {n: v[k] for n, v in per_input.items()}
            _check_finite(feed, len(feeds))
            feeds.append(feed)
            if max_samples is not None and len(feeds) >= max_samples:
                return feeds
    if not feeds:
        raise QuantizationError("calibration data is empty")
    return feeds


def _check_finite(feed: dict[str, np.ndarray], sample: int) -> None:
    """NaN or Inf in calibration data would give NaN ranges (or none at all): refuse it, saying where."""
    for name, arr in feed.items():
        if arr.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            raise QuantizationError(
                f"calibration sample {sample}, input {name!r}: {int(bad.sum())} of {arr.size} values are not "
                f"finite ({n_nan} NaN, {int(bad.sum()) - n_nan} Inf); calibration data must be finite"
            )


def _samples(source: Any, names: Sequence[str]) -> Iterable[dict[str, Any]]:
    """Yield ``{name: array}`` items (each may still hold several samples)."""
    if isinstance(source, np.ndarray):
        if len(names) != 1:
            raise QuantizationError(f"a bare array calibrates one-input models only; this one has {list(names)}")
        yield {names[0]: source}
        return
    if isinstance(source, dict):
        unknown = set(source) - set(names)
        if unknown:
            raise QuantizationError(f"calibration data names unknown inputs {sorted(unknown)}; model has {list(names)}")
        yield source
        return
    for item in source:
        if isinstance(item, dict):
            yield item
        elif len(names) == 1:
            yield {names[0]: item}
        else:
            raise QuantizationError(f"model has inputs {list(names)}: give calibration samples as dicts")


def _conform(value: Any, shape: tuple[int, ...], dtype: np.dtype, name: str, warned: set[str]) -> list[np.ndarray]:
    """Split ``value`` into samples of exactly ``shape`` (adding or splitting the batch dim)."""
    arr = np.asarray(value)
    arr = arr.astype(dtype, copy=False)
    fitted = _fit(arr, shape)
    if fitted is None and arr.ndim in (3, 4) and len(shape) == 4:
        # NCHW data for an NHWC input: the converter made image inputs NHWC.
        perm = (0, 2, 3, 1) if arr.ndim == 4 else (1, 2, 0)
        fitted = _fit(np.ascontiguousarray(arr.transpose(perm)), shape)
        if fitted is not None and name not in warned:
            warned.add(name)
            warnings.warn(
                f"calibration data for input {name!r} has shape {arr.shape}, NCHW for the model's NHWC "
                f"input {shape}: transposed to NHWC",
                stacklevel=3,
            )
    if fitted is None:
        raise ShapeError(f"calibration data for input {name!r} has shape {arr.shape}; the model expects {shape}")
    return fitted


def _fit(arr: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    if arr.shape == shape:
        return [arr]
    if len(shape) >= 1 and arr.shape == shape[1:] and shape[0] == 1:
        return [arr[None]]
    if arr.ndim == len(shape) and len(shape) >= 1 and shape[0] == 1 and arr.shape[1:] == shape[1:]:
        return [arr[i : i + 1] for i in range(arr.shape[0])]
    if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
        return [arr[i] for i in range(arr.shape[0])]
    return None


def _image_folder(path: str, desc: InputDesc, opts: ImageOptions) -> list[np.ndarray]:
    name, shape, _ = desc
    if len(shape) != 4:
        raise ShapeError(f"input {name!r} has shape {shape}; images need a 4-D input")
    channels_first = shape[1] in (1, 3) and shape[3] not in (1, 3)
    h, w = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    if opts.size is not None:
        h, w = opts.size
    channels = shape[1] if channels_first else shape[3]
    files = sorted(f for f in os.listdir(path) if f.lower().endswith((".npy",) + _IMAGE_EXTS))
    if not files:
        raise QuantizationError(f"no .npy or image files in {path!r}")
    images = []
    for f in files:
        full = os.path.join(path, f)
        img = _read_image(full, h, w, channels)
        img = img * np.float32(opts.scale)
        img = (img - np.asarray(opts.mean, np.float32)) / np.asarray(opts.std, np.float32)
        if channels_first:
            img = img.transpose(2, 0, 1)
        images.append(np.ascontiguousarray(img, np.float32)[None])
    return images


def _read_image(path: str, h: int, w: int, channels: int) -> np.ndarray:
    """An (h, w, channels) float32 image."""
    if path.lower().endswith(".npy"):
        img = np.load(path).astype(np.float32)
        if img.ndim == 2:
            img = img[:, :, None]
        if img.shape[:2] != (h, w):
            # Nearest-neighbour resize without an imaging library.
            rows = (np.arange(h) * img.shape[0]) // h
            cols = (np.arange(w) * img.shape[1]) // w
            img = img[rows][:, cols]
    else:
        try:
            from PIL import Image  # noqa: PLC0415 (optional dependency)
        except ImportError as e:
            raise QuantizationError(f"reading {path!r} needs Pillow (pip install pillow), or use .npy images") from e
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB").resize((w, h), Image.BILINEAR)
            img = np.asarray(im, np.float32)
        if img.ndim == 2:
            img = img[:, :, None]
    if img.shape[2] != channels:
        if img.shape[2] == 1:
            img = np.repeat(img, channels, axis=2)
        else:
            raise ShapeError(f"image {path!r} has {img.shape[2]} channels; the model wants {channels}")
    return img
