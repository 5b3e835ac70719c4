"""Run a ``.tflite`` model and read back any of its tensors, for calibration and reports.

Calibration has to see every intermediate activation of the float model, so the
quantizer runs that model with an interpreter. This is a deliberate exception to the
one-way layering of edgelite (``quantize/`` uses ``interpreter/``), the same one
TFLite's own calibrator makes. The runner prefers edgelite's interpreter and falls
back to LiteRT (``ai_edge_litert``) when edgelite cannot run the model or LiteRT is
asked for; both are imported lazily.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 2), np.float32)
    >>> y = b.add_tensor("y", (1, 2), np.float32)
    >>> _ = b.add_operator("RELU", [x], [y])
    >>> b.mark_output(y)
    >>> r = make_runner(b.build(), collect=[0, 1], backend="litert")
    >>> r.run({"x": np.array([[-1.0, 2.0]], np.float32)})[1].tolist()
    [[0.0, 2.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from edgelite.errors import DTypeError, QuantizationError, ShapeError, UnsupportedOperatorError


@dataclass(frozen=True)
class InputSpec:
    """One model input (or output) as the runner sees it.

    ``quantization`` is ``(scale, zero_point)``, ``(0.0, 0)`` for a float tensor.
    """

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: tuple[float, int] = (0.0, 0)


def _specs(details) -> list[InputSpec]:
    return [
        InputSpec(d["name"], int(d["index"]), tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]),
                  (float(d["quantization"][0]), int(d["quantization"][1])))
        for d in details
    ]


class ModelRunner:
    """A loaded model; ``run`` feeds inputs by name and returns the collected tensors.

    Attributes:
        backend: ``"edgelite"`` or ``"litert"``.
        inputs: the model's inputs, in order.
        outputs: the model's outputs, in order.
    """

    def __init__(self, interpreter, backend: str, collect: Sequence[int] | None):
        self._interp = interpreter
        self.backend = backend
        self._views = None
        interpreter.allocate_tensors()
        self.inputs = _specs(interpreter.get_input_details())
        self.outputs = _specs(interpreter.get_output_details())
        self._collect = [o.index for o in self.outputs] if collect is None else [int(i) for i in collect]

    def run(self, feeds: Mapping[str, np.ndarray], copy: bool = True) -> dict[int, np.ndarray]:
        """Run once; returns ``{tensor_index: array}`` for every collected tensor.

        Args:
            feeds: ``{input_name: array}``.
            copy: ``False`` returns zero-copy views of the interpreter's tensors (the
                calibration loop reads hundreds of tensors per sample and copying them
                cost about a fifth of its time). They are valid until the next ``run``,
                which raises ``InterpreterStateError`` (edgelite) or ``RuntimeError``
                (LiteRT) while any of them is still referenced: drop them first.

        Raises:
            QuantizationError: an input is missing from ``feeds``.
            ShapeError: an input has the wrong shape.
        """
        for spec in self.inputs:
            if spec.name not in feeds:
                raise QuantizationError(f"no data for model input {spec.name!r}")
            value = np.asarray(feeds[spec.name])
            if tuple(value.shape) != spec.shape:
                raise ShapeError(f"input {spec.name!r}: got shape {value.shape}, model expects {spec.shape}")
            if value.dtype != spec.dtype:
                if value.dtype.kind == "f" and spec.dtype.kind != "f":
                    raise DTypeError(f"input {spec.name!r}: got {value.dtype}, model expects {spec.dtype}")
                value = value.astype(spec.dtype)
            self._interp.set_tensor(spec.index, value)
        self._interp.invoke()
        if copy:
            return {i: self._interp.get_tensor(i) for i in self._collect}
        if self._views is None:
            self._views = {i: self._interp.tensor(i) for i in self._collect}
        return {i: view() for i, view in self._views.items()}


# Models whose tensors (weights and activations of one invoke) hold fewer elements than
# this run on the reference kernels during quantization: a sample costs well under a
# millisecond there, while loading Numba costs ~0.5 s of CPU and compiling its kernels
# on a fresh install 8-10 s (quickstart's 8x8 digits CNN: about 60,000 elements).
SMALL_MODEL_ELEMENTS = 250_000


def model_elements(model) -> int:
    """Elements of all of subgraph 0's tensors (weights and activations of one invoke)."""
    sg = model.subgraphs[0]
    return sum(int(np.prod([max(int(d), 1) for d in t.shape], dtype=np.int64)) for t in sg.tensors)


