"""The typed execution graph: a checked view of one subgraph of a ``Model``.

``load_subgraph`` turns a schema ``Subgraph`` into ``SubgraphSpec``: tensors with
their numpy dtype, quantization (``QuantInfo``) and dense constant data (sparse TACO
constants densified, INT4 unpacked), and operators with their names, options and
tensor indices. It checks what the interpreter relies on later, so a malformed
file fails here with ``ModelFormatError`` rather than in the middle of ``invoke``:

* every operator input is a subgraph input, a constant, a variable, or the output of
  an *earlier* operator (TFLite files list operators in execution order; anything
  else is a cycle or a misordered graph);
* no tensor is written twice, and no operator writes a constant or an input;
* constant buffers match their tensor's shape and type.

``resolve_kernels`` then picks a kernel for every operator of every subgraph and
raises one ``UnsupportedOperatorError`` that lists *all* the operators edgelite
cannot run.

Example:
    >>> import numpy as np
    >>> from edgelite.schema import read_model
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.interpreter.graph import load_subgraph
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 4), np.float32)
    >>> y = b.add_tensor("y", (1, 4), np.float32)
    >>> _ = b.add_operator("RELU", [x], [y])
    >>> b.mark_output(y)
    >>> spec = load_subgraph(read_model(b.build()), 0)
    >>> [op.name for op in spec.ops], spec.tensors[1].shape
    (['RELU'], (1, 4))
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import ModelFormatError, UnsupportedOperatorError
from edgelite.interpreter.kernels.base import Kernel, OpContext, QuantInfo, TensorInfo, select_kernel
from edgelite.interpreter.compute.sparse import densify, unpack_int4
from edgelite.schema.model import Model, QuantizationParameters, SparsityParameters, TensorType, numpy_dtype

# Operators the interpreter never evaluates at prepare time even when every input
# is constant: they have state, side effects or randomness.
NOT_FOLDABLE = frozenset(
    {
        "ASSIGN_VARIABLE",
        "READ_VARIABLE",
        "VAR_HANDLE",
        "CALL_ONCE",
        "CALL",
        "IF",
        "WHILE",
        "RANDOM_UNIFORM",
        "RANDOM_STANDARD_NORMAL",
        "MULTINOMIAL",
        "STABLEHLO_RNG_BIT_GENERATOR",
        "HASHTABLE",
        "HASHTABLE_FIND",
        "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE",
    }
)

# Operators the interpreter runs itself (no kernel) when their input is constant.
DENSIFY = "DENSIFY"


@dataclass
class TensorSpec:
    """One tensor as the file describes it, with its constant data made dense."""

    index: int
    name: str
    type: int
    dtype: np.dtype
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    quant: QuantInfo | None
    quantization: QuantizationParameters | None
    sparsity: SparsityParameters | None
    is_variable: bool
    data: np.ndarray | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None and not self.is_variable

    def info(self, shape: tuple[int, ...] | None, data: np.ndarray | None = None) -> TensorInfo:
        """The ``TensorInfo`` a kernel sees, with the current shape and known data."""
        return TensorInfo(
            index=self.index,
            name=self.name,
            shape=shape,
            dtype=self.dtype,
            type=self.type,
            quant=self.quant,
            data=data,
            is_variable=self.is_variable,
        )


@dataclass
class OpNode:
    """One operator with everything needed to build its ``OpContext``."""

    index: int
    name: str
    version: int
    inputs: tuple[int, ...]  # -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: Any = None
    options2: Any = None
    custom_options: bytes | None = None
    kernel: Kernel | None = None
    builtin: str | None = None  # set when the interpreter itself runs the op

    def describe(self, spec: "SubgraphSpec") -> str:
        out = spec.tensors[self.outputs[0]].name if self.outputs else "-"
        return f"{self.name} v{self.version} (operator {self.index}, output {out!r})"


@dataclass
class SubgraphSpec:
    """A checked subgraph: tensors, operators in execution order, inputs and outputs."""

    index: int
    name: str
    tensors: list[TensorSpec]
    ops: list[OpNode]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    producer: dict[int, int] = field(default_factory=dict)  # tensor -> operator index
    last_reader: dict[int, int] = field(default_factory=dict)  # tensor -> last operator reading it
    hybrid: bool = False  # some operator takes float32 activations with int8/uint8 constant weights
    siblings: "Subgraphs | None" = field(default=None, repr=False)  # the model's subgraphs (control flow)


class Subgraphs:
    """The model's subgraphs as control-flow kernels see them (``OpContext.subgraphs``):
    kernels sit below the executor, so they get runtimes from here instead of importing it."""

    def __init__(self, specs: list[SubgraphSpec]):
        self.specs = specs

    def __len__(self) -> int:
        return len(self.specs)

    def runtime(self, index: int, *, num_threads: int = 1, use_jit: bool = False):
        """A fresh ``SubgraphRuntime`` of subgraph ``index`` (its own arena)."""
        from edgelite.interpreter.executor import SubgraphRuntime

        return SubgraphRuntime(self.specs[index], num_threads=num_threads, use_jit=use_jit)


def _quant_info(q: QuantizationParameters | None) -> QuantInfo | None:
    if q is None or len(q.scale) == 0:
        return None
    scale = np.asarray(q.scale, dtype=np.float32).reshape(-1)
    zp = np.asarray(q.zero_point, dtype=np.int64).reshape(-1)
    if zp.size == 0:
        zp = np.zeros(scale.size, np.int64)
    return QuantInfo(scale=scale, zero_point=zp, quantized_dimension=int(q.quantized_dimension))


def _constant_data(model: Model, t, where: str) -> np.ndarray | None:
    data = model.tensor_data(t)
    if data is None:
        return None
    if t.sparsity is not None:
        if t.type == TensorType.INT4:
            raise ModelFormatError(f"{where}: sparse INT4 constants are not supported")
        return densify(data, tuple(t.shape), t.sparsity, t.name)
    if t.type == TensorType.INT4:
        return unpack_int4(data, tuple(t.shape))
    return data


def _no_elements(t) -> bool:
    return any(int(d) == 0 for d in t.shape)


def load_subgraph(model: Model, s: int) -> SubgraphSpec:
    """Check subgraph ``s`` of ``model`` and build its ``SubgraphSpec``.

    Raises:
        ModelFormatError: an index out of range, a constant of the wrong size, a tensor
            read before it is written (a cycle or misordered operators), a tensor
            written twice, or a tensor type edgelite has no numpy dtype for.
    """
    if not 0 <= s < len(model.subgraphs):
        raise ModelFormatError(f"subgraph {s} out of range: the model has {len(model.subgraphs)}")
    sg = model.subgraphs[s]
    nt = len(sg.tensors)
    tensors: list[TensorSpec] = []
    # A tensor with no elements may have a buffer of its own that is empty: a constant when
    # nothing writes it (a reshape's () target shape), an activation when an operator does
    # (an empty SPLIT_V part), as LiteRT decides it.
    op_outputs = {o for op in sg.operators for o in op.outputs}
    for i, t in enumerate(sg.tensors):
        where = f"subgraph {s} tensor {i} ({t.name!r})"
        try:
            dtype = numpy_dtype(t.type)
        except KeyError:
            name = TensorType(t.type).name if t.type in TensorType._value2member_map_ else str(t.type)
            raise ModelFormatError(f"{where}: tensor type {name} is not supported by the edgelite interpreter") from None
        if t.buffer < 0 or t.buffer >= max(len(model.buffers), 1):
            raise ModelFormatError(f"{where}: buffer index {t.buffer} out of range")
        shape = tuple(int(d) for d in t.shape)
        signature = tuple(int(d) for d in t.shape_signature) if t.shape_signature else shape
        tensors.append(
            TensorSpec(
                index=i,
                name=t.name,
                type=int(t.type),
                dtype=dtype,
                shape=shape,
                shape_signature=signature,
                quant=_quant_info(t.quantization),
                quantization=t.quantization,
                sparsity=t.sparsity,
                is_variable=bool(t.is_variable),
                data=None if i in op_outputs and _no_elements(t) else _constant_data(model, t, where),
            )
        )

    def check_index(i: int, what: str, allow_omitted: bool = False) -> None:
        if (allow_omitted and i == -1) or 0 <= i < nt:
            return
        raise ModelFormatError(f"subgraph {s}: {what} refers to tensor {i}, out of range [0, {nt})")

    for i in sg.inputs:
        check_index(i, "input list")
    for i in sg.outputs:
        check_index(i, "output list")

    available = set(sg.inputs) | {t.index for t in tensors if t.data is not None or t.is_variable}
    written: dict[int, int] = {}
    later_producer = {o: k for k, op in enumerate(sg.operators) for o in op.outputs if 0 <= o < nt}
    ops: list[OpNode] = []
    last_reader: dict[int, int] = {}
    for k, op in enumerate(sg.operators):
        if not 0 <= op.opcode_index < len(model.operator_codes):
            raise ModelFormatError(f"subgraph {s} operator {k}: opcode index {op.opcode_index} out of range")
        name = model.opcode_name(op)
        version = int(model.operator_codes[op.opcode_index].version or 1)
        for i in op.inputs:
            check_index(i, f"operator {k} ({name}) input", allow_omitted=True)
            if i == -1:
                continue
            if i not in available:
                if i in later_producer:
                    raise ModelFormatError(
                        f"subgraph {s} operator {k} ({name}) reads tensor {i} ({tensors[i].name!r}) before "
                        f"operator {later_producer[i]} writes it: the graph has a cycle or is not in execution order"
                    )
                raise ModelFormatError(
                    f"subgraph {s} operator {k} ({name}) reads tensor {i} ({tensors[i].name!r}), which is not an "
                    f"input, a constant, a variable or the output of any operator"
                )
            last_reader[i] = k
        for i in op.outputs:
            check_index(i, f"operator {k} ({name}) output")
            if i in written or i in sg.inputs or tensors[i].is_constant:
                raise ModelFormatError(
                    f"subgraph {s} operator {k} ({name}) writes tensor {i} ({tensors[i].name!r}), which is "
                    f"already an input, a constant or the output of operator {written.get(i)}"
                )
            written[i] = k
            available.add(i)
        ops.append(
            OpNode(
                index=k,
                name=name,
                version=version,
                inputs=tuple(int(i) for i in op.inputs),
                outputs=tuple(int(i) for i in op.outputs),
                options=op.builtin_options,
                options2=op.builtin_options_2,
                custom_options=op.custom_options,
            )
        )
    for i in sg.outputs:
        if i not in available:
            raise ModelFormatError(
                f"subgraph {s}: output tensor {i} ({tensors[i].name!r}) is never written and is not an input or constant"
            )
    return SubgraphSpec(
        index=s,
        name=sg.name or "",
        tensors=tensors,
        ops=ops,
        inputs=tuple(int(i) for i in sg.inputs),
        outputs=tuple(int(i) for i in sg.outputs),
        producer=written,
        last_reader=last_reader,
        hybrid=any(_is_hybrid(op, tensors) for op in ops),
    )


def _is_hybrid(op: OpNode, tensors: list[TensorSpec]) -> bool:
    """A dynamic-range operator: float32 input 0 and an int8/uint8 constant input."""
    ins = [tensors[i] for i in op.inputs if i >= 0]
    if not ins or ins[0].dtype != np.float32:
        return False
    return any(t.is_constant and t.dtype in (np.int8, np.uint8) for t in ins[1:])


def make_context(
    spec: SubgraphSpec,
    op: OpNode,
    shapes: list[tuple[int, ...] | None],
    values: dict[int, np.ndarray],
    *,
    num_threads: int = 1,
    use_jit: bool = False,
) -> OpContext:
    """The ``OpContext`` of ``op`` given the current tensor shapes and known data."""
    inputs = [None if i < 0 else spec.tensors[i].info(shapes[i], values.get(i)) for i in op.inputs]
    outputs = [spec.tensors[i].info(shapes[i]) for i in op.outputs]
    return OpContext(
        op_name=op.name,
        op_index=op.index,
        version=op.version,
        options=op.options,
        options2=op.options2,
        custom_options=op.custom_options,
        inputs=inputs,
        outputs=outputs,
        num_threads=num_threads,
        use_jit=use_jit,
        litert_float_order=spec.hybrid,
        subgraphs=spec.siblings,
    )


def resolve_kernels(specs: list[SubgraphSpec], *, num_threads: int = 1, use_jit: bool = False) -> None:
    """Set ``op.kernel`` (or ``op.builtin``) on every operator of every subgraph.

    Raises:
        UnsupportedOperatorError: listing every operator no kernel accepts, with its
            subgraph, index, version, first output and input/output dtypes.
    """
    missing: list[tuple[str, str]] = []
    lines: list[str] = []
    siblings = Subgraphs(specs)
    for spec in specs:
        spec.siblings = siblings
    for spec in specs:
        shapes = [t.shape for t in spec.tensors]
        consts = {t.index: t.data for t in spec.tensors if t.is_constant}
        for op in spec.ops:
            if op.name == DENSIFY and len(op.inputs) == 1 and op.inputs[0] in consts:
                op.builtin = DENSIFY
                continue
            ctx = make_context(spec, op, shapes, consts, num_threads=num_threads, use_jit=use_jit)
            op.kernel = select_kernel(ctx)
            if op.kernel is None:
                in_types = ", ".join("-" if t is None else TensorType(t.type).name for t in ctx.inputs)
                out_types = ", ".join(TensorType(t.type).name for t in ctx.outputs)
                where = f"subgraph {spec.index} " if spec.index else ""
                lines.append(f"  {where}{op.describe(spec)}: inputs ({in_types}) -> outputs ({out_types})")
                missing.append((op.name, f"{where}operator {op.index}"))
    if missing:
        names = sorted({m[0] for m in missing})
        raise UnsupportedOperatorError(
            f"{len(missing)} operator(s) have no edgelite kernel for their types or version "
            f"({', '.join(names)}):\n" + "\n".join(lines),
            ops=missing,
        )
