"""Shared helpers of the NNAPI delegate tests (the double, running models both ways)."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import edgelite
from tests.delegates import nnapi_double
from tests.fixtures import catalog
from tests.interpreter.model_inputs import random_inputs


def double_path(feature_level: int = 31) -> str:
    """The built NNAPI test double (reset), or a skip saying why it cannot be built.

    Collects garbage first, so that earlier tests' interpreters free their NNAPI objects
    and the double's live-object counts start from zero.
    """
    gc.collect()
    try:
        return nnapi_double.prepare(feature_level)
    except nnapi_double.DoubleUnavailable as e:
        if os.environ.get("EDGELITE_REQUIRE_NNAPI_DOUBLE") == "1":
            pytest.fail(f"EDGELITE_REQUIRE_NNAPI_DOUBLE=1 but the NNAPI test double cannot be built: {e}")
        pytest.skip(f"NNAPI test double unavailable: {e}")


def run_both(model: bytes, delegate, seed: int = 0, invokes: int = 1):
    """(CPU outputs, delegated outputs, delegated interpreter) for the same random inputs."""
    cpu = edgelite.Interpreter(model_content=model)
    cpu.allocate_tensors()
    it = edgelite.Interpreter(model_content=model, experimental_delegates=[delegate])
    it.allocate_tensors()
    xs = random_inputs(cpu.get_input_details(), seed)
    for d, x in zip(cpu.get_input_details(), xs):
        cpu.set_tensor(d["index"], x)
        it.set_tensor(d["index"], x)
    cpu.invoke()
    for _ in range(invokes):
        it.invoke()
    ref = [cpu.get_tensor(d["index"]) for d in cpu.get_output_details()]
    got = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    return ref, got, it


def rel_diff(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Largest |difference| over the largest |reference value|, across outputs."""
    worst = 0.0
    for a, b in zip(ref, got):
        a = a.astype(np.float64)
        worst = max(worst, float(np.abs(a - b.astype(np.float64)).max() / max(np.abs(a).max(), 1e-30)))
    return worst


def fixture_bytes(name: str) -> bytes:
    return catalog.fixture(name).read_bytes()
