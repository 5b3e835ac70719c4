"""Write full-size real models into ``models/`` (gitignored) for benchmarks and slow tests.

MobileNetV1, MobileNetV2 (224x224), EfficientNet-B0 and ResNet50 from
``keras.applications`` with ``weights=None`` (nothing is downloaded; seeds are fixed),
each converted by the official ``tf.lite.TFLiteConverter`` to float32, int8 (full
integer, float I/O), dynamic-range and float16. Needs TensorFlow, which edgelite never
depends on, so run it from a separate virtualenv::

    python3.11 -m venv /opt/tfenv && /opt/tfenv/bin/pip install tensorflow
    /opt/tfenv/bin/python benchmarks/make_real_models.py            # skips existing files
    /opt/tfenv/bin/python benchmarks/make_real_models.py --only resnet50_224 --force

``models/tflite_models.json`` records inputs, outputs and op lists in the same format as
``tests/fixtures/MANIFEST.json``; ``tests.fixtures.catalog.real_models()`` lists the files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "fixtures"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen.convert import (calibration_images, convert, describe, keras_source,  # noqa: E402
                           randomize_keras_weights, run_tf_interpreter, sharpen_softmax)

MODES = ("float32", "int8", "dynamic", "float16")
CALIBRATION_SAMPLES = 16

# name -> (builder, input value range the network expects)
ARCHS = {
    "mobilenet_v1_224": (lambda inp: keras.applications.MobileNet(
        input_tensor=inp, weights=None, classes=1000), (-1.0, 1.0)),
    "mobilenet_v2_224": (lambda inp: keras.applications.MobileNetV2(
        input_tensor=inp, weights=None, classes=1000), (-1.0, 1.0)),
    # EfficientNet rescales 0..255 pixels itself (Rescaling + Normalization layers).
    "efficientnet_b0_224": (lambda inp: keras.applications.EfficientNetB0(
        input_tensor=inp, weights=None, classes=1000), (0.0, 255.0)),
    "resnet50_224": (lambda inp: keras.applications.ResNet50(
        input_tensor=inp, weights=None, classes=1000), (-1.0, 1.0)),
}


def build(name: str, seed: int):
    """The Keras model for ``name`` with seeded weights, randomized BN and a peaked softmax."""
    builder, (low, high) = ARCHS[name]
    keras.utils.set_random_seed(seed)
    model = builder(keras.Input((224, 224, 3), batch_size=1, name="image"))
    randomize_keras_weights(model, seed)
    sharpen_softmax(model, calibration_images((1, 224, 224, 3), 2, seed + 1, low, high))
    return model, calibration_images((1, 224, 224, 3), CALIBRATION_SAMPLES, seed + 2, low, high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "models")
    parser.add_argument("--only", action="append", default=[], choices=sorted(ARCHS))
    parser.add_argument("--mode", action="append", default=[], choices=MODES)
    parser.add_argument("--force", action="store_true", help="rewrite existing files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "tflite_models.json"  # models/ is shared with other generators
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    manifest["generator"] = "benchmarks/make_real_models.py"

    for seed, name in enumerate(sorted(ARCHS), start=100):
        if args.only and name not in args.only:
            continue
        modes = [m for m in MODES if not args.mode or m in args.mode]
        todo = [m for m in modes if args.force or not (args.out / f"{name}_{m}.tflite").exists()]
        if not todo:
            continue
        model, calibration = build(name, seed)
        for mode in todo:
            start = time.perf_counter()
            data, settings = convert(keras_source(model), mode, calibration)
            sample = next(iter(calibration()))
            outputs = run_tf_interpreter(data, sample)
            if not all(np.all(np.isfinite(o)) for o in outputs):
                raise RuntimeError(f"{name} {mode}: non-finite output in TF's interpreter")
            path = args.out / f"{name}_{mode}.tflite"
            path.write_bytes(data)
            entry = {"file": path.name, "arch": name, "seed": seed,
                     "input_range": list(ARCHS[name][1]),
                     "made_with": {"tensorflow": tf.__version__, "keras": keras.__version__,
                                   **settings}}
            entry.update(describe(data))
            entry.pop("main_op_sequence")  # hundreds of entries; op_counts says enough
            manifest["models"][path.stem] = entry
            manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            sys.stdout.write(f"{path.name:36s} {len(data) / 1e6:8.2f} MB  "
                             f"({time.perf_counter() - start:.0f} s)\n")
            sys.stdout.flush()
    for path in sorted(args.out.glob("*.tflite")):
        sys.stdout.write(f"{path.stat().st_size / 1e6:8.2f} MB  {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
