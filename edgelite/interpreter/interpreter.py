"""``edgelite.Interpreter``: a drop-in for ``ai_edge_litert.interpreter.Interpreter``.

The workflow is LiteRT's: load a model, ``allocate_tensors()``, ``set_tensor`` the
inputs, ``invoke()``, ``get_tensor`` the outputs (or use a signature runner).

Example:
    >>> import numpy as np
    >>> import edgelite
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 3), np.float32)
    >>> b.mark_output(x)
    >>> interp = edgelite.Interpreter(model_content=b.build())
    >>> interp.allocate_tensors()
    >>> inp = interp.get_input_details()[0]
    >>> interp.set_tensor(inp["index"], np.array([[1, 2, 3]], np.float32))
    >>> interp.invoke()
    >>> interp.get_tensor(interp.get_output_details()[0]["index"])
    array([[1., 2., 3.]], dtype=float32)

What happens underneath: construction reads the model (memory-mapped), checks its
structure and resolves a kernel for every operator (raising one
``UnsupportedOperatorError`` that lists every missing one); ``allocate_tensors``
prepares the kernels, folds constant subgraphs and plans one arena
(``edgelite.interpreter.planner``); ``invoke`` runs the precomputed steps.
"""

from __future__ import annotations

import enum
import os
import sys
from typing import TYPE_CHECKING

import numpy as np

from edgelite.errors import DTypeError, InterpreterStateError, ShapeError
from edgelite.interpreter.details import op_details, tensor_details
from edgelite.interpreter.executor import SubgraphRuntime
from edgelite.interpreter.graph import load_subgraph, resolve_kernels
from edgelite.interpreter.compute.jit import is_warm, start_warm_up, wait_until_warm, warm_up_started
from edgelite.interpreter.signature import SignatureRunner
from edgelite.schema.model import TensorType

if TYPE_CHECKING:
    from edgelite.interpreter.delegation import DelegationPlan


class TensorNotAllocatedError(InterpreterStateError, ValueError):
    """A tensor was read or written before ``allocate_tensors`` (a ValueError, as in LiteRT)."""


class TensorDTypeError(DTypeError, ValueError):
    """``set_tensor`` got the wrong dtype (also a ValueError, as LiteRT raises)."""


class TensorShapeError(ShapeError):
    """``set_tensor``/``resize_tensor_input`` got a shape the tensor cannot take."""


@enum.unique
class OpResolverType(enum.Enum):
    """Which kernels run. Same names and values as LiteRT's ``OpResolverType``.

    * ``AUTO`` / ``BUILTIN``: the fastest kernels (Numba ``eval_jit`` when Numba is installed).
    * ``BUILTIN_REF``: reference numpy kernels only.
    * ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``: like BUILTIN (edgelite has no default delegate).
    """

    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


def _resolver(value) -> OpResolverType:
    # LiteRT's own enum members are accepted too (same names), so code written for
    # LiteRT can pass them unchanged; plain ints are refused as LiteRT refuses them.
    if isinstance(value, OpResolverType):
        return value
    name = getattr(value, "name", None)
    if isinstance(value, enum.Enum) and name in OpResolverType.__members__:
        return OpResolverType[name]
    raise ValueError(f"Unrecognized passed in op resolver type: {value}")


class _ViewAnchor:
    """What every ``tensor()`` view points back to, so live views can be counted.

    Each view's base chain ends in an anchor, and every anchor holds the interpreter's
    token: while any view is alive the token's reference count is above its resting
    value, which is how LiteRT's Python wrapper detects live views too.
    """

    __slots__ = ("__array_interface__", "_array", "_token")

    def __init__(self, array: np.ndarray, token: object):
        self._array = array
        self._token = token
        self.__array_interface__ = array.__array_interface__


