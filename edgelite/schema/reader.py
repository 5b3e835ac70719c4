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


# -- flatbuffer access ----------------------------------------------------------------------
# The tables ``_read`` walks (Model, SubGraph, Tensor, Operator, Buffer, ...) are read
# here directly, by vtable slot, instead of through the generated classes in
# ``edgelite.schema.fb``: importing those (each with its builder and object API) and
# going through their accessors cost about half of a cold start's model loading. Each
# helper does what ``flatbuffers.table.Table`` does, check for check (offsets must be
# uint32, else TypeError), so any file reads, or fails, exactly as it did through the
# generated classes (tests/schema/test_reader_access.py compares the two on mutated
# files). Slots are the schema's: ``4 + 2 * field id`` (see tflite.fbs or the
# generated ``X.py``, e.g. ``Tensor.Buffer`` reads ``Offset(8)``).
_U8, _I8, _BOOL = struct.Struct("<B"), struct.Struct("<b"), struct.Struct("?")
_U16, _U32, _I32 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<i")
_U64, _F32 = struct.Struct("<Q"), struct.Struct("<f")
_UOFFSET_MAX = 2**32 - 1
_I32_LE, _F32_LE, _I64_LE = np.dtype("<i4"), np.dtype("<f4"), np.dtype("<i8")
_U8_LE, _BOOL_LE = np.dtype("<u1"), np.dtype("bool").newbyteorder("<")


def _uoffset(n: int) -> None:
    """``flatbuffers.number_types.enforce_number(n, UOffsetTFlags)``."""
    if not 0 <= n <= _UOFFSET_MAX:
        raise TypeError(f"bad number {n} for type uint32")


def _get(packer: struct.Struct, buf, off: int):
    """``Table.Get``: the value at ``off``."""
    if not 0 <= off <= _UOFFSET_MAX:
        _uoffset(off)
    return packer.unpack_from(buf, off)[0]


def _slot(buf, pos: int, slot: int) -> int:
    """``Table.Offset``: where field ``slot`` of the table at ``pos`` is, relative to
    ``pos`` (0: absent). The hottest function of reading: the checks are inline."""
    if not 0 <= pos <= _UOFFSET_MAX:
        _uoffset(pos)
    vtable = pos - _I32.unpack_from(buf, pos)[0]
    if not 0 <= vtable <= _UOFFSET_MAX:
        _uoffset(vtable)
    if slot < _U16.unpack_from(buf, vtable)[0]:
        vtable += slot
        if vtable > _UOFFSET_MAX:
            _uoffset(vtable)
        return _U16.unpack_from(buf, vtable)[0]
    return 0


def _scalar(buf, pos: int, slot: int, packer: struct.Struct, default):
    o = _slot(buf, pos, slot)
    if o == 0:
        return default
    o += pos
    if o > _UOFFSET_MAX:
        _uoffset(o)
    return packer.unpack_from(buf, o)[0]


def _vector_len(buf, pos: int, o: int) -> int:
    """``Table.VectorLen`` of the vector whose offset is at field offset ``o``."""
    _uoffset(o)
    off = o + pos
    off += _U32.unpack_from(buf, off)[0]
    return _U32.unpack_from(buf, off)[0]


def _vector(buf, pos: int, o: int) -> int:
    """``Table.Vector``: where the elements of that vector start."""
    _uoffset(o)
    off = o + pos
    return off + _get(_U32, buf, off) + 4


def _length(buf, pos: int, slot: int) -> int:
    """The generated ``XLength()``: 0 for an absent vector."""
    o = _slot(buf, pos, slot)
    return _vector_len(buf, pos, o) if o != 0 else 0


def _indirect(buf, off: int) -> int:
    """``Table.Indirect``: the table an offset at ``off`` points to."""
    _uoffset(off)
    return off + _U32.unpack_from(buf, off)[0]


