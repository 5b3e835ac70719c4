"""GPU delegate fixtures: a delegate on the WebGPU default limits, or a skip saying why.

Set ``EDGELITE_REQUIRE_GPU=1`` (``.ci/run`` does, after installing Mesa's lavapipe and
wgpu) to turn "no wgpu / no adapter" into a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os

import pytest

from edgelite.errors import DelegateError


def make_gpu(**options):
    """``load_delegate("gpu", ...)`` with WebGPU's default limits; skip (or fail in CI) if impossible."""
    import edgelite

    opts = {"limits": "default", "max_delegated_partitions": 0}
    opts.update(options)
    try:
        return edgelite.load_delegate("gpu", opts)
    except DelegateError as e:
        if os.environ.get("EDGELITE_REQUIRE_GPU") == "1":
            pytest.fail(f"EDGELITE_REQUIRE_GPU=1 but the GPU delegate cannot run: {e}")
        pytest.skip(f"GPU delegate unavailable here: {e}")


@pytest.fixture
def gpu():
    return make_gpu


@pytest.fixture
def gpu_f16():
    d = make_gpu(is_precision_loss_allowed=1)
    if not d.fp16:
        pytest.skip(f"the adapter {d.gpu.adapter_name} has no shader-f16: fp16 tests not run")
    return d
