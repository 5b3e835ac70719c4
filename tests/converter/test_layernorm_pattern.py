"""The ``layer_norm`` pass: LayerNorm decompositions become one ``LayerNormalization``.

Each exporter's form (PyTorch before opset 17, PaddlePaddle, tf2onnx for Keras 2 and
Keras 3), with and without the affine scale/bias, must convert without POW/SQRT/DIV
and match ONNX Runtime; under int8 nothing of it stays float. Look-alikes that are
not LayerNorm are left as they are.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
helper = onnx.helper

import edgelite  # noqa: E402
from edgelite.converter.frontend import import_onnx  # noqa: E402
from edgelite.converter.passes.fold import dead_code_elimination, shape_inference_and_folding  # noqa: E402
from edgelite.converter.passes.layernorm import layer_norm  # noqa: E402
from tests.converter.helpers import check, make_model, op_names  # noqa: E402

F32 = np.float32
SHAPE = (1, 6, 16)
EPS = 1e-5
rng = np.random.default_rng(3)
GAMMA = (rng.standard_normal(16) * 0.5 + 1).astype(F32)
BETA = (rng.standard_normal(16) * 0.1).astype(F32)


def _mean(inp, out, axes=(-1,), opset=13):
    if opset >= 18:
        return helper.make_node("ReduceMean", [inp, "axes"], [out], keepdims=1)
    return helper.make_node("ReduceMean", [inp], [out], axes=list(axes), keepdims=1)


def torch_form(affine=True, square="Pow", divide="Div", axes=(-1,), opset=13):
    """PyTorch < opset 17 and PaddlePaddle (paddle2onnx): Sub, Pow, ReduceMean, Add, Sqrt, Div."""
    nodes = [_mean("x", "mean", axes, opset), helper.make_node("Sub", ["x", "mean"], ["d"])]
    nodes.append(helper.make_node("Pow", ["d", "two"], ["sq"]) if square == "Pow"
                 else helper.make_node("Mul", ["d", "d"], ["sq"]))
    nodes += [_mean("sq", "var", axes, opset), helper.make_node("Add", ["var", "eps"], ["ve"]),
              helper.make_node("Sqrt", ["ve"], ["std"])]
    if divide == "Div":
        nodes.append(helper.make_node("Div", ["d", "std"], ["n" if affine else "y"]))
    else:
        nodes += [helper.make_node("Reciprocal", ["std"], ["inv"]),
                  helper.make_node("Mul", ["d", "inv"], ["n" if affine else "y"])]
    if affine:
        nodes += [helper.make_node("Mul", ["n", "gamma"], ["s"]), helper.make_node("Add", ["s", "beta"], ["y"])]
    return nodes


def keras2_form(affine=True):
    """tf2onnx of tf.nn.moments + tf.nn.batch_normalization: x * inv + (beta - mean * inv)."""
    nodes = [_mean("x", "mean"), helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Mul", ["d", "d"], ["sq"]), _mean("sq", "var"),
             helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["std"]),
             helper.make_node("Reciprocal", ["std"], ["rs" if affine else "inv"])]
    if affine:
        nodes.append(helper.make_node("Mul", ["rs", "gamma"], ["inv"]))
    nodes += [helper.make_node("Mul", ["x", "inv"], ["xs"]), helper.make_node("Mul", ["mean", "inv"], ["ms"])]
    if affine:
        nodes += [helper.make_node("Sub", ["beta", "ms"], ["b"]), helper.make_node("Add", ["xs", "b"], ["y"])]
    else:
        nodes += [helper.make_node("Sub", ["xs", "ms"], ["y"])]
    return nodes


def keras3_form(affine=True):
    """Keras 3's LayerNormalization: inv = rsqrt(var + eps) * gamma; x * inv + (-mean * inv + beta)."""
    nodes = [_mean("x", "mean"), helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Mul", ["d", "d"], ["sq"]), _mean("sq", "var"),
             helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["std"]),
             helper.make_node("Div", ["one", "std"], ["rs" if affine else "inv"])]
    if affine:
        nodes.append(helper.make_node("Mul", ["rs", "gamma"], ["inv"]))
    nodes += [helper.make_node("Neg", ["mean"], ["nm"]), helper.make_node("Mul", ["nm", "inv"], ["res0"])]
    nodes.append(helper.make_node("Add", ["res0", "beta"], ["res"]) if affine
                 else helper.make_node("Identity", ["res0"], ["res"]))
    nodes += [helper.make_node("Mul", ["x", "inv"], ["xs"]), helper.make_node("Add", ["xs", "res"], ["y"])]
    return nodes


