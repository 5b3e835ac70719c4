"""edgelite on numpy 1.24 (what Raspberry Pi OS ships) gives the results it gives on numpy 2.

    python tests/compat/numpy_compat.py save  OUT.npz     # in the main environment (numpy 2)
    python tests/compat/numpy_compat.py check OUT.npz     # in a numpy 1.24 environment

Runs every committed fixture through ``edgelite.Interpreter`` on fixed inputs (twice, so
both the first-invoke reference kernels and the JIT kernels run) and compares outputs.
``.ci/run`` does both steps, the second in a virtualenv with numpy 1.24.4.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import edgelite  # noqa: E402
from edgelite.errors import EdgeliteError  # noqa: E402


def _input(detail, rng):
    shape = [max(int(s), 1) for s in detail["shape"]]
    dt = detail["dtype"]
    if np.issubdtype(dt, np.floating):
        return rng.random(shape).astype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if np.issubdtype(dt, np.integer):
        if detail["quantization"][0] == 0:  # plain integers are indices: keep them valid
            return rng.integers(0, 2, shape).astype(dt)
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, endpoint=True).astype(dt)
    return np.array([b"ab"] * int(np.prod(shape)), dtype=object).reshape(shape)


def outputs() -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((ROOT / "tests" / "fixtures").glob("*.tflite")):
        try:
            it = edgelite.Interpreter(model_path=str(path))
            it.allocate_tensors()
            rng = np.random.default_rng(0)
            for d in it.get_input_details():
                it.set_tensor(d["index"], _input(d, rng))
            it.invoke()
            it.invoke()
            for k, d in enumerate(it.get_output_details()):
                value = it.get_tensor(d["index"])
                if value.dtype != object:
                    out[f"{path.name}:{k}"] = value
        except EdgeliteError as e:
            out[f"{path.name}:error"] = np.array(type(e).__name__)
    return out


def main() -> int:
    mode, file = sys.argv[1], sys.argv[2]
    got = outputs()
    if mode == "save":
        np.savez(file, **got)
        print(f"numpy {np.__version__}: saved {len(got)} outputs")
        return 0
    ref = np.load(file)
    bad = [k for k in ref.files if k not in got or ref[k].shape != got[k].shape
           or (ref[k].dtype.kind in "fc" and not np.allclose(ref[k], got[k], rtol=1e-5, atol=1e-6))
           or (ref[k].dtype.kind not in "fc" and not np.array_equal(ref[k], got[k]))]
    for k in bad:
        print(f"DIFF {k}")
    print(f"numpy {np.__version__} compatibility: {len(ref.files) - len(bad)} of {len(ref.files)} outputs equal")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
