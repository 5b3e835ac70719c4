"""Read ``.tflite`` flatbuffers into the typed ``Model``.

Files are memory-mapped and constant buffers become zero-copy numpy views, so reading
a 100 MB model costs about as much as parsing its few thousand tables. Every length
and offset read from the file is checked against the file's size before it is used:
a truncated, corrupted or foreign file raises ``ModelFormatError`` saying what is
wrong, never a segfault, a hang or a bare ``IndexError``.

Example:
    >>> from edgelite.schema import read_model, write_model
    >>> from edgelite.schema.builder import ModelBuilder
    >>> import numpy as np
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", shape=(1, 4), dtype=np.float32)
    >>> y = b.add_tensor("y", shape=(1, 4), dtype=np.float32)
    >>> _ = b.add_operator("RELU", inputs=[x], outputs=[y])
    >>> b.mark_output(y)
    >>> m = read_model(b.build())
    >>> m.opcode_name(m.subgraphs[0].operators[0])
    'RELU'
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

import numpy as np

from edgelite.errors import ModelFormatError
from edgelite.schema.fb.BuiltinOptions import BuiltinOptionsCreator
from edgelite.schema.fb.BuiltinOptions2 import BuiltinOptions2Creator
from edgelite.schema.fb.Model import Model as _FbModel
from edgelite.schema.model import (
    Buffer,
    DimensionMetadata,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SignatureDef,
    SparsityParameters,
    Subgraph,
    Tensor,
    TensorMap,
    VariantSubType,
)

FILE_IDENTIFIER = b"TFL3"

# Errors the generated accessors raise on out-of-range reads.
_PARSE_ERRORS = (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError, OverflowError, AttributeError)


class _Budget:
    """Caps the number of elements parsed, so shared offsets cannot blow up the work.

    Every element of a well-formed file occupies at least one distinct byte, so a file
    of N bytes holds at most N elements; a malicious file that points many tables at
    the same huge vector would otherwise cost quadratic time.
    """

    def __init__(self, nbytes: int):
        self.left = nbytes + 4096
        self.nbytes = nbytes

    def take(self, count: int, elem_size: int, what: str) -> int:
        if count < 0 or count * max(elem_size, 1) > self.nbytes:
            raise ModelFormatError(
                f"{what}: vector of {count} elements does not fit in a {self.nbytes}-byte file"
            )
        self.left -= count
        if self.left < 0:
            raise ModelFormatError(f"{what}: the file references more elements than it can hold")
        return count


def _np(acc, dtype, budget: _Budget, what: str) -> np.ndarray:
    """A numpy vector from a generated ``XAsNumpy`` accessor (0 means absent)."""
    value = acc()
    if isinstance(value, int):
        return np.zeros(0, dtype=dtype)
    budget.take(value.size, value.itemsize, what)
    return value


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _open(source) -> tuple[Any, int]:
    """The bytes-like object to parse and its size; paths are memory-mapped."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise ModelFormatError(f"{path}: empty file, not a TFLite model")
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise ModelFormatError(f"{path}: cannot read model file: {e.strerror or e}") from e
        return buf, size
    if isinstance(source, memoryview):
        source = source.cast("B") if source.format != "B" else source
        return source, source.nbytes
    if isinstance(source, (bytes, bytearray, mmap.mmap)):
        return source, len(source)
    if isinstance(source, np.ndarray):
        data = source.view(np.uint8).ravel()
        return memoryview(data), data.nbytes
    raise TypeError(f"read_model takes a path or bytes, not {type(source).__name__}")


def read_model(source, *, validate: bool = True) -> Model:
    """Parse a ``.tflite`` model from a path or a bytes-like object.

    Args:
        source: file path (memory-mapped), or ``bytes``/``bytearray``/``memoryview``.
        validate: check that every index (tensors, buffers, opcodes, subgraphs) is in
            range, so later stages can index without checking.

    Returns:
        The typed ``Model``; constant buffers are read-only views of ``source``.

    Raises:
        ModelFormatError: the data is not a well-formed TFLite model.
    """
    buf, size = _open(source)
    if size < 8:
        raise ModelFormatError(f"model is {size} bytes: too short to be a TFLite flatbuffer")
    ident = bytes(buf[4:8])
    if ident != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"bad file identifier {ident!r}: expected {FILE_IDENTIFIER!r} (is this a TFLite model?)"
        )
    root = struct.unpack_from("<I", buf, 0)[0]
    if root < 8 or root + 4 > size:
        raise ModelFormatError(f"root table offset {root} is outside the {size}-byte file")
    budget = _Budget(size)
    try:
        fb = _FbModel.GetRootAs(buf, 0)
        model = _read(fb, buf, size, budget)
    except ModelFormatError:
        raise
    except _PARSE_ERRORS as e:
        raise ModelFormatError(f"corrupted model: {type(e).__name__}: {e}") from e
    except RecursionError as e:
        raise ModelFormatError("corrupted model: nesting too deep") from e
    if validate:
        validate_model(model)
    return model


