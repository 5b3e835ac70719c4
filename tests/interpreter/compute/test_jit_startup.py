"""Start-up of the JIT kernels: a process whose kernels are all cached compiles nothing
and never runs Numba's full context refresh (nor imports SciPy through it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgelite.interpreter.compute.jit import HAVE_NUMBA
from tests.interpreter.test_perf_structure import _conv_relu_model, _run

CODE = """
    import json, sys
    import numpy as np
    import numba.core.base as base
    calls = []
    original = base.BaseContext.refresh
    def counting_refresh(self):
        calls.append(type(self).__name__)
        return original(self)
    base.BaseContext.refresh = counting_refresh
    from edgelite.interpreter import Interpreter
    it = Interpreter(model_path={model!r}, num_threads=1)
    it.allocate_tensors()
    x = np.linspace(-1, 1, 192, dtype=np.float32).reshape(1, 8, 8, 3)
    it.set_tensor(0, x)
    it.invoke()                       # reference kernels; Numba loads meanwhile
    first = it.get_tensor(it.get_output_details()[0]["index"])
    it.invoke()                       # JIT kernels, from the cache in a second process
    second = it.get_tensor(it.get_output_details()[0]["index"])
    from edgelite.interpreter.compute import jit
    print(json.dumps({{"refreshes": len(calls), "scipy": "scipy.linalg" in sys.modules,
                      "pool": jit._pool_started, "diff": float(np.abs(first - second).max())}}))
"""


@pytest.mark.skipif(not HAVE_NUMBA, reason="Numba not installed")
def test_cached_kernels_load_without_a_context_refresh(tmp_path):
    model = tmp_path / "m.tflite"
    _conv_relu_model(model)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    code = CODE.format(model=str(model))
    first = json.loads(_run(code, env))
    second = json.loads(_run(code, env))
    assert first["refreshes"] > 0, "the first process compiles, and compiling refreshes the contexts"
    assert second["refreshes"] == 0, second
    assert not second["scipy"], "scipy.linalg (about 0.3 s) is imported only by Numba's full refresh"
    assert not second["pool"], "one thread runs serial builds: no Numba thread pool"
    assert second["diff"] < 1e-5  # reference and JIT kernels agree