class Interpreter:
    """Runs ``.tflite`` models with LiteRT's Python API.

    Args:
        model_path: path of a ``.tflite`` file (memory-mapped).
        model_content: the model's bytes (exactly one of the two must be given).
        experimental_delegates: delegates applied in list order at ``allocate_tensors``
            (``edgelite.load_delegate("gpu")``; see docs/delegates.md); an object that is
            not an edgelite delegate raises ``DelegateError``.
        num_threads: threads for parallel (Numba) kernels; must be an int >= 1.
        experimental_op_resolver_type: an ``OpResolverType`` (LiteRT's enum works too).
        experimental_preserve_all_tensors: give every tensor its own arena slot so
            intermediates stay readable after ``invoke``.

    Raises:
        ValueError: bad arguments (as LiteRT), or ``ModelFormatError`` (a ValueError)
            for a malformed model.
        UnsupportedOperatorError: operators without a kernel, all listed at once.

    Example:
        >>> import edgelite, numpy as np
        >>> from edgelite.schema.builder import ModelBuilder
        >>> b = ModelBuilder(); x = b.add_input("x", (2,), np.int32); b.mark_output(x)
        >>> it = edgelite.Interpreter(model_content=b.build(), num_threads=1)
        >>> it.allocate_tensors(); it.set_tensor(x, np.array([4, 5], np.int32)); it.invoke()
        >>> it.get_tensor(x).tolist()
        [4, 5]
    """

    def __init__(
        self,
        model_path=None,
        model_content=None,
        experimental_delegates=None,
        num_threads=None,
        experimental_op_resolver_type=OpResolverType.AUTO,
        experimental_preserve_all_tensors=False,
    ):
        from edgelite.interpreter.compute import jit
        from edgelite.schema import read_model

        self._resolver_type = _resolver(experimental_op_resolver_type)
        if num_threads is not None:
            if not isinstance(num_threads, int):
                raise ValueError("type of num_threads should be int")
            if num_threads < 1:
                raise ValueError("num_threads should >= 1")
        if model_path and not model_content:
            self._model = read_model(os.fspath(model_path))
        elif model_content and not model_path:
            self._model_content = model_content  # keep the bytes alive: constants are views of them
            self._model = read_model(model_content)
        elif not model_content and not model_path:
            raise ValueError("`model_path` or `model_content` must be specified.")
        else:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        # The delegate seam: edgelite.interpreter.delegation (applied at allocate_tensors),
        # imported only when delegates are given (it costs start-up time, logging included).
        self._delegates = []
        if experimental_delegates:
            from edgelite.interpreter.delegation import check_delegates

            self._delegates = check_delegates(experimental_delegates)
        self._num_threads = num_threads
        self._use_jit = jit.HAVE_NUMBA and self._resolver_type != OpResolverType.BUILTIN_REF
        self._preserve_all = bool(experimental_preserve_all_tensors)
        self._specs = [load_subgraph(self._model, s) for s in range(len(self._model.subgraphs))]
        resolve_kernels(self._specs, num_threads=num_threads or 1, use_jit=self._use_jit)
        self._runtimes: list[SubgraphRuntime | None] = [None] * len(self._specs)
        self._token = object()
        self._profiler = None
        self._signature_defs = self.get_signature_list()

    # -- state ------------------------------------------------------------------------------

    def _runtime(self, subgraph_index: int = 0) -> SubgraphRuntime:
        subgraph_index = int(subgraph_index)
        if not 0 <= subgraph_index < len(self._specs):
            raise ValueError(
                f"Invalid subgraph index {subgraph_index} exceeds max subgraph index {len(self._specs)}"
            )
        rt = self._runtimes[subgraph_index]
        if rt is None:
            rt = SubgraphRuntime(
                self._specs[subgraph_index],
                num_threads=self._num_threads or 1,
                use_jit=self._use_jit,
                preserve_all_tensors=self._preserve_all,
                delegates=self._delegates,
            )
            self._runtimes[subgraph_index] = rt
        return rt

    def _safe_to_run(self) -> bool:
        # 2 = our attribute + getrefcount's argument: no tensor() view is alive.
        return sys.getrefcount(self._token) == 2

    def _ensure_safe(self) -> None:
        if not self._safe_to_run():
            raise InterpreterStateError(
                "There is at least 1 reference to internal data in the interpreter in the form of a "
                "numpy array or slice. Be sure to only hold the function returned from tensor() if you "
                "are using raw data access."
            )

    def _check_index(self, rt: SubgraphRuntime, tensor_index) -> int:
        i = int(tensor_index)
        n = len(rt.spec.tensors)
        if not 0 <= i < n:
            raise ValueError(f"Invalid tensor index {i} exceeds max tensor index {n}")
        return i

    # -- lifecycle -----------------------------------------------------------------------------

    def allocate_tensors(self):
        """Prepare every kernel and plan the arena (again after a resize).

        Raises:
            InterpreterStateError: a ``tensor()`` view is still alive.
            ShapeError: a kernel cannot take the (resized) input shapes.
        """
        self._ensure_safe()
        self._allocate(0)

    def _allocate(self, subgraph_index: int) -> None:
        self._runtime(subgraph_index).allocate()

    def invoke(self):
        """Run the model once on the current inputs.

        Raises:
            InterpreterStateError: not allocated since the last resize, or a ``tensor()``
                view is still alive.
        """
        self._ensure_safe()
        self._invoke(0)

    def _invoke(self, subgraph_index: int) -> None:
        rt = self._runtime(subgraph_index)
        if not rt.allocated:
            raise InterpreterStateError("Invoke called on model that is not ready.")
        # Numba costs about a second of CPU to import and set up. The first invoke of a
        # process that has not loaded it runs the reference kernels (bit-identical
        # results: tests/interpreter/test_first_invoke_bits.py) and then starts loading Numba on a
        # background thread; the next invoke waits for it and runs the JIT kernels.
        # Loading starts after the run, not before: the import holds the GIL most of
        # the time and would slow the run it overlapped several-fold.
        reference = False
        if self._use_jit and rt.has_jit_steps and not is_warm():
            reference = not warm_up_started()
            if not reference:
                wait_until_warm()
        rt.invoke(self._profiler, reference=reference)
        if reference:
            start_warm_up()

    def reset_all_variables(self):
        """Reset every variable tensor (to 0, or to the zero point for int8, as LiteRT)."""
        for rt in self._runtimes:
            if rt is not None:
                rt.reset_variables()

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        """Give input ``input_index`` a new shape; takes effect at ``allocate_tensors``.

        Args:
            input_index: the input's tensor index (``get_input_details()[k]["index"]``).
            tensor_size: the new shape.
            strict: only dimensions that are -1 in ``shape_signature`` may change.

        Raises:
            ValueError: not an input of the model, or (``ShapeError``) a forbidden change.
        """
        self._ensure_safe()
        self._resize(input_index, tensor_size, strict, 0)

    def _resize(self, input_index, tensor_size, strict: bool, subgraph_index: int) -> None:
        rt = self._runtime(subgraph_index)
        i = self._check_index(rt, input_index)
        spec = rt.spec.tensors[i]
        shape = tuple(int(d) for d in np.asarray(tensor_size, dtype=np.int64).reshape(-1))
        if i not in rt.spec.inputs:
            raise ValueError(f"Tensor {i} ({spec.name!r}) is not an input of subgraph {subgraph_index}: only inputs can be resized")
        if any(d < 0 for d in shape):
            raise TensorShapeError(f"Cannot resize input {i} ({spec.name!r}) to {list(shape)}: negative dimension")
        if any(d > 2**31 - 1 for d in shape):
            raise TensorShapeError(f"Cannot resize input {i} ({spec.name!r}) to {list(shape)}: dimensions are int32")
        if strict:
            sig = spec.shape_signature
            if len(shape) != len(sig):
                raise TensorShapeError(
                    f"ResizeInputTensorStrict: input {i} ({spec.name!r}) has rank {len(sig)}, got shape {list(shape)}"
                )
            for d, (old, new) in enumerate(zip(sig, shape)):
                if old != -1 and old != new:
                    raise TensorShapeError(
                        f"Attempting to resize dimension {d} of tensor {i} ({spec.name!r}) with value {old} to "
                        f"{new}. ResizeInputTensorStrict only allows mutating unknown dimensions identified by -1."
                    )
        rt.resize(i, shape)

    # -- tensors ------------------------------------------------------------------------------

    def set_tensor(self, tensor_index, value):
        """Copy ``value`` into tensor ``tensor_index`` (dtype and shape must match exactly).

        Raises:
            DTypeError: wrong dtype (also a ValueError); ShapeError: wrong shape;
            ValueError: bad index, a constant tensor, or not allocated yet.
        """
        self._set_tensor(tensor_index, value, 0)

    def _set_tensor(self, tensor_index, value, subgraph_index: int) -> None:
        rt = self._runtime(subgraph_index)
        i = self._check_index(rt, tensor_index)
        spec = rt.spec.tensors[i]
        value = np.asarray(value)
        if spec.type != TensorType.STRING and value.dtype != spec.dtype:
            got = _type_name(value.dtype)
            raise TensorDTypeError(
                f"Cannot set tensor: Got value of type {got} but expected type "
                f"{TensorType(spec.type).name} for input {i}, name: {spec.name}"
            )
        if not rt.allocated:
            raise TensorNotAllocatedError("Cannot set tensor: Tensor is unallocated. Try calling allocate_tensors() first")
        current = rt.shapes[i]
        if current is not None and tuple(value.shape) != tuple(current):
            if value.ndim != len(current):
                msg = f"Dimension mismatch. Got {value.ndim} but expected {len(current)} for input {i}."
            else:
                d = next(k for k in range(value.ndim) if value.shape[k] != current[k])
                msg = (
                    f"Dimension mismatch. Got {value.shape[d]} but expected {current[d]} for dimension {d} "
                    f"of input {i}."
                )
            raise TensorShapeError(
                f"Cannot set tensor: {msg} Tensor {spec.name!r} has shape {list(current)}, got {list(value.shape)}; "
                "use resize_tensor_input() and allocate_tensors() to change it"
            )
        if not rt.is_settable(i):
            raise ValueError(
                f"Cannot set tensor: tensor {i} ({spec.name!r}) is a constant of the model "
                "(edgelite keeps constants read-only and may have folded them into other tensors)"
            )
        np.copyto(rt.array(i), value, casting="no")

    def get_tensor(self, tensor_index, subgraph_index=0):
        """A copy of tensor ``tensor_index``'s current value.

        Raises:
            ValueError: bad index, or the tensor has no data yet (call allocate_tensors()).
        """
        rt = self._runtime(subgraph_index)
        i = self._check_index(rt, tensor_index)
        arr = rt.array(i) if (rt.allocated or rt.spec.tensors[i].is_constant) else None
        if arr is None:
            arr = rt.spec.tensors[i].data
        if arr is None:
            if rt.allocated and rt.delegation is not None:
                raise TensorNotAllocatedError(
                    f"Tensor {i} ({rt.spec.tensors[i].name!r}) lives inside a delegated partition and has no CPU copy; "
                    "use experimental_preserve_all_tensors=True to read intermediates"
                )
            raise TensorNotAllocatedError("Tensor data is null. Run allocate_tensors() first")
        return np.array(arr, copy=True)

    def tensor(self, tensor_index):
        """A function returning a zero-copy numpy view of tensor ``tensor_index``.

        Hold the function, not the array: ``allocate_tensors``, ``invoke`` and
        ``resize_tensor_input`` raise while a view is alive, as in LiteRT.

        Example:
            >>> # out = interp.tensor(idx); interp.invoke(); print(out())
        """
        rt = self._runtime(0)
        i = self._check_index(rt, tensor_index)

        def view():
            arr = rt.array(i) if rt.allocated else None
            if arr is None:
                arr = rt.spec.tensors[i].data
            if arr is None:
                raise TensorNotAllocatedError("Tensor data is null. Run allocate_tensors() first")
            return np.asarray(_ViewAnchor(arr, self._token))

        return view

    # -- details -------------------------------------------------------------------------------

    def _get_tensor_details(self, tensor_index, subgraph_index):
        rt = self._runtime(subgraph_index)
        i = self._check_index(rt, tensor_index)
        return tensor_details(rt.spec.tensors[i], rt.shapes[i])

    def get_input_details(self):
        """LiteRT-style detail dicts of the model's inputs, in the model's order."""
        return [self._get_tensor_details(i, 0) for i in self._specs[0].inputs]

    def get_output_details(self):
        """LiteRT-style detail dicts of the model's outputs, in the model's order."""
        return [self._get_tensor_details(i, 0) for i in self._specs[0].outputs]

    def get_tensor_details(self, subgraph_index=0):
        """Detail dicts of every tensor of a subgraph."""
        n = len(self._specs)
        if subgraph_index < 0 or subgraph_index >= n:
            raise ValueError(f"subgraph_index is out of range: {subgraph_index} for the model, which has {n} subgraphs.")
        return [self._get_tensor_details(i, subgraph_index) for i in range(len(self._specs[subgraph_index].tensors))]

    def _get_op_details(self, op_index):
        spec = self._specs[0]
        return op_details(spec, spec.ops[int(op_index)])

    def _get_ops_details(self):
        """One dict per operator of the main subgraph (LiteRT's experimental API).

        With delegates this is the execution plan, as LiteRT shows it after delegation:
        CPU operators in run order and one ``DELEGATE`` op per partition (allocating
        the tensors first if needed, since edgelite partitions at ``allocate_tensors``).
        """
        plan = self.get_delegation_plan() if self._delegates else None
        if plan is not None:
            from edgelite.interpreter.delegation import execution_details

            return execution_details(self._specs[0], plan, op_details)
        return [op_details(self._specs[0], op) for op in self._specs[0].ops]

    def get_delegation_plan(self, subgraph_index=0) -> DelegationPlan | None:
        """The partitions delegates took over (None without delegates); allocates if needed."""
        if not self._delegates:
            return None
        rt = self._runtime(subgraph_index)
        if not rt.allocated:
            self._ensure_safe()
            rt.allocate()
        return rt.delegation

    get_ops_details = _get_ops_details

    def num_subgraphs(self):
        """Number of subgraphs in the model."""
        return len(self._specs)

    # -- signatures ---------------------------------------------------------------------------

    def _get_full_signature_list(self):
        out = {}
        for sd in self._model.signature_defs:
            out[sd.signature_key] = {
                "inputs": {tm.name: int(tm.tensor_index) for tm in sorted(sd.inputs, key=lambda m: m.name)},
                "outputs": {tm.name: int(tm.tensor_index) for tm in sorted(sd.outputs, key=lambda m: m.name)},
            }
        return out

    def _signature_subgraph(self, key: str) -> int:
        for sd in self._model.signature_defs:
            if sd.signature_key == key:
                return int(sd.subgraph_index)
        raise ValueError(f'Invalid signature_key provided: "{key}".')

    def get_signature_list(self):
        """``{signature_key: {"inputs": [names], "outputs": [names]}}``."""
        return {k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])} for k, v in self._get_full_signature_list().items()}

    def get_signature_runner(self, signature_key=None):
        """A callable running one SignatureDef with keyword inputs (see ``SignatureRunner``).

        Args:
            signature_key: may be None only when the model has exactly one signature.

        Raises:
            ValueError: unknown key, or None with zero or several signatures.
        """
        if signature_key is None:
            if len(self._signature_defs) != 1:
                raise ValueError(
                    f"SignatureDef signature_key is None and model has {len(self._signature_defs)} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef"
                )
            signature_key = next(iter(self._signature_defs))
        return SignatureRunner(interpreter=self, signature_key=signature_key)

    # -- edgelite extras ------------------------------------------------------------------------

    @property
    def arena_bytes(self) -> int:
        """Bytes of the planned arenas of every allocated subgraph."""
        return sum(rt.arena_bytes for rt in self._runtimes if rt is not None)

    @property
    def uses_jit(self) -> bool:
        """Whether kernels' Numba ``eval_jit`` versions run."""
        return self._use_jit

    def set_profiler(self, profiler) -> None:
        """Attach an ``edgelite.interpreter.profiling.OpProfiler`` (None detaches)."""
        self._profiler = profiler


def _type_name(dtype: np.dtype) -> str:
    from edgelite.schema.model import tensor_type_of

    try:
        return tensor_type_of(dtype).name
    except KeyError:
        return str(dtype)
