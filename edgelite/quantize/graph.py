"""Editing a typed ``Model`` while quantizing: new tensors, new operators, cleanup.

The quantizer never edits the caller's model: ``GraphEditor`` copies subgraph 0's
tensors and operators, lets the passes append tensors, constant buffers and operators
(in topological order), and ``finish()`` drops what became unused and renumbers.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema import read_model
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 2), np.float32)
    >>> y = b.add_tensor("y", (1, 2), np.float32); _ = b.add_operator("RELU", [x], [y]); b.mark_output(y)
    >>> g = GraphEditor(read_model(b.build()))
    >>> _ = g.emit_copy(g.source_ops[0]); len(g.finish().subgraphs[0].operators)
    1
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from edgelite.schema.model import (
    Buffer,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    Subgraph,
    Tensor,
    tensor_type_of,
)
from edgelite.schema.ops import builtin_code, options_union_type

# Operators with effects beyond their outputs: never removed as dead code.
_SIDE_EFFECTS = {"ASSIGN_VARIABLE", "CALL_ONCE", "VAR_HANDLE", "WHILE", "IF", "CUSTOM"}


def qparams(scale, zero_point, dim: int = 0) -> QuantizationParameters:
    """QuantizationParameters from scalars or per-channel arrays."""
    return QuantizationParameters(
        scale=np.atleast_1d(np.asarray(scale, np.float32)).copy(),
        zero_point=np.atleast_1d(np.asarray(zero_point, np.int64)).copy(),
        quantized_dimension=int(dim),
    )


class GraphEditor:
    """A working copy of ``model`` whose subgraph 0 is rebuilt operator by operator.

    Attributes:
        model: the copy being edited (buffers are shared read-only views).
        tensors: subgraph 0's tensors (copies; edit freely).
        source_ops: the original operators, in order.
        ops: the new operator list passes append to.
    """

    def __init__(self, model: Model):
        m = copy.copy(model)
        m.buffers = list(model.buffers)
        # Metadata entries and the other subgraphs' tensors get their buffer indices
        # rewritten (add_metadata, _compact_buffers): copies, so that the source model
        # is left as it was and quantizing it twice gives the same bytes.
        m.metadata = [dataclasses.replace(md) for md in model.metadata]
        m.operator_codes = [dataclasses.replace(c) for c in model.operator_codes]
        m.signature_defs = copy.deepcopy(model.signature_defs)
        sg = model.subgraphs[0]
        self.tensors = [dataclasses.replace(t, quantization=copy.deepcopy(t.quantization)) for t in sg.tensors]
        self.subgraph = Subgraph(
            tensors=self.tensors, inputs=list(sg.inputs), outputs=list(sg.outputs), operators=[],
            name=sg.name, debug_metadata_index=sg.debug_metadata_index,
        )
        m.subgraphs = [self.subgraph] + copy.deepcopy(list(model.subgraphs[1:]))
        self.model = m
        self.source_ops = list(sg.operators)
        self.ops = self.subgraph.operators
        self._codes: dict[tuple[int, str | None, int], int] = {}
        self.consumers: dict[int, list[int]] = {}
        self.producer: dict[int, int] = {}
        for k, op in enumerate(self.source_ops):
            for i in op.inputs:
                if i >= 0:
                    self.consumers.setdefault(i, []).append(k)
            for o in op.outputs:
                self.producer[o] = k

    # -- reading ---------------------------------------------------------------------

    def op_name(self, op: Operator) -> str:
        return self.model.opcode_name(op)

    def const_data(self, index: int) -> np.ndarray | None:
        if index < 0:
            return None
        return self.model.tensor_data(self.tensors[index])

    def is_model_output(self, index: int) -> bool:
        return index in self.subgraph.outputs

    # -- adding ------------------------------------------------------------------------

    def add_tensor(self, name: str, like: int | None = None, *, shape=None, type: int | None = None,
                   quant: QuantizationParameters | None = None, buffer: int = 0) -> int:
        base = self.tensors[like] if like is not None else Tensor()
        t = Tensor(
            name=name,
            shape=tuple(base.shape if shape is None else shape),
            type=int(base.type if type is None else type),
            buffer=buffer,
            quantization=quant,
            shape_signature=base.shape_signature if shape is None else None,
            has_rank=base.has_rank,
        )
        self.tensors.append(t)
        return len(self.tensors) - 1

    def add_constant(self, name: str, data: np.ndarray, quant: QuantizationParameters | None = None) -> int:
        arr = np.ascontiguousarray(data)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        self.model.buffers.append(Buffer(data=arr.view(np.uint8).ravel()))
        return self.add_tensor(name, shape=arr.shape, type=tensor_type_of(arr.dtype), quant=quant,
                               buffer=len(self.model.buffers) - 1)

    def opcode(self, op: str, version: int) -> int:
        code = builtin_code(op)
        key = (code, None, int(version))
        if key not in self._codes:
            for k, c in enumerate(self.model.operator_codes):
                if c.builtin_code == code and c.custom_code is None and c.version == version:
                    self._codes[key] = k
                    break
            else:
                self.model.operator_codes.append(OperatorCode(builtin_code=code, version=int(version)))
                self._codes[key] = len(self.model.operator_codes) - 1
        return self._codes[key]

    def emit(self, op: str, inputs, outputs, options=None, version: int = 1) -> Operator:
        operator = Operator(opcode_index=self.opcode(op, version), inputs=[int(i) for i in inputs],
                            outputs=[int(o) for o in outputs])
        if options is not None:
            union, code = options_union_type(options)
            if union == 1:
                operator.builtin_options_type, operator.builtin_options = code, options
            else:
                operator.builtin_options_2_type, operator.builtin_options_2 = code, options
        self.ops.append(operator)
        return operator

    def emit_copy(self, op: Operator, inputs=None, *, version: int | None = None, options=None) -> Operator:
        """Append a copy of source operator ``op`` (optionally new inputs/version/options)."""
        new = dataclasses.replace(op, inputs=list(op.inputs if inputs is None else inputs),
                                  outputs=list(op.outputs))
        if version is not None:
            code = self.model.operator_codes[op.opcode_index]
            if code.version != version:
                new.opcode_index = self.opcode(self.op_name(op), version)
        if options is not None:
            new.builtin_options = options
        self.ops.append(new)
        return new

    def add_metadata(self, name: str, data: bytes) -> None:
        for m in self.model.metadata:
            if m.name == name:
                self.model.buffers.append(Buffer(data=np.frombuffer(data, np.uint8)))
                m.buffer = len(self.model.buffers) - 1
                return
        self.model.buffers.append(Buffer(data=np.frombuffer(data, np.uint8)))
        self.model.metadata.append(Metadata(name=name, buffer=len(self.model.buffers) - 1))

    # -- finishing ---------------------------------------------------------------------

    def finish(self) -> Model:
        """Drop dead operators, unused tensors, buffers and opcodes; renumber."""
        sg = self.subgraph
        keep_ops = list(self.ops)
        while True:
            used = set(sg.outputs)
            for op in keep_ops:
                used.update(i for i in op.inputs if i >= 0)
            alive = [op for op in keep_ops
                     if self.op_name(op) in _SIDE_EFFECTS or any(o in used for o in op.outputs)]
            if len(alive) == len(keep_ops):
                break
            keep_ops = alive
        sg.operators = keep_ops
        referenced = set(sg.inputs) | set(sg.outputs)
        for op in keep_ops:
            referenced.update(i for i in op.inputs if i >= 0)
            referenced.update(op.outputs)
            referenced.update(op.intermediates)
        for sig in self.model.signature_defs:
            if sig.subgraph_index == 0:
                referenced.update(tm.tensor_index for tm in sig.inputs + sig.outputs)
        order = sorted(referenced)
        remap = {old: new for new, old in enumerate(order)}
        sg.tensors = [self.tensors[i] for i in order]

        def r(i: int) -> int:
            return remap[i] if i >= 0 else i

        for op in keep_ops:
            op.inputs = [r(i) for i in op.inputs]
            op.outputs = [r(i) for i in op.outputs]
            op.intermediates = [r(i) for i in op.intermediates]
        sg.inputs = [r(i) for i in sg.inputs]
        sg.outputs = [r(i) for i in sg.outputs]
        for sig in self.model.signature_defs:
            if sig.subgraph_index == 0:
                for tm in sig.inputs + sig.outputs:
                    tm.tensor_index = r(tm.tensor_index)
        self._compact_buffers()
        self._compact_opcodes()
        return self.model

    def _compact_buffers(self) -> None:
        m = self.model
        used = {0}
        for sg in m.subgraphs:
            used.update(t.buffer for t in sg.tensors)
        used.update(md.buffer for md in m.metadata)
        used.update(m.metadata_buffer)
        order = sorted(b for b in used if 0 <= b < len(m.buffers))
        remap = {old: new for new, old in enumerate(order)}
        m.buffers = [m.buffers[i] for i in order]
        for sg in m.subgraphs:
            for t in sg.tensors:
                t.buffer = remap.get(t.buffer, 0)
        for md in m.metadata:
            md.buffer = remap[md.buffer]
        m.metadata_buffer = [remap[b] for b in m.metadata_buffer if b in remap]

    def _compact_opcodes(self) -> None:
        m = self.model
        used = sorted({op.opcode_index for sg in m.subgraphs for op in sg.operators})
        remap = {old: new for new, old in enumerate(used)}
        m.operator_codes = [m.operator_codes[i] for i in used]
        for sg in m.subgraphs:
            for op in sg.operators:
                op.opcode_index = remap[op.opcode_index]
