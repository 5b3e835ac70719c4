"""An ``onnx.backend`` whose ``prepare`` converts with edgelite and whose ``run`` uses
``edgelite.Interpreter``; each run is repeated in LiteRT on the same ``.tflite`` bytes
and must agree with it, so a case only passes when the file is right for both runtimes.

A model whose inputs have symbolic dimensions is converted lazily, at its first run,
with ``input_shapes`` taken from that run's inputs (what a user does with
``--input-shape``); only shapes are taken from the data, never values.

Example:
    >>> import onnx.backend.test
    >>> from tests.converter.backend.edgelite_backend import EdgeliteBackend
    >>> suite = onnx.backend.test.BackendTest(EdgeliteBackend, __name__)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

import edgelite
from edgelite.schema import read_model
from tests.converter.backend.conditioning import ill_conditioned, softmax_agrees


class LiteRTDisagreement(AssertionError):
    """edgelite's interpreter and LiteRT gave different results for the same file."""


class SoftmaxOutput(np.ndarray):
    """A graph output computed by a SOFTMAX (through reshapes only), carrying edgelite's
    logits (that softmax's input) so an ill-conditioned output can be judged through
    them (``conditioning.softmax_agrees``)."""

    logits: np.ndarray
    beta: float

    @classmethod
    def wrap(cls, value: np.ndarray, logits: np.ndarray, beta: float) -> "SoftmaxOutput":
        out = np.asarray(value).view(cls)
        out.logits, out.beta = logits, beta
        return out


def explained_by_logits(ours: np.ndarray, reference: np.ndarray) -> bool:
    """An ill-conditioned softmax output whose logits reproduce ``reference`` within tolerance."""
    return (isinstance(ours, SoftmaxOutput) and ill_conditioned(ours.logits, ours.beta)
            and softmax_agrees(np.asarray(reference), ours.logits, ours.beta))


def _softmax_sources(tflite: bytes) -> dict[int, tuple[int, float]]:
    """Graph output tensor -> (logits tensor, beta) for outputs a SOFTMAX computes."""
    model = read_model(tflite)
    sg = model.subgraphs[0]
    producer = {t: op for op in sg.operators for t in op.outputs}
    found = {}
    for t in sg.outputs:
        op = producer.get(t)
        while op is not None and model.opcode_name(op) in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
            op = producer.get(op.inputs[0])
        if op is not None and model.opcode_name(op) == "SOFTMAX":
            found[t] = (op.inputs[0], float(getattr(op.builtin_options, "beta", 1.0)))
    return found


def _compare(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        raise LiteRTDisagreement(f"{what}: edgelite {ours.dtype}{list(ours.shape)} vs LiteRT {theirs.dtype}{list(theirs.shape)}")
    if ours.dtype.name == "bfloat16":  # ml_dtypes: compared through float32, which holds it exactly
        ours, theirs = ours.astype(np.float32), theirs.astype(np.float32)
    if ours.dtype.kind in "fc":
        scale = max(float(np.max(np.abs(theirs[np.isfinite(theirs)]), initial=0.0)), 1e-30)
        same_nan = np.array_equal(np.isnan(ours), np.isnan(theirs))
        finite = np.isfinite(ours) & np.isfinite(theirs)
        err = float(np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0)) / scale
        if not same_nan or err > 1e-5 or not np.array_equal(np.isinf(ours), np.isinf(theirs)):
            if explained_by_logits(ours, theirs):
                return
            raise LiteRTDisagreement(f"{what}: relative difference {err:.3g} between edgelite and LiteRT")
    elif not np.array_equal(ours, theirs):
        raise LiteRTDisagreement(f"{what}: edgelite and LiteRT outputs differ")


def _dynamic_inputs(model: onnx.ModelProto) -> set[str]:
    """Names of graph inputs with a dimension that is not a fixed positive number."""
    initializers = {i.name for i in model.graph.initializer}
    out = set()
    for vi in model.graph.input:
        if vi.name in initializers or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if any(not (d.HasField("dim_value") and d.dim_value > 0) for d in dims):
            out.add(vi.name)
    return out


