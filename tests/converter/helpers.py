"""Shared helpers for converter tests: build ONNX graphs, run ONNX Runtime and LiteRT.

LiteRT runs every converted model; inputs and outputs are moved between ONNX's and
the model's layout using the ``edgelite_io_layout`` metadata the converter writes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

# The converter needs onnx; the oracles are ONNX Runtime and LiteRT. Without them the
# converter tests skip (edgelite itself runs on numpy + flatbuffers alone).
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
from onnx import TensorProto, helper, numpy_helper

import edgelite
from edgelite.schema import read_model

_NP2ONNX = {
    np.float32: TensorProto.FLOAT,
    np.int64: TensorProto.INT64,
    np.int32: TensorProto.INT32,
    np.bool_: TensorProto.BOOL,
}


def make_model(nodes, inputs, outputs, inits=None, opset=17, value_info=()):
    """``inputs``/``outputs``: lists of ``(name, numpy dtype, shape)`` (shape None = infer)."""

    def vi(n, dt, s):
        return helper.make_tensor_value_info(n, _NP2ONNX[np.dtype(dt).type], s)

    g = helper.make_graph(
        nodes,
        "test",
        [vi(*i) for i in inputs],
        [vi(*o) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
        value_info=[vi(*v) for v in value_info],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def random_feeds(model, seed=0, int_high=4):
    rng = np.random.default_rng(seed)
    feeds = {}
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim]
        dt = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if dt == np.bool_:
            feeds[vi.name] = rng.random(shape) > 0.5
        elif np.issubdtype(dt, np.integer):
            feeds[vi.name] = rng.integers(0, int_high, shape).astype(dt)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(dt)
    return feeds


def ort_qdq_session(model, threads: int = 1):
    """An ONNX Runtime session that executes a QDQ model as its graph says, on any CPU.

    The oracle of the QDQ differential tests. With ORT's default graph optimizations a
    QuantizeLinear/DequantizeLinear pair around an op is fused into an integer kernel whose
    arithmetic depends on the CPU: without AVX-512 VNNI / AVX-VNNI its u8 x s8 products are
    summed in saturating 16-bit pairs (``vpmaddubsw``), which can be several output steps off
    (ORT's docs recommend ``reduce_range`` there). ``ORT_DISABLE_ALL`` keeps the graph as
    written: DequantizeLinear -> float32 op -> QuantizeLinear, the meaning of the QDQ model,
    computed the same way on every x86 CPU (float32 rounding differences stay far below one
    output step).
    """
    import onnxruntime as ort

    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def run_ort(model, feeds):
    import onnxruntime as ort

    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def io_layout(tfl: bytes) -> dict[str, str]:
    return json.loads(read_model(tfl).metadata_dict()["edgelite_io_layout"])


def _to_model(x, layout):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if layout in ("NHWC", "NWC", "NDHWC") else x


def _from_model(y, layout):
    return np.moveaxis(y, -1, 1) if layout in ("NHWC", "NWC", "NDHWC") else y


def run_tflite(tfl: bytes, feeds, interpreter="litert"):
    """Run a converted model in LiteRT (or edgelite's interpreter) with ONNX-layout feeds."""
    if interpreter == "litert":
        from ai_edge_litert.interpreter import Interpreter
    else:
        from edgelite.interpreter import Interpreter
    layout = io_layout(tfl)
    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], _to_model(feeds[d["name"]], layout[d["name"]]))
    it.invoke()
    return [_from_model(it.get_tensor(d["index"]), layout[d["name"]]) for d in it.get_output_details()]


def open_interpreter(tfl: bytes, interp: str = "edgelite"):
    """``tfl`` in edgelite's interpreter, or (any other ``interp``) in LiteRT's built-in kernels
    without XNNPACK (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``); tensors allocated, model layout."""
    if interp == "edgelite":
        it = edgelite.Interpreter(model_content=tfl)
    else:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        it = Interpreter(model_content=tfl, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def op_names(tfl: bytes) -> list[str]:
    m = read_model(tfl)
    return [m.opcode_name(o) for o in m.subgraphs[0].operators]


def check(model, feeds=None, rtol=1e-4, atol=1e-5, interpreter="litert", **options) -> list[str]:
    """Convert ``model``, run it in LiteRT and ONNX Runtime, assert they agree; return op names."""
    feeds = feeds if feeds is not None else random_feeds(model)
    tfl = edgelite.convert(model, **options)
    want = run_ort(model, feeds)
    got = run_tflite(tfl, feeds, interpreter)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w)
        else:
            scale = max(float(np.abs(w).max()), 1e-6)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * scale)
    return op_names(tfl)
