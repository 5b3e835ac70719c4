"""The kernel contract: a *prepare* step and an *eval* step per operator.

``prepare(ctx)`` runs once per ``allocate_tensors`` (and after a resize). It reads the
operator's options and its input tensors' shapes, dtypes, quantization and constant
data, sets every output's shape with ``ctx.set_output_shape`` and returns a small
frozen dataclass of everything ``eval`` needs (strides, padding, multipliers, packed
weights, scratch buffers). It raises ``ShapeError``/``UnsupportedOperatorError`` for
inputs it cannot take, so problems show before any ``invoke``.

``eval(params, inputs, outputs)`` runs on every ``invoke``: it reads the input arrays
(arena views or constant views, ``None`` for an omitted optional input) and writes
into the output arrays it is given. It does not validate and does not resize.

Several kernels can be registered for one operator (float, int8, hybrid...), each at
its own priority (``@register("CONV_2D", priority=INT8)``): the interpreter uses the
first, from the highest priority down, whose ``accepts(ctx)`` is true, and reports an
operator as unsupported when none accepts it. A kernel may also define ``eval_jit`` (same
signature as ``eval``), a Numba version that must give the same results; the
interpreter uses it when Numba is importable and the op resolver allows it.

A kernel may also define ``bind(params, inputs, outputs)``: called once at allocation
with the step's arrays, it returns the calls its ``eval_jit`` (``eval`` for a kernel
without one) would make, as ``[(function, args), ...]`` with everything that does not
change between invokes worked out (views, scalars, the build to run), or None to keep
the plain call (see :mod:`edgelite.interpreter.compute.bound`). Running the calls in
order must give exactly what that eval gives.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.base import Kernel, register, OpContext
    >>> class Negate(Kernel):   # (not registered: a sketch)
    ...     def prepare(self, ctx):
    ...         ctx.set_output_shape(0, ctx.inputs[0].shape)
    ...     def eval(self, params, inputs, outputs):
    ...         np.negative(inputs[0], out=outputs[0])
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Callable, ClassVar

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import RegistrationError, ShapeError
from edgelite.schema.quant import QuantParams


# The one quantization-parameter type (``schema.quant``), under the name kernels use.
QuantInfo = QuantParams


@dataclass
class TensorInfo:
    """What ``prepare`` may know about a tensor.

    ``data`` is set for constant tensors (model weights, and tensors the interpreter
    could compute before ``invoke`` because all their producers' inputs were constant).
    """

    index: int
    name: str
    shape: tuple[int, ...] | None
    dtype: np.dtype
    type: int  # TensorType code
    quant: QuantInfo | None = None
    data: np.ndarray | None = None
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape is not None else -1


@dataclass
class OpContext:
    """Everything ``prepare`` sees of one operator."""

    op_name: str  # e.g. "CONV_2D"
    op_index: int
    version: int
    options: Any  # generated *OptionsT object for builtin_options, or None
    options2: Any  # builtin_options_2 object, or None
    custom_options: bytes | None
    inputs: list[TensorInfo | None]
    outputs: list[TensorInfo]
    num_threads: int = 1
    use_jit: bool = False
    # The subgraph has dynamic-range (hybrid) operators: their per-batch input
    # quantization turns one-ulp differences into whole steps, so float kernels follow
    # LiteRT's summation order even where that is slower than BLAS.
    litert_float_order: bool = False
    # The model's subgraphs (``interpreter.graph.Subgraphs``): IF / WHILE / CALL_ONCE run them.
    subgraphs: Any = None
    output_shapes: list[tuple[int, ...] | None] = field(default_factory=list)
    dynamic_outputs: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.output_shapes:
            self.output_shapes = [None] * len(self.outputs)

    def input(self, i: int) -> TensorInfo:
        """Input ``i``; raises ``ShapeError`` when it is missing or omitted (-1)."""
        if i >= len(self.inputs) or self.inputs[i] is None:
            raise ShapeError(f"{self.op_name} (operator {self.op_index}) needs input {i}")
        return self.inputs[i]

    def optional_input(self, i: int) -> TensorInfo | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def set_output_shape(self, i: int, shape) -> None:
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ShapeError(f"{self.op_name} (operator {self.op_index}): negative output dimension in {shape}")
        self.output_shapes[i] = shape

    def set_output_dynamic(self, i: int) -> None:
        """Output ``i``'s shape depends on input values: ``eval`` returns it instead."""
        self.dynamic_outputs.add(i)

    def fail(self, message: str) -> ShapeError:
        """A ShapeError that names this operator; ``raise ctx.fail("...")``."""
        return ShapeError(f"{self.op_name} (operator {self.op_index}, version {self.version}): {message}")


# Priorities: the kernels of one operator are tried from the highest priority down and
# the first whose ``accepts(ctx)`` is true runs. The levels say what a kernel takes; two
# kernels of one operator never share a priority (``register`` refuses it).
INT8 = 40  # full-integer int8 kernels
UINT8 = 35  # their uint8 (TF1-style asymmetric) siblings
INT16 = 30  # 16-bit activations (int16x8)
HYBRID = 20  # dynamic range: float32 activations, int8 constant weights
FLOAT = 0  # float32 and type-generic kernels (the default)


class Kernel:
    """Base class of every kernel. Subclasses override ``prepare`` and ``eval``."""

    op: ClassVar[str] = ""
    priority: ClassVar[int] = FLOAT
    # Optional Numba implementation with eval's signature, set by subclasses.
    eval_jit: ClassVar[Callable | None] = None
    # Whether eval_jit does big products in BLAS outside any Numba parallel region, so
    # BLAS may use the run's threads (the executor decides: ``compute.threads``).
    blas_parallel: ClassVar[bool] = False
    # Optional: ``bind(params, inputs, outputs) -> [(fn, args), ...] | None`` (see the module docstring).
    bind: ClassVar[Callable | None] = None

    def accepts(self, ctx: OpContext) -> bool:
        """Whether this kernel handles this operator's dtypes and options."""
        return True

    def prepare(self, ctx: OpContext) -> Any:
        raise NotImplementedError

    def eval(self, params: Any, inputs: list, outputs: list) -> dict[int, np.ndarray] | None:
        """Write the outputs. Return ``{i: array}`` only for dynamic outputs."""
        raise NotImplementedError


# op name -> kernels, highest priority first
_REGISTRY: dict[str, list[Kernel]] = {}


def register(*op_names: str, priority: int = FLOAT) -> Callable[[type[Kernel]], type[Kernel]]:
    """Class decorator: register a kernel for builtin operators at a priority.

    This decorator is the only registration point: the kernel package finds which
    module to import for an operator by reading these ``@register(...)`` lines (so
    write the operator names as string literals on the decorator line).

    Example:
        >>> from edgelite.interpreter.kernels.base import Kernel, register, INT8
        >>> @register("EdgeliteDocExample", priority=INT8)
        ... class Example(Kernel):
        ...     def prepare(self, ctx): ...
        ...     def eval(self, params, inputs, outputs): ...
        >>> Example.priority
        40
    """

    def deco(cls: type[Kernel]) -> type[Kernel]:
        instance = cls()
        cls.priority = priority
        for name in op_names:
            kernels = _REGISTRY.setdefault(name, [])
            for i, k in enumerate(kernels):
                if k.priority == priority:
                    if type(k).__qualname__ == cls.__qualname__ and type(k).__module__ == cls.__module__:
                        kernels[i] = instance  # the same class defined again (a module reloaded)
                        break
                    raise RegistrationError(
                        f"{name}: {cls.__module__}.{cls.__qualname__} and "
                        f"{type(k).__module__}.{type(k).__qualname__} both register at priority {priority}"
                    )
            else:
                kernels.append(instance)
            kernels.sort(key=lambda k: -k.priority)
        if not cls.op:
            cls.op = op_names[0]
        return cls

    return deco


def kernels_for(op_name: str) -> list[Kernel]:
    """Kernels of ``op_name``, highest priority first (importing only their modules)."""
    from edgelite.interpreter.kernels import load_for

    load_for(op_name)
    return list(_REGISTRY.get(op_name, ()))


def registered_ops() -> list[str]:
    from edgelite.interpreter.kernels import load_all

    load_all()
    return sorted(_REGISTRY)


_INTEGER_STORAGE = frozenset(np.dtype(t) for t in (np.int8, np.uint8, np.int16))


def _has_integer_storage(ctx: OpContext) -> bool:
    """Whether any input or output is int8, uint8 or int16, or has quantization scales."""
    for t in (*ctx.inputs, *ctx.outputs):
        if t is not None and (t.dtype in _INTEGER_STORAGE or (t.quant is not None and t.quant.scale.size > 0)):
            return True
    return False


def select_kernel(ctx: OpContext) -> Kernel | None:
    """The highest-priority kernel of the operator that accepts ``ctx`` (None if none).

    Kernel modules are imported one priority level at a time, from the top: before
    the kernels of level ``p`` are tried, every module registering the operator at
    ``p`` or above is imported, so the choice equals that of a full import while an
    int8 operator leaves the float and hybrid modules unimported.
    """
    from edgelite.interpreter.kernels import load_for, priority_levels

    levels = priority_levels(ctx.op_name)
    ceiling = None
    if not _has_integer_storage(ctx):
        # Every kernel above FLOAT computes on 8- or 16-bit integers (int8/uint8/int16
        # activations, or int8 weights for HYBRID): none accepts an operator without
        # such a tensor (tests/interpreter/kernels/test_registry.py checks each one), so
        # a float model neither tries them nor imports the modules that register the
        # operator only above FLOAT (the int8 and hybrid ones: about 30 ms of a cold start).
        levels = [lv for lv in levels if lv <= FLOAT]
        ceiling = FLOAT
    for level in levels:
        load_for(ctx.op_name, level, ceiling)
        for k in _REGISTRY.get(ctx.op_name, ()):
            if k.priority < level:
                break
            if k.accepts(ctx):
                return k
    for k in kernels_for(ctx.op_name):
        if k.accepts(ctx):
            return k
    return None
