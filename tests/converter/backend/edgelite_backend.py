"""An ``onnx.backend`` whose ``prepare`` converts with edgelite and whose ``run`` uses
``edgelite.Interpreter``; each run is repeated in LiteRT on the same ``.tflite`` bytes
and must agree with it, so a case only passes when the file is right for both runtimes.

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


class LiteRTDisagreement(AssertionError):
    """edgelite's interpreter and LiteRT gave different results for the same file."""


def _compare(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        raise LiteRTDisagreement(f"{what}: edgelite {ours.dtype}{list(ours.shape)} vs LiteRT {theirs.dtype}{list(theirs.shape)}")
    if ours.dtype.kind in "fc":
        scale = max(float(np.max(np.abs(theirs[np.isfinite(theirs)]), initial=0.0)), 1e-30)
        same_nan = np.array_equal(np.isnan(ours), np.isnan(theirs))
        finite = np.isfinite(ours) & np.isfinite(theirs)
        err = float(np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0)) / scale
        if not same_nan or err > 1e-5 or not np.array_equal(np.isinf(ours), np.isinf(theirs)):
            raise LiteRTDisagreement(f"{what}: relative difference {err:.3g} between edgelite and LiteRT")
    elif not np.array_equal(ours, theirs):
        raise LiteRTDisagreement(f"{what}: edgelite and LiteRT outputs differ")


class EdgeliteRep(BackendRep):
    def __init__(self, tflite: bytes, model: onnx.ModelProto):
        self.tflite = tflite
        self.interpreter = edgelite.Interpreter(model_content=tflite)
        self.interpreter.allocate_tensors()
        initializers = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]

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
        return [interp.get_tensor(by_out.get(n, outs[k])["index"]) for k, n in enumerate(self.output_names)]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        inputs = [np.asarray(x) for x in inputs]
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
        tflite = edgelite.convert(model, keep_io_layout=True)
        return EdgeliteRep(tflite, model)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"
