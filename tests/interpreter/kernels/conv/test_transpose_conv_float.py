"""Float TRANSPOSE_CONV: hand case, LiteRT differential, properties vs a scatter loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interpreter.kernels.float_harness import (
    Spec, TSpec, assert_bit_identical, assert_close, check_float, f32, naive_transpose_conv, run_edgelite, run_litert,
)
from edgelite.schema.fb.TransposeConvOptions import TransposeConvOptionsT


def tconv_spec(out_shape, w, x_shape, b, s, same, act=0, const_shape=True):
    o = TransposeConvOptionsT()
    o.padding = 0 if same else 1
    o.strideH, o.strideW = s
    o.fusedActivationFunction = act
    shape = np.array(out_shape, np.int32)
    ins = [TSpec((4,), np.int32, data=shape if const_shape else None, const=const_shape),
           TSpec(w.shape, np.float32, data=w, const=True), TSpec(x_shape, np.float32)]
    if b is not None:
        ins.append(TSpec(b.shape, np.float32, data=b, const=True))
    return Spec("TRANSPOSE_CONV", ins, [TSpec(tuple(out_shape), np.float32)], options=o, version=4 if act else 3)


@pytest.mark.parametrize("jit", [False, True])
def test_tconv_hand_case_stride2_overlap(jit):
    # 1-D in effect: input [1, 2] along W, filter [1, 1, 1] (kw=3), stride 2, VALID -> width 5
    x = np.array([1.0, 2.0], np.float32).reshape(1, 1, 2, 1)
    w = np.ones((1, 1, 3, 1), np.float32)
    spec = tconv_spec((1, 1, 5, 1), w, x.shape, None, (1, 2), same=False)
    out = run_edgelite(spec, [x], use_jit=jit)[0]
    assert out.ravel().tolist() == [1.0, 1.0, 3.0, 2.0, 2.0]  # windows overlap at index 2


@pytest.mark.parametrize("out_hw,k,cin,cout,s,same,act,bias", [
    ((8, 8), (3, 3), 4, 5, (2, 2), True, 0, True),
    ((9, 9), (3, 3), 4, 5, (2, 2), False, 0, True),
    ((7, 10), (2, 4), 3, 2, (1, 3), True, 3, True),
    ((6, 6), (4, 4), 2, 3, (2, 2), True, 1, False),
    ((5, 5), (1, 1), 3, 3, (1, 1), False, 0, True),
])
def test_tconv_matches_litert(out_hw, k, cin, cout, s, same, act, bias):
    rng = np.random.default_rng(out_hw[0] * 7 + k[1])
    in_h = -(-out_hw[0] // s[0]) if same else (out_hw[0] - k[0]) // s[0] + 1
    in_w = -(-out_hw[1] // s[1]) if same else (out_hw[1] - k[1]) // s[1] + 1
    x_shape = (1, in_h, in_w, cin)
    w = f32(rng, (cout,) + k + (cin,))
    b = f32(rng, (cout,)) if bias else None
    spec = tconv_spec((1,) + out_hw + (cout,), w, x_shape, b, s, same, act)
    x = f32(rng, x_shape)
    check_float(spec, [x])
    assert_close(run_edgelite(spec, [x])[0], naive_transpose_conv(x, w, b, out_hw, s, same, act))


def test_tconv_dynamic_output_shape():
    rng = np.random.default_rng(14)
    w, x = f32(rng, (3, 3, 3, 2)), f32(rng, (1, 4, 4, 2))
    spec = tconv_spec((1, 8, 8, 3), w, x.shape, f32(rng, (3,)), (2, 2), True, const_shape=False)
    from tests.interpreter.kernels.quant_harness import make_context
    from edgelite.interpreter.kernels.base import select_kernel

    ctx = make_context(spec)
    k = select_kernel(ctx)
    p = k.prepare(ctx)
    assert 0 in ctx.dynamic_outputs
    shape = np.array([1, 8, 8, 3], np.int32)
    want = run_litert(spec, [shape, x])[0]
    for fn in (k.eval, k.eval_jit):
        assert_close(fn(p, [shape, w, x, spec.inputs[3].data], [None])[0], want)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 5), w=st.integers(1, 5), cin=st.integers(1, 3), cout=st.integers(1, 3),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       same=st.booleans(), act=st.sampled_from([0, 1, 3]), extra=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_tconv_property_vs_naive(h, w, cin, cout, kh, kw, sh, sw, same, act, extra, seed):
    # An output size whose forward conv gives back the input size.
    oh = h * sh - (sh - 1 if same else 0) if same else (h - 1) * sh + kh
    ow = w * sw - (sw - 1 if same else 0) if same else (w - 1) * sw + kw
    oh, ow = oh + (extra if same and sh > 1 else 0), ow
    rng = np.random.default_rng(seed)
    x, wt, b = f32(rng, (1, h, w, cin)), f32(rng, (cout, kh, kw, cin)), f32(rng, (cout,))
    spec = tconv_spec((1, oh, ow, cout), wt, x.shape, b, (sh, sw), same, act)
    want = naive_transpose_conv(x, wt, b, (oh, ow), (sh, sw), same, act)
    got = run_edgelite(spec, [x])[0]
    assert_close(got, want, "eval vs naive")
    assert_bit_identical(run_edgelite(spec, [x], use_jit=True)[0], got, "eval_jit vs eval")
    if seed % 4 == 0:
        check_float(spec, [x])
