"""Wire compatibility of edgelite's schema (edgelite/schema/tflite.fbs) with TFLite v3.

The reference is the official generated Python shipped with ai-edge-litert
(``ai_edge_litert.schema_py_generated``). We check:

* every enum / union name and value of the official module exists in ours with
  the same value;
* every table class and accessor method exists in ours, the accessors read the
  same vtable slots with the same scalar types (traced with a fake table), and
  the builder functions write the same slots / types / defaults (traced with a
  fake builder);
* real byte round-trips of a full Model in both directions, the "TFL3" file
  identifier, and (if available) that the LiteRT interpreter runs a model
  serialized with our code.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import flatbuffers
import numpy as np
import pytest

tfl = pytest.importorskip("ai_edge_litert.schema_py_generated")

FBS = Path(__file__).resolve().parents[2] / "edgelite" / "schema" / "tflite.fbs"
OFFICIAL = {n: c for n, c in vars(tfl).items() if inspect.isclass(c) and c.__module__ == tfl.__name__}
TABLES = sorted(n for n, c in OFFICIAL.items() if hasattr(c, "Init") and hasattr(c, "GetRootAs"))
OBJ_CLASSES = sorted(n for n in OFFICIAL if n.endswith("T") and n[:-1] in TABLES)
ENUMS = sorted(set(OFFICIAL) - set(TABLES) - set(OBJ_CLASSES))
UNIONS = sorted(n for n in ENUMS if set(vars(OFFICIAL[n])) & set(TABLES))


def ours(name):
    """Class ``name`` from our generated package (one module per type; XT lives in X)."""
    module = name[:-1] if name in OBJ_CLASSES else name
    return getattr(importlib.import_module(f"edgelite.schema.fb.{module}"), name)


def ours_module(name):
    return importlib.import_module(f"edgelite.schema.fb.{name}")


def enum_members(cls):
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


# --------------------------------------------------------------------------- enums / unions


def test_reference_module_is_populated():
    assert len(TABLES) > 150 and len(ENUMS) > 15
    assert {"BuiltinOperator", "BuiltinOptions", "BuiltinOptions2", "TensorType"} <= set(ENUMS)


@pytest.mark.parametrize("name", ENUMS)
def test_enum_values_match(name):
    theirs, mine = enum_members(OFFICIAL[name]), enum_members(ours(name))
    assert theirs, name
    diff = {k: (v, mine.get(k)) for k, v in theirs.items() if mine.get(k) != v}
    assert not diff, f"{name}: (official, ours) mismatches {diff}"
    # A value must never name two different things in the two schemas.
    clash = {v: k for k, v in mine.items() if v in theirs.values() and k not in theirs}
    assert not clash, f"{name}: values reused under other names {clash}"


@pytest.mark.parametrize("name", UNIONS)
def test_union_members_are_tables(name):
    for member in enum_members(OFFICIAL[name]):
        if member != "NONE":
            assert member in TABLES, f"{name}.{member}"
            ours(member)


# --------------------------------------------------------------------------- tables


class FakeTab:
    """Stands in for flatbuffers.table.Table and records what an accessor reads."""

    Bytes = bytearray(64)
    Pos = 0

    def __init__(self):
        self.calls = []

    def _rec(self, *call):
        self.calls.append(call)

    def Offset(self, vtable_offset):
        self._rec("Offset", vtable_offset)
        return 4

    def Get(self, flags, off):
        self._rec("Get", flags.__name__)
        return 1

    def GetVectorAsNumpy(self, flags, off):
        self._rec("GetVectorAsNumpy", flags.__name__)
        return np.zeros(1)

    def String(self, off):
        self._rec("String")
        return b"s"

    def Vector(self, off):
        self._rec("Vector")
        return 8

    def VectorLen(self, off):
        self._rec("VectorLen")
        return 1

    def Indirect(self, off):
        self._rec("Indirect")
        return 8

    def Union(self, table, off):
        self._rec("Union")


class FakeBuilder:
    """Records the builder calls made by generated Start/Add/End functions."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, method):
        def record(*args):
            self.calls.append((method, *args))
            return 0

        return record


def accessors(cls):
    return sorted(
        n
        for n, f in vars(cls).items()
        if inspect.isfunction(f) and n[0].isupper() and n != "Init" and "BufferHasIdentifier" not in n
    )