def _model(nodes, opset=13, shape=SHAPE, gamma=GAMMA, beta=BETA, axes=(-1,), extra_outputs=()):
    inits = {"two": np.array(2.0, F32), "eps": np.array(EPS, F32), "one": np.array(1.0, F32),
             "gamma": gamma, "beta": beta, "axes": np.array(axes, np.int64)}
    used = {i for n in nodes for i in n.input}
    inits = {k: v for k, v in inits.items() if k in used}
    outs = [("y", F32, list(shape))] + [(o, F32, None) for o in extra_outputs]
    return make_model(nodes, [("x", F32, list(shape))], outs, inits, opset=opset)


def _feeds(shape=SHAPE):
    return {"x": (np.random.default_rng(0).standard_normal(shape) * 2 + 0.5).astype(F32)}


def _ops_after_pass(m):
    g = import_onnx(m)
    shape_inference_and_folding(g)
    dead_code_elimination(g)
    layer_norm(g)
    return [n.op_type for n in g.nodes], g


FORMS = {
    "pytorch": lambda affine: torch_form(affine),
    "paddle_mul_square": lambda affine: torch_form(affine, square="Mul"),
    "reciprocal_mul": lambda affine: torch_form(affine, divide="Reciprocal"),
    "keras2": keras2_form,
    "keras3": keras3_form,
}


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_decomposition_becomes_one_layernorm_and_matches_onnx_runtime(form, affine):
    m = _model(FORMS[form](affine))
    ops, g = _ops_after_pass(m)
    assert ops == ["LayerNormalization"], ops
    ln = g.nodes[0]
    assert ln.attrs["axis"] == 2 and ln.attrs["epsilon"] == pytest.approx(EPS)
    if affine:
        np.testing.assert_allclose(ln.inputs[1].data, GAMMA, rtol=1e-6)
        np.testing.assert_allclose(ln.inputs[2].data, BETA, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(ln.inputs[1].data, np.ones(16, F32))
        assert len(ln.inputs) == 2  # no bias
    tfl_ops = check(m, _feeds())
    assert not {"POW", "SQRT", "DIV"} & set(tfl_ops)
    assert "RSQRT" in tfl_ops
    if not affine:
        assert tfl_ops.count("MUL") == 1  # unit scale: no multiply by ones


def test_pytorch_form_at_opset_18_with_axes_input():
    m = _model(torch_form(opset=18), opset=18)
    ops, _ = _ops_after_pass(m)
    assert ops == ["LayerNormalization"]
    check(m, _feeds())


def test_normalizing_the_two_trailing_axes():
    gamma = (rng.standard_normal((6, 16)) + 1).astype(F32)
    beta = rng.standard_normal((6, 16)).astype(F32)
    m = _model(torch_form(axes=(1, 2)), gamma=gamma, beta=beta)
    ops, g = _ops_after_pass(m)
    assert ops == ["LayerNormalization"] and g.nodes[0].attrs["axis"] == 1
    check(m, _feeds())


def test_residual_add_after_the_layernorm_stays_outside():
    nodes = torch_form() + [helper.make_node("Add", ["y", "x"], ["z"])]
    m = _model(nodes)
    m.graph.output[0].name = "z"
    ops, _ = _ops_after_pass(m)
    assert ops == ["LayerNormalization", "Add"]
    check(m, _feeds())


def test_epsilon_outside_the_square_root_is_not_layernorm():
    # (x - mean) / (sqrt(var) + eps): a different function, left alone.
    nodes = [_mean("x", "mean"), helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["sq"]), _mean("sq", "var"),
             helper.make_node("Sqrt", ["var"], ["std"]), helper.make_node("Add", ["std", "eps"], ["se"]),
             helper.make_node("Div", ["d", "se"], ["y"])]
    m = _model(nodes)
    ops, _ = _ops_after_pass(m)
    assert "LayerNormalization" not in ops
    check(m, _feeds())


