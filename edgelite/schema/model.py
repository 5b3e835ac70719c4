"""Typed, in-memory form of a ``.tflite`` model (TFLite schema v3).

These dataclasses mirror the schema's tables one to one, so that the converter can
build a model, the interpreter can plan one, and ``write_model(read_model(x))`` gives
back a file the official runtime runs the same way. Constant data stays a zero-copy
``numpy`` view of the file (which ``read_model`` memory-maps); nothing is copied
element by element.

Builtin operator options are the objects ``flatc --gen-object-api`` generates
(``Conv2DOptionsT`` and friends, from ``edgelite.schema.fb``): typed, documented by the
schema itself, and packed back unchanged.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.model import Tensor, TensorType
    >>> t = Tensor(name="x", shape=(1, 4), type=TensorType.FLOAT32)
    >>> t.numpy_dtype
    dtype('float32')
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any

import numpy as np

from edgelite.quick_dataclass import dataclass


def _tensor_type_enum() -> type[enum.IntEnum]:
    from edgelite.schema.fb.TensorType import TensorType as _Generated

    members = {k: v for k, v in vars(_Generated).items() if not k.startswith("_") and isinstance(v, int)}
    return enum.IntEnum("TensorType", members)


# ``tflite::TensorType`` codes as an IntEnum (FLOAT32 = 0, ..., INT8 = 9, ...), built
# from the schema's generated enum so the two can never disagree.
TensorType = _tensor_type_enum()
TensorType.__doc__ = "``tflite::TensorType`` codes, from the schema."


# numpy dtype of each TensorType whose elements are fixed-size numbers. INT4 is
# stored packed two per byte; it is unpacked to int8 by the interpreter.
_NUMPY_DTYPES: dict[int, np.dtype] = {
    TensorType.FLOAT32: np.dtype("<f4"),
    TensorType.FLOAT16: np.dtype("<f2"),
    TensorType.INT32: np.dtype("<i4"),
    TensorType.UINT8: np.dtype("u1"),
    TensorType.INT64: np.dtype("<i8"),
    TensorType.BOOL: np.dtype("?"),
    TensorType.INT16: np.dtype("<i2"),
    TensorType.COMPLEX64: np.dtype("<c8"),
    TensorType.INT8: np.dtype("i1"),
    TensorType.FLOAT64: np.dtype("<f8"),
    TensorType.COMPLEX128: np.dtype("<c16"),
    TensorType.UINT64: np.dtype("<u8"),
    TensorType.UINT32: np.dtype("<u4"),
    TensorType.UINT16: np.dtype("<u2"),
    TensorType.STRING: np.dtype("O"),
    TensorType.RESOURCE: np.dtype("<i4"),
    TensorType.VARIANT: np.dtype("<i4"),
    TensorType.INT4: np.dtype("i1"),
}


# UINT4 values are held one per byte at run time, as LiteRT's Python API shows them.
_NUMPY_DTYPES[TensorType.UINT4] = np.dtype("u1")
# ONNX's narrow types (``ml_dtypes``, which onnx and LiteRT's Python API use) by dtype name.
_NARROW_TYPES = {"int4": TensorType.INT4, "uint4": TensorType.UINT4, "bfloat16": TensorType.BFLOAT16}


def numpy_dtype(tensor_type: int) -> np.dtype:
    """The numpy dtype that holds elements of ``tensor_type``.

    BFLOAT16 is ``ml_dtypes.bfloat16`` (the type LiteRT's Python API reads and writes)
    when ``ml_dtypes`` is installed.

    Raises:
        KeyError: for a type with no numpy equivalent (BFLOAT16 without ``ml_dtypes``).
    """
    if tensor_type == TensorType.BFLOAT16 and tensor_type not in _NUMPY_DTYPES:
        try:
            import ml_dtypes
        except ImportError:
            raise KeyError("BFLOAT16 needs the ml_dtypes package") from None
        _NUMPY_DTYPES[TensorType.BFLOAT16] = np.dtype(ml_dtypes.bfloat16)
    return _NUMPY_DTYPES[tensor_type]


def tensor_type_of(dtype: Any) -> TensorType:
    """The TensorType of a numpy dtype (``np.float32`` -> ``FLOAT32``; ``ml_dtypes``'
    int4, uint4 and bfloat16 -> INT4, UINT4, BFLOAT16)."""
    dt = np.dtype(dtype)
    if dt.kind in ("U", "S", "O"):
        return TensorType.STRING
    if dt.kind == "V" and dt.name in _NARROW_TYPES:
        return _NARROW_TYPES[dt.name]
    for code, candidate in _NUMPY_DTYPES.items():
        if code in (TensorType.INT4, TensorType.UINT4, TensorType.RESOURCE, TensorType.VARIANT, TensorType.STRING):
            continue
        if candidate == dt.newbyteorder("<") or candidate == dt:
            return TensorType(code)
    raise KeyError(f"no TFLite tensor type for numpy dtype {dt}")


@dataclass
class QuantizationParameters:
    """Affine quantization: ``real = scale * (q - zero_point)``, per tensor or per channel."""

    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    quantized_dimension: int = 0
    # QuantizationDetails union type (0 = none) and its generated object
    # (CustomQuantizationT, BlockwiseQuantizationT, ...), kept for round trips.
    details_type: int = 0
    details: Any = None

    @property
    def is_quantized(self) -> bool:
        return len(self.scale) > 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class DimensionMetadata:
    """One dimension of a sparse tensor (DENSE = 0 with ``dense_size``, SPARSE_CSR = 1)."""

    format: int = 0
    dense_size: int = 0
    # CSR index vectors; their dtype (int32, uint16, uint8) selects the union member.
    array_segments: np.ndarray | None = None
    array_indices: np.ndarray | None = None


@dataclass
class SparsityParameters:
    """TACO-style sparse encoding of a constant tensor."""

    traversal_order: list[int] = field(default_factory=list)
    block_map: list[int] = field(default_factory=list)
    dim_metadata: list[DimensionMetadata] = field(default_factory=list)


@dataclass
class VariantSubType:
    shape: list[int] = field(default_factory=list)
    type: int = 0
    has_rank: bool = False


@dataclass
class Tensor:
    """A tensor of a subgraph. ``buffer == 0`` means no constant data."""

    name: str = ""
    shape: tuple[int, ...] = ()
    type: int = TensorType.FLOAT32
    buffer: int = 0
    quantization: QuantizationParameters | None = None
    is_variable: bool = False
    sparsity: SparsityParameters | None = None
    shape_signature: tuple[int, ...] | None = None
    has_rank: bool = False
    variant_tensors: list[VariantSubType] = field(default_factory=list)

    @property
    def numpy_dtype(self) -> np.dtype:
        return numpy_dtype(self.type)


@dataclass
class Buffer:
    """Raw constant bytes. ``data`` is a read-only uint8 view (or None when empty).

    ``offset``/``size`` record where the bytes lived when they were stored after the
    flatbuffer (models over 2 GB); the writer chooses placement anew.
    """

    data: np.ndarray | None = None
    offset: int = 0
    size: int = 0

    @property
    def nbytes(self) -> int:
        return 0 if self.data is None else int(self.data.nbytes)


@dataclass
class OperatorCode:
    """Which operator an ``Operator`` runs: a builtin code, or CUSTOM with a name."""

    builtin_code: int = 0
    custom_code: str | None = None
    version: int = 1
    deprecated_builtin_code: int | None = None


@dataclass
class Operator:
    """One node. ``inputs`` uses -1 for an omitted optional input."""

    opcode_index: int = 0
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    builtin_options_type: int = 0
    builtin_options: Any = None
    builtin_options_2_type: int = 0
    builtin_options_2: Any = None
    custom_options: bytes | None = None
    custom_options_format: int = 0
    mutating_variable_inputs: list[bool] = field(default_factory=list)
    intermediates: list[int] = field(default_factory=list)
    large_custom_options_offset: int = 0
    large_custom_options_size: int = 0
    debug_metadata_index: int = -1


@dataclass
class Subgraph:
    tensors: list[Tensor] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    name: str | None = None
    debug_metadata_index: int = -1


@dataclass
class Metadata:
    """A named metadata entry whose bytes live in ``buffers[buffer]``."""

    name: str = ""
    buffer: int = 0


@dataclass
class TensorMap:
    name: str = ""
    tensor_index: int = 0


@dataclass
class SignatureDef:
    inputs: list[TensorMap] = field(default_factory=list)
    outputs: list[TensorMap] = field(default_factory=list)
    signature_key: str = ""
    subgraph_index: int = 0


@dataclass
class Model:
    """The root table. ``buffers[0]`` is the empty sentinel every writer emits."""

    version: int = 3
    operator_codes: list[OperatorCode] = field(default_factory=list)
    subgraphs: list[Subgraph] = field(default_factory=list)
    description: str | None = None
    buffers: list[Buffer] = field(default_factory=lambda: [Buffer()])
    metadata_buffer: list[int] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)
    signature_defs: list[SignatureDef] = field(default_factory=list)

    # -- convenience accessors used across the package ---------------------------

    def opcode_name(self, op: Operator) -> str:
        """``"CONV_2D"``, or the custom op's name for CUSTOM operators."""
        from edgelite.schema.ops import builtin_name

        code = self.operator_codes[op.opcode_index]
        if code.builtin_code == 32 and code.custom_code is not None:  # CUSTOM
            return code.custom_code
        return builtin_name(code.builtin_code)

    def tensor_data(self, tensor: Tensor) -> np.ndarray | None:
        """Constant data of ``tensor`` as a typed, shaped, read-only view (or None).

        None means no data: buffer 0, or an empty buffer for a tensor that has elements.
        A tensor with no elements and a buffer of its own is a constant even when that
        buffer is empty, as in LiteRT.

        Raises:
            ModelFormatError: the buffer's size does not match the tensor's shape.
        """
        from edgelite.errors import ModelFormatError

        if tensor.buffer == 0 or tensor.buffer >= len(self.buffers):
            return None
        raw = self.buffers[tensor.buffer].data
        if raw is None or raw.size == 0:
            if tensor.sparsity is None and 0 in tuple(tensor.shape):
                # A tensor with no elements needs no bytes: TensorFlow's converter writes such
                # constants (a reshape's target shape () is an int32 tensor of shape (0,)) with
                # a buffer of their own left empty, and LiteRT runs them.
                dtype = np.dtype(np.uint8) if tensor.type == TensorType.INT4 else tensor.numpy_dtype
                empty = np.empty((0,) if tensor.type == TensorType.INT4 else tuple(tensor.shape), dtype)
                empty.flags.writeable = False
                return empty
            return None
        if tensor.type == TensorType.STRING:
            from edgelite.schema.strings import decode_string_tensor

            return decode_string_tensor(raw, tensor.shape)
        if tensor.sparsity is not None:
            # Sparse data is the list of non-zero values; densify() expands it.
            return raw.view(tensor.numpy_dtype) if tensor.type != TensorType.INT4 else raw
        dtype = tensor.numpy_dtype
        count = int(np.prod(tensor.shape, dtype=np.int64))
        if tensor.type == TensorType.INT4:
            need = (count + 1) // 2
            if raw.size != need:
                raise ModelFormatError(
                    f"tensor {tensor.name!r}: INT4 buffer {tensor.buffer} has {raw.size} bytes, "
                    f"shape {list(tensor.shape)} needs {need}"
                )
            return raw
        if raw.size != count * dtype.itemsize:
            raise ModelFormatError(
                f"tensor {tensor.name!r}: buffer {tensor.buffer} has {raw.size} bytes, "
                f"shape {list(tensor.shape)} of {TensorType(tensor.type).name} needs "
                f"{count * dtype.itemsize}"
            )
        if raw.ctypes.data % dtype.alignment:
            # Unaligned data (possible in files from other writers): one copy, aligned.
            return np.frombuffer(raw.tobytes(), dtype=dtype).reshape(tensor.shape)
        return raw.view(dtype).reshape(tensor.shape)

    def metadata_dict(self) -> dict[str, bytes]:
        """Metadata entries as ``{name: bytes}``."""
        out = {}
        for m in self.metadata:
            if 0 <= m.buffer < len(self.buffers) and self.buffers[m.buffer].data is not None:
                out[m.name] = self.buffers[m.buffer].data.tobytes()
            else:
                out[m.name] = b""
        return out