def _read(fb, buf, size: int, budget: _Budget) -> Model:
    m = Model(buffers=[])
    m.version = fb.Version()
    m.description = _str(fb.Description())

    n = budget.take(fb.OperatorCodesLength(), 4, "operator_codes")
    for i in range(n):
        oc = fb.OperatorCodes(i)
        deprecated = oc.DeprecatedBuiltinCode()
        # Readers take the larger of the two fields: the byte saturates at 127.
        code = max(int(deprecated), int(oc.BuiltinCode()))
        m.operator_codes.append(
            OperatorCode(
                builtin_code=code,
                custom_code=_str(oc.CustomCode()),
                version=oc.Version(),
                deprecated_builtin_code=int(deprecated),
            )
        )

    n = budget.take(fb.BuffersLength(), 4, "buffers")
    for i in range(n):
        b = fb.Buffers(i)
        offset, bsize = int(b.Offset()), int(b.Size())
        data = None
        if offset > 1:
            if offset + bsize > size:
                raise ModelFormatError(
                    f"buffer {i}: external data at offset {offset} size {bsize} runs past the "
                    f"end of the {size}-byte file"
                )
            data = np.frombuffer(buf, np.uint8, bsize, offset)
        elif not b.DataIsNone():
            data = _np(b.DataAsNumpy, np.uint8, budget, f"buffer {i} data")
        m.buffers.append(Buffer(data=data, offset=offset, size=bsize))

    n = budget.take(fb.SubgraphsLength(), 4, "subgraphs")
    for i in range(n):
        m.subgraphs.append(_read_subgraph(fb.Subgraphs(i), buf, size, budget, i))

    m.metadata_buffer = [int(v) for v in _np(fb.MetadataBufferAsNumpy, np.int32, budget, "metadata_buffer")]
    n = budget.take(fb.MetadataLength(), 4, "metadata")
    for i in range(n):
        md = fb.Metadata(i)
        m.metadata.append(Metadata(name=_str(md.Name()) or "", buffer=int(md.Buffer())))

    n = budget.take(fb.SignatureDefsLength(), 4, "signature_defs")
    for i in range(n):
        sd = fb.SignatureDefs(i)
        sig = SignatureDef(signature_key=_str(sd.SignatureKey()) or "", subgraph_index=int(sd.SubgraphIndex()))
        for j in range(budget.take(sd.InputsLength(), 4, "signature inputs")):
            tm = sd.Inputs(j)
            sig.inputs.append(TensorMap(name=_str(tm.Name()) or "", tensor_index=int(tm.TensorIndex())))
        for j in range(budget.take(sd.OutputsLength(), 4, "signature outputs")):
            tm = sd.Outputs(j)
            sig.outputs.append(TensorMap(name=_str(tm.Name()) or "", tensor_index=int(tm.TensorIndex())))
        m.signature_defs.append(sig)
    return m


def _read_subgraph(sg, buf, size: int, budget: _Budget, index: int) -> Subgraph:
    out = Subgraph(name=_str(sg.Name()), debug_metadata_index=int(sg.DebugMetadataIndex()))
    for i in range(budget.take(sg.TensorsLength(), 4, f"subgraph {index} tensors")):
        out.tensors.append(_read_tensor(sg.Tensors(i), budget))
    out.inputs = [int(v) for v in _np(sg.InputsAsNumpy, np.int32, budget, "subgraph inputs")]
    out.outputs = [int(v) for v in _np(sg.OutputsAsNumpy, np.int32, budget, "subgraph outputs")]
    for i in range(budget.take(sg.OperatorsLength(), 4, f"subgraph {index} operators")):
        out.operators.append(_read_operator(sg.Operators(i), buf, size, budget))
    return out


