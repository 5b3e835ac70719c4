"""The oracle for ``edgelite.schema.reader``'s table access: the same walk through the
classes ``flatc`` generated (``edgelite.schema.fb``), as the reader did before it read
tables by vtable slot (kept here, unchanged, to compare the two).
"""

from __future__ import annotations

import struct

import numpy as np

from edgelite.errors import ModelFormatError
from edgelite.schema.fb.BuiltinOptions import BuiltinOptionsCreator
from edgelite.schema.fb.BuiltinOptions2 import BuiltinOptions2Creator
from edgelite.schema.fb.Model import Model as _FbModel
from edgelite.schema.model import (
    Buffer,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SignatureDef,
    Subgraph,
    Tensor,
    TensorMap,
    VariantSubType,
)
from edgelite.schema.reader import (
    _PARSE_ERRORS,
    FILE_IDENTIFIER,
    _Budget,
    _np,
    _open,
    _read_sparsity,
    _str,
    validate_model,
)


def read_model_generated(source, *, validate: bool = True) -> Model:
    """``read_model`` as it was, through the generated classes."""
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