def _table(buf, off: int) -> int:
    """``Init(buf, off)`` of a generated class: the position of a table, checked."""
    _uoffset(off)
    return off


def _element(buf, pos: int, slot: int, j: int) -> int:
    """The generated ``X(j)`` of a vector of tables (present: the caller read its length)."""
    o = _slot(buf, pos, slot)
    return _table(buf, _indirect(buf, _vector(buf, pos, o) + j * 4))


def _child(buf, pos: int, slot: int) -> int | None:
    """The generated accessor of a table field: its position, or None when absent."""
    o = _slot(buf, pos, slot)
    return _table(buf, _indirect(buf, o + pos)) if o != 0 else None


def _string(buf, pos: int, slot: int) -> bytes | None:
    """The generated string accessor (``Table.String``): the raw bytes or None."""
    o = _slot(buf, pos, slot)
    if o == 0:
        return None
    off = o + pos
    _uoffset(off)
    off += _U32.unpack_from(buf, off)[0]
    start = off + 4
    length = _U32.unpack_from(buf, off)[0]
    return bytes(buf[start : start + length])


def _vector_np(buf, pos: int, slot: int, dtype: np.dtype):
    """The generated ``XAsNumpy()``: a view of the vector, or 0 when absent."""
    o = _slot(buf, pos, slot)
    if o == 0:
        return 0
    start = _vector(buf, pos, o)  # before the length, as Table.GetVectorAsNumpy
    return np.frombuffer(buf, dtype=dtype, count=_vector_len(buf, pos, o), offset=start)


def _union(buf, pos: int, slot: int):
    """The generated union accessor (``Table.Union``): a ``flatbuffers.table.Table``, or None."""
    o = _slot(buf, pos, slot)
    if o == 0:
        return None
    from flatbuffers.table import Table

    t = Table(bytearray(), 0)
    off = o + pos
    t.Pos = off + _get(_U32, buf, off)
    t.Bytes = buf
    return t


def _vec(buf, pos: int, slot: int, dtype: np.dtype, budget: "_Budget", what: str) -> np.ndarray:
    """``_np`` of a vector field read by slot."""
    value = _vector_np(buf, pos, slot, dtype)
    if isinstance(value, int):
        return np.zeros(0, dtype=dtype)
    budget.take(value.size, value.itemsize, what)
    return value


def _absent(buf, pos: int, slot: int) -> bool:
    """The generated ``XIsNone()``."""
    return _slot(buf, pos, slot) == 0


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
        model = _read(_table(buf, _U32.unpack_from(buf, 0)[0]), buf, size, budget)
    except ModelFormatError:
        raise
    except _PARSE_ERRORS as e:
        raise ModelFormatError(f"corrupted model: {type(e).__name__}: {e}") from e
    except RecursionError as e:
        raise ModelFormatError("corrupted model: nesting too deep") from e
    if validate:
        validate_model(model)
    return model