def _read_tensor(t, budget: _Budget) -> Tensor:
    shape = tuple(int(d) for d in _np(t.ShapeAsNumpy, np.int32, budget, "tensor shape"))
    sig = None if t.ShapeSignatureIsNone() else tuple(
        int(d) for d in _np(t.ShapeSignatureAsNumpy, np.int32, budget, "shape_signature")
    )
    tensor = Tensor(
        name=_str(t.Name()) or "",
        shape=shape,
        type=int(t.Type()),
        buffer=int(t.Buffer()),
        is_variable=bool(t.IsVariable()),
        shape_signature=sig,
        has_rank=bool(t.HasRank()),
    )
    q = t.Quantization()
    if q is not None:
        qp = QuantizationParameters(
            scale=_np(q.ScaleAsNumpy, np.float32, budget, "quantization scale"),
            zero_point=_np(q.ZeroPointAsNumpy, np.int64, budget, "quantization zero_point"),
            min=None if q.MinIsNone() else _np(q.MinAsNumpy, np.float32, budget, "quantization min"),
            max=None if q.MaxIsNone() else _np(q.MaxAsNumpy, np.float32, budget, "quantization max"),
            quantized_dimension=int(q.QuantizedDimension()),
            details_type=int(q.DetailsType()),
        )
        if qp.details_type != 0:
            from edgelite.schema.fb.QuantizationDetails import QuantizationDetailsCreator

            qp.details = QuantizationDetailsCreator(qp.details_type, q.Details())
        tensor.quantization = qp
    sp = t.Sparsity()
    if sp is not None:
        tensor.sparsity = _read_sparsity(sp, budget)
    for i in range(budget.take(t.VariantTensorsLength(), 4, "variant_tensors")):
        v = t.VariantTensors(i)
        tensor.variant_tensors.append(
            VariantSubType(
                shape=[int(d) for d in _np(v.ShapeAsNumpy, np.int32, budget, "variant shape")],
                type=int(v.Type()),
                has_rank=bool(v.HasRank()),
            )
        )
    return tensor


def _read_index_vector(kind: int, table, budget: _Budget) -> np.ndarray | None:
    if kind == 0 or table is None:
        return None
    from edgelite.schema.fb.Int32Vector import Int32Vector
    from edgelite.schema.fb.Uint8Vector import Uint8Vector
    from edgelite.schema.fb.Uint16Vector import Uint16Vector

    cls, dtype = {1: (Int32Vector, np.int32), 2: (Uint16Vector, np.uint16), 3: (Uint8Vector, np.uint8)}.get(
        kind, (None, None)
    )
    if cls is None:
        raise ModelFormatError(f"sparse index vector has unknown type {kind}")
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return _np(vec.ValuesAsNumpy, dtype, budget, "sparse index vector")


def _read_sparsity(sp, budget: _Budget) -> SparsityParameters:
    out = SparsityParameters(
        traversal_order=[int(v) for v in _np(sp.TraversalOrderAsNumpy, np.int32, budget, "traversal_order")],
        block_map=[int(v) for v in _np(sp.BlockMapAsNumpy, np.int32, budget, "block_map")],
    )
    for i in range(budget.take(sp.DimMetadataLength(), 4, "dim_metadata")):
        d = sp.DimMetadata(i)
        out.dim_metadata.append(
            DimensionMetadata(
                format=int(d.Format()),
                dense_size=int(d.DenseSize()),
                array_segments=_read_index_vector(d.ArraySegmentsType(), d.ArraySegments(), budget),
                array_indices=_read_index_vector(d.ArrayIndicesType(), d.ArrayIndices(), budget),
            )
        )
    return out


