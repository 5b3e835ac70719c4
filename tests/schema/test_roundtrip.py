"""write_model(read_model(x)) must give a file LiteRT runs exactly like the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgelite.schema import read_model, write_model
from edgelite.schema.model import TensorType
from edgelite.schema.strings import decode_string_tensor, encode_string_tensor
from tests.schema.helpers import conv_gelu_model, custom_op_model

litert = pytest.importorskip("ai_edge_litert.interpreter")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_models() -> list[Path]:
    return sorted(FIXTURES.glob("*.tflite"))


def _run_litert(data: bytes, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Outputs of every signature (or of the main subgraph) on deterministic inputs."""
    # No default delegate: XNNPACK refuses some valid files (sparse int8 FC) outright.
    it = litert.Interpreter(
        model_content=data,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    rng = np.random.default_rng(seed)
    results = {}

    def make(detail):
        dt = detail["dtype"]
        shape = [max(int(d), 1) for d in detail["shape"]]
        if np.issubdtype(dt, np.floating):
            return rng.standard_normal(shape).astype(dt)
        if dt in (np.bytes_, np.object_, np.str_):
            return np.array([b"w%d" % v for v in rng.integers(0, 99, int(np.prod(shape)))], dtype=object).reshape(shape)
        if dt == np.bool_:
            return rng.integers(0, 2, shape).astype(bool)
        if detail["quantization"][0] == 0.0:
            # Plain integers are usually indices (GATHER, EMBEDDING_LOOKUP): keep them valid.
            return rng.integers(0, 2, shape).astype(dt)
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, endpoint=True).astype(dt)

    sigs = it.get_signature_list()
    if sigs:
        for key in sigs:
            runner = it.get_signature_runner(key)
            feeds = {name: make(d) for name, d in sorted(runner.get_input_details().items())}
            results[key] = {k: np.copy(v) for k, v in runner(**feeds).items()}
    else:
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], make(d))
        it.invoke()
        results["main"] = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    return results


def _assert_same_outputs(a: bytes, b: bytes) -> None:
    ra, rb = _run_litert(a), _run_litert(b)
    assert ra.keys() == rb.keys()
    for key in ra:
        assert ra[key].keys() == rb[key].keys()
        for name in ra[key]:
            np.testing.assert_array_equal(ra[key][name], rb[key][name], err_msg=f"{key}/{name}")


def test_builder_model_roundtrip_is_byte_identical():
    data = conv_gelu_model()
    assert write_model(read_model(data)) == data


def test_builder_model_runs_in_litert_and_roundtrips():
    data = conv_gelu_model()
    _assert_same_outputs(data, write_model(read_model(data)))


def test_opcode_above_127_uses_both_fields():
    m = read_model(conv_gelu_model())
    gelu = [c for c in m.operator_codes if c.builtin_code == 150]
    assert gelu and gelu[0].deprecated_builtin_code == 127
    assert "GELU" in {m.opcode_name(op) for op in m.subgraphs[0].operators}


def test_custom_op_and_options_survive():
    data = custom_op_model()
    m = read_model(data)
    op = m.subgraphs[0].operators[0]
    assert m.opcode_name(op) == "MyOp"
    assert m.operator_codes[op.opcode_index].version == 2
    assert op.custom_options == bytes(range(37))
    m2 = read_model(write_model(m))
    assert m2.subgraphs[0].operators[0].custom_options == bytes(range(37))


def test_external_data_layout_runs_in_litert():
    data = conv_gelu_model()
    ext = write_model(read_model(data), external_data=True)
    m = read_model(ext)
    assert any(b.offset > 1 for b in m.buffers)
    assert all(b.offset % 16 == 0 for b in m.buffers if b.offset > 1)
    _assert_same_outputs(data, ext)
    # and back to the inline layout
    assert write_model(m, external_data=False) == data


def test_weights_are_zero_copy_views(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_gelu_model())
    m = read_model(path)
    w = next(t for t in m.subgraphs[0].tensors if t.name == "conv/w")
    arr = m.tensor_data(w)
    assert arr.shape == (4, 3, 3, 3) and arr.dtype == np.float32
    assert not arr.flags.owndata and not arr.flags.writeable
    assert arr.ctypes.data % 16 == 0


def test_string_tensor_encoding_roundtrip():
    values = np.array([["a", "bcd"], ["", "é"]], dtype=object)
    raw = np.frombuffer(encode_string_tensor(values), np.uint8)
    out = decode_string_tensor(raw, (2, 2))
    assert out.tolist() == [[b"a", b"bcd"], [b"", "é".encode()]]


@pytest.mark.parametrize("path", fixture_models(), ids=lambda p: p.name)
def test_fixture_roundtrip_runs_identically(path):
    data = path.read_bytes()
    m = read_model(path)
    again = write_model(m)
    _assert_same_outputs(data, again)
    # A second round trip is a fixed point of the writer.
    assert write_model(read_model(again)) == again


@pytest.mark.parametrize("path", fixture_models(), ids=lambda p: p.name)
def test_fixture_tensor_data_matches_litert(path):
    """Constant tensors read by edgelite equal what LiteRT holds for them."""
    m = read_model(path)
    it = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    sg = m.subgraphs[0]
    checked = 0
    for i, t in enumerate(sg.tensors):
        if t.buffer == 0 or t.sparsity is not None or t.type in (TensorType.STRING, TensorType.INT4):
            continue
        data = m.tensor_data(t)
        if data is None:
            continue
        try:
            ref = it.get_tensor(i)
        except ValueError:
            continue
        np.testing.assert_array_equal(data, ref.reshape(data.shape), err_msg=t.name)
        checked += 1
        if checked > 40:
            break
