"""Helpers for the single-op tests of the extended op families (any ONNX dtype).

``check_op`` builds a one-node ONNX model, converts it, runs the ``.tflite`` in both
edgelite's interpreter and LiteRT, and compares each with the oracle (ONNX Runtime,
or ``onnx.reference`` for ops ONNX Runtime lacks).
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
from onnx import helper

import edgelite
from tests.converter.helpers import op_names, run_tflite


def one_node_model(op, feeds, attrs=None, consts=None, out_shape=None, opset=18, n_outputs=1):
    """``op(*inputs)`` with ``feeds`` as graph inputs and ``consts`` as initializers (in that order)."""
    consts = consts or {}
    names = list(feeds) + list(consts)
    outs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outs, **(attrs or {}))
    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)) for k, v in feeds.items()]
    inits = [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    outputs = [helper.make_tensor_value_info(o, 0, None) for o in outs]
    g = helper.make_graph([node], "t", ins, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for i, o in enumerate(outs):  # ONNX Runtime wants typed outputs
        m.graph.output[i].CopyFrom(known[o])
    if out_shape is not None:  # declared where the shape depends on input values
        dt = m.graph.output[0].type.tensor_type.elem_type
        m.graph.output[0].CopyFrom(helper.make_tensor_value_info(outs[0], dt, list(out_shape)))
    return m


def oracle(model, feeds, use_reference=False):
    if use_reference:
        from onnx.reference import ReferenceEvaluator

        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as OrtNotImplemented

    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except OrtNotImplemented:  # a dtype ONNX Runtime has no kernel for: the ONNX reference then
        return oracle(model, feeds, use_reference=True)
    return sess.run(None, feeds)


def assert_close(got, want, rtol=1e-5, atol=1e-6):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)


def check_op(
    op, feeds, attrs=None, consts=None, opset=18, rtol=1e-5, atol=1e-6, use_reference=False, n_outputs=1, out_shape=None,
    input_shapes=None,
):
    """Convert, run in both runtimes, compare with the oracle; return the TFLite op names.

    ``input_shapes`` goes to ``edgelite.convert`` (an input with a 0 dimension reads as dynamic).
    """
    model = one_node_model(op, feeds, attrs, consts, out_shape=out_shape, opset=opset, n_outputs=n_outputs)
    tfl = edgelite.convert(model, keep_io_layout=True, input_shapes=input_shapes)
    want = oracle(model, feeds, use_reference)
    for runtime in ("edgelite", "litert"):
        got = run_tflite(tfl, feeds, runtime)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_close(np.asarray(g), np.asarray(w), rtol, atol)
    return op_names(tfl)
