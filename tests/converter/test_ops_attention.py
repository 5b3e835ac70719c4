"""Attention (opset 23) and RotaryEmbedding: LiteRT and edgelite vs onnx.reference over
3-D/4-D inputs, grouped-query heads, masks, causal, past/present KV, softcap and the
qk_matmul_output modes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

F32 = np.float32
rng = np.random.default_rng(5)


def _rand(*shape):
    return rng.standard_normal(shape).astype(F32)


def _attention(q, k, v, mask=None, past=None, outputs=("y",), **attrs):
    names = ["q", "k", "v", "mask" if mask is not None else ""]
    feeds = {"q": q, "k": k, "v": v}
    inputs = [("q", F32, list(q.shape)), ("k", F32, list(k.shape)), ("v", F32, list(v.shape))]
    if mask is not None:
        feeds["mask"] = mask
        inputs.append(("mask", mask.dtype.type, list(mask.shape)))
    if past is not None:
        names += ["pk", "pv"]
        feeds["pk"], feeds["pv"] = past
        inputs += [("pk", F32, list(past[0].shape)), ("pv", F32, list(past[1].shape))]
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("Attention", names, list(outputs), **attrs)
    m = make_model([node], inputs, [(o, F32, None) for o in outputs if o], opset=23)
    return m, feeds


def test_4d_plain_matches_numpy():
    q, k, v = _rand(1, 2, 3, 4), _rand(1, 2, 5, 4), _rand(1, 2, 5, 6)
    m, feeds = _attention(q, k, v)
    s = q @ k.transpose(0, 1, 3, 2) / 2.0
    p = np.exp(s - s.max(-1, keepdims=True))
    want = (p / p.sum(-1, keepdims=True)) @ v
    import edgelite
    from tests.converter.helpers import run_tflite

    got = run_tflite(edgelite.convert(m), feeds, "edgelite")[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [0, 1])
@pytest.mark.parametrize("heads", [(4, 4), (4, 2)])
def test_3d_heads(causal, heads):
    hq, hkv = heads
    q, k, v = _rand(2, 3, hq * 4), _rand(2, 5, hkv * 4), _rand(2, 5, hkv * 3)
    m, feeds = _attention(q, k, v, q_num_heads=hq, kv_num_heads=hkv, is_causal=causal)
    check_both(m, feeds, oracle="reference")


@pytest.mark.parametrize("mask_kind", ["bool", "float", "short"])
def test_4d_masks(mask_kind):
    q, k, v = _rand(2, 2, 3, 4), _rand(2, 2, 5, 4), _rand(2, 2, 5, 4)
    if mask_kind == "bool":
        mask = rng.random((2, 1, 3, 5)) > 0.3
        mask[..., 0] = True
    elif mask_kind == "float":
        mask = _rand(3, 5)
    else:  # shorter than the key length: padded with -inf
        mask = _rand(2, 3, 4)
    m, feeds = _attention(q, k, v, mask=mask)
    check_both(m, feeds, oracle="reference")


def test_fully_masked_rows_give_zero():
    q, k, v = _rand(1, 1, 3, 4), _rand(1, 1, 4, 4), _rand(1, 1, 4, 4)
    mask = np.ones((3, 4), bool)
    mask[1] = False
    m, feeds = _attention(q, k, v, mask=mask)
    check_both(m, feeds, oracle="reference")


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_past_present_and_qk_output(mode):
    q, k, v = _rand(1, 2, 3, 4), _rand(1, 2, 2, 4), _rand(1, 2, 2, 4)
    past = (_rand(1, 2, 4, 4), _rand(1, 2, 4, 4))
    m, feeds = _attention(q, k, v, mask=_rand(3, 6), past=past, outputs=("y", "pk_out", "pv_out", "qk"),
                          is_causal=1, qk_matmul_output_mode=mode, softcap=2.0, scale=0.3)
    check_both(m, feeds, oracle="reference")


def test_fp16_runs_in_float32():
    """float16 Attention goes through pass widen_float16: float32 between CASTs, rounded once."""
    import edgelite
    from onnx import TensorProto
    from tests.converter.helpers import op_names, run_tflite
    from tests.converter.ext_helpers import oracle

    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT16, [1, 2, 3, 4]) for n in "qkv"]
    g = helper.make_graph([helper.make_node("Attention", list("qkv"), ["y"], is_causal=1)], "g", vi,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 2, 3, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 10
    feeds = {n: _rand(1, 2, 3, 4).astype(np.float16) for n in "qkv"}
    tfl = edgelite.convert(m)
    assert op_names(tfl).count("CAST") == 4
    want = oracle(m, feeds, use_reference=True)[0]
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, runtime)[0]
        assert got.dtype == np.float16
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 4])
def test_rotary_embedding_4d(interleaved, rotary_dim):
    x = _rand(2, 3, 5, 8)
    half = (rotary_dim or 8) // 2
    cos, sin = _rand(10, half), _rand(10, half)
    pos = rng.integers(0, 10, (2, 5)).astype(np.int64)
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], interleaved=interleaved,
                            rotary_embedding_dim=rotary_dim)
    ins = [("x", F32, [2, 3, 5, 8]), ("cos", F32, [10, half]), ("sin", F32, [10, half]), ("pos", np.int64, [2, 5])]
    m = make_model([node], ins, [("y", F32, None)], opset=23)
    check_both(m, {"x": x, "cos": cos, "sin": sin, "pos": pos}, oracle="reference")


def test_rotary_embedding_3d_without_positions():
    x = _rand(2, 5, 12)
    cos, sin = _rand(2, 5, 2), _rand(2, 5, 2)
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin"], ["y"], num_heads=3)
    m = make_model([node], [("x", F32, [2, 5, 12]), ("cos", F32, [2, 5, 2]), ("sin", F32, [2, 5, 2])],
                   [("y", F32, None)], opset=23)
    check_both(m, {"x": x, "cos": cos, "sin": sin}, oracle="reference")