def _tensor_elements(model_bytes: bytes) -> int:
    from edgelite.schema import read_model  # noqa: PLC0415

    return model_elements(read_model(model_bytes))


def _edgelite_interpreter(model_bytes: bytes, preserve: bool = True, elements: int | None = None):
    from edgelite.interpreter import Interpreter, OpResolverType  # noqa: PLC0415 (lazy by design)
    from edgelite.interpreter.compute.jit import wait_until_warm  # noqa: PLC0415

    if (_tensor_elements(model_bytes) if elements is None else elements) < SMALL_MODEL_ELEMENTS:
        # The choice depends on the model only, so every quantization of it gives the
        # same bytes whatever the state of Numba or its cache.
        return Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=preserve,
                           experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    # One thread: quantization runs several samples (one interpreter each) at once instead
    # (``calibrate.run_in_order``).
    interp = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=preserve, num_threads=1)
    # The first invoke of a process runs the reference kernels while Numba loads. Their
    # results are bit-identical to the JIT kernels' (tests/interpreter/
    # test_first_invoke_bits.py), so this is for speed only: calibration runs many
    # samples, and a large model's are faster on the JIT kernels.
    wait_until_warm()
    return interp


def _litert_interpreter(model_bytes: bytes, collect: Sequence[int] | None, preserve: bool = True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: PLC0415

    if not _is_float_model(model_bytes):
        # Built-in kernels: LiteRT's XNNPACK path differs from them by one step on some int8 outputs.
        return Interpreter(
            model_content=bytes(model_bytes),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=preserve,
        )
    # Float models: declare the collected tensors model outputs, so that LiteRT's
    # default (XNNPACK) delegate may run the graph and still hand every one of them
    # back; preserving all tensors would force the slower reference kernels.
    return Interpreter(model_content=_expose_as_outputs(model_bytes, collect or ()), num_threads=1)


def _is_float_model(model_bytes: bytes) -> bool:
    from edgelite.schema import read_model  # noqa: PLC0415
    from edgelite.schema.model import TensorType  # noqa: PLC0415

    m = read_model(model_bytes)
    return not any(
        t.type in (TensorType.INT8, TensorType.UINT8, TensorType.INT16) and t.quantization is not None
        and t.quantization.is_quantized
        for sg in m.subgraphs for t in sg.tensors
    )


def _expose_as_outputs(model_bytes: bytes, collect: Sequence[int]) -> bytes:
    from edgelite.schema import read_model, write_model  # noqa: PLC0415

    m = read_model(model_bytes)
    sg = m.subgraphs[0]
    extra = [i for i in collect if i not in sg.outputs and i not in sg.inputs]
    sg.outputs = list(sg.outputs) + extra
    # Signatures would list only the original outputs; this copy is run by index.
    m.signature_defs = []
    return write_model(m)


def make_runner(model_bytes: bytes, collect: Sequence[int] | None, backend: str = "auto",
                preserve: bool = True, elements: int | None = None) -> ModelRunner:
    """Load ``model_bytes`` with intermediates preserved.

    Args:
        model_bytes: a ``.tflite`` model.
        collect: indices (in subgraph 0) of the tensors ``run`` returns; ``None``: the
            model's outputs.
        backend: ``"auto"`` (edgelite's interpreter when it can run this model, else
            LiteRT), ``"edgelite"`` or ``"litert"``.
        preserve: keep every intermediate tensor; ``False`` when ``collect`` holds only
            model outputs (the memory planner may then reuse intermediate buffers).
        elements: ``model_elements`` of the model when the caller has it parsed
            (saves parsing it once more to choose the kernels).

    Raises:
        QuantizationError: no interpreter can run the model.
    """
    errors = []
    if backend in ("auto", "edgelite"):
        try:
            return ModelRunner(_edgelite_interpreter(model_bytes, preserve, elements), "edgelite", collect)
        except (ImportError, AttributeError, UnsupportedOperatorError, NotImplementedError) as e:
            # The interpreter is missing or lacks an operator of this model.
            errors.append(f"edgelite: {type(e).__name__}: {e}")
            if backend == "edgelite":
                raise QuantizationError(f"edgelite's interpreter cannot run this model ({e})") from e
    try:
        return ModelRunner(_litert_interpreter(model_bytes, collect, preserve), "litert", collect)
    except ImportError as e:
        errors.append(f"litert: {e}")
    raise QuantizationError(
        "calibration needs an interpreter that runs the float model: " + "; ".join(errors)
        + " (install ai-edge-litert, or use fixed_ranges)"
    )