def trace_read(cls, method):
    obj = cls()
    obj._tab = FakeTab()
    nargs = len(inspect.signature(getattr(cls, method)).parameters) - 1
    getattr(obj, method)(*([0] * nargs))
    return obj._tab.calls


@pytest.mark.parametrize("name", TABLES)
def test_table_accessors_read_same_slots(name):
    theirs, mine = OFFICIAL[name], ours(name)
    # Same accessor set: nothing missing, and no extra field (e.g. a deprecated
    # slot that we forgot to mark deprecated).
    assert set(accessors(mine)) == set(accessors(theirs)), name
    for method in accessors(theirs):
        assert trace_read(mine, method) == trace_read(theirs, method), f"{name}.{method}"


BUILDER_FN = re.compile(r"^(Start|End|Add[A-Z]\w*|Start\w+Vector)$")


def builder_functions(table, module=tfl):
    """Module-level builder functions of ``table`` (e.g. TensorAddShape)."""
    out = []
    for fname, fn in vars(module).items():
        if inspect.isfunction(fn) and fname.startswith(table) and BUILDER_FN.match(fname[len(table):]):
            # Skip functions of a longer table name sharing this prefix.
            if not any(t != table and t.startswith(table) and fname.startswith(t) for t in TABLES):
                out.append(fname)
    return out


@pytest.mark.parametrize("name", TABLES)
def test_table_builders_write_same_slots(name):
    fns = builder_functions(name)
    assert f"{name}Start" in fns and f"{name}End" in fns
    mod = ours_module(name)
    assert sorted(builder_functions(name, mod)) == sorted(fns), name
    for fname in fns:
        nargs = len(inspect.signature(getattr(tfl, fname)).parameters) - 1
        args = [7] * nargs
        a, b = FakeBuilder(), FakeBuilder()
        getattr(tfl, fname)(a, *args)
        getattr(mod, fname)(b, *args)
        assert a.calls == b.calls, fname


@pytest.mark.parametrize("name", OBJ_CLASSES)
def test_object_api_fields_and_defaults(name):
    theirs, mine = vars(OFFICIAL[name]()), vars(ours(name)())
    assert {k: mine.get(k, "<missing>") for k in theirs} == theirs


# --------------------------------------------------------------------------- byte round-trips


def test_schema_file_declares_identifier():
    text = FBS.read_text()
    assert re.search(r'^file_identifier\s+"TFL3";', text, re.M)
    assert re.search(r"^namespace\s+edgelite\.schema\.fb;", text, re.M)
    assert re.search(r"^root_type\s+Model;", text, re.M)


