"""Load and run ``.tflite`` files in LiteRT's default path (XNNPACK) in a child process.

XNNPACK refuses some quantization parameters when it builds its runtime, and LiteRT
can then abort the whole process (``free(): double free``) instead of raising. Every
int8 model the tests write goes through ``xnnpack_failures`` so that such a file fails
one test with the child's last words, not the test run.

One child handles many files: it prints ``BEGIN <k>`` before and ``OK <k>`` after each,
so a crash is pinned on one file and the files after it go to a fresh child.

Example:
    >>> from tests.litert_child import xnnpack_failures  # doctest: +SKIP
    >>> xnnpack_failures({"m": model_bytes})  # doctest: +SKIP
    {}
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

for k, path in enumerate(sys.argv[1:]):
    print("BEGIN", k, flush=True)
    try:
        it = Interpreter(model_path=path)  # default resolver: XNNPACK applied
        it.allocate_tensors()
        rng = np.random.default_rng(0)
        for d in it.get_input_details():
            dt = np.dtype(d["dtype"])
            if dt.kind == "f":
                v = rng.standard_normal(d["shape"]).astype(dt)
            else:
                info = np.iinfo(dt)
                v = rng.integers(info.min, int(info.max) + 1, d["shape"]).astype(dt)
            it.set_tensor(d["index"], v)
        it.invoke()
        for d in it.get_output_details():
            it.get_tensor(d["index"])
        print("OK", k, flush=True)
    except Exception as e:  # reported to the parent, which fails the test
        print("ERROR", k, type(e).__name__, str(e).replace("\n", " ")[:300], flush=True)
"""


def xnnpack_failures(models: dict[str, bytes], timeout: float = 300.0) -> dict[str, str]:
    """``{name: what went wrong}`` for the models LiteRT's default path cannot load and run.

    An empty dict means every model loaded, allocated and ran one invoke (random inputs).
    """
    names = list(models)
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, name in enumerate(names):
            p = os.path.join(tmp, f"m{k}.tflite")
            with open(p, "wb") as f:
                f.write(models[name])
            paths.append(p)
        todo = list(range(len(names)))
        while todo:
            r = subprocess.run([sys.executable, "-c", _CHILD] + [paths[k] for k in todo],
                               capture_output=True, text=True, timeout=timeout)
            done: set[int] = set()
            current = None
            for line in r.stdout.splitlines():
                parts = line.split(" ", 2)
                if len(parts) < 2 or not parts[1].isdigit():
                    continue
                k = todo[int(parts[1])]
                if parts[0] == "BEGIN":
                    current = k
                elif parts[0] == "OK":
                    done.add(k)
                    current = None
                elif parts[0] == "ERROR":
                    failures[names[k]] = parts[2] if len(parts) > 2 else "error"
                    done.add(k)
                    current = None
            if current is not None:  # the child died inside this model
                tail = " | ".join(r.stderr.strip().splitlines()[-3:])
                failures[names[current]] = f"LiteRT's process died (exit status {r.returncode}): {tail}"
                done.add(current)
            elif r.returncode != 0 and not done:
                raise RuntimeError(f"the LiteRT child failed before any model: {r.stderr[-500:]}")
            todo = [k for k in todo if k not in done]
    return failures


def assert_run_in_xnnpack(models: dict[str, bytes]) -> None:
    """Fail (with each model's error) unless LiteRT's default path runs every model."""
    failures = xnnpack_failures(models)
    assert not failures, "LiteRT (XNNPACK) refuses: " + "; ".join(f"{k}: {v}" for k, v in failures.items())
