"""``bias_correction="auto"``: choosing between quantized candidates on calibration data.

* the pieces by hand: evenly spread subsets, the multiply-accumulate count that bounds
  the subset, the SQNR formula;
* ``score`` against the same SQNR computed from LiteRT's outputs (the oracle);
* the choice: ``auto`` gives exactly the bytes of the candidate that scores higher on
  the calibration subset (scored independently here with LiteRT), deterministically;
  nothing to choose (no data, or every weight given) means no correction;
* on the TF fixtures where the two options differ by several dB, ``auto`` is as good as
  the better one on held-out inputs;
* the calibration pieces it relies on: the float reference outputs and the means over
  a subset of samples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgelite.errors import QuantizationError
from edgelite.quantize import QuantizeOptions, quantize_model
from edgelite.quantize.calibrate import _MeanAccumulator, activation_tensors, calibrate
from edgelite.quantize.selection import (
    MIN_SAMPLES,
    SCORING_MACS,
    evaluation_samples,
    model_macs,
    output_sqnr_db,
    score,
    scoring_samples,
)
from edgelite.schema import read_model
from tests.quantize.fixture_data import TWINS, calibration_images, fixture_bytes
from tests.quantize.litert_util import run_litert, sqnr
from tests.quantize.models import Net, image_batch, small_cnn

# -- pieces by hand ---------------------------------------------------------------------------


def test_evaluation_samples_spread_evenly():
    assert evaluation_samples(5, 8) == [0, 1, 2, 3, 4]
    assert evaluation_samples(10, 4) == [0, 2, 5, 7]
    assert evaluation_samples(0, 4) == [] and evaluation_samples(7, 0) == []
    picked = evaluation_samples(1000, 32)
    assert len(set(picked)) == 32 and picked == sorted(picked) and picked[-1] < 1000


def test_model_macs_by_hand():
    n = Net(0)
    x = n.input("x", (1, 8, 8, 3))
    c = n.conv(x, 4, k=3, stride=2)  # 4x4x4 outputs x 3*3*3 weights each
    d = n.dwconv(c)  # 4x4x4 outputs x 9 taps
    m = n.mean(d)
    n.output(n.fc(m, 5))  # 5 outputs x 4 inputs
    model = read_model(n.build())
    assert model_macs(model) == 64 * 27 + 64 * 9 + 5 * 4
    assert scoring_samples(model, 32) == 32  # tiny: every sample allowed


def test_scoring_samples_bounded_for_large_models():
    n = Net(0)
    x = n.input("x", (1, 64, 64, 64))
    n.output(n.conv(x, 256, k=3))  # 64*64*256 outputs x 576 = 604M MACs
    model = read_model(n.build())
    macs = model_macs(model)
    assert macs == 64 * 64 * 256 * 576
    assert scoring_samples(model, 32) == SCORING_MACS // macs == 4
    assert scoring_samples(model, 2) == 2  # never more than asked for
    n = Net(0)
    x = n.input("x", (1, 128, 128, 64))
    n.output(n.conv(x, 512, k=3))
    assert scoring_samples(read_model(n.build()), 32) == MIN_SAMPLES


def test_output_sqnr_db():
    assert output_sqnr_db(100.0, 1.0) == pytest.approx(20.0)
    assert output_sqnr_db(1.0, 0.0) == math.inf
    assert output_sqnr_db(0.0, 1.0) == -math.inf


def test_options_are_checked():
    with pytest.raises(QuantizationError, match="bias_correction"):
        QuantizeOptions(bias_correction="yes").validate()
    with pytest.raises(QuantizationError, match="selection_samples"):
        QuantizeOptions(selection_samples=0).validate()
    assert QuantizeOptions().bias_correction == "auto"


# -- score against the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize("io_type", ["float32", "int8", "uint8"])
def test_score_matches_litert(io_type):
    f = small_cnn()
    data = image_batch(8, 16)
    q = quantize_model(f, "int8", calibration=data, io_type=io_type, bias_correction=False)
    feeds = [{"image": d[None]} for d in data[:5]]
    refs = run_litert(f, feeds)
    want = sqnr(refs, run_litert(q, feeds))
    # edgelite's interpreter is bit-exact with LiteRT's built-in kernels on int8 models
    assert score(q, feeds, refs, backend="edgelite") == pytest.approx(want, abs=1e-9)
    assert score(q, feeds, refs, backend="litert") == pytest.approx(want, abs=1e-9)


# -- the choice ---------------------------------------------------------------------------------


def _positive_stack(seed: int = 2) -> bytes:
    """ReLU convs, a depthwise and a pointwise conv: weight rounding biases their outputs."""
    n = Net(seed)
    x = n.input("x", (1, 12, 12, 8))
    h = n.conv(x, 16, k=3)
    h = n.dwconv(h)
    h = n.conv(h, 8, k=1, act=0)
    n.output(n.fc(n.mean(h), 6))
    return n.build()


@pytest.mark.parametrize("seed", [2, 5, 9])
def test_auto_keeps_the_candidate_that_scores_higher_on_calibration_data(seed):
    f = _positive_stack(seed)
    data = np.random.default_rng(seed).uniform(-1, 2, (12, 1, 12, 12, 8)).astype(np.float32)
    off = quantize_model(f, "int8", calibration=data, bias_correction=False, backend="litert")
    on = quantize_model(f, "int8", calibration=data, bias_correction=True, backend="litert")
    auto = quantize_model(f, "int8", calibration=data, backend="litert")
    assert on != off
    feeds = [{"x": d} for d in data]  # 12 samples <= selection_samples: all of them
    refs = run_litert(f, feeds)
    s_off, s_on = sqnr(refs, run_litert(off, feeds)), sqnr(refs, run_litert(on, feeds))
    assert auto == (on if s_on > s_off else off), (s_off, s_on)
    assert auto == quantize_model(f, "int8", calibration=data, backend="litert")  # deterministic
    # the edgelite runner (the default; its float kernels round differently from
    # XNNPACK's, so its calibrated ranges may differ in the last bit) scores the same way
    kw = dict(calibration=data, backend="edgelite")
    off, on = (quantize_model(f, "int8", bias_correction=bc, **kw) for bc in (False, True))
    s_off, s_on = sqnr(refs, run_litert(off, feeds)), sqnr(refs, run_litert(on, feeds))
    assert quantize_model(f, "int8", **kw) == (on if s_on > s_off else off), (s_off, s_on)


def test_auto_scores_only_the_subset():
    """With selection_samples=k, the choice follows the score on those k samples (on this
    model and data the better candidate changes with k, so both outcomes are exercised)."""
    f = small_cnn(seed=0)
    data = image_batch(20, 16, seed=0)
    off = quantize_model(f, "int8", calibration=data, bias_correction=False, backend="litert")
    on = quantize_model(f, "int8", calibration=data, bias_correction=True, backend="litert")
    chosen = []
    for k in (1, 3, 6, 20):
        feeds = [{"image": data[i][None]} for i in evaluation_samples(20, k)]
        refs = run_litert(f, feeds)
        better_on = sqnr(refs, run_litert(on, feeds)) > sqnr(refs, run_litert(off, feeds))
        got = quantize_model(f, "int8", calibration=data, selection_samples=k, backend="litert")
        assert got == (on if better_on else off), k
        chosen.append(better_on)
    assert len(set(chosen)) == 2, chosen


def test_nothing_to_choose_without_data_or_with_given_weights():
    f = small_cnn()
    data = image_batch(6, 16)
    m = read_model(f)
    ranges = calibrate(f, m, [{"image": d[None]} for d in data], backend="litert")
    fixed = {m.subgraphs[0].tensors[t].name: (max(hi - lo, 1e-3) / 255.0, -128) for t, (lo, hi) in ranges.items()}
    # fixed_ranges only (QDQ import): no data, no correction, nothing run
    assert quantize_model(f, "int8", fixed_ranges=fixed) == quantize_model(f, "int8", fixed_ranges=fixed,
                                                                            bias_correction=False)


def test_nothing_scored_when_every_weight_arrives_quantized(monkeypatch):
    """Weights annotated with their own scales (QDQ import) are never corrected, so both
    candidates are the same bytes and auto runs no integer model."""
    from edgelite.quantize import selection
    from edgelite.schema import write_model
    from edgelite.schema.model import QuantizationParameters

    m = read_model(small_cnn())
    sg = m.subgraphs[0]
    for op in sg.operators:
        if m.opcode_name(op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = sg.tensors[op.inputs[1]]
            dim = 3 if m.opcode_name(op) == "DEPTHWISE_CONV_2D" else 0
            data = np.moveaxis(m.tensor_data(w), dim, 0).reshape(w.shape[dim], -1)
            scales = (np.abs(data).max(axis=1) / 127).astype(np.float32)
            w.quantization = QuantizationParameters(scale=scales, zero_point=np.zeros(len(scales), np.int64),
                                                    quantized_dimension=dim)
    f = write_model(m)

    def no_scoring(*args, **kwargs):
        raise AssertionError("nothing to choose: no integer model should run")

    monkeypatch.setattr(selection, "score", no_scoring)
    data = image_batch(6, 16)
    assert quantize_model(f, "int8", calibration=data, backend="litert") == quantize_model(
        f, "int8", calibration=data, bias_correction=False, backend="litert")


_NAMES = [n for n in ("efficientnet_small_96_float32", "mobilenet_v1_025_96_float32") if fixture_bytes(n) is not None]


@pytest.mark.skipif(not _NAMES, reason="fixtures not present")
@pytest.mark.parametrize("name", _NAMES)
def test_auto_is_as_good_as_the_better_option_on_held_out_inputs(name):
    """EfficientNet loses ~3.5 dB with bias correction, MobileNetV1 gains ~6.5 dB: auto
    (which sees only the calibration data) must land on the better one for the test inputs."""
    f = fixture_bytes(name)
    m = read_model(f)
    x = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
    cal = calibration_images(x.shape, 32, TWINS[name][1])
    test = [{x.name: s} for s in calibration_images(x.shape, 12, seed=7)]
    ref = run_litert(f, test)
    q = {bc: quantize_model(f, "int8", calibration=cal, bias_correction=bc) for bc in (False, True, "auto")}
    got = {bc: sqnr(ref, run_litert(model, test)) for bc, model in q.items()}
    assert abs(got[True] - got[False]) > 2.0, got  # the case this test is about
    assert got["auto"] >= max(got[True], got[False]) - 1e-9, got
    assert q["auto"] in (q[True], q[False])  # byte for byte one of the two


def test_quantizing_one_model_twice_gives_the_same_bytes():
    """auto builds two candidates from one parsed model: the first build must not change
    it (metadata buffer indices were rewritten in place, so the second came out different)."""
    from edgelite.quantize.full_integer import quantize_full_integer
    from edgelite.schema import write_model

    n = Net(0)
    x = n.input("x", (1, 8, 8, 3))
    n.output(n.fc(n.mean(n.conv(x, 4)), 3))
    n.b.add_metadata("CONVERSION_METADATA", b'{"source": "test"}')
    m = read_model(n.build())
    before = [(md.name, md.buffer) for md in m.metadata]
    act = {t: (0.02, 0) for t in activation_tensors(m)}
    first = write_model(quantize_full_integer(m, act))
    assert [(md.name, md.buffer) for md in m.metadata] == before
    assert write_model(quantize_full_integer(m, act)) == first


# -- calibration pieces --------------------------------------------------------------------------


def test_references_are_the_float_outputs():
    f = small_cnn()
    data = image_batch(6, 16)
    m = read_model(f)
    feeds = [{"image": d[None]} for d in data]
    refs = {1: None, 4: None}
    calibrate(f, m, feeds, backend="litert", references=refs)
    want = run_litert(f, [feeds[1], feeds[4]])
    for k, w in zip((1, 4), want):
        np.testing.assert_allclose(refs[k][0], w[0], rtol=1e-5, atol=1e-6)


def test_means_over_a_subset_of_samples():
    f = small_cnn()
    data = image_batch(7, 16)
    m = read_model(f)
    feeds = [{"image": d[None]} for d in data]
    t = activation_tensors(m)[1]  # the first conv's output
    means = {t: None}
    calibrate(f, m, feeds, backend="litert", means=means, mean_samples=[0, 3, 6])
    # the oracle: LiteRT's value of that tensor, averaged over the same samples in float64
    from tests.quantize.litert_util import litert

    it = litert.Interpreter(model_content=f, experimental_preserve_all_tensors=True,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    vals = []
    for k in (0, 3, 6):
        it.set_tensor(it.get_input_details()[0]["index"], feeds[k]["image"])
        it.invoke()
        vals.append(it.get_tensor(t).astype(np.float64))
    np.testing.assert_allclose(means[t], np.mean(vals, axis=0), rtol=1e-5, atol=1e-6)


def test_mean_accumulator_folds_blocks_exactly():
    rng = np.random.default_rng(0)
    xs = [rng.normal(3.0, 1.0, (2, 5)).astype(np.float32) for _ in range(11)]
    acc = _MeanAccumulator({0: None}, block=4)
    for x in xs:
        acc.add({0: x})
    np.testing.assert_allclose(acc.means()[0], np.mean(np.array(xs, np.float64), axis=0), rtol=1e-6)