def build_model(mod):
    """A Model using most features, built with ``mod``'s object API."""
    M = (lambda n: ours(n)) if mod == "ours" else (lambda n: getattr(tfl, n))
    conv = M("Conv2DOptionsT")()
    conv.padding, conv.strideW, conv.strideH = 1, 2, 3
    conv.fusedActivationFunction, conv.dilationHFactor, conv.quantizedBiasType = 3, 4, 4
    composite = M("StableHLOCompositeOptionsT")()
    composite.name, composite.decompositionSubgraphIndex, composite.version = "comp", 1, 5
    op = M("OperatorT")()
    op.opcodeIndex, op.inputs, op.outputs = 1, [0, -1], [1]
    op.builtinOptionsType, op.builtinOptions = M("BuiltinOptions").Conv2DOptions, conv
    op.builtinOptions2Type, op.builtinOptions2 = M("BuiltinOptions2").StableHLOCompositeOptions, composite
    op.customOptions, op.mutatingVariableInputs, op.intermediates = [1, 2, 3], [False, True], [5]
    op.largeCustomOptionsOffset, op.largeCustomOptionsSize, op.debugMetadataIndex = 1 << 33, 77, 9
    quant = M("QuantizationParametersT")()
    quant.min, quant.max, quant.scale, quant.zeroPoint, quant.quantizedDimension = [-1.0], [1.0], [0.5, 0.25], [3, 4], 1
    quant.detailsType, quant.details = M("QuantizationDetails").CustomQuantization, M("CustomQuantizationT")()
    quant.details.custom = [9, 8]
    dim0, dim1 = M("DimensionMetadataT")(), M("DimensionMetadataT")()
    dim0.format, dim0.denseSize = 0, 4
    dim1.format = 1
    dim1.arraySegmentsType, dim1.arraySegments = M("SparseIndexVector").Int32Vector, M("Int32VectorT")()
    dim1.arraySegments.values = [0, 2]
    dim1.arrayIndicesType, dim1.arrayIndices = M("SparseIndexVector").Uint8Vector, M("Uint8VectorT")()
    dim1.arrayIndices.values = [1, 3]
    sparsity = M("SparsityParametersT")()
    sparsity.traversalOrder, sparsity.blockMap, sparsity.dimMetadata = [0, 1], [1], [dim0, dim1]
    tensor = M("TensorT")()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = [1, 4], M("TensorType").INT8, 1, "w"
    tensor.quantization, tensor.sparsity, tensor.isVariable = quant, sparsity, True
    tensor.shapeSignature, tensor.hasRank = [-1, 4], True
    subgraph = M("SubGraphT")()
    subgraph.tensors, subgraph.inputs, subgraph.outputs = [tensor], [0], [0]
    subgraph.operators, subgraph.name, subgraph.debugMetadataIndex = [op], "main", 2
    code0, code1 = M("OperatorCodeT")(), M("OperatorCodeT")()
    code0.builtinCode, code0.deprecatedBuiltinCode, code0.version = M("BuiltinOperator").CONV_2D, 3, 2
    code1.builtinCode, code1.customCode = M("BuiltinOperator").CUSTOM, "my_op"
    buf0, buf1 = M("BufferT")(), M("BufferT")()
    buf1.data, buf1.offset, buf1.size = [1, 2, 3, 4], 1 << 40, 4
    meta = M("MetadataT")()
    meta.name, meta.buffer = "min_runtime_version", 1
    tin, tout = M("TensorMapT")(), M("TensorMapT")()
    tin.name, tin.tensorIndex, tout.name, tout.tensorIndex = "x", 0, "y", 0
    sig = M("SignatureDefT")()
    sig.inputs, sig.outputs, sig.signatureKey, sig.subgraphIndex = [tin], [tout], "serving_default", 0
    model = M("ModelT")()
    model.version, model.description = 3, "edgelite test"
    model.operatorCodes, model.subgraphs, model.buffers = [code0, code1], [subgraph], [buf0, buf1]
    model.metadataBuffer, model.metadata, model.signatureDefs = [1], [meta], [sig]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def check_model(buf, M):
    """Read ``buf`` with module accessors ``M`` and check every field set above."""
    assert M("Model").ModelBufferHasIdentifier(buf, 0)
    assert buf[4:8] == b"TFL3"
    m = M("Model").GetRootAs(buf, 0)
    assert (m.Version(), m.Description(), m.MetadataBufferAsNumpy().tolist()) == (3, b"edgelite test", [1])
    c0, c1 = m.OperatorCodes(0), m.OperatorCodes(1)
    assert (c0.BuiltinCode(), c0.DeprecatedBuiltinCode(), c0.Version(), c0.CustomCode()) == (3, 3, 2, None)
    assert (c1.BuiltinCode(), c1.CustomCode(), c1.Version()) == (32, b"my_op", 1)
    b1 = m.Buffers(1)
    assert (b1.DataAsNumpy().tolist(), b1.Offset(), b1.Size(), m.Buffers(0).DataLength()) == ([1, 2, 3, 4], 1 << 40, 4, 0)
    md = m.Metadata(0)
    assert (md.Name(), md.Buffer()) == (b"min_runtime_version", 1)
    sig = m.SignatureDefs(0)
    assert (sig.SignatureKey(), sig.SubgraphIndex(), sig.Inputs(0).Name(), sig.Outputs(0).Name()) == (
        b"serving_default", 0, b"x", b"y")
    sg = m.Subgraphs(0)
    assert (sg.Name(), sg.InputsAsNumpy().tolist(), sg.DebugMetadataIndex()) == (b"main", [0], 2)
    t = sg.Tensors(0)
    assert (t.ShapeAsNumpy().tolist(), t.Type(), t.Buffer(), t.Name(), t.IsVariable(), t.HasRank()) == (
        [1, 4], 9, 1, b"w", True, True)
    assert t.ShapeSignatureAsNumpy().tolist() == [-1, 4]
    q = t.Quantization()
    assert (q.ScaleAsNumpy().tolist(), q.ZeroPointAsNumpy().tolist(), q.QuantizedDimension()) == ([0.5, 0.25], [3, 4], 1)
    assert (q.MinAsNumpy().tolist(), q.MaxAsNumpy().tolist(), q.DetailsType()) == ([-1.0], [1.0], 1)
    custom = M("CustomQuantization")()
    custom.Init(q.Details().Bytes, q.Details().Pos)
    assert custom.CustomAsNumpy().tolist() == [9, 8]
    s = t.Sparsity()
    assert (s.TraversalOrderAsNumpy().tolist(), s.BlockMapAsNumpy().tolist(), s.DimMetadataLength()) == ([0, 1], [1], 2)
    assert (s.DimMetadata(0).Format(), s.DimMetadata(0).DenseSize()) == (0, 4)
    d1 = s.DimMetadata(1)
    seg, idx = M("Int32Vector")(), M("Uint8Vector")()
    seg.Init(d1.ArraySegments().Bytes, d1.ArraySegments().Pos)
    idx.Init(d1.ArrayIndices().Bytes, d1.ArrayIndices().Pos)
    assert (d1.ArraySegmentsType(), d1.ArrayIndicesType()) == (1, 3)
    assert (seg.ValuesAsNumpy().tolist(), idx.ValuesAsNumpy().tolist()) == ([0, 2], [1, 3])
    op = sg.Operators(0)
    assert (op.OpcodeIndex(), op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()) == (1, [0, -1], [1])
    assert (op.CustomOptionsAsNumpy().tolist(), op.IntermediatesAsNumpy().tolist()) == ([1, 2, 3], [5])
    assert op.MutatingVariableInputsAsNumpy().tolist() == [False, True]
    assert (op.LargeCustomOptionsOffset(), op.LargeCustomOptionsSize(), op.DebugMetadataIndex()) == (1 << 33, 77, 9)
    assert op.BuiltinOptionsType() == 1
    conv = M("Conv2DOptions")()
    conv.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    assert (conv.Padding(), conv.StrideW(), conv.StrideH(), conv.FusedActivationFunction()) == (1, 2, 3, 3)
    assert (conv.DilationWFactor(), conv.DilationHFactor(), conv.QuantizedBiasType()) == (1, 4, 4)
    assert op.BuiltinOptions2Type() == 21
    comp = M("StableHLOCompositeOptions")()
    comp.Init(op.BuiltinOptions2().Bytes, op.BuiltinOptions2().Pos)
    assert (comp.Name(), comp.DecompositionSubgraphIndex(), comp.Version()) == (b"comp", 1, 5)


