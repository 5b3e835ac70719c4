"""Build ``.tflite`` models programmatically, one tensor and operator at a time.

Used by the converter's last stage and by tests that need single-op models.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema.fb.AddOptions import AddOptionsT
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", shape=(1, 3), dtype=np.float32)
    >>> c = b.add_constant("c", np.ones((1, 3), np.float32))
    >>> y = b.add_tensor("y", shape=(1, 3), dtype=np.float32)
    >>> _ = b.add_operator("ADD", inputs=[x, c], outputs=[y], options=AddOptionsT())
    >>> b.mark_output(y)
    >>> data = b.build()
    >>> data[4:8]
    b'TFL3'
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

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
    TensorType,
    tensor_type_of,
)
from edgelite.schema.ops import CUSTOM, builtin_code, options_union_type
from edgelite.schema.strings import encode_string_tensor

QuantSpec = Any  # None | (scale, zp) | (scales, zps, dim) | QuantizationParameters


def make_quantization(quant: QuantSpec) -> QuantizationParameters | None:
    """Normalise the ``quant=`` argument forms into ``QuantizationParameters``."""
    if quant is None or isinstance(quant, QuantizationParameters):
        return quant
    if len(quant) == 2:
        scale, zp = quant
        dim = 0
    elif len(quant) == 3:
        scale, zp, dim = quant
    else:
        raise ValueError("quant must be (scale, zero_point) or (scales, zero_points, quantized_dimension)")
    return QuantizationParameters(
        scale=np.atleast_1d(np.asarray(scale, np.float32)),
        zero_point=np.atleast_1d(np.asarray(zp, np.int64)),
        quantized_dimension=int(dim),
    )


def _tensor_type(dtype) -> int:
    if isinstance(dtype, (TensorType, int)) and not isinstance(dtype, bool):
        return int(dtype)
    return int(tensor_type_of(dtype))


class ModelBuilder:
    """Accumulates one subgraph (or several) and writes a model.

    Tensor-adding methods return the tensor's index in the current subgraph.
    """

    def __init__(self, description: str | None = "edgelite"):
        self.model = Model(description=description)
        self._opcodes: dict[tuple[int, str | None, int], int] = {}
        self.subgraph = Subgraph(name="main")
        self.model.subgraphs.append(self.subgraph)

    # -- tensors -------------------------------------------------------------------

    def add_tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype,
        quant: QuantSpec = None,
        *,
        shape_signature: Sequence[int] | None = None,
        is_variable: bool = False,
        buffer: int = 0,
    ) -> int:
        """Add a tensor without data (an activation); returns its index."""
        t = Tensor(
            name=name,
            shape=tuple(int(d) for d in shape),
            type=_tensor_type(dtype),
            buffer=buffer,
            quantization=make_quantization(quant),
            is_variable=is_variable,
            shape_signature=tuple(int(d) for d in shape_signature) if shape_signature is not None else None,
        )
        self.subgraph.tensors.append(t)
        return len(self.subgraph.tensors) - 1

    def add_input(self, name: str, shape: Sequence[int], dtype, quant: QuantSpec = None, **kw) -> int:
        """Add a tensor and mark it a subgraph input."""
        idx = self.add_tensor(name, shape, dtype, quant, **kw)
        self.subgraph.inputs.append(idx)
        return idx

    def add_buffer(self, data: bytes | np.ndarray | None) -> int:
        """Append a buffer; returns its index (0 is the empty sentinel)."""
        if data is None:
            self.model.buffers.append(Buffer())
        else:
            raw = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else (
                np.ascontiguousarray(data).view(np.uint8).ravel()
            )
            self.model.buffers.append(Buffer(data=raw))
        return len(self.model.buffers) - 1

    def add_constant(self, name: str, value, quant: QuantSpec = None, *, dtype=None) -> int:
        """Add a tensor holding ``value`` (any array; strings become STRING tensors)."""
        arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
        if arr.dtype.kind in ("U", "S", "O"):
            buf = self.add_buffer(encode_string_tensor(arr))
            return self.add_tensor(name, arr.shape, TensorType.STRING, buffer=buf)
        # (np.ascontiguousarray would turn a 0-d scalar into shape (1,); keep the shape)
        arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False)).reshape(arr.shape)
        buf = self.add_buffer(arr)
        return self.add_tensor(name, arr.shape, arr.dtype, quant, buffer=buf)

    def mark_output(self, index: int) -> None:
        self.subgraph.outputs.append(index)

    # -- operators -----------------------------------------------------------------

    def opcode_index(self, op: str | int, version: int = 1, custom_code: str | None = None) -> int:
        code = builtin_code(op) if isinstance(op, str) else int(op)
        key = (code, custom_code, int(version))
        if key not in self._opcodes:
            self.model.operator_codes.append(OperatorCode(builtin_code=code, custom_code=custom_code, version=int(version)))
            self._opcodes[key] = len(self.model.operator_codes) - 1
        return self._opcodes[key]

    def add_operator(
        self,
        op: str | int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Any = None,
        *,
        version: int = 1,
        custom_code: str | None = None,
        custom_options: bytes | None = None,
        intermediates: Sequence[int] = (),
    ) -> int:
        """Append an operator; ``options`` is a generated ``*OptionsT`` object or None.

        For a custom operator pass ``op="CUSTOM"`` with ``custom_code``.
        Returns the operator's index.
        """
        if custom_code is not None:
            op = CUSTOM
        operator = Operator(
            opcode_index=self.opcode_index(op, version, custom_code),
            inputs=[int(i) for i in inputs],
            outputs=[int(i) for i in outputs],
            custom_options=custom_options,
            intermediates=[int(i) for i in intermediates],
        )
        if options is not None:
            union, code = options_union_type(options)
            if union == 1:
                operator.builtin_options_type, operator.builtin_options = code, options
            else:
                operator.builtin_options_2_type, operator.builtin_options_2 = code, options
        self.subgraph.operators.append(operator)
        return len(self.subgraph.operators) - 1

    # -- model-level -----------------------------------------------------------------

    def add_signature(
        self, key: str, inputs: Mapping[str, int], outputs: Mapping[str, int], subgraph_index: int = 0
    ) -> None:
        self.model.signature_defs.append(
            SignatureDef(
                inputs=[TensorMap(n, i) for n, i in inputs.items()],
                outputs=[TensorMap(n, i) for n, i in outputs.items()],
                signature_key=key,
                subgraph_index=subgraph_index,
            )
        )

    def add_metadata(self, name: str, data: bytes) -> None:
        self.model.metadata.append(Metadata(name=name, buffer=self.add_buffer(data)))

    def new_subgraph(self, name: str | None = None) -> int:
        """Start another subgraph (for control flow); later tensors/ops go there."""
        self.subgraph = Subgraph(name=name)
        self.model.subgraphs.append(self.subgraph)
        return len(self.model.subgraphs) - 1

    def build(self) -> bytes:
        from edgelite.schema.writer import write_model

        return write_model(self.model)
