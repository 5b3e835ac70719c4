"""Quantized FULLY_CONNECTED: hand-checked case, then bit-exact differential tests
against LiteRT (int8 per-tensor/per-channel, keep_num_dims, uint8, 16x8), reference and JIT."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, run_edgelite
from tests.interpreter.kernels.qspecs import act_quant, bias_for, random_input, weights

from edgelite.interpreter.kernels.matmul.fully_connected_quant import FullyConnectedQuant, FullyConnectedQuant16x8, FullyConnectedQuantUInt8
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def fc_opts(act=0, keep=False):
    o = FullyConnectedOptionsT()
    o.fusedActivationFunction, o.keepNumDims = act, keep
    return o


def test_hand_checked():
    # x - zp = (1, 2, 3); w rows (1, 1, 1) and (0, -1, 2); multiplier 0.5 (scales 1, 0.5, 1)
    # acc = (6, 4) + bias (2, -3) = (8, 1) -> *0.5 = (4, 0.5 -> 1 (half up)) ; out zp -1 -> (3, 0)
    spec = Spec(
        "FULLY_CONNECTED",
        [
            TSpec((1, 3), np.int8, (1.0, 5)),
            TSpec((2, 3), np.int8, (0.5, 0), np.array([[1, 1, 1], [0, -1, 2]]), True),
            TSpec((2,), np.int32, (0.5, 0), np.array([2, -3]), True),
        ],
        [TSpec((1, 2), np.int8, (1.0, -1))],
        fc_opts(),
        version=4,
    )
    x = np.array([[6, 7, 8]], np.int8)
    assert run_edgelite(spec, [x], kernel_type=FullyConnectedQuant)[0].tolist() == [[3, 0]]
    assert run_edgelite(spec, [x], use_jit=True)[0].tolist() == [[3, 0]]
    check(spec, [x])


def _fc_case(rng, dtype, wdtype, bdtype, lead, k, n, act, per_channel, keep):
    xq, oq = act_quant(rng, dtype), act_quant(rng, dtype)
    wt, wq = weights(rng, (n, k), wdtype, n, 0, per_channel)
    in_shape = tuple(lead) + (k,)
    m = int(np.prod(lead))
    out_shape = tuple(lead) + (n,) if keep else (m, n)
    # 16x8: accumulators stay within int32 (see the module's known gap)
    span = 30000 if bdtype == np.int32 else 1 << 28
    spec = Spec(
        "FULLY_CONNECTED",
        [TSpec(in_shape, dtype, xq), TSpec(wt.shape, wdtype, wq, wt, True), bias_for(rng, xq[0], wq, n, bdtype, span)],
        [TSpec(out_shape, dtype, oq)],
        fc_opts(act, keep),
        version={np.int8: 4, np.uint8: 1, np.int16: 7}[dtype],
    )
    return spec, [random_input(rng, in_shape, dtype)]


shapes = st.tuples(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(1, 80), st.integers(1, 40), st.sampled_from([0, 1, 2, 3]))


@settings(max_examples=30, **SETTINGS)
@given(shapes, st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_matches_litert(sh, per_channel, keep, seed):
    lead, k, n, act = sh
    spec, feeds = _fc_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, lead, k, n, act, per_channel, keep)
    check(spec, feeds, jit=True)


@settings(max_examples=15, **SETTINGS)
@given(shapes, st.booleans(), st.integers(0, 2**32 - 1))
def test_int8_without_vnni_matches_litert(sh, per_channel, seed):
    """The GEMV / float-BLAS paths of CPUs without AVX-512 VNNI, forced here."""
    from edgelite.interpreter.compute import simd_gemm

    saved = simd_gemm._available
    simd_gemm._available = False
    try:
        lead, k, n, act = sh
        spec, feeds = _fc_case(np.random.default_rng(seed), np.int8, np.int8, np.int32, lead, k, n, act, per_channel, False)
        check(spec, feeds, jit=True)
    finally:
        simd_gemm._available = saved


@settings(max_examples=15, **SETTINGS)
@given(shapes, st.integers(0, 2**32 - 1))
def test_uint8_matches_litert(sh, seed):
    lead, k, n, act = sh
    spec, feeds = _fc_case(np.random.default_rng(seed), np.uint8, np.uint8, np.int32, lead, k, n, act, False, False)
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=FullyConnectedQuantUInt8)


@settings(max_examples=15, **SETTINGS)
@given(shapes, st.booleans(), st.integers(0, 2**32 - 1))
def test_16x8_matches_litert(sh, per_channel, seed):
    lead, k, n, act = sh
    spec, feeds = _fc_case(np.random.default_rng(seed), np.int16, np.int8, np.int64, lead, k, n, act, per_channel, False)
    check(spec, feeds, jit=True)
    run_edgelite(spec, feeds, kernel_type=FullyConnectedQuant16x8)


def test_16x8_rounding_form():
    # power-of-two multiplier 2**-5: exact ties are frequent; the 16x8 FC rounds once
    rng = np.random.default_rng(8)
    spec, feeds = _fc_case(rng, np.int16, np.int8, np.int64, [32], 16, 24, 0, False, False)
    spec.inputs[0].quant = (np.float32(0.5), 0)
    spec.inputs[1].quant = (np.float32(2.0**-4), 0)
    spec.inputs[2].quant = (np.float32(2.0**-5), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    spec.inputs[1].data = rng.integers(-2, 3, spec.inputs[1].shape).astype(np.int8)
    feeds = [rng.integers(-3000, 3000, (32, 16)).astype(np.int16)]
    check(spec, feeds, jit=True)


def test_classifier_head_and_ties():
    rng = np.random.default_rng(3)
    spec, feeds = _fc_case(rng, np.int8, np.int8, np.int32, [1], 1280, 1000, 0, False, False)
    check(spec, feeds, jit=True)
    # power-of-two scales: exact halves decide many outputs (pins the rounding form)
    spec, feeds = _fc_case(rng, np.int8, np.int8, np.int32, [16], 24, 32, 0, False, False)
    spec.inputs[0].quant = (np.float32(0.5), 3)
    spec.inputs[1].quant = (np.float32(2.0**-4), 0)
    spec.inputs[2].quant = (np.float32(2.0**-5), 0)
    spec.outputs[0].quant = (np.float32(1.0), 0)
    spec.inputs[1].data = rng.integers(-2, 3, spec.inputs[1].shape).astype(np.int8)
    check(spec, feeds, jit=True)
