"""The fixtures' calibration data, regenerated without TensorFlow.

Same generator, seeds and counts as ``tests/fixtures/tfgen/convert.py::calibration_images``
and ``make_fixtures.py`` (small CNN: seed 101; real architectures: seed 103; 32
samples), so edgelite's quantizer and TFLite's see identical representative data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# float fixture -> (TFLite's int8 twin, calibration seed)
TWINS = {
    "float32_cnn": ("int8_cnn", 101),
    "mobilenet_v1_025_96_float32": ("mobilenet_v1_025_96_int8", 103),
    "resnet_small_64_float32": ("resnet_small_64_int8", 103),
    "efficientnet_small_96_float32": ("efficientnet_small_96_int8", 103),
    "unet_small_64_float32": ("unet_small_64_int8", 103),
}


def calibration_images(shape, count: int = 32, seed: int = 0, low: float = -1.0, high: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    samples = []
    for _ in range(count):
        coarse = rng.normal(0.0, 1.0, (n, max(h // 8, 1), max(w // 8, 1), c))
        img = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :h, :w, :]
        gy, gx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
        img = img * 0.5 + (gy * rng.normal() + gx * rng.normal())[None, :, :, None] * 0.5
        img = img + rng.normal(0.0, 0.1, img.shape)
        img = np.tanh(img)
        samples.append((low + (img + 1.0) * 0.5 * (high - low)).astype(np.float32))
    return samples


def fixture_bytes(name: str) -> bytes | None:
    path = FIXTURES / f"{name}.tflite"
    return path.read_bytes() if path.exists() else None
