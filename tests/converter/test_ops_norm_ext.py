"""Normalizations with run-time parameters: LayerNorm (+ Mean/InvStdDev), RMSNorm,
InstanceNorm, GroupNorm, LpNorm, MeanVarianceNorm, BatchNorm (inference and training
mode), LRN; LiteRT and edgelite vs ONNX Runtime or onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.oracle_ext import check_both, helper, make_model

F32 = np.float32
rng = np.random.default_rng(11)


def _rand(*shape):
    return rng.standard_normal(shape).astype(F32)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_layernorm_runtime_scale_and_stats(axis):
    x_shape = (2, 3, 4)
    a = axis % 3
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], axis=axis, epsilon=1e-3)
    p_shape = list(x_shape[a:])
    m = make_model([node], [("x", F32, list(x_shape)), ("s", F32, p_shape), ("b", F32, p_shape)],
                   [("y", F32, None), ("mean", F32, None), ("inv", F32, None)], opset=17)
    check_both(m, {"x": _rand(*x_shape), "s": _rand(*p_shape), "b": _rand(*p_shape)}, oracle="reference")


def test_layernorm_hand_checked_mean():
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean"], axis=-1)
    m = make_model([node], [("x", F32, [1, 4]), ("s", F32, [4])], [("y", F32, None), ("mean", F32, None)], opset=17)
    import edgelite

    it = edgelite.Interpreter(model_content=edgelite.convert(m))
    it.allocate_tensors()
    by = {d["name"]: d["index"] for d in it.get_input_details()}
    it.set_tensor(by["x"], np.array([[1, 2, 3, 6]], F32))
    it.set_tensor(by["s"], np.ones(4, F32))
    it.invoke()
    outs = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    assert outs["mean"].ravel().tolist() == [3.0]


@pytest.mark.parametrize("axis", [1, -1])
def test_rmsnorm_runtime_scale(axis):
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"], axis=axis)
    p_shape = [3, 4][axis % 3 - 1:] if axis % 3 else [2, 3, 4]
    m = make_model([node], [("x", F32, [2, 3, 4]), ("s", F32, p_shape)], [("y", F32, None)], opset=23)
    check_both(m, {"x": _rand(2, 3, 4), "s": _rand(*p_shape)}, oracle="reference")


def test_instancenorm_runtime_params():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-4)
    m = make_model([node], [("x", F32, [2, 3, 4, 5]), ("s", F32, [3]), ("b", F32, [3])], [("y", F32, None)])
    check_both(m, {"x": _rand(2, 3, 4, 5), "s": _rand(3), "b": _rand(3)})


def test_groupnorm():
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-5)
    m = make_model([node], [("x", F32, [2, 4, 3, 3]), ("s", F32, [4]), ("b", F32, [4])], [("y", F32, None)], opset=21)
    check_both(m, {"x": _rand(2, 4, 3, 3), "s": _rand(4), "b": _rand(4)}, oracle="reference")


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, -1])
def test_lpnorm(p, axis):
    import edgelite
    from tests.converter.helpers import run_tflite

    x = _rand(3, 4)
    x[:, 1] = 0.0  # a zero norm along axis 0 gives 0 (ONNX's rule), not NaN
    node = helper.make_node("LpNormalization", ["x"], ["y"], axis=axis, p=p)
    m = make_model([node], [("x", F32, [3, 4])], [("y", F32, None)], opset=13)
    # The spec's L1 norm sums magnitudes (onnx.reference sums raw values for p=1).
    norm = np.abs(x).sum(axis, keepdims=True) if p == 1 else np.sqrt((x * x).sum(axis, keepdims=True))
    want = np.where(norm == 0, 0, x / np.where(norm == 0, 1, norm))
    tfl = edgelite.convert(m)
    for interpreter in ("litert", "edgelite"):
        np.testing.assert_allclose(run_tflite(tfl, {"x": x}, interpreter)[0], want, rtol=1e-5, atol=1e-6)


def test_mean_variance_normalization():
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"])
    m = make_model([node], [("x", F32, [2, 3, 4, 4])], [("y", F32, None)], opset=13)
    check_both(m, {"x": _rand(2, 3, 4, 4)})


def _bn_feeds(c):
    return {"x": _rand(2, c, 4, 5), "s": _rand(c), "b": _rand(c), "m": _rand(c),
            "v": rng.uniform(0.5, 2.0, c).astype(F32)}


def test_batchnorm_runtime_params():
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    ins = [("x", F32, [2, 3, 4, 5])] + [(n, F32, [3]) for n in "sbmv"]
    m = make_model([node], ins, [("y", F32, None)], opset=15)
    check_both(m, _bn_feeds(3))


def test_batchnorm_training_mode():
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"],
                            training_mode=1, momentum=0.8)
    ins = [("x", F32, [2, 3, 4, 5])] + [(n, F32, [3]) for n in "sbmv"]
    m = make_model([node], ins, [("y", F32, None), ("rm", F32, None), ("rv", F32, None)], opset=15)
    check_both(m, _bn_feeds(3), oracle="reference")


def test_batchnorm_training_mode_with_constant_params():
    # Constant parameters used to be folded as inference BatchNorm (running statistics, and
    # the running mean/variance outputs never written): training mode keeps the batch's.
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"],
                            training_mode=1, momentum=0.8)
    consts = {"s": _rand(3), "b": _rand(3), "m": _rand(3), "v": np.abs(_rand(3)) + F32(0.5)}
    m = make_model([node], [("x", F32, [2, 3, 4, 5])], [("y", F32, None), ("rm", F32, None), ("rv", F32, None)],
                   consts, opset=15)
    check_both(m, {"x": _rand(2, 3, 4, 5) * F32(3) + F32(2)}, oracle="reference", keep_io_layout=True)


@pytest.mark.parametrize("size", [3, 5])
def test_lrn(size):
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=2e-4, beta=0.75, bias=2.0)
    m = make_model([node], [("x", F32, [1, 6, 4, 4])], [("y", F32, None)], opset=13)
    ops = check_both(m, {"x": _rand(1, 6, 4, 4)})
    assert "LOCAL_RESPONSE_NORMALIZATION" in ops


def test_lrn_even_size_is_refused():
    import edgelite
    from edgelite.errors import UnsupportedOperatorError

    node = helper.make_node("LRN", ["x"], ["y"], size=2)
    m = make_model([node], [("x", F32, [1, 6, 4, 4])], [("y", F32, None)], opset=13)
    with pytest.raises(UnsupportedOperatorError, match="LRN"):
        edgelite.convert(m)
