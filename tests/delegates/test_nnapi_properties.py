"""Property tests: random convolution and pooling geometries, delegated vs CPU kernels.

Strides, dilations, kernel sizes, SAME/VALID padding and fused activations drawn by
hypothesis; each case is a one-operator float model run on the CPU kernels and through the
NNAPI delegate on the test double (whose evaluator follows the NNAPI documentation).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import edgelite
from edgelite.delegates.nnapi import abi
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT
from tests.delegates.nnapi_helpers import double_path, rel_diff, run_both


def _out(size: int, k: int, stride: int, dilation: int, same: bool) -> int:
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if same else -(-(size - eff + 1) // stride)


geometry = st.fixed_dictionaries({
    "h": st.integers(3, 9), "w": st.integers(3, 9), "cin": st.integers(1, 4), "cout_mult": st.integers(1, 3),
    "kh": st.integers(1, 3), "kw": st.integers(1, 3), "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "dil": st.integers(1, 2), "same": st.booleans(), "act": st.sampled_from([0, 1, 2, 3]),
    "op": st.sampled_from(["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"]),
})


def _model(g, rng) -> bytes | None:
    op = g["op"]
    dil = g["dil"] if op.endswith("CONV_2D") else 1
    oh = _out(g["h"], g["kh"], g["sh"], dil, g["same"])
    ow = _out(g["w"], g["kw"], g["sw"], dil, g["same"])
    if oh < 1 or ow < 1:
        return None
    b = ModelBuilder()
    x = b.add_input("x", (1, g["h"], g["w"], g["cin"]), np.float32)
    if op == "CONV_2D":
        cout = g["cin"] * g["cout_mult"]
        wt = b.add_constant("w", rng.standard_normal((cout, g["kh"], g["kw"], g["cin"])).astype(np.float32))
        opt = Conv2DOptionsT()
    elif op == "DEPTHWISE_CONV_2D":
        cout = g["cin"] * g["cout_mult"]
        wt = b.add_constant("w", rng.standard_normal((1, g["kh"], g["kw"], cout)).astype(np.float32))
        opt = DepthwiseConv2DOptionsT()
        opt.depthMultiplier = g["cout_mult"]
    else:
        cout = g["cin"]
        opt = Pool2DOptionsT()
        opt.filterHeight, opt.filterWidth = g["kh"], g["kw"]
    opt.padding = 0 if g["same"] else 1
    opt.strideH, opt.strideW = g["sh"], g["sw"]
    opt.fusedActivationFunction = g["act"]
    y = b.add_tensor("y", (1, oh, ow, cout), np.float32)
    if op.endswith("CONV_2D"):
        opt.dilationHFactor = opt.dilationWFactor = dil
        bias = b.add_constant("b", rng.standard_normal(cout).astype(np.float32))
        b.add_operator(op, [x, wt, bias], [y], opt)
    else:
        b.add_operator(op, [x], [y], opt)
    b.mark_output(y)
    return b.build()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=geometry, seed=st.integers(0, 2**16))
def test_geometry_matches_cpu(g, seed):
    data = _model(g, np.random.default_rng(seed))
    assume(data is not None)  # the window does not fit the input
    path = double_path()
    ref, got, it = run_both(data, edgelite.load_delegate("nnapi", {"library": path}), seed=seed)
    assert it.get_delegation_plan().partitions, it.get_delegation_plan().describe()
    assert rel_diff(ref, got) <= 1e-5, g


def test_prototypes_exported_by_the_double():
    """Every entry point the binding declares exists in the double at its feature level."""
    import ctypes

    for level in (27, 29, 31):
        lib = ctypes.CDLL(double_path(level))
        for name, (_, _, need) in abi.PROTOTYPES.items():
            assert hasattr(lib, name) == (need <= level), (level, name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_strided_slice_matches_cpu(data):
    from edgelite.schema.fb.StridedSliceOptions import StridedSliceOptionsT

    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    rank = len(shape)
    begin = [data.draw(st.integers(-s, s - 1)) for s in shape]
    end = [data.draw(st.integers(-s, s)) for s in shape]
    strides = [data.draw(st.sampled_from([1, 2, -1])) for _ in shape]
    masks = [data.draw(st.integers(0, 2**rank - 1)) for _ in range(3)]
    masks[2] &= ~(masks[0] | masks[1])  # shrink only where begin/end are used
    index = []
    for d in range(rank):
        if masks[2] >> d & 1:
            index.append(begin[d] % shape[d])
        else:
            index.append(slice(None if masks[0] >> d & 1 else begin[d], None if masks[1] >> d & 1 else end[d], strides[d]))
    out_shape = np.zeros(shape)[tuple(index)].shape
    assume(all(s > 0 for s in out_shape) and len(out_shape) > 0)
    b = ModelBuilder()
    x = b.add_input("x", tuple(shape), np.float32)
    consts = [b.add_constant(n, np.array(v, np.int32)) for n, v in (("b", begin), ("e", end), ("s", strides))]
    y = b.add_tensor("y", out_shape, np.float32)
    opt = StridedSliceOptionsT()
    opt.beginMask, opt.endMask, opt.shrinkAxisMask = masks
    b.add_operator("STRIDED_SLICE", [x, *consts], [y], opt)
    b.mark_output(y)
    path = double_path()
    ref, got, it = run_both(b.build(), edgelite.load_delegate("nnapi", {"library": path}))
    assert it.get_delegation_plan().partitions
    assert (ref[0] == got[0]).all() and ref[0].shape == got[0].shape
