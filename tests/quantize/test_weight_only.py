"""Dynamic-range and float16 quantization: structure, versions, LiteRT accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantize import quantize_model
from edgelite.schema import read_model
from edgelite.schema.model import TensorType
from tests.quantize.litert_util import run_litert, sqnr
from tests.quantize.models import image_batch, small_cnn

TEST = [{"image": x[None]} for x in image_batch(8, 16, seed=2)]


@pytest.fixture(scope="module")
def float_model():
    return small_cnn()


def test_dynamic(float_model):
    q = quantize_model(float_model, "dynamic", dynamic_min_elements=0)
    m = read_model(q)
    want = {"CONV_2D": 5, "DEPTHWISE_CONV_2D": 6, "FULLY_CONNECTED": 9}
    for op in m.subgraphs[0].operators:
        name = m.opcode_name(op)
        x = m.subgraphs[0].tensors[op.inputs[0]]
        assert x.type == TensorType.FLOAT32
        if name in want:
            w = m.subgraphs[0].tensors[op.inputs[1]]
            assert w.type == TensorType.INT8 and np.all(w.quantization.zero_point == 0)
            assert m.operator_codes[op.opcode_index].version == want[name]
            if name == "FULLY_CONNECTED":
                assert op.builtin_options.asymmetricQuantizeInputs
    assert sqnr(run_litert(float_model, TEST), run_litert(q, TEST)) > 25.0
    assert len(q) < len(float_model)


def test_dynamic_min_elements_keeps_small_weights_float(float_model):
    q = quantize_model(float_model, "dynamic")  # TFLite's default: 1024 elements
    m = read_model(q)
    assert not any(t.type == TensorType.INT8 for t in m.subgraphs[0].tensors)


def test_float16(float_model):
    q = quantize_model(float_model, "float16")
    m = read_model(q)
    sg = m.subgraphs[0]
    deq = [op for op in sg.operators if m.opcode_name(op) == "DEQUANTIZE"]
    assert deq and all(sg.tensors[op.inputs[0]].type == TensorType.FLOAT16 for op in deq)
    assert all(m.operator_codes[op.opcode_index].version == 3 for op in deq)
    floats = [t for t in sg.tensors if t.type == TensorType.FLOAT32 and m.tensor_data(t) is not None]
    assert floats == []
    assert sqnr(run_litert(float_model, TEST), run_litert(q, TEST)) > 50.0


def test_dynamic_batch_matmul_and_embedding_lookup():
    from edgelite.schema.builder import ModelBuilder
    from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

    rng = np.random.default_rng(0)
    b = ModelBuilder()
    ids = b.add_input("ids", (3,), np.int32)
    table = b.add_constant("table", rng.normal(0, 1, (10, 8)).astype(np.float32))
    emb = b.add_tensor("emb", (3, 8), np.float32)
    b.add_operator("EMBEDDING_LOOKUP", [ids, table], [emb])
    w = b.add_constant("w", rng.normal(0, 1, (8, 5)).astype(np.float32))
    y = b.add_tensor("y", (3, 5), np.float32)
    b.add_operator("BATCH_MATMUL", [emb, w], [y], BatchMatMulOptionsT())
    b.mark_output(y)
    f = b.build()
    q = quantize_model(f, "dynamic", dynamic_min_elements=0)
    m = read_model(q)
    versions = {m.opcode_name(op): m.operator_codes[op.opcode_index].version for op in m.subgraphs[0].operators}
    assert versions == {"EMBEDDING_LOOKUP": 3, "BATCH_MATMUL": 4}
    assert all(t.type != TensorType.FLOAT32 or m.tensor_data(t) is None for t in m.subgraphs[0].tensors)
    feeds = [{"ids": np.array([1, 7, 3], np.int32)}]
    assert sqnr(run_litert(f, feeds), run_litert(q, feeds)) > 25.0


def test_float16_keeps_constants_beyond_its_range_float32(caplog):
    """1e6 would be inf in float16: that constant stays float32, the others convert."""
    from edgelite.schema.builder import ModelBuilder

    b = ModelBuilder()
    x = b.add_input("x", shape=(1, 4), dtype=np.float32)
    big = b.add_constant("big", np.array([[1e6, -3.0e5, 1.0, 2.0]], np.float32))
    small = b.add_constant("small", np.array([[0.5, 1.5, -2.0, 4.0]], np.float32))
    t = b.add_tensor("t", shape=(1, 4), dtype=np.float32)
    y = b.add_tensor("y", shape=(1, 4), dtype=np.float32)
    b.add_operator("ADD", inputs=[x, big], outputs=[t])
    b.add_operator("MUL", inputs=[t, small], outputs=[y])
    b.mark_output(y)
    model = b.build()
    with caplog.at_level("WARNING"):
        q = quantize_model(model, "float16")
    assert "big keeps float32" in caplog.text
    m = read_model(q)
    sg = m.subgraphs[0]
    kept = [t.name for t in sg.tensors if t.type == TensorType.FLOAT32 and m.tensor_data(t) is not None]
    assert kept == ["big"]
    assert any(t.type == TensorType.FLOAT16 for t in sg.tensors)
    feed = [{"x": np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)}]
    out = run_litert(q, feed)
    assert np.all(np.isfinite(out[0])) and np.allclose(out[0], run_litert(model, feed)[0], rtol=1e-3)
