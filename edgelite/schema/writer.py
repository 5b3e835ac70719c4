"""Write the typed ``Model`` as a ``.tflite`` flatbuffer (schema v3, identifier ``TFL3``).

Buffer data is 16-byte aligned in the file, as the schema asks. Models whose
constant data would push the flatbuffer past its 2 GB limit store the data after the
flatbuffer and point to it with ``Buffer.offset``/``Buffer.size``, as LiteRT reads it.
Output is deterministic: the same model gives the same bytes.

Example:
    >>> from edgelite.schema.model import Model, Subgraph
    >>> data = write_model(Model(subgraphs=[Subgraph()]))
    >>> data[4:8]
    b'TFL3'
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from edgelite.errors import ModelFormatError
from edgelite.schema.fb import Buffer as fbBuffer
from edgelite.schema.fb import DimensionMetadata as fbDim
from edgelite.schema.fb import Int32Vector as fbI32
from edgelite.schema.fb import Metadata as fbMetadata
from edgelite.schema.fb import Model as fbModel
from edgelite.schema.fb import Operator as fbOperator
from edgelite.schema.fb import OperatorCode as fbOpCode
from edgelite.schema.fb import QuantizationParameters as fbQuant
from edgelite.schema.fb import SignatureDef as fbSig
from edgelite.schema.fb import SparsityParameters as fbSparsity
from edgelite.schema.fb import SubGraph as fbSubGraph
from edgelite.schema.fb import Tensor as fbTensor
from edgelite.schema.fb import TensorMap as fbTensorMap
from edgelite.schema.fb import Uint8Vector as fbU8
from edgelite.schema.fb import Uint16Vector as fbU16
from edgelite.schema.fb import VariantSubType as fbVariant
from edgelite.schema.model import Model, Operator, SparsityParameters, Subgraph, Tensor
from edgelite.schema.ops import PLACEHOLDER_FOR_GREATER_OP_CODES

FILE_IDENTIFIER = b"TFL3"
# Flatbuffers address with 32-bit offsets; leave room for the tables themselves.
_INLINE_LIMIT = 2**31 - 2**26
_DATA_ALIGN = 16


def write_model(model: Model, *, external_data: bool | None = None) -> bytes:
    """Serialize ``model`` to ``.tflite`` bytes.

    Args:
        model: the model; ``buffers[0]`` should be the empty sentinel.
        external_data: store constant data after the flatbuffer (``Buffer.offset``).
            ``None`` chooses it only when the data would not fit inline (> ~2 GB).

    Returns:
        The file contents.

    Raises:
        ModelFormatError: the model cannot be serialized (e.g. options of an unknown type).
    """
    total = sum(b.nbytes for b in model.buffers)
    if external_data is None:
        external_data = total > _INLINE_LIMIT
    if not external_data:
        return _build(model, None)
    # Two passes: placeholder offsets fix the flatbuffer's size (the fields are
    # fixed-width), then the real offsets are written with the same layout.
    placeholders = [(2**40, b.nbytes) if b.nbytes else None for b in model.buffers]
    head = _build(model, placeholders)
    offsets, pos = [], _align(len(head), _DATA_ALIGN)
    for b in model.buffers:
        if b.nbytes:
            offsets.append((pos, b.nbytes))
            pos = _align(pos + b.nbytes, _DATA_ALIGN)
        else:
            offsets.append(None)
    head = _build(model, offsets)
    parts = [head]
    cursor = len(head)
    for b, where in zip(model.buffers, offsets):
        if where is None:
            continue
        parts.append(b"\0" * (where[0] - cursor))
        parts.append(np.ascontiguousarray(b.data).tobytes())
        cursor = where[0] + where[1]
    return b"".join(parts)


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _vector(b: flatbuffers.Builder, values, dtype) -> int:
    return b.CreateNumpyVector(np.ascontiguousarray(values, dtype=dtype).ravel())


def _bytes_vector(b: flatbuffers.Builder, data: np.ndarray, alignment: int) -> int:
    raw = np.ascontiguousarray(data).view(np.uint8).ravel()
    b.StartVector(1, raw.size, alignment)
    b.head = b.head - raw.size
    b.Bytes[b.head : b.head + raw.size] = raw.data  # one copy: no intermediate bytes object
    b.vectorNumElems = raw.size
    return b.EndVector()


def _build(model: Model, external: list | None) -> bytes:
    inline = 0 if external is not None else sum(b.nbytes for b in model.buffers)
    # Room for everything at once: growing the builder copies all that it holds.
    b = flatbuffers.Builder(inline + _table_bytes(model))

    buffer_offs = []
    for i, buf in enumerate(model.buffers):
        data_off = None
        if external is None and buf.data is not None and buf.data.size:
            data_off = _bytes_vector(b, buf.data, _DATA_ALIGN)
        fbBuffer.BufferStart(b)
        if data_off is not None:
            fbBuffer.BufferAddData(b, data_off)
        if external is not None and external[i] is not None:
            fbBuffer.BufferAddOffset(b, external[i][0])
            fbBuffer.BufferAddSize(b, external[i][1])
        buffer_offs.append(fbBuffer.BufferEnd(b))

    opcode_offs = []
    for oc in model.operator_codes:
        custom = b.CreateString(oc.custom_code) if oc.custom_code is not None else None
        fbOpCode.OperatorCodeStart(b)
        fbOpCode.OperatorCodeAddDeprecatedBuiltinCode(b, min(int(oc.builtin_code), PLACEHOLDER_FOR_GREATER_OP_CODES))
        if custom is not None:
            fbOpCode.OperatorCodeAddCustomCode(b, custom)
        fbOpCode.OperatorCodeAddVersion(b, int(oc.version))
        fbOpCode.OperatorCodeAddBuiltinCode(b, int(oc.builtin_code))
        opcode_offs.append(fbOpCode.OperatorCodeEnd(b))

    subgraph_offs = [_subgraph(b, sg, s) for s, sg in enumerate(model.subgraphs)]

    metadata_offs = []
    for md in model.metadata:
        name = b.CreateString(md.name)
        fbMetadata.MetadataStart(b)
        fbMetadata.MetadataAddName(b, name)
        fbMetadata.MetadataAddBuffer(b, int(md.buffer))
        metadata_offs.append(fbMetadata.MetadataEnd(b))

    sig_offs = [_signature(b, sig) for sig in model.signature_defs]

    description = b.CreateString(model.description) if model.description is not None else None
    opcodes_vec = _offsets_vector(b, fbModel.ModelStartOperatorCodesVector, opcode_offs)
    subgraphs_vec = _offsets_vector(b, fbModel.ModelStartSubgraphsVector, subgraph_offs)
    buffers_vec = _offsets_vector(b, fbModel.ModelStartBuffersVector, buffer_offs)
    metadata_buffer_vec = _vector(b, model.metadata_buffer, "<i4") if model.metadata_buffer else None
    metadata_vec = _offsets_vector(b, fbModel.ModelStartMetadataVector, metadata_offs) if metadata_offs else None
    sig_vec = _offsets_vector(b, fbModel.ModelStartSignatureDefsVector, sig_offs) if sig_offs else None

    fbModel.ModelStart(b)
    fbModel.ModelAddVersion(b, int(model.version))
    fbModel.ModelAddOperatorCodes(b, opcodes_vec)
    fbModel.ModelAddSubgraphs(b, subgraphs_vec)
    if description is not None:
        fbModel.ModelAddDescription(b, description)
    fbModel.ModelAddBuffers(b, buffers_vec)
    if metadata_buffer_vec is not None:
        fbModel.ModelAddMetadataBuffer(b, metadata_buffer_vec)
    if metadata_vec is not None:
        fbModel.ModelAddMetadata(b, metadata_vec)
    if sig_vec is not None:
        fbModel.ModelAddSignatureDefs(b, sig_vec)
    root = fbModel.ModelEnd(b)
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    # ``b.Output()`` is a bytearray slice (a copy) that ``bytes`` would copy again.
    return bytes(memoryview(b.Bytes)[b.Head():])


def _table_bytes(model: Model) -> int:
    """A generous estimate of the flatbuffer's bytes besides the buffers' data (tables,
    names, shapes, quantization vectors, alignment padding)."""
    n = 65536 + 32 * len(model.buffers)
    for sg in model.subgraphs:
        for t in sg.tensors:
            n += 96 + 2 * len(t.name or "") + 8 * len(t.shape)
            q = t.quantization
            if q is not None:
                n += 64 + 8 * len(q.scale) + 16 * len(q.zero_point)
                n += 8 * len(q.min if q.min is not None else ()) + 8 * len(q.max if q.max is not None else ())
        n += 128 * len(sg.operators) + 8 * sum(len(op.inputs) + len(op.outputs) for op in sg.operators)
    return n


def _offsets_vector(b: flatbuffers.Builder, start_fn, offsets: list[int]) -> int:
    start_fn(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _subgraph(b: flatbuffers.Builder, sg: Subgraph, index: int) -> int:
    tensor_offs = [_tensor(b, t) for t in sg.tensors]
    op_offs = [_operator(b, op, index, i) for i, op in enumerate(sg.operators)]
    name = b.CreateString(sg.name) if sg.name is not None else None
    tensors_vec = _offsets_vector(b, fbSubGraph.SubGraphStartTensorsVector, tensor_offs)
    inputs_vec = _vector(b, sg.inputs, "<i4")
    outputs_vec = _vector(b, sg.outputs, "<i4")
    ops_vec = _offsets_vector(b, fbSubGraph.SubGraphStartOperatorsVector, op_offs)
    fbSubGraph.SubGraphStart(b)
    fbSubGraph.SubGraphAddTensors(b, tensors_vec)
    fbSubGraph.SubGraphAddInputs(b, inputs_vec)
    fbSubGraph.SubGraphAddOutputs(b, outputs_vec)
    fbSubGraph.SubGraphAddOperators(b, ops_vec)
    if name is not None:
        fbSubGraph.SubGraphAddName(b, name)
    if sg.debug_metadata_index != -1:
        fbSubGraph.SubGraphAddDebugMetadataIndex(b, int(sg.debug_metadata_index))
    return fbSubGraph.SubGraphEnd(b)


def _tensor(b: flatbuffers.Builder, t: Tensor) -> int:
    shape_vec = _vector(b, t.shape, "<i4")
    name = b.CreateString(t.name or "")
    quant = _quantization(b, t) if t.quantization is not None else None
    sparsity = _sparsity(b, t.sparsity) if t.sparsity is not None else None
    sig_vec = _vector(b, t.shape_signature, "<i4") if t.shape_signature is not None else None
    variants = None
    if t.variant_tensors:
        offs = []
        for v in t.variant_tensors:
            vshape = _vector(b, v.shape, "<i4")
            fbVariant.VariantSubTypeStart(b)
            fbVariant.VariantSubTypeAddShape(b, vshape)
            fbVariant.VariantSubTypeAddType(b, int(v.type))
            fbVariant.VariantSubTypeAddHasRank(b, bool(v.has_rank))
            offs.append(fbVariant.VariantSubTypeEnd(b))
        variants = _offsets_vector(b, fbTensor.TensorStartVariantTensorsVector, offs)
    fbTensor.TensorStart(b)
    fbTensor.TensorAddShape(b, shape_vec)
    fbTensor.TensorAddType(b, int(t.type))
    fbTensor.TensorAddBuffer(b, int(t.buffer))
    fbTensor.TensorAddName(b, name)
    if quant is not None:
        fbTensor.TensorAddQuantization(b, quant)
    fbTensor.TensorAddIsVariable(b, bool(t.is_variable))
    if sparsity is not None:
        fbTensor.TensorAddSparsity(b, sparsity)
    if sig_vec is not None:
        fbTensor.TensorAddShapeSignature(b, sig_vec)
    fbTensor.TensorAddHasRank(b, bool(t.has_rank))
    if variants is not None:
        fbTensor.TensorAddVariantTensors(b, variants)
    return fbTensor.TensorEnd(b)


def _quantization(b: flatbuffers.Builder, t: Tensor) -> int:
    q = t.quantization
    mn = _vector(b, q.min, "<f4") if q.min is not None else None
    mx = _vector(b, q.max, "<f4") if q.max is not None else None
    scale = _vector(b, q.scale, "<f4") if len(q.scale) else None
    zp = _vector(b, q.zero_point, "<i8") if len(q.zero_point) else None
    details = q.details.Pack(b) if q.details_type and q.details is not None else None
    fbQuant.QuantizationParametersStart(b)
    if mn is not None:
        fbQuant.QuantizationParametersAddMin(b, mn)
    if mx is not None:
        fbQuant.QuantizationParametersAddMax(b, mx)
    if scale is not None:
        fbQuant.QuantizationParametersAddScale(b, scale)
    if zp is not None:
        fbQuant.QuantizationParametersAddZeroPoint(b, zp)
    if details is not None:
        fbQuant.QuantizationParametersAddDetailsType(b, int(q.details_type))
        fbQuant.QuantizationParametersAddDetails(b, details)
    fbQuant.QuantizationParametersAddQuantizedDimension(b, int(q.quantized_dimension))
    return fbQuant.QuantizationParametersEnd(b)


_INDEX_VECTORS = {
    np.dtype(np.int32): (1, fbI32, "<i4"),
    np.dtype(np.uint16): (2, fbU16, "<u2"),
    np.dtype(np.uint8): (3, fbU8, "u1"),
}


def _index_vector(b: flatbuffers.Builder, values: np.ndarray) -> tuple[int, int]:
    kind, module, dtype = _INDEX_VECTORS.get(np.asarray(values).dtype, _INDEX_VECTORS[np.dtype(np.int32)])
    vec = _vector(b, values, dtype)
    name = module.__name__.rsplit(".", 1)[-1]
    getattr(module, f"{name}Start")(b)
    getattr(module, f"{name}AddValues")(b, vec)
    return kind, getattr(module, f"{name}End")(b)


def _sparsity(b: flatbuffers.Builder, sp: SparsityParameters) -> int:
    dims = []
    for d in sp.dim_metadata:
        seg = _index_vector(b, d.array_segments) if d.array_segments is not None else None
        idx = _index_vector(b, d.array_indices) if d.array_indices is not None else None
        fbDim.DimensionMetadataStart(b)
        fbDim.DimensionMetadataAddFormat(b, int(d.format))
        fbDim.DimensionMetadataAddDenseSize(b, int(d.dense_size))
        if seg is not None:
            fbDim.DimensionMetadataAddArraySegmentsType(b, seg[0])
            fbDim.DimensionMetadataAddArraySegments(b, seg[1])
        if idx is not None:
            fbDim.DimensionMetadataAddArrayIndicesType(b, idx[0])
            fbDim.DimensionMetadataAddArrayIndices(b, idx[1])
        dims.append(fbDim.DimensionMetadataEnd(b))
    order = _vector(b, sp.traversal_order, "<i4")
    block_map = _vector(b, sp.block_map, "<i4") if sp.block_map else None
    dims_vec = _offsets_vector(b, fbSparsity.SparsityParametersStartDimMetadataVector, dims)
    fbSparsity.SparsityParametersStart(b)
    fbSparsity.SparsityParametersAddTraversalOrder(b, order)
    if block_map is not None:
        fbSparsity.SparsityParametersAddBlockMap(b, block_map)
    fbSparsity.SparsityParametersAddDimMetadata(b, dims_vec)
    return fbSparsity.SparsityParametersEnd(b)


def _operator(b: flatbuffers.Builder, op: Operator, sg_index: int, op_index: int) -> int:
    where = f"subgraph {sg_index} operator {op_index}"
    opts = opts2 = None
    if op.builtin_options_type:
        if op.builtin_options is None:
            raise ModelFormatError(f"{where}: builtin options of type {op.builtin_options_type} have no value")
        opts = op.builtin_options.Pack(b)
    if op.builtin_options_2_type:
        if op.builtin_options_2 is None:
            raise ModelFormatError(f"{where}: builtin_options_2 of type {op.builtin_options_2_type} have no value")
        opts2 = op.builtin_options_2.Pack(b)
    inputs = _vector(b, op.inputs, "<i4")
    outputs = _vector(b, op.outputs, "<i4")
    custom = None
    if op.custom_options is not None:
        custom = b.CreateNumpyVector(np.frombuffer(bytes(op.custom_options), np.uint8))
    mutating = _vector(b, op.mutating_variable_inputs, "?") if op.mutating_variable_inputs else None
    intermediates = _vector(b, op.intermediates, "<i4") if op.intermediates else None
    fbOperator.OperatorStart(b)
    fbOperator.OperatorAddOpcodeIndex(b, int(op.opcode_index))
    fbOperator.OperatorAddInputs(b, inputs)
    fbOperator.OperatorAddOutputs(b, outputs)
    if opts is not None:
        fbOperator.OperatorAddBuiltinOptionsType(b, int(op.builtin_options_type))
        fbOperator.OperatorAddBuiltinOptions(b, opts)
    if custom is not None:
        fbOperator.OperatorAddCustomOptions(b, custom)
    fbOperator.OperatorAddCustomOptionsFormat(b, int(op.custom_options_format))
    if mutating is not None:
        fbOperator.OperatorAddMutatingVariableInputs(b, mutating)
    if intermediates is not None:
        fbOperator.OperatorAddIntermediates(b, intermediates)
    if opts2 is not None:
        fbOperator.OperatorAddBuiltinOptions2Type(b, int(op.builtin_options_2_type))
        fbOperator.OperatorAddBuiltinOptions2(b, opts2)
    if op.debug_metadata_index != -1:
        fbOperator.OperatorAddDebugMetadataIndex(b, int(op.debug_metadata_index))
    return fbOperator.OperatorEnd(b)


def _signature(b: flatbuffers.Builder, sig) -> int:
    def maps(items, start_fn):
        offs = []
        for tm in items:
            name = b.CreateString(tm.name)
            fbTensorMap.TensorMapStart(b)
            fbTensorMap.TensorMapAddName(b, name)
            fbTensorMap.TensorMapAddTensorIndex(b, int(tm.tensor_index))
            offs.append(fbTensorMap.TensorMapEnd(b))
        return _offsets_vector(b, start_fn, offs)

    inputs = maps(sig.inputs, fbSig.SignatureDefStartInputsVector)
    outputs = maps(sig.outputs, fbSig.SignatureDefStartOutputsVector)
    key = b.CreateString(sig.signature_key)
    fbSig.SignatureDefStart(b)
    fbSig.SignatureDefAddInputs(b, inputs)
    fbSig.SignatureDefAddOutputs(b, outputs)
    fbSig.SignatureDefAddSignatureKey(b, key)
    fbSig.SignatureDefAddSubgraphIndex(b, int(sig.subgraph_index))
    return fbSig.SignatureDefEnd(b)
