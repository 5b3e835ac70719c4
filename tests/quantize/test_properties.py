"""Property tests: random small CNNs quantize to models LiteRT runs, with the spec's
invariants, close to the float model."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelite.quantize import quantize_model
from edgelite.schema import read_model
from edgelite.schema.fb.ActivationFunctionType import ActivationFunctionType as Act
from edgelite.schema.model import TensorType
from tests.quantize.litert_util import run_litert, sqnr
from tests.quantize.models import Net, image_batch

cnn = st.fixed_dictionaries({
    "seed": st.integers(0, 1000),
    "size": st.sampled_from([6, 8, 12]),
    "c1": st.integers(1, 12),
    "k": st.sampled_from([1, 3, 5]),
    "stride": st.sampled_from([1, 2]),
    "act": st.sampled_from([Act.NONE, Act.RELU, Act.RELU6]),
    "residual": st.booleans(),
    "head": st.sampled_from(["fc", "fc_softmax", "mean"]),
    "io": st.sampled_from(["float32", "int8", "uint8"]),
    "observer": st.sampled_from(["minmax", "percentile", "mse", "entropy", "moving_average"]),
})


def _build(p):
    n = Net(p["seed"])
    x = n.input("x", (1, p["size"], p["size"], 3))
    y = n.conv(x, p["c1"], k=p["k"], stride=p["stride"], act=p["act"])
    d = n.dwconv(y, act=p["act"])
    y = n.add(d, y) if p["residual"] else d
    y = n.mean(y)
    if p["head"] != "mean":
        y = n.fc(y, 5)
        if p["head"] == "fc_softmax":
            y = n.softmax(y)
    n.output(y)
    return n.build()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cnn)
def test_random_cnn_quantizes_validly(p):
    f = _build(p)
    data = image_batch(12, p["size"], seed=p["seed"])
    q = quantize_model(f, "int8", calibration=data, io_type=p["io"], observer=p["observer"], backend="litert")
    m = read_model(q)
    sg = m.subgraphs[0]
    for op in sg.operators:
        name = m.opcode_name(op)
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            x, w, b = (sg.tensors[i] for i in op.inputs)
            assert x.type == w.type == TensorType.INT8 and b.type == TensorType.INT32
            np.testing.assert_allclose(b.quantization.scale, np.float32(x.quantization.scale[0]) * w.quantization.scale,
                                       rtol=1e-6)
            assert np.abs(m.tensor_data(w)).max() <= 127
        for o in op.outputs:
            t = sg.tensors[o]
            if t.type == TensorType.INT8:
                assert -128 <= t.quantization.zero_point[0] <= 127 and t.quantization.scale[0] > 0
    # Scored on calibration samples: held-out data may leave a 1-channel graph's ranges,
    # which measures the data, not the quantizer.
    feeds = [{"x": d[None]} for d in data[:6]]
    # Random weights and 1-channel bottlenecks make some graphs hard: 20 dB is a floor.
    # (moving_average clips by design: averaged per-sample extremes lie inside the range.)
    if p["observer"] != "moving_average":
        assert sqnr(run_litert(f, feeds), run_litert(q, feeds)) > 20.0