def _read(fb: int, buf, size: int, budget: _Budget) -> Model:
    # ``fb`` and the other ``int`` positions are tables (see the flatbuffer access helpers).
    m = Model(buffers=[])
    m.version = _scalar(buf, fb, 4, _U32, 0)
    m.description = _str(_string(buf, fb, 10))

    n = budget.take(_length(buf, fb, 6), 4, "operator_codes")
    for i in range(n):
        oc = _element(buf, fb, 6, i)
        deprecated = _scalar(buf, oc, 4, _I8, 0)
        # Readers take the larger of the two fields: the byte saturates at 127.
        code = max(int(deprecated), int(_scalar(buf, oc, 10, _I32, 0)))
        m.operator_codes.append(
            OperatorCode(
                builtin_code=code,
                custom_code=_str(_string(buf, oc, 6)),
                version=_scalar(buf, oc, 8, _I32, 1),
                deprecated_builtin_code=int(deprecated),
            )
        )

    n = budget.take(_length(buf, fb, 12), 4, "buffers")
    for i in range(n):
        b = _element(buf, fb, 12, i)
        offset, bsize = int(_scalar(buf, b, 6, _U64, 0)), int(_scalar(buf, b, 8, _U64, 0))
        data = None
        if offset > 1:
            if offset + bsize > size:
                raise ModelFormatError(
                    f"buffer {i}: external data at offset {offset} size {bsize} runs past the "
                    f"end of the {size}-byte file"
                )
            data = np.frombuffer(buf, np.uint8, bsize, offset)
        elif not _absent(buf, b, 4):
            data = _vec(buf, b, 4, _U8_LE, budget, f"buffer {i} data")
        m.buffers.append(Buffer(data=data, offset=offset, size=bsize))

    n = budget.take(_length(buf, fb, 8), 4, "subgraphs")
    for i in range(n):
        m.subgraphs.append(_read_subgraph(_element(buf, fb, 8, i), buf, size, budget, i))

    m.metadata_buffer = [int(v) for v in _vec(buf, fb, 14, _I32_LE, budget, "metadata_buffer")]
    n = budget.take(_length(buf, fb, 16), 4, "metadata")
    for i in range(n):
        md = _element(buf, fb, 16, i)
        m.metadata.append(Metadata(name=_str(_string(buf, md, 4)) or "", buffer=int(_scalar(buf, md, 6, _U32, 0))))

    n = budget.take(_length(buf, fb, 18), 4, "signature_defs")
    for i in range(n):
        sd = _element(buf, fb, 18, i)
        sig = SignatureDef(
            signature_key=_str(_string(buf, sd, 8)) or "", subgraph_index=int(_scalar(buf, sd, 12, _U32, 0))
        )
        for j in range(budget.take(_length(buf, sd, 4), 4, "signature inputs")):
            tm = _element(buf, sd, 4, j)
            sig.inputs.append(TensorMap(name=_str(_string(buf, tm, 4)) or "", tensor_index=int(_scalar(buf, tm, 6, _U32, 0))))
        for j in range(budget.take(_length(buf, sd, 6), 4, "signature outputs")):
            tm = _element(buf, sd, 6, j)
            sig.outputs.append(TensorMap(name=_str(_string(buf, tm, 4)) or "", tensor_index=int(_scalar(buf, tm, 6, _U32, 0))))
        m.signature_defs.append(sig)
    return m


def _read_subgraph(sg: int, buf, size: int, budget: _Budget, index: int) -> Subgraph:
    out = Subgraph(name=_str(_string(buf, sg, 12)), debug_metadata_index=int(_scalar(buf, sg, 14, _I32, -1)))
    for i in range(budget.take(_length(buf, sg, 4), 4, f"subgraph {index} tensors")):
        out.tensors.append(_read_tensor(_element(buf, sg, 4, i), buf, budget))
    out.inputs = [int(v) for v in _vec(buf, sg, 6, _I32_LE, budget, "subgraph inputs")]
    out.outputs = [int(v) for v in _vec(buf, sg, 8, _I32_LE, budget, "subgraph outputs")]
    for i in range(budget.take(_length(buf, sg, 10), 4, f"subgraph {index} operators")):
        out.operators.append(_read_operator(_element(buf, sg, 10, i), buf, size, budget))
    return out


