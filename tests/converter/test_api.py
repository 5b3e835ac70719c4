"""The public API and CLI: options, I/O layout, metadata, signatures, errors, old opsets,
external data, unsupported ops and ``allow_custom``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
helper = onnx.helper

import edgelite
from edgelite.converter import ConvertOptions, cli_convert, convert_file
from edgelite.errors import ShapeError, UnsupportedOperatorError
from edgelite.schema import read_model
from tests.converter.helpers import check, make_model, op_names, random_feeds, run_ort, run_tflite

F32 = np.float32
rng = np.random.default_rng(3)


def conv_model(dyn_batch=False, shape=(1, 3, 6, 6)):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])]
    in_shape = ["N"] + list(shape[1:]) if dyn_batch else list(shape)
    return make_model(
        nodes, [("x", F32, in_shape)], [("y", F32, None)], {"w": rng.standard_normal((4, 3, 3, 3)).astype(F32)}
    )


def test_default_io_layout_is_nhwc_and_recorded():
    tfl = edgelite.convert(conv_model())
    m = read_model(tfl)
    sg = m.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].shape == (1, 6, 6, 3)
    assert sg.tensors[sg.outputs[0]].shape == (1, 6, 6, 4)
    meta = m.metadata_dict()
    assert json.loads(meta["edgelite_io_layout"]) == {"x": "NHWC", "y": "NHWC"}
    assert meta["min_runtime_version"].rstrip(b"\0").decode() == "1.14.0" and len(meta["min_runtime_version"]) == 16
    conv = json.loads(meta["edgelite_conversion"])
    assert conv["producer"].startswith("edgelite") and conv["options"]["keep_io_layout"] is False
    assert "TRANSPOSE" not in op_names(tfl)


def test_keep_io_layout_adds_only_io_transposes():
    m = conv_model()
    tfl = edgelite.convert(m, keep_io_layout=True)
    sg = read_model(tfl).subgraphs[0]
    assert sg.tensors[sg.inputs[0]].shape == (1, 3, 6, 6)
    assert op_names(tfl).count("TRANSPOSE") == 2
    check(m, keep_io_layout=True)
    opts = ConvertOptions(keep_io_layout=True)
    assert edgelite.convert(m, opts) == tfl


def test_signature_and_names_kept():
    m = read_model(edgelite.convert(conv_model()))
    sig = m.signature_defs[0]
    assert sig.signature_key == "serving_default"
    assert [t.name for t in sig.inputs] == ["x"] and [t.name for t in sig.outputs] == ["y"]


def test_dynamic_batch_defaults_to_one_and_input_shapes_override():
    check(conv_model(dyn_batch=True))
    # A graph whose converted form depends on T (Flatten's target holds T * 4): fix T by hand.
    fixed_only = make_model([helper.make_node("Flatten", ["x"], ["y"], axis=1)], [("x", F32, [1, "T", 4])],
                            [("y", F32, None)])
    with pytest.raises(ShapeError, match="--input-shape"):
        edgelite.convert(fixed_only)
    assert read_model(edgelite.convert(fixed_only, input_shapes={"x": (1, 5, 4)})).subgraphs[0].tensors[0].shape
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    m = make_model(nodes, [("x", F32, [1, "T", 4])], [("y", F32, None)])
    sg = read_model(edgelite.convert(m)).subgraphs[0]  # T stays dynamic (tests/converter/test_dynamic_dims.py)
    assert sg.tensors[sg.inputs[0]].shape_signature == (1, -1, 4)
    tfl = edgelite.convert(m, input_shapes={"x": (1, 5, 4)})
    sg = read_model(tfl).subgraphs[0]
    assert sg.tensors[sg.inputs[0]].shape == (1, 5, 4)
    with pytest.raises(ShapeError):
        edgelite.convert(m, input_shapes={"nope": (1, 5, 4)})
    with pytest.raises(TypeError):
        edgelite.convert(m, no_such_option=True)


def _unsupported_model():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        # GridSample is refused by design (NonZero converts now: WHERE).
        helper.make_node("GridSample", ["r", "r"], ["nz"], name="nz1"),
        # Three-operand Einsum stays unsupported (one or two operands convert).
        helper.make_node("Einsum", ["r", "r", "r"], ["e"], equation="ij,ij,ij->ij", name="ein1"),
        helper.make_node("Einsum", ["e", "r", "r"], ["y"], equation="ij,ij,ij->ij", name="ein2"),
    ]
    return make_model(nodes, [("x", F32, [2, 3])], [("y", F32, [2, 3]), ("nz", F32, None)])


def test_unsupported_ops_all_listed_and_nothing_written(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_unsupported_model(), src)
    dst = tmp_path / "m.tflite"
    with pytest.raises(UnsupportedOperatorError) as ei:
        convert_file(src, dst)
    msg = str(ei.value)
    assert "Einsum (opset 17)" in msg and "GridSample (opset 17)" in msg
    assert "'ein1'" in msg and "'ein2'" in msg and "'nz1'" in msg
    assert sorted(ei.value.ops) == [("Einsum", "ein1"), ("Einsum", "ein2"), ("GridSample", "nz1")]
    assert not dst.exists()


def test_allow_custom_emits_custom_ops():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Swish", ["r"], ["s"], domain="my.ops"),
        helper.make_node("Neg", ["s"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", 1, [2, 3])],
        [helper.make_tensor_value_info("y", 1, [2, 3])],
        value_info=[helper.make_tensor_value_info("s", 1, [2, 3])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)])
    with pytest.raises(UnsupportedOperatorError, match="my.ops::Swish"):
        edgelite.convert(m)
    tfl = edgelite.convert(m, allow_custom=True)
    model = read_model(tfl)
    assert [model.opcode_name(o) for o in model.subgraphs[0].operators] == ["RELU", "Swish", "NEG"]


def test_conv_reports_reason():
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=3, name="gconv")
    m = make_model([node], [("x", F32, [1, 4, 5, 5])], [("y", F32, None)], {"w": np.ones((6, 2, 1, 1), F32)})
    with pytest.raises(UnsupportedOperatorError, match="gconv.*group=3"):
        edgelite.convert(m)


def test_external_data(tmp_path):
    m = conv_model()
    saved = onnx.ModelProto()
    saved.CopyFrom(m)
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        saved, path, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin", size_threshold=0
    )
    assert (tmp_path / "ext.bin").exists()
    feeds = random_feeds(m)
    got = run_tflite(edgelite.convert(str(path)), feeds)[0]
    np.testing.assert_allclose(got, run_ort(m, feeds)[0], rtol=1e-4, atol=1e-5)


def test_opset7_model():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"]),
        helper.make_node("Upsample", ["bn"], ["u"], scales=[1.0, 1.0, 2.0, 2.0], mode="nearest"),
        helper.make_node("Flatten", ["u"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"]),
    ]
    inits = {
        "w": rng.standard_normal((2, 3, 1, 1)).astype(F32),
        "s": np.ones(2, F32),
        "b": np.zeros(2, F32),
        "m": np.full(2, 0.1, F32),
        "v": np.full(2, 2.0, F32),
        "fw": rng.standard_normal((5, 2 * 8 * 8)).astype(F32),
        "fb": np.zeros(5, F32),
    }
    m = make_model(nodes, [("x", F32, [1, 3, 4, 4])], [("y", F32, None)], inits, opset=7)
    ops = check(m)
    assert "TRANSPOSE" not in ops


def test_cli_convert(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    onnx.save(conv_model(dyn_batch=True), src)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd")
    cli_convert.add_parser(sub)
    args = p.parse_args(
        ["convert", str(src), "-o", str(tmp_path / "o.tflite"), "--keep-io-layout", "--input-shape", "x=1,3,6,6"]
    )
    assert args.func(args) == 0
    assert "wrote" in capsys.readouterr().out
    m = read_model((tmp_path / "o.tflite").read_bytes())
    assert json.loads(m.metadata_dict()["edgelite_io_layout"])["x"] == "NCHW"
    with pytest.raises(ShapeError):
        cli_convert.parse_input_shapes(["x1,2"])


def test_converted_model_runs_in_edgelite_interpreter():
    m = conv_model()
    check(m, interpreter="edgelite")


def test_read_extra_output_is_unsupported():
    # LayerNormalization's Mean output and MaxPool's Indices, the examples here before, are
    # supported now; no ONNX op with extra outputs is left unlowered, so this reads a second
    # output the pooling converters (max_outputs = 1) do not write.
    node = helper.make_node("AveragePool", ["x"], ["y", "z"], name="ap", kernel_shape=[2, 2])
    m = make_model([node], [("x", F32, [1, 1, 4, 4])], [("y", F32, None), ("z", F32, None)], {})
    with pytest.raises(UnsupportedOperatorError, match=r"ap.*output\(s\) \[1\] are not supported"):
        edgelite.convert(m)


@pytest.mark.parametrize("opset", [9, 11, 13, 18, 21])
def test_opsets_split_and_reduce_spellings(opset):
    # Split sizes/num_outputs and Reduce axes moved from attributes to inputs across opsets.
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Split", ["c"], ["a", "b"], axis=1, **({"num_outputs": 2} if opset >= 18 else {})),
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node(
            "ReduceMean",
            ["s"] + (["ax"] if opset >= 18 else []),
            ["y"],
            keepdims=1,
            **({} if opset >= 18 else {"axes": [2, 3]}),
        ),
    ]
    inits = {"w": rng.standard_normal((4, 3, 1, 1)).astype(F32)}
    if opset >= 18:
        inits["ax"] = np.array([2, 3], np.int64)
    m = make_model(nodes, [("x", F32, [1, 3, 5, 5])], [("y", F32, None)], inits, opset=opset)
    assert check(m) == ["CONV_2D", "SPLIT_V", "ADD", "MEAN"]


@pytest.mark.parametrize(
    "opset,node",
    [
        (23, helper.make_node("RMSNormalization", ["x", "g"], ["y"], axis=-1, epsilon=1e-5)),
        (20, helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")),
    ],
)
def test_recent_opset_ops(opset, node):
    inits = {"g": np.linspace(0.5, 1.5, 8).astype(F32)} if "g" in node.input else {}
    m = make_model([node], [("x", F32, [1, 5, 8])], [("y", F32, None)], inits, opset=opset)
    check(m)


def test_control_flow_converts():
    """An If on a run-time condition becomes TFLite IF (tests/converter/test_control_flow.py has the rest)."""
    then = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o1"])], "then", [], [helper.make_tensor_value_info("o1", 1, [2])]
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["o2"])], "else", [], [helper.make_tensor_value_info("o2", 1, [2])]
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "z"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="if1"),
    ]
    m = make_model(nodes, [("x", F32, [2])], [("y", F32, [2])], {"z": np.array(0.0, F32)}, opset=13)
    for x in (np.array([1.0, 2.0], F32), np.array([-1.0, -2.0], F32)):
        assert "IF" in check(m, {"x": x})


def test_bad_file_is_a_model_format_error(tmp_path):
    from edgelite.errors import ModelFormatError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage\xff\xff")
    with pytest.raises(ModelFormatError):
        edgelite.convert(str(bad))
    with pytest.raises(ModelFormatError):
        edgelite.convert(str(tmp_path / "missing.onnx"))


@pytest.mark.parametrize("data", [b"not an onnx model", b"", bytearray(b"\x08\x07garbage\xff\xff")])
def test_bad_bytes_are_a_model_format_error(data):
    from edgelite.errors import ModelFormatError

    # b"" parses as an empty ModelProto: refused for having no graph outputs.
    with pytest.raises(ModelFormatError, match="ONNX model bytes"):
        edgelite.convert(data)


def test_conversion_metadata_flatbuffer():
    import flatbuffers

    raw = read_model(edgelite.convert(conv_model(), allow_custom=True)).metadata_dict()["CONVERSION_METADATA"]
    root = flatbuffers.table.Table(bytearray(raw), flatbuffers.encode.Get(flatbuffers.packer.uoffset, raw, 0))

    def sub(tab, field):
        o = tab.Offset(4 + 2 * field)
        return flatbuffers.table.Table(tab.Bytes, tab.Indirect(o + tab.Pos)) if o else None

    env, opts = sub(root, 0), sub(root, 1)
    assert env.String(env.Offset(4) + env.Pos).decode().startswith("edgelite")
    o = opts.Offset(6)
    assert o and opts.Get(flatbuffers.number_types.BoolFlags, o + opts.Pos)


def test_input_passed_through_to_output():
    nodes = [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Relu", ["x"], ["z"])]
    m = make_model(nodes, [("x", F32, [2, 3])], [("y", F32, None), ("z", F32, None)])
    assert check(m) == ["RESHAPE", "RELU"]
