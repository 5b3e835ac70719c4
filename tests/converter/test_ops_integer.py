"""MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv (``converter/ops/integer_ops.py``,
``converter/ops/qlinear.py``): hand-checkable cases, then differential tests against the
ONNX reference (the exactness target) and ONNX Runtime, on 8-bit data at the extremes of
its range, zero points at the extremes, and reductions long enough to be cut into
several float32 chunks; every converted file runs in edgelite's interpreter and in
LiteRT's built-in kernels (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``) and must match the
reference bit for bit. Configurations that cannot be exact are refused."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.ext_helpers import one_node_model, oracle

import edgelite
from edgelite.errors import UnsupportedOperatorError
from tests.converter.helpers import op_names, open_interpreter

rng = np.random.default_rng(14)
RUNTIMES = ("edgelite", "litert")


def run(tfl: bytes, feeds: dict, runtime: str) -> np.ndarray:
    it = open_interpreter(tfl, runtime)
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    (out,) = it.get_output_details()
    return it.get_tensor(out["index"])


def convert_and_compare(op, feeds, consts=None, attrs=None, opset=21, with_ort=True):
    """Convert ``op``; both runtimes must equal the ONNX reference exactly (and ONNX Runtime,
    where it runs the node, must too). Returns (reference output, TFLite op names)."""
    model = one_node_model(op, feeds, attrs=attrs, consts=consts, opset=opset)
    tfl = edgelite.convert(model, keep_io_layout=True)
    want = np.asarray(oracle(model, feeds, use_reference=True)[0])
    for runtime in RUNTIMES:
        got = run(tfl, feeds, runtime)
        assert got.dtype == want.dtype and got.shape == want.shape, (runtime, got.dtype, got.shape)
        np.testing.assert_array_equal(got, want, err_msg=runtime)
    if with_ort:
        np.testing.assert_array_equal(np.asarray(oracle(model, feeds)[0]), want, err_msg="onnxruntime")
    return want, op_names(tfl)


def ordered_model(op, values, runtime, out_shape, out_dtype, opset=21):
    """``op`` over ``values`` in their order: the ``runtime`` names as graph inputs, the others
    as initializers (``one_node_model`` puts every graph input first)."""
    from onnx import helper, numpy_helper

    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
           for k, v in values.items() if k in runtime]
    inits = [numpy_helper.from_array(v, k) for k, v in values.items() if k not in runtime]
    out = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype)), list(out_shape))
    g = helper.make_graph([helper.make_node(op, list(values), ["y"])], "t", ins, [out], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def extremes(dtype, shape):
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    v = rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)
    flat = v.reshape(-1)
    flat[: flat.size // 3] = rng.choice([lo, hi], flat.size // 3)  # a third at the extremes
    return v


# -- hand-checkable -----------------------------------------------------------------------


def test_matmul_integer_by_hand():
    a = np.array([[0, 255], [10, 3]], np.uint8)
    b = np.array([[1, 2], [3, 255]], np.uint8)
    feeds = {"a": a, "b": b, "az": np.array(10, np.uint8), "bz": np.array(3, np.uint8)}
    # (a - 10) = [[-10, 245], [0, -7]], (b - 3) = [[-2, -1], [0, 252]]
    want, _ = convert_and_compare("MatMulInteger", feeds, opset=10)
    assert want.tolist() == [[20, 10 + 245 * 252], [0, -7 * 252]]


def test_qlinear_matmul_by_hand_rounds_half_to_even():
    # m = 1 * 1 / 2: C = 1, 3, 5, -1 -> 0.5, 1.5, 2.5, -0.5 + y_zp 10 -> 10, 12, 12, 10 (ties to even)
    a = np.array([[1, 3, 5, -1]], np.int8).T  # [4, 1]
    consts = {"as": np.array(1.0, np.float32), "az": np.array(0, np.int8), "b": np.array([[1]], np.int8),
              "bs": np.array(1.0, np.float32), "bz": np.array(0, np.int8), "ys": np.array(2.0, np.float32),
              "yz": np.array(10, np.int8)}
    want, _ = convert_and_compare("QLinearMatMul", {"a": a}, consts, with_ort=False)
    assert want.reshape(-1).tolist() == [10, 12, 12, 10]


# -- differential -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_matmul_integer_long_k_is_chunked_and_exact(dtype):
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    a, b = extremes(dtype, (2, 3, 1024)), extremes(dtype, (1024, 5))
    a[0, 0], b[:, 0] = lo, hi  # one output at the worst-case magnitude: 1024 * 255 * 255
    feeds = {"a": a, "b": b, "az": np.array(hi, dtype), "bz": np.array(lo, dtype)}
    want, ops = convert_and_compare("MatMulInteger", feeds, opset=10)
    assert abs(int(want[0, 0, 0])) == 1024 * 255 * 255 > 2**24
    assert ops.count("BATCH_MATMUL") >= 4  # 258 worst-case products per exact float32 chunk


def test_matmul_integer_constant_b_per_column_zero_point():
    a = extremes(np.uint8, (4, 600))
    consts = {"b": extremes(np.uint8, (600, 3)), "az": np.array(0, np.uint8), "bz": np.array([0, 255, 128], np.uint8)}
    convert_and_compare("MatMulInteger", {"a": a}, consts, opset=10)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_conv_integer_padding_strides_groups(dtype):
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    feeds = {"x": extremes(dtype, (2, 6, 9, 8)), "w": extremes(dtype, (4, 3, 3, 2)),
             "xz": np.array(hi, dtype), "wz": np.array([lo, hi, 0, 1], dtype)}
    attrs = {"pads": [1, 0, 2, 1], "strides": [2, 1], "dilations": [1, 2], "group": 2}
    # ONNX Runtime's ConvInteger takes per-tensor weight zero points only: the reference alone here
    convert_and_compare("ConvInteger", feeds, attrs=attrs, opset=10, with_ort=False)


def test_conv_integer_many_channels_is_chunked():
    # constant weights: CONV_2D chunks of input channels (integer_conv); see test_ops_integer_conv.py
    feeds = {"x": extremes(np.uint8, (1, 64, 6, 6))}
    consts = {"w": np.full((2, 64, 3, 3), 255, np.uint8), "xz": np.array(255, np.uint8)}
    want, ops = convert_and_compare("ConvInteger", feeds, consts, attrs={"pads": [1, 1, 1, 1]}, opset=10)
    assert ops.count("CONV_2D") >= 2 and "GATHER" not in ops and np.abs(want).max() > 2**24


def test_conv_integer_runtime_weights_many_channels_is_chunked_over_patches():
    feeds = {"x": extremes(np.uint8, (1, 64, 6, 6)), "w": extremes(np.uint8, (2, 64, 3, 3))}
    feeds["w"][0] = 255
    want, ops = convert_and_compare("ConvInteger", feeds, {"xz": np.array(255, np.uint8)}, attrs={"pads": [1, 1, 1, 1]},
                                    opset=10)
    assert ops.count("BATCH_MATMUL") >= 2 and "CONV_2D" not in ops and np.abs(want).max() > 2**24


def test_matmul_integer_without_zero_points_1d_operand():
    convert_and_compare("MatMulInteger", {"a": extremes(np.int8, (300,)), "b": extremes(np.int8, (2, 300, 3))}, opset=10,
                        with_ort=False)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_integer_1d_auto_pad(auto_pad):
    feeds = {"x": extremes(np.uint8, (2, 5, 11)), "w": extremes(np.uint8, (3, 5, 4)), "xz": np.array(7, np.uint8)}
    convert_and_compare("ConvInteger", feeds, attrs={"auto_pad": auto_pad, "strides": [2]}, opset=10)


def output_params(c: np.ndarray, in_scale: float, dtype, scale_type=np.float32):
    """(y_scale, y_zero_point) spreading the accumulators ``c`` over ~200 output levels."""
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    m = 200.0 / max(float(c.max() - c.min()), 1.0)
    zp = int(np.clip(round((lo + hi) / 2 - float(c.mean()) * m), lo, hi))
    return np.array(in_scale / m, scale_type), np.array(zp, dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("scale_type", [np.float32, np.float16])
def test_qlinear_matmul_matches_reference(dtype, scale_type):
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    a, b = extremes(dtype, (2, 3, 1024)), extremes(dtype, (1024, 7))
    # b's zero point at an extreme, a's mid-range so the accumulators have both signs
    az, bz = np.array((lo + hi) // 2, dtype), np.array(rng.choice([lo, hi]), dtype)
    c = (a.astype(np.int64) - int(az)) @ (b.astype(np.int64) - int(bz))
    ys, yz = output_params(c, 0.02 * 0.013, dtype, scale_type)
    consts = {"as": np.array(0.02, scale_type), "az": az, "b": b, "bs": np.array(0.013, scale_type), "bz": bz,
              "ys": ys, "yz": yz}
    want, ops = convert_and_compare("QLinearMatMul", {"a": a}, consts, with_ort=scale_type == np.float32)
    assert len(np.unique(want)) > 20  # not just saturated values
    assert ops.count("BATCH_MATMUL") >= 2  # |a - a_zp| <= 128, |b - b_zp| <= 255: 514 products a chunk


def test_qlinear_matmul_per_column_scale_runtime_b():
    a, b = extremes(np.int8, (5, 40)), extremes(np.int8, (40, 4))
    c = a.astype(np.int64) @ (b.astype(np.int64) - 127)
    ys, yz = output_params(c, 0.1 * 0.02, np.int8)
    values = {"a": a, "as": np.array(0.1, np.float32), "az": np.array(0, np.int8), "b": b,
              "bs": np.array([0.02, 0.021, 0.019, 0.018], np.float32), "bz": np.array(127, np.int8),
              "ys": ys, "yz": yz}
    model = ordered_model("QLinearMatMul", values, runtime={"a", "b"}, out_shape=[5, 4], out_dtype=np.int8)
    tfl = edgelite.convert(model, keep_io_layout=True)
    feeds = {"a": a, "b": b}
    want = np.asarray(oracle(model, feeds, use_reference=True)[0])
    assert len(np.unique(want)) > 10
    for runtime in RUNTIMES:
        np.testing.assert_array_equal(run(tfl, feeds, runtime), want, err_msg=runtime)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_conv_per_channel_bias_groups(dtype):
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    consts = {"xs": np.array(0.05, np.float32), "xz": np.array(hi, dtype), "w": extremes(dtype, (6, 4, 3, 3)),
              "ws": rng.uniform(0.001, 0.02, 6).astype(np.float32), "wz": np.array(lo, dtype),
              "ys": np.array(3.0, np.float32), "yz": np.array(lo + 77, dtype),
              "B": rng.integers(-50000, 50000, 6).astype(np.int32)}
    attrs = {"group": 2, "pads": [1, 0, 2, 1], "strides": [2, 1], "dilations": [1, 2]}
    want, _ = convert_and_compare("QLinearConv", {"x": extremes(dtype, (2, 8, 9, 9))}, consts, attrs=attrs, opset=10)
    assert len(np.unique(want)) > 20


def test_qlinear_conv_many_ties():
    # m = x_scale * w_scale / y_scale = 0.5 exactly: every odd accumulator is a tie
    x = rng.integers(0, 255, (1, 3, 6, 6), dtype=np.uint8, endpoint=True)
    consts = {"xs": np.array(0.5, np.float32), "xz": np.array(128, np.uint8),
              "w": rng.integers(126, 130, (2, 3, 1, 1), dtype=np.uint8, endpoint=True), "ws": np.array(0.25, np.float32),
              "wz": np.array(128, np.uint8), "ys": np.array(0.25, np.float32), "yz": np.array(128, np.uint8)}
    convert_and_compare("QLinearConv", {"x": x}, consts, opset=10, with_ort=False)


# -- run-time scales and zero points (RuntimeRequant) ------------------------------------------


def _runtime_qlinear_matmul(dtype, scale_type, m, k, n):
    shapes = {"a": [m, k], "b": [k, n]}
    types = {"as": scale_type, "bs": scale_type, "ys": scale_type}
    names = ["a", "as", "az", "b", "bs", "bz", "ys", "yz"]
    values = {x: np.zeros(shapes.get(x, [1]), types.get(x, dtype)) for x in names}
    return ordered_model("QLinearMatMul", values, runtime=set(names), out_shape=[m, n], out_dtype=dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("scale_type", [np.float32, np.float16])
def test_qlinear_matmul_runtime_scales_ties_and_near_ties(dtype, scale_type):
    """One converted model, fed many multipliers at and one ulp around values that make
    ``C * m + y_zp`` exact ties: both runtimes equal the reference everywhere, including the
    elements where a plain float32 requantization (checked here) rounds the other way."""
    from onnx.reference import ReferenceEvaluator

    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    model = _runtime_qlinear_matmul(dtype, scale_type, 32, 8, 32)
    tfl = edgelite.convert(model, keep_io_layout=True)
    reference = ReferenceEvaluator(model)
    interpreters = {r: open_interpreter(tfl, r) for r in RUNTIMES}
    plain_float32_wrong, ties = 0, 0
    for trial in range(60):
        az, bz = np.array([rng.integers(lo, hi, endpoint=True)], dtype), np.array([rng.choice([lo, hi])], dtype)
        # a near its zero point keeps |C| small enough for a coarse multiplier (many ties)
        a = np.clip(int(az[0]) + rng.integers(-4, 4, (32, 8), endpoint=True), lo, hi).astype(dtype)
        a[0] = rng.choice([lo, hi], 8)  # and one row at the extremes
        b = rng.integers(lo, hi, (8, 32), dtype, endpoint=True)
        c = (a.astype(np.int64) - int(az[0])) @ (b.astype(np.int64) - int(bz[0]))
        step = 2.0 ** -int(np.floor(np.log2(max(np.abs(c[1:]).max(), 1) / 150)))  # ~150 levels: ties at some C
        m = scale_type(step * rng.choice([1, 3, 5, 7]))
        if trial % 2:
            m = np.nextafter(m, scale_type(0 if trial % 4 == 1 else 1000))
        yz = np.array([(int(lo) + int(hi)) // 2 + int(rng.integers(-20, 20))], dtype)
        feeds = {"a": a, "as": np.array([m], scale_type), "az": az, "b": b, "bs": np.array([1.0], scale_type),
                 "bz": bz, "ys": np.array([1.0], scale_type), "yz": yz}
        want = reference.run(None, feeds)[0]
        d = c * np.float64(m) + int(yz[0])
        ties += int(np.sum((d - np.floor(d) == 0.5) & (d > lo) & (d < hi)))
        plain = np.clip(np.rint(c.astype(np.float32) * np.float32(m) + np.float32(yz[0])), lo, hi)
        plain_float32_wrong += int(np.sum(plain != want))
        for runtime, it in interpreters.items():
            for det in it.get_input_details():
                it.set_tensor(det["index"], feeds[det["name"]])
            it.invoke()
            got = it.get_tensor(it.get_output_details()[0]["index"])
            np.testing.assert_array_equal(got, want, err_msg=f"{runtime}, m={m!r}")
    assert ties > 50  # the exact ties were reached, not just saturated outputs
    if scale_type == np.float32:
        assert plain_float32_wrong > 0  # and the near-ties where float32 arithmetic is not enough


def test_qlinear_matmul_runtime_float16_scales_round_like_numpy():
    """float16 scales: ``s_a * s_b / s_y`` is rounded to float16 after each operation (numpy's half
    arithmetic); the same scales multiplied in float32 give other outputs (checked), so the
    rounding is exercised."""
    from onnx.reference import ReferenceEvaluator

    model = _runtime_qlinear_matmul(np.uint8, np.float16, 16, 8, 16)
    tfl = edgelite.convert(model, keep_io_layout=True)
    reference = ReferenceEvaluator(model)
    interpreters = {r: open_interpreter(tfl, r) for r in RUNTIMES}
    float32_chain_differs = 0
    for _ in range(40):
        a, b = extremes(np.uint8, (16, 8)), extremes(np.uint8, (8, 16))
        az, bz = np.array([rng.integers(0, 255)], np.uint8), np.array([rng.integers(0, 255)], np.uint8)
        c = (a.astype(np.int64) - int(az[0])) @ (b.astype(np.int64) - int(bz[0]))
        sa, sb = np.float16(rng.uniform(0.001, 0.1)), np.float16(rng.uniform(0.001, 0.1))
        sy = np.float16(float(sa) * float(sb) * np.abs(c).max() / rng.uniform(100, 127))
        feeds = {"a": a, "as": np.array([sa]), "az": az, "b": b, "bs": np.array([sb]), "bz": bz,
                 "ys": np.array([sy]), "yz": np.array([128], np.uint8)}
        want = reference.run(None, feeds)[0]
        m32 = np.float32(sa) * np.float32(sb) / np.float32(sy)
        float32_chain_differs += int(np.any(np.clip(np.rint(c * np.float64(m32) + 128), 0, 255) != want))
        for runtime, it in interpreters.items():
            for det in it.get_input_details():
                it.set_tensor(det["index"], feeds[det["name"]])
            it.invoke()
            np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want, err_msg=runtime)
    assert float32_chain_differs > 5


def hair_from_tie(count: int):
    """``count`` pairs (float32 ``m``, 64 uint8 pairs ``(a, b)``) whose products ``C = a * b`` put
    ``C * m`` closer to a half-integer than float32 resolves: ``0 < |C m - (k + 1/2)| <
    ulp(C m) / 4``, with ``C m < 250`` (found by search; a row of (1, 1) pads the list)."""
    v = np.arange(1, 256)
    products = np.unique(np.outer(v, v))
    found = []
    for m in rng.uniform(2.0**-9, 2.0**-8, 2000).astype(np.float32):
        t = products * np.float64(m)  # exact: at most 16 + 24 bits
        d = t - (np.floor(t) + 0.5)
        close = products[(d != 0) & (np.abs(d) < np.spacing(t.astype(np.float32)) / 4) & (t < 250)][:64]
        if close.size < 2:
            continue
        pairs = [(f, c // f) for c in close for f in [next(x for x in range(1, 256) if c % x == 0 and c // x <= 255)]]
        pairs += [(1, 1)] * (64 - len(pairs))
        found.append((m, np.array(pairs, np.uint8)))
        if len(found) == count:
            break
    return found


def _hair_feeds(m, pairs):
    return {"a": pairs[:, :1].copy(), "as": np.array([m]), "az": np.array([0], np.uint8),
            "b": pairs[:, 1:].T.copy(), "bs": np.array([1.0], np.float32), "bz": np.array([0], np.uint8),
            "ys": np.array([1.0], np.float32), "yz": np.array([0], np.uint8)}


def _plain_float32_wrong(feeds, want) -> int:
    c = feeds["a"].astype(np.int64) @ feeds["b"].astype(np.int64)
    return int(np.sum(np.clip(np.rint(c.astype(np.float32) * feeds["as"][0]), 0, 255) != want))


def test_qlinear_matmul_runtime_scales_a_hair_from_a_tie():
    """Only an exact evaluation of ``C * m`` rounds these like the reference (plain float32
    arithmetic gets some wrong, checked)."""
    from onnx.reference import ReferenceEvaluator

    model = _runtime_qlinear_matmul(np.uint8, np.float32, 64, 1, 64)
    tfl = edgelite.convert(model, keep_io_layout=True)
    reference = ReferenceEvaluator(model)
    interpreters = {r: open_interpreter(tfl, r) for r in RUNTIMES}
    plain_wrong = 0
    for m, pairs in hair_from_tie(12):
        feeds = _hair_feeds(m, pairs)
        want = reference.run(None, feeds)[0]
        plain_wrong += _plain_float32_wrong(feeds, want)
        for runtime, it in interpreters.items():
            for det in it.get_input_details():
                it.set_tensor(det["index"], feeds[det["name"]])
            it.invoke()
            np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want, err_msg=runtime)
    assert plain_wrong > 0


def test_qlinear_matmul_constant_scales_a_hair_from_a_tie():
    """The same accumulators with constant scales (the threshold tables): the float32 estimate
    alone is wrong on some (checked), the int32 correction puts them right."""
    plain_wrong = 0
    for m, pairs in hair_from_tie(3):
        feeds = _hair_feeds(m, pairs)
        consts = {k: v for k, v in feeds.items() if k != "a"}
        want, _ = convert_and_compare("QLinearMatMul", {"a": feeds["a"]}, consts, with_ort=False)
        plain_wrong += _plain_float32_wrong(feeds, want)
    assert plain_wrong > 0


def test_qlinear_conv_runtime_per_channel_scales():
    x = extremes(np.uint8, (1, 2, 5, 5))
    values = {"x": x, "xs": np.array(0.5, np.float32), "xz": np.array(200, np.uint8),
              "w": extremes(np.uint8, (3, 2, 1, 1)), "ws": np.array([0.25, 0.001, 0.03], np.float32),
              "wz": np.array(0, np.uint8), "ys": np.array(0.7, np.float32), "yz": np.array(128, np.uint8)}
    model = ordered_model("QLinearConv", values, runtime={"x", "xs", "ws", "ys", "yz"}, out_shape=[1, 3, 5, 5],
                          out_dtype=np.uint8, opset=10)
    tfl = edgelite.convert(model, keep_io_layout=True)
    assert "CONV_2D" in op_names(tfl)  # constant weights: integer_conv's product, channels last
    feeds = {k: v for k, v in values.items() if k in {"x", "xs", "ws", "ys", "yz"}}
    want = np.asarray(oracle(model, feeds, use_reference=True)[0])
    assert len(np.unique(want)) > 10
    for runtime in RUNTIMES:
        np.testing.assert_array_equal(run(tfl, feeds, runtime), want, err_msg=runtime)


def test_requant_tables_at_the_int32_limit():
    """Thresholds of ``y = rint(C * 2^-24) + 0`` over the widest accumulator range accepted
    (``integer_ops.INT32_LIMIT``): int32 values, non-decreasing, each the first C reaching its level."""
    from edgelite.converter.ops.integer_ops import INT32_LIMIT
    from edgelite.converter.ops.qlinear import Requant

    mult = np.array([2.0**-24], np.float32)

    def f(c):
        return np.clip(np.rint(c * mult), -128, 127).astype(np.int8)

    rq = Requant.build(f, mult, 0, -128, 127, np.int8, (1,), -INT32_LIMIT, INT32_LIMIT)
    t = rq.table[0].astype(np.int64)
    assert rq.table.dtype == np.int32 and np.all(np.diff(t) >= 0)
    inner = t[1:-1]  # levels -127 .. 127
    levels = np.arange(-127, 128)
    assert np.array_equal(f(inner.astype(np.int32)), levels) and np.array_equal(f((inner - 1).astype(np.int32)), levels - 1)


# -- refused --------------------------------------------------------------------------------


def _refused(op, feeds, consts, match, opset=21):
    model = one_node_model(op, feeds, consts=consts, opset=opset)
    with pytest.raises(UnsupportedOperatorError, match=match):
        edgelite.convert(model, keep_io_layout=True)


def test_qlinear_matmul_long_reduction_with_runtime_scales_refused():
    a, b = extremes(np.uint8, (2, 64)), extremes(np.uint8, (64, 3))  # |C| up to 64 * 255 * 255 > 2^19
    feeds = {"a": a, "as": np.array([0.01], np.float32), "az": np.array([1], np.uint8), "b": b,
             "bs": np.array([0.02], np.float32), "bz": np.array([2], np.uint8),
             "ys": np.array([0.5], np.float32), "yz": np.array([3], np.uint8)}
    _refused("QLinearMatMul", feeds, {}, "run-time scales.*2\\^19")


def test_matmul_integer_whose_int32_result_can_wrap_is_refused():
    k = 33100  # 33100 * 255 * 255 > 2^31
    feeds = {"a": np.zeros((1, k), np.uint8), "b": np.zeros((k, 1), np.uint8)}
    _refused("MatMulInteger", feeds, {"az": np.array(255, np.uint8), "bz": np.array(0, np.uint8)}, "below 2\\^31",
             opset=10)


def test_matmul_integer_per_row_a_zero_point_refused():
    feeds = {"a": np.zeros((3, 4), np.uint8), "b": np.zeros((4, 2), np.uint8)}
    _refused("MatMulInteger", feeds, {"az": np.array([1, 2, 3], np.uint8)}, "per tensor expected", opset=10)


# -- models quantized by ONNX Runtime ---------------------------------------------------------


def _conv_matmul_model(tmp_path, r):
    """Conv -> Relu -> Reshape -> MatMul in float32, saved as ``f.onnx`` for ONNX Runtime's quantizers."""
    import onnx
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(r.normal(0, 0.2, (8, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(r.normal(0, 0.1, 8).astype(np.float32), "B"),
             numpy_helper.from_array(r.normal(0, 0.2, (8 * 6 * 6, 10)).astype(np.float32), "M"),
             numpy_helper.from_array(np.array([1, -1], np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "M"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [1, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", 1, [1, 10])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, tmp_path / "f.onnx")
    return str(tmp_path / "f.onnx")


@pytest.mark.parametrize("weight", ["QUInt8", "QInt8"])
def test_onnxruntime_dynamic_quantization_model(tmp_path, weight):
    """``quantize_dynamic``: DynamicQuantizeLinear, ConvInteger, MatMulInteger, then float Cast /
    Mul / Add. Equal to the ONNX reference in both runtimes and close to ONNX Runtime."""
    import onnx
    from onnx.reference import ReferenceEvaluator
    from onnxruntime.quantization import QuantType, quantize_dynamic

    r = np.random.default_rng(3)
    quantize_dynamic(_conv_matmul_model(tmp_path, r), str(tmp_path / "q.onnx"), weight_type=getattr(QuantType, weight),
                     op_types_to_quantize=["Conv", "MatMul"])
    q = onnx.load(tmp_path / "q.onnx")
    assert {"ConvInteger", "MatMulInteger"} <= {n.op_type for n in q.graph.node}
    tfl = edgelite.convert(q, keep_io_layout=True)
    ops = op_names(tfl)
    assert ops.count("CONV_2D") == 1 and "GATHER" not in ops, ops  # integer_conv: no patches
    feeds = {"x": r.normal(0, 1, (1, 3, 12, 12)).astype(np.float32)}
    want = ReferenceEvaluator(q).run(None, feeds)[0]
    for runtime in RUNTIMES:
        np.testing.assert_array_equal(run(tfl, feeds, runtime), want, err_msg=runtime)
    np.testing.assert_allclose(np.asarray(oracle(q, feeds)[0]), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("activation, weight", [("QUInt8", "QInt8"), ("QInt8", "QInt8"), ("QUInt8", "QUInt8")])
def test_onnxruntime_qoperator_model(tmp_path, activation, weight):
    """Conv -> Relu -> Reshape -> MatMul quantized by ``quantize_static(QOperator, per_channel)``:
    QuantizeLinear, QLinearConv (per-channel weights, int32 bias, Relu folded into the output
    range), QLinearMatMul, DequantizeLinear. Equal to the ONNX reference in both runtimes; within
    one output step of ONNX Runtime (whose integer kernels depend on the CPU)."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    r = np.random.default_rng(7)
    float_model = _conv_matmul_model(tmp_path, r)

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": r.normal(0, 1, (1, 3, 12, 12)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(float_model, str(tmp_path / "q.onnx"), Calibration(), quant_format=QuantFormat.QOperator,
                    activation_type=getattr(QuantType, activation), weight_type=getattr(QuantType, weight),
                    per_channel=True)
    q = onnx.load(tmp_path / "q.onnx")
    assert {"QLinearConv", "QLinearMatMul"} <= {n.op_type for n in q.graph.node}
    tfl = edgelite.convert(q, keep_io_layout=True)
    ops = op_names(tfl)
    # the convolution as one float32 CONV_2D (integer_conv), no patches: the only GATHERs are
    # the two threshold look-ups of each requantization (QLinearConv, QLinearMatMul)
    assert ops.count("CONV_2D") == 1 and ops.count("GATHER") == 4 and ops.count("BATCH_MATMUL") == 1, ops
    feeds = {"x": r.normal(0, 1, (1, 3, 12, 12)).astype(np.float32)}
    want = ReferenceEvaluator(q).run(None, feeds)[0]
    step = float(numpy_helper.to_array(next(i for i in q.graph.initializer if i.name.startswith("y_scale"))))
    for runtime in RUNTIMES:
        np.testing.assert_array_equal(run(tfl, feeds, runtime), want, err_msg=runtime)
    np.testing.assert_allclose(np.asarray(oracle(q, feeds)[0]), want, rtol=0, atol=step * 1.001)
