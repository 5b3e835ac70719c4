"""One float model per operator the quantizer has an integer rule for.

Each builder returns ``.tflite`` bytes with inputs named ``x`` (and ``y``) of shape
``(1, 8, 8, 4)`` unless noted, and correct static output shapes.
"""

from __future__ import annotations

import numpy as np

from edgelite.schema.fb.ActivationFunctionType import ActivationFunctionType as A
from edgelite.schema.fb.Padding import Padding as P
from edgelite.schema.builder import ModelBuilder

X = (1, 8, 8, 4)
# Operators defined on positive inputs only: tests feed them |N(0, 1)| + 0.1.
POSITIVE_INPUTS = frozenset({"RSQRT"})


def opt(cls_module: str, **fields):
    """An ``edgelite.schema.fb`` ``<cls_module>T`` options object with ``fields`` set."""
    mod = __import__(f"edgelite.schema.fb.{cls_module}", fromlist=[cls_module + "T"])
    o = getattr(mod, cls_module + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def _model(op, out_shapes, options=None, *, extra=(), two_inputs=False, x_shape=X, const_inputs=(), prefix=(),
           y_shape=None):
    """x (and y, of ``x_shape`` unless ``y_shape``) -> op(prefix..., x, [y], consts...) -> outputs."""
    b = ModelBuilder()
    ins = []
    for arr in prefix:
        ins.append(b.add_constant(f"p{len(ins)}", arr))
    x = b.add_input("x", x_shape, np.float32)
    ins.append(x)
    if two_inputs:
        ins.append(b.add_input("y", y_shape or x_shape, np.float32))
    for k, arr in enumerate(const_inputs):
        ins.append(b.add_constant(f"c{k}", arr))
    for k, arr in enumerate(extra):
        ins.append(b.add_constant(f"e{k}", arr) if arr is not None else -1)
    outs = [b.add_tensor(f"out{k}", s, np.float32) for k, s in enumerate(out_shapes)]
    b.add_operator(op, ins, outs, options)
    for o in outs:
        b.mark_output(o)
    return b.build()


def _i32(*v):
    return np.array(v, np.int32)


def build(op: str) -> bytes:
    rng = np.random.default_rng(3)
    F = np.float32
    if op == "CONV_2D":
        o = opt("Conv2DOptions", padding=P.SAME, strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
        return _model(op, [(1, 8, 8, 6)], o, extra=[rng.normal(0, 0.3, (6, 3, 3, 4)).astype(F), rng.normal(0, 0.1, 6).astype(F)])
    if op == "DEPTHWISE_CONV_2D":
        o = opt("DepthwiseConv2DOptions", padding=P.SAME, strideW=1, strideH=1, depthMultiplier=1,
                 dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=A.RELU)
        return _model(op, [X], o, extra=[rng.normal(0, 0.3, (1, 3, 3, 4)).astype(F), rng.normal(0, 0.1, 4).astype(F)])
    if op == "FULLY_CONNECTED":
        o = opt("FullyConnectedOptions")
        return _model(op, [(1, 5)], o, x_shape=(1, 16), extra=[rng.normal(0, 0.3, (5, 16)).astype(F), rng.normal(0, 0.1, 5).astype(F)])
    if op == "TRANSPOSE_CONV":
        o = opt("TransposeConvOptions", padding=P.SAME, strideW=2, strideH=2)
        return _model(op, [(1, 16, 16, 3)], o, prefix=[_i32(1, 16, 16, 3), rng.normal(0, 0.3, (3, 3, 3, 4)).astype(F)],
                      extra=[rng.normal(0, 0.1, 3).astype(F)])
    if op in ("ADD", "SUB", "MAXIMUM", "MINIMUM"):
        opts = {"ADD": "AddOptions", "SUB": "SubOptions", "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions"}
        return _model(op, [X], opt(opts[op]), two_inputs=True)
    if op == "SQUARED_DIFFERENCE":
        return _model(op, [X], opt("SquaredDifferenceOptions"), two_inputs=True)
    if op == "RSQRT":  # fed positive values (``POSITIVE_INPUTS``): LiteRT's int8 RSQRT refuses negatives
        return _model(op, [X])
    if op == "MUL":
        return _model(op, [X], opt("MulOptions"), const_inputs=[rng.uniform(0.5, 2.0, (1, 1, 1, 4)).astype(F)])
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = opt("Pool2DOptions", padding=P.VALID, strideW=2, strideH=2, filterWidth=2, filterHeight=2)
        return _model(op, [(1, 4, 4, 4)], o)
    if op == "RESHAPE":
        return _model(op, [(1, 256)], opt("ReshapeOptions", newShape=[1, 256]), extra=[_i32(1, 256)])
    if op == "SQUEEZE":
        return _model(op, [(8, 8, 4)], opt("SqueezeOptions", squeezeDims=[0]))
    if op == "EXPAND_DIMS":
        return _model(op, [(1, 8, 8, 1, 4)], opt("ExpandDimsOptions"), extra=[_i32(3)])
    if op == "CONCATENATION":
        return _model(op, [(1, 8, 8, 8)], opt("ConcatenationOptions", axis=3), two_inputs=True)
    if op == "PACK":
        return _model(op, [(2, 8, 4)], opt("PackOptions", valuesCount=2, axis=0), two_inputs=True, x_shape=(8, 4))
    if op in ("SOFTMAX", "LOG_SOFTMAX"):
        o = opt("SoftmaxOptions", beta=1.0) if op == "SOFTMAX" else opt("LogSoftmaxOptions")
        return _model(op, [(1, 10)], o, x_shape=(1, 10))
    if op in ("LOGISTIC", "TANH", "RELU", "RELU6", "HARD_SWISH", "RELU_0_TO_1", "RELU_N1_TO_1", "EXP"):
        return _model(op, [X], opt("HardSwishOptions") if op == "HARD_SWISH" else None)
    if op == "LEAKY_RELU":
        return _model(op, [X], opt("LeakyReluOptions", alpha=0.2))
    if op == "L2_NORMALIZATION":
        return _model(op, [X], opt("L2NormOptions"))
    if op in ("MEAN", "SUM", "REDUCE_MAX"):
        return _model(op, [(1, 4)], opt("ReducerOptions", keepDims=False), extra=[_i32(1, 2)])
    if op == "PAD":
        return _model(op, [(1, 10, 10, 4)], opt("PadOptions"), extra=[np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)])
    if op == "PADV2":
        return _model(op, [(1, 10, 10, 4)], opt("PadV2Options"),
                      extra=[np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32), np.array(0.25, np.float32)])
    if op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        cls = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
        return _model(op, [(1, 16, 16, 4)], opt(cls), extra=[_i32(16, 16)])
    if op == "TRANSPOSE":
        return _model(op, [(1, 4, 8, 8)], opt("TransposeOptions"), extra=[_i32(0, 3, 1, 2)])
    if op == "GATHER":
        return _model(op, [(1, 8, 8, 2)], opt("GatherOptions", axis=3), extra=[_i32(3, 0)])
    if op == "SLICE":
        return _model(op, [(1, 4, 4, 4)], opt("SliceOptions"), extra=[_i32(0, 2, 2, 0), _i32(1, 4, 4, 4)])
    if op == "STRIDED_SLICE":
        return _model(op, [(1, 4, 4, 4)], opt("StridedSliceOptions"),
                      extra=[_i32(0, 0, 0, 0), _i32(1, 8, 8, 4), _i32(1, 2, 2, 1)])
    if op == "SPACE_TO_DEPTH":
        return _model(op, [(1, 4, 4, 16)], opt("SpaceToDepthOptions", blockSize=2))
    if op == "DEPTH_TO_SPACE":
        return _model(op, [(1, 16, 16, 1)], opt("DepthToSpaceOptions", blockSize=2))
    if op == "SPACE_TO_BATCH_ND":
        return _model(op, [(4, 4, 4, 4)], opt("SpaceToBatchNDOptions"), extra=[_i32(2, 2), np.zeros((2, 2), np.int32)])
    if op == "BATCH_TO_SPACE_ND":
        return _model(op, [(1, 8, 8, 4)], opt("BatchToSpaceNDOptions"), x_shape=(4, 4, 4, 4),
                      extra=[_i32(2, 2), np.zeros((2, 2), np.int32)])
    if op == "SPLIT":
        return _model(op, [(1, 8, 8, 2), (1, 8, 8, 2)], opt("SplitOptions", numSplits=2), prefix=[_i32(3)])
    if op == "SPLIT_V":
        return _model(op, [(1, 8, 8, 1), (1, 8, 8, 3)], opt("SplitVOptions", numSplits=2), extra=[_i32(1, 3), _i32(3)])
    if op == "UNPACK":
        return _model(op, [(8, 4)] * 8, opt("UnpackOptions", num=8, axis=0), x_shape=(8, 8, 4))
    if op == "DYNAMIC_UPDATE_SLICE":  # a KV cache (x) updated with one step (y) at position 3
        return _model(op, [X], two_inputs=True, y_shape=(1, 1, 8, 4), extra=[_i32(0, 3, 0, 0)])
    raise KeyError(op)


def inputs_of(model_bytes: bytes):
    from edgelite.schema import read_model

    m = read_model(model_bytes)
    sg = m.subgraphs[0]
    return [(sg.tensors[i].name, sg.tensors[i].shape) for i in sg.inputs]