def _read_operator(op, buf, size: int, budget: _Budget) -> Operator:
    out = Operator(
        opcode_index=int(op.OpcodeIndex()),
        inputs=[int(v) for v in _np(op.InputsAsNumpy, np.int32, budget, "operator inputs")],
        outputs=[int(v) for v in _np(op.OutputsAsNumpy, np.int32, budget, "operator outputs")],
        builtin_options_type=int(op.BuiltinOptionsType()),
        builtin_options_2_type=int(op.BuiltinOptions2Type()),
        custom_options_format=int(op.CustomOptionsFormat()),
        mutating_variable_inputs=[
            bool(v) for v in _np(op.MutatingVariableInputsAsNumpy, np.bool_, budget, "mutating_variable_inputs")
        ],
        intermediates=[int(v) for v in _np(op.IntermediatesAsNumpy, np.int32, budget, "intermediates")],
        large_custom_options_offset=int(op.LargeCustomOptionsOffset()),
        large_custom_options_size=int(op.LargeCustomOptionsSize()),
        debug_metadata_index=int(op.DebugMetadataIndex()),
    )
    if out.builtin_options_type:
        table = op.BuiltinOptions()
        out.builtin_options = BuiltinOptionsCreator(out.builtin_options_type, table) if table else None
    if out.builtin_options_2_type:
        table = op.BuiltinOptions2()
        out.builtin_options_2 = BuiltinOptions2Creator(out.builtin_options_2_type, table) if table else None
    if out.large_custom_options_offset > 1:
        end = out.large_custom_options_offset + out.large_custom_options_size
        if end > size:
            raise ModelFormatError(
                f"custom options at offset {out.large_custom_options_offset} size "
                f"{out.large_custom_options_size} run past the end of the {size}-byte file"
            )
        out.custom_options = bytes(buf[out.large_custom_options_offset : end])
    elif not op.CustomOptionsIsNone():
        out.custom_options = _np(op.CustomOptionsAsNumpy, np.uint8, budget, "custom_options").tobytes()
    return out


def validate_model(model: Model) -> None:
    """Check every cross-reference of ``model``; raise ``ModelFormatError`` naming the first bad one."""
    nbuf, nops, nsub = len(model.buffers), len(model.operator_codes), len(model.subgraphs)
    if nsub == 0:
        raise ModelFormatError("model has no subgraphs")
    for s, sg in enumerate(model.subgraphs):
        nt = len(sg.tensors)
        where = f"subgraph {s}"
        for t_index, t in enumerate(sg.tensors):
            if not 0 <= t.buffer < max(nbuf, 1):
                raise ModelFormatError(f"{where} tensor {t_index} ({t.name!r}): buffer index {t.buffer} out of range [0, {nbuf})")
            if any(d < -1 for d in t.shape) or any(d < 0 for d in t.shape if t.shape_signature is None):
                raise ModelFormatError(f"{where} tensor {t_index} ({t.name!r}): invalid shape {list(t.shape)}")
            q = t.quantization
            if q is not None and len(q.scale) and len(q.zero_point) not in (0, len(q.scale)):
                raise ModelFormatError(
                    f"{where} tensor {t_index} ({t.name!r}): {len(q.scale)} scales but {len(q.zero_point)} zero points"
                )
            if q is not None and len(q.scale) > 1 and not 0 <= q.quantized_dimension < max(len(t.shape), 1):
                raise ModelFormatError(
                    f"{where} tensor {t_index} ({t.name!r}): quantized_dimension {q.quantized_dimension} out of range"
                )
        for kind, idx in (("input", sg.inputs), ("output", sg.outputs)):
            for i in idx:
                if not 0 <= i < nt:
                    raise ModelFormatError(f"{where} {kind} tensor index {i} out of range [0, {nt})")
        for o_index, op in enumerate(sg.operators):
            if not 0 <= op.opcode_index < nops:
                raise ModelFormatError(f"{where} operator {o_index}: opcode index {op.opcode_index} out of range [0, {nops})")
            for i in op.inputs + op.intermediates:
                if not -1 <= i < nt:
                    raise ModelFormatError(f"{where} operator {o_index}: tensor index {i} out of range [0, {nt})")
            for i in op.outputs:
                if not 0 <= i < nt:
                    raise ModelFormatError(f"{where} operator {o_index}: output tensor index {i} out of range [0, {nt})")
    for sig in model.signature_defs:
        if not 0 <= sig.subgraph_index < nsub:
            raise ModelFormatError(f"signature {sig.signature_key!r}: subgraph index {sig.subgraph_index} out of range")
        nt = len(model.subgraphs[sig.subgraph_index].tensors)
        for tm in sig.inputs + sig.outputs:
            if not 0 <= tm.tensor_index < nt:
                raise ModelFormatError(
                    f"signature {sig.signature_key!r}: tensor {tm.name!r} index {tm.tensor_index} out of range"
                )
    for md in model.metadata:
        if not 0 <= md.buffer < nbuf:
            raise ModelFormatError(f"metadata {md.name!r}: buffer index {md.buffer} out of range [0, {nbuf})")