def _read_tensor(t: int, buf, budget: _Budget) -> Tensor:
    shape = tuple(int(d) for d in _vec(buf, t, 4, _I32_LE, budget, "tensor shape"))
    sig = None if _absent(buf, t, 18) else tuple(
        int(d) for d in _vec(buf, t, 18, _I32_LE, budget, "shape_signature")
    )
    tensor = Tensor(
        name=_str(_string(buf, t, 10)) or "",
        shape=shape,
        type=int(_scalar(buf, t, 6, _I8, 0)),
        buffer=int(_scalar(buf, t, 8, _U32, 0)),
        is_variable=bool(_scalar(buf, t, 14, _BOOL, False)),
        shape_signature=sig,
        has_rank=bool(_scalar(buf, t, 20, _BOOL, False)),
    )
    q = _child(buf, t, 12)
    if q is not None:
        qp = QuantizationParameters(
            scale=_vec(buf, q, 8, _F32_LE, budget, "quantization scale"),
            zero_point=_vec(buf, q, 10, _I64_LE, budget, "quantization zero_point"),
            min=None if _absent(buf, q, 4) else _vec(buf, q, 4, _F32_LE, budget, "quantization min"),
            max=None if _absent(buf, q, 6) else _vec(buf, q, 6, _F32_LE, budget, "quantization max"),
            quantized_dimension=int(_scalar(buf, q, 16, _I32, 0)),
            details_type=int(_scalar(buf, q, 12, _U8, 0)),
        )
        if qp.details_type != 0:
            from edgelite.schema.fb.QuantizationDetails import QuantizationDetailsCreator

            qp.details = QuantizationDetailsCreator(qp.details_type, _union(buf, q, 14))
        tensor.quantization = qp
    sp = _child(buf, t, 16)
    if sp is not None:
        from edgelite.schema.fb.SparsityParameters import SparsityParameters as _FbSparsity

        fb_sparsity = _FbSparsity()
        fb_sparsity.Init(buf, sp)
        tensor.sparsity = _read_sparsity(fb_sparsity, budget)
    for i in range(budget.take(_length(buf, t, 22), 4, "variant_tensors")):
        v = _element(buf, t, 22, i)
        tensor.variant_tensors.append(
            VariantSubType(
                shape=[int(d) for d in _vec(buf, v, 4, _I32_LE, budget, "variant shape")],
                type=int(_scalar(buf, v, 6, _I8, 0)),
                has_rank=bool(_scalar(buf, v, 8, _BOOL, False)),
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


def _read_operator(op: int, buf, size: int, budget: _Budget) -> Operator:
    out = Operator(
        opcode_index=int(_scalar(buf, op, 4, _U32, 0)),
        inputs=[int(v) for v in _vec(buf, op, 6, _I32_LE, budget, "operator inputs")],
        outputs=[int(v) for v in _vec(buf, op, 8, _I32_LE, budget, "operator outputs")],
        builtin_options_type=int(_scalar(buf, op, 10, _U8, 0)),
        builtin_options_2_type=int(_scalar(buf, op, 26, _U8, 0)),
        custom_options_format=int(_scalar(buf, op, 16, _I8, 0)),
        mutating_variable_inputs=[
            bool(v) for v in _vec(buf, op, 18, _BOOL_LE, budget, "mutating_variable_inputs")
        ],
        intermediates=[int(v) for v in _vec(buf, op, 20, _I32_LE, budget, "intermediates")],
        large_custom_options_offset=int(_scalar(buf, op, 22, _U64, 0)),
        large_custom_options_size=int(_scalar(buf, op, 24, _U64, 0)),
        debug_metadata_index=int(_scalar(buf, op, 30, _I32, -1)),
    )
    if out.builtin_options_type:
        table = _union(buf, op, 12)
        out.builtin_options = BuiltinOptionsCreator(out.builtin_options_type, table) if table else None
    if out.builtin_options_2_type:
        table = _union(buf, op, 28)
        out.builtin_options_2 = BuiltinOptions2Creator(out.builtin_options_2_type, table) if table else None
    if out.large_custom_options_offset > 1:
        end = out.large_custom_options_offset + out.large_custom_options_size
        if end > size:
            raise ModelFormatError(
                f"custom options at offset {out.large_custom_options_offset} size "
                f"{out.large_custom_options_size} run past the end of the {size}-byte file"
            )
        out.custom_options = bytes(buf[out.large_custom_options_offset : end])
    elif not _absent(buf, op, 14):
        out.custom_options = _vec(buf, op, 14, _U8_LE, budget, "custom_options").tobytes()
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
