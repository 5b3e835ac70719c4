"""Attention without layout shuffles: head split/merge TRANSPOSEs folded into per-head
BATCH_MATMUL weights, K^T into ``adjY``; results checked against ONNX Runtime in
edgelite's interpreter and in LiteRT."""

from __future__ import annotations

import collections
import os

import numpy as np

from tests.converter.helpers import check, make_model, onnx, run_ort, run_tflite
from onnx import helper

import edgelite
from edgelite.schema import read_model

HERE = os.path.dirname(os.path.abspath(__file__))
F32 = np.float32


def _ops(tfl: bytes) -> collections.Counter:
    m = read_model(tfl)
    return collections.Counter(m.opcode_name(o) for o in m.subgraphs[0].operators)


def test_torch_transformer_encoder_has_no_transpose():
    """models/torch_transformer_encoder.onnx (make_transformer_encoder.py): PyTorch's
    nn.TransformerEncoder, 2 layers; 10 TRANSPOSE ops before this fold, none after."""
    m = onnx.load(os.path.join(HERE, "models", "torch_transformer_encoder.onnx"))
    tfl = edgelite.convert(m, keep_io_layout=True)
    assert _ops(tfl)["TRANSPOSE"] == 0
    x = np.random.default_rng(0).standard_normal((1, 10, 32)).astype(F32)
    want = run_ort(m, {"x": x})[0]
    for interp in ("edgelite", "litert"):
        got = run_tflite(tfl, {"x": x}, interp)[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


def test_quantized_transformer_keeps_the_plain_lowering():
    m = onnx.load(os.path.join(HERE, "models", "torch_transformer_encoder.onnx"))
    tfl = edgelite.convert(m, keep_io_layout=True, quantize="dynamic")
    assert _ops(tfl)["FULLY_CONNECTED"] > 0


def test_key_transpose_becomes_adj_y():
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"])]
    m = make_model(nodes, [("q", F32, [2, 5, 4]), ("k", F32, [2, 6, 4])], [("s", F32, [2, 5, 6])])
    ops = check(m, interpreter="edgelite")
    check(m, interpreter="litert")
    assert "TRANSPOSE" not in ops and "BATCH_MATMUL" in ops


def _split_heads_model(perm, heads=2):
    """x[4, 6] @ W -> [4, heads, 3] -> Transpose(perm) -> MatMul with itself^T."""
    w = np.random.default_rng(1).standard_normal((6, heads * 3)).astype(F32)
    b = np.random.default_rng(2).standard_normal(heads * 3).astype(F32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["p"]), helper.make_node("Add", ["p", "b"], ["pb"]),
             helper.make_node("Reshape", ["pb", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["h"], perm=perm),
             helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["h", "ht"], ["y"])]
    inits = {"w": w, "b": b, "shape": np.array([4, heads, 3], np.int64)}
    out_shape = [heads, 4, 4] if perm == [1, 0, 2] else [heads, 3, 3]
    return make_model(nodes, [("x", F32, [4, 6])], [("y", F32, out_shape)], inits)


def test_head_split_of_a_projection_needs_no_transpose():
    m = _split_heads_model([1, 0, 2])
    ops = check(m, interpreter="edgelite")
    check(m, interpreter="litert")
    assert "TRANSPOSE" not in ops


def test_head_split_with_tokens_last_needs_no_transpose():
    m = _split_heads_model([1, 2, 0])  # [heads, 3, tokens]: K^T computed as W_h @ x^T
    ops = check(m, interpreter="edgelite")
    check(m, interpreter="litert")
    assert "TRANSPOSE" not in ops


def test_transpose_that_regroups_tokens_is_kept():
    # Tokens split into [2, 2] and swapped: each "head" reads every other token, which a
    # per-head weight cannot express (the rows of x would have to be permuted).
    w = np.random.default_rng(1).standard_normal((6, 6)).astype(F32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["p"]),
             helper.make_node("Reshape", ["p", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["h"], perm=[1, 0, 2]),
             helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["h", "ht"], ["y"])]
    m = make_model(nodes, [("x", F32, [4, 6])], [("y", F32, [2, 2, 2])],
                   {"w": w, "shape": np.array([2, 2, 6], np.int64)})
    ops = check(m, interpreter="edgelite")
    check(m, interpreter="litert")
    assert "TRANSPOSE" in ops


def test_split_qkv_transformer_has_no_transpose():
    """models/transformer_encoder.onnx splits Q/K/V with Split (not Gather) and writes K^T as
    one Transpose: 8 TRANSPOSE ops before these folds, none after."""
    m = onnx.load(os.path.join(HERE, "models", "transformer_encoder.onnx"))
    tfl = edgelite.convert(m)
    assert _ops(tfl)["TRANSPOSE"] == 0
    rng = np.random.default_rng(0)
    feeds = {"input_ids": rng.integers(0, 1000, (1, 16)).astype(np.int64),
             "attention_mask": np.concatenate([np.ones((1, 12), np.int64), np.zeros((1, 4), np.int64)], 1)}
    want = run_ort(m, feeds)[0]
    for interp in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, interp)[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))