def test_leading_axis_normalization_is_left_alone():
    m = _model(torch_form(affine=False, axes=(1,)))
    ops, _ = _ops_after_pass(m)
    assert "LayerNormalization" not in ops


def test_statistics_read_elsewhere_keep_the_chain():
    # The mean is also a graph output: replacing the chain would lose it.
    m = _model(torch_form(), extra_outputs=("mean",))
    ops, _ = _ops_after_pass(m)
    assert "LayerNormalization" not in ops
    check(m, _feeds())


def test_scale_varying_along_a_batch_axis_stays_outside():
    # A scale per row (6, 1) is not a LayerNorm scale: the plain LayerNorm is recognized
    # and the Mul/Add stay after it.
    gamma = (rng.standard_normal((6, 1)) + 1).astype(F32)
    m = _model(torch_form(), gamma=gamma)
    ops, g = _ops_after_pass(m)
    assert ops == ["LayerNormalization", "Mul", "Add"]
    np.testing.assert_array_equal(g.nodes[0].inputs[1].data, np.ones(16, F32))
    check(m, _feeds())


@pytest.mark.parametrize("form", ["pytorch", "keras2"])
def test_int8_keeps_nothing_of_the_layernorm_in_float(form):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"])] + [
        helper.make_node(n.op_type, [("h" if i == "x" else i) for i in n.input], list(n.output),
                         **{a.name: helper.get_attribute_value(a) for a in n.attribute})
        for n in FORMS[form](True)]
    inits = {"w": (rng.standard_normal((16, 16)) * 0.3).astype(F32), "two": np.array(2.0, F32),
             "eps": np.array(EPS, F32), "gamma": GAMMA, "beta": BETA}
    used = {i for n in nodes for i in n.input}
    m = make_model(nodes, [("x", F32, list(SHAPE))], [("y", F32, list(SHAPE))],
                   {k: v for k, v in inits.items() if k in used})
    cal = [np.random.default_rng(s).standard_normal(SHAPE).astype(F32) for s in range(8)]
    tfl = edgelite.convert(m, quantize="int8", calibration=cal)
    ops = op_names(tfl)
    assert not {"POW", "SQRT", "DIV"} & set(ops), ops
    # float input/output: one QUANTIZE in, one DEQUANTIZE out, everything between int8
    assert ops.count("QUANTIZE") == 1 and ops.count("DEQUANTIZE") == 1, ops
    from edgelite.schema import read_model

    model = read_model(tfl)
    sg = model.subgraphs[0]
    for op in sg.operators:
        name = model.opcode_name(op)
        if name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        types = {sg.tensors[i].type for i in list(op.inputs) + list(op.outputs) if i >= 0}
        assert 0 not in types, f"{name} has float32 tensors"  # TensorType.FLOAT32 == 0
    # LiteRT's built-in int8 kernels and edgelite's give the same bytes; both track the float model
    from tests.converter.helpers import open_interpreter, run_ort

    def run(interp):
        it = open_interpreter(tfl, interp)
        it.set_tensor(it.get_input_details()[0]["index"], cal[0])
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])

    ours, theirs = run("edgelite"), run("litert")
    np.testing.assert_array_equal(ours, theirs)
    feeds = {"x": cal[0]}
    want = run_ort(m, feeds)[0]
    snr = 10 * np.log10(np.sum(want ** 2) / np.sum((ours - want) ** 2))
    assert snr > 15, f"SQNR {snr:.1f} dB"
