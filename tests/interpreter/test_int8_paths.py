"""Every int8 fixture on each kernel path, every intermediate tensor against LiteRT bit for bit.

``test_intermediates`` compares whichever path a process happens to run (the first invoke
of a process runs the reference kernels, later ones the JIT kernels); here each path is
pinned: ``reference`` (the numpy kernels, ``OpResolverType.BUILTIN_REF``: what runs
without Numba, e.g. on a Raspberry Pi with apt's numpy only) and ``jit`` (Numba, with the
int8 GEMM flavour this CPU has: AVX-512 VNNI or AVX2 on x86, dot product or NEON on
AArch64). ``tests/arm64/run.sh`` runs this file under emulation on a Cortex-A76 and a
Cortex-A72 against LiteRT's aarch64 build and sets ``EDGELITE_EXPECT_INT8_GEMM`` to the
flavour that core must choose.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.fixtures.catalog import fixtures

litert = pytest.importorskip("ai_edge_litert.interpreter")

import edgelite  # noqa: E402
from edgelite.interpreter import OpResolverType  # noqa: E402
from edgelite.interpreter.compute import jit, simd_gemm  # noqa: E402
from tests.interpreter.model_inputs import random_inputs  # noqa: E402

# On ARM (tests/arm64/run.sh) the comparison is with LiteRT's aarch64 build, whose CONV_2D and
# FULLY_CONNECTED round differently from its x86 build (and its one-column int8 products, a
# GEMV, as x86 does); edgelite follows the build of the machine it runs on
# (compute/platform_rounding.py), so the comparison is exact on both.
INT8 = sorted({f.path for f in fixtures("int8")})


def _run(it, inputs):
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()


def _interp(path, kernels):
    if kernels == "jit":
        if not jit.HAVE_NUMBA:
            pytest.skip("Numba is not installed: only the reference kernels run here")
        jit.wait_until_warm()  # so that this invoke runs the JIT kernels, not the first-invoke reference
        ours = edgelite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        assert ours.uses_jit
        return ours
    ours = edgelite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    assert not ours.uses_jit
    return ours


@pytest.mark.parametrize("path", INT8, ids=[p.stem for p in INT8])
def test_jit_equals_reference(path):
    """The JIT kernels (with this CPU's int8 GEMM flavour) and the numpy reference agree on
    every integer tensor, bit for bit, with no oracle in between."""
    ref, ours = _interp(path, "reference"), _interp(path, "jit")
    inputs = random_inputs(ref.get_input_details(), 2)
    _run(ref, inputs)
    _run(ours, inputs)
    for d in ref.get_tensor_details():
        t = d["index"]
        try:
            want = ref.get_tensor(t)
        except ValueError:  # no data (e.g. an optional input)
            continue
        got = ours.get_tensor(t)
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(got, want, err_msg=f"tensor {t} ({d['name']})")


@pytest.mark.parametrize("kernels", ["reference", "jit"])
@pytest.mark.parametrize("path", INT8, ids=[p.stem for p in INT8])
def test_int8_fixture_equals_litert_on_each_path(path, kernels):
    ours = _interp(path, kernels)
    ref = litert.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    inputs = random_inputs(ref.get_input_details(), 1)
    _run(ref, inputs)
    _run(ours, inputs)
    compared = 0
    for op in ref._get_ops_details():
        for t in op["outputs"]:
            want, got = ref.get_tensor(t), ours.get_tensor(t)
            where = f"{kernels}: tensor {t}, output of {op['op_name']} #{op['index']}"
            assert got.dtype == want.dtype and got.shape == want.shape, where
            if np.issubdtype(want.dtype, np.floating):  # the float edges (QUANTIZE in, DEQUANTIZE out)
                scale = max(float(np.max(np.abs(want))), 1e-30)
                assert float(np.max(np.abs(got - want))) / scale <= 1e-6, where
            else:
                np.testing.assert_array_equal(got, want, err_msg=where)
            compared += 1
    assert compared > 0


def test_expected_int8_gemm_flavour():
    """Under ``tests/arm64/run.sh``: the core chose the flavour it should (``dotprod`` on
    the Cortex-A76, ``neon`` on the Cortex-A72), so the JIT runs above went through it."""
    want = os.environ.get("EDGELITE_EXPECT_INT8_GEMM")
    if not want:
        pytest.skip("EDGELITE_EXPECT_INT8_GEMM not set (tests/arm64/run.sh sets it per emulated core)")
    assert simd_gemm.flavour() == want, f"CPU features {sorted(_arm_features())}"


def _arm_features():
    from edgelite.interpreter.compute import gemm_arm

    return gemm_arm.cpu_features()