def _has_non_tensor_io(model: onnx.ModelProto) -> bool:
    """Sequence/optional/map graph inputs or outputs: converting at once reports them
    (a lazy conversion would first trip over the sequence-valued run inputs)."""
    return any(vi.type.WhichOneof("value") not in (None, "tensor_type")
               for vi in list(model.graph.input) + list(model.graph.output))


def runtime_array(x: np.ndarray) -> np.ndarray:
    """ONNX's int4 / uint4 arrays (``ml_dtypes``) as the int8 / uint8 values that INT4 / UINT4
    tensors take in LiteRT's Python API and in edgelite (one value per byte)."""
    names = {"int4": np.int8, "uint4": np.uint8}
    return x.astype(names[x.dtype.name]) if x.dtype.name in names else x


class EdgeliteRep(BackendRep):
    def __init__(self, tflite: bytes | None, model: onnx.ModelProto):
        initializers = {i.name for i in model.graph.initializer}
        self.model = model
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]
        self.tflite = None
        self.interpreter = None
        if tflite is not None:
            self._load(tflite)

    def _load(self, tflite: bytes) -> None:
        self.tflite = tflite
        self.softmax_sources = _softmax_sources(tflite)
        # Intermediates kept only where a softmax output's logits must be readable.
        self.interpreter = edgelite.Interpreter(
            model_content=tflite, experimental_preserve_all_tensors=bool(self.softmax_sources))
        self.interpreter.allocate_tensors()

    def _convert_for(self, inputs: Sequence[np.ndarray]) -> None:
        """First run of a model with symbolic input dimensions: fix them from the inputs' shapes."""
        dynamic = _dynamic_inputs(self.model)
        shapes = {n: tuple(np.shape(x)) for n, x in zip(self.input_names, inputs) if n in dynamic}
        self._load(edgelite.convert(self.model, keep_io_layout=True, input_shapes=shapes))

    def _run_edgelite(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        interp = self.interpreter
        details = interp.get_input_details()
        by_name = {d["name"]: d for d in details}
        chosen = [by_name.get(n, details[k]) for k, n in enumerate(self.input_names[: len(inputs)])]
        resized = False
        for d, x in zip(chosen, inputs):
            if tuple(d["shape"]) != tuple(np.shape(x)):
                interp.resize_tensor_input(d["index"], list(np.shape(x)))
                resized = True
        if resized:
            interp.allocate_tensors()
        for d, x in zip(chosen, inputs):
            interp.set_tensor(d["index"], np.asarray(x))
        interp.invoke()
        outs = interp.get_output_details()
        by_out = {d["name"]: d for d in outs}
        results = []
        for k, n in enumerate(self.output_names):
            index = by_out.get(n, outs[k])["index"]
            value = interp.get_tensor(index)
            if index in self.softmax_sources:
                logits, beta = self.softmax_sources[index]
                value = SoftmaxOutput.wrap(value, interp.get_tensor(logits), beta)
            results.append(value)
        return results

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        inputs = [runtime_array(np.asarray(x)) for x in inputs]
        if self.interpreter is None:
            self._convert_for(inputs)
        ours = self._run_edgelite(inputs)
        try:
            import ai_edge_litert  # noqa: F401
        except ImportError:
            return tuple(ours)
        from tests.converter.backend.litert_worker import run_in_litert

        theirs = run_in_litert(self.tflite, inputs, self.input_names, self.output_names)
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _compare(a, b, f"output {k} ({self.output_names[k]})")
        return tuple(ours)


class EdgeliteBackend(Backend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return True

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> EdgeliteRep:
        super().prepare(model, device, **kwargs)
        if _dynamic_inputs(model) and not _has_non_tensor_io(model):
            return EdgeliteRep(None, model)  # converted at the first run, with its input shapes
        return EdgeliteRep(edgelite.convert(model, keep_io_layout=True), model)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"