def official(name):
    return getattr(tfl, name)


@pytest.mark.parametrize(
    "writer, reader", [("ours", official), ("official", ours), ("ours", ours), ("official", official)]
)
def test_model_round_trip(writer, reader):
    check_model(build_model(writer), reader)


def test_object_api_round_trip_is_byte_identical():
    # Unpacking our bytes with the official object API and repacking gives the same bytes.
    buf = build_model("ours")
    builder = flatbuffers.Builder(1024)
    builder.Finish(tfl.ModelT.InitFromBuf(buf, int.from_bytes(buf[:4], "little")).Pack(builder), file_identifier=b"TFL3")
    assert bytes(builder.Output()) == buf == build_model("official")


def test_litert_interpreter_runs_model_built_with_our_schema():
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter")
    M = ours
    tensors = []
    for name in ("a", "b", "out"):
        t = M("TensorT")()
        t.shape, t.type, t.buffer, t.name = [1, 4], M("TensorType").FLOAT32, 0, name
        tensors.append(t)
    add = M("AddOptionsT")()
    add.fusedActivationFunction = M("ActivationFunctionType").RELU
    op = M("OperatorT")()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    op.builtinOptionsType, op.builtinOptions = M("BuiltinOptions").AddOptions, add
    sg = M("SubGraphT")()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [0, 1], [2], [op]
    code = M("OperatorCodeT")()
    code.builtinCode = code.deprecatedBuiltinCode = M("BuiltinOperator").ADD
    model = M("ModelT")()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sg], [M("BufferT")()]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    interp = interp_mod.Interpreter(model_content=bytes(builder.Output()))
    interp.allocate_tensors()
    ins = interp.get_input_details()
    interp.set_tensor(ins[0]["index"], np.array([[1, -2, 3, -4]], np.float32))
    interp.set_tensor(ins[1]["index"], np.array([[1, 1, 1, 1]], np.float32))
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, [[2, 0, 4, 0]])
