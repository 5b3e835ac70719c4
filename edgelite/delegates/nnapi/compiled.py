"""One ``NnModel`` replayed through the NNAPI C API: model, compilation, executions.

``CompiledModel`` owns an ANeuralNetworksModel and its ANeuralNetworksCompilation for as
long as it lives (compiled once, reused by every ``run``) and frees both in ``close()``.
Each ``run`` creates one ANeuralNetworksExecution (an execution may be computed only once
before feature level 31), computes it with ``ANeuralNetworksExecution_compute`` (29+) or
``startCompute`` + ``ANeuralNetworksEvent_wait`` (27-28), and frees it (and the event)
even when a call fails.

The ``NnModel``'s constant arrays are NNAPI's referenced operand values (> 128 bytes), so
the ``CompiledModel`` keeps the ``NnModel`` alive and unchanged until ``close()``.
"""

from __future__ import annotations

import ctypes
import weakref

import numpy as np

from edgelite.delegates.nnapi import abi
from edgelite.delegates.nnapi.library import NnapiLibrary
from edgelite.delegates.nnapi.operands import NnModel, NnOperand
from edgelite.errors import DelegateError


def _operand_type(o: NnOperand):
    dims = (ctypes.c_uint32 * max(len(o.shape), 1))(*o.shape)
    t = abi.OperandType(int(o.code), len(o.shape), dims if o.shape else None, float(o.scale), int(o.zero_point))
    return t, dims


def _u32s(values) -> ctypes.Array:
    return (ctypes.c_uint32 * max(len(values), 1))(*values)


def _build_model(lib: NnapiLibrary, nn: NnModel, relax_fp16: bool = False) -> ctypes.c_void_p:
    """A finished ANeuralNetworksModel for ``nn``; freed again if any call fails."""
    model = ctypes.c_void_p()
    lib.call("ANeuralNetworksModel_create", ctypes.byref(model))
    try:
        for i, o in enumerate(nn.operands):
            t, _dims = _operand_type(o)
            lib.call("ANeuralNetworksModel_addOperand", model, ctypes.byref(t))
            if o.channel_dim is not None:
                scales = np.ascontiguousarray(o.channel_scales, np.float32)
                p = abi.SymmPerChannelQuantParams(
                    o.channel_dim, scales.size, scales.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                )
                lib.call("ANeuralNetworksModel_setOperandSymmPerChannelQuantParams", model, i, ctypes.byref(p))
            if o.value is not None:
                v = o.value
                lib.call("ANeuralNetworksModel_setOperandValue", model, i, ctypes.c_void_p(v.ctypes.data), v.nbytes)
        for op in nn.operations:
            ins, outs = _u32s(op.inputs), _u32s(op.outputs)
            lib.call("ANeuralNetworksModel_addOperation", model, op.code, len(op.inputs), ins, len(op.outputs), outs)
        lib.call("ANeuralNetworksModel_identifyInputsAndOutputs", model, len(nn.inputs), _u32s(nn.inputs),
                 len(nn.outputs), _u32s(nn.outputs))
        if relax_fp16:
            lib.call("ANeuralNetworksModel_relaxComputationFloat32toFloat16", model, True)
        lib.call("ANeuralNetworksModel_finish", model)
    except DelegateError:
        lib.fn("ANeuralNetworksModel_free")(model)
        raise
    return model


def supported_operations(lib: NnapiLibrary, nn: NnModel, device_handles: list[int]) -> list[bool]:
    """``ANeuralNetworksModel_getSupportedOperationsForDevices`` for each operation of ``nn``."""
    model = _build_model(lib, nn)
    try:
        devs = (ctypes.c_void_p * len(device_handles))(*device_handles)
        flags = (ctypes.c_bool * max(len(nn.operations), 1))()
        lib.call("ANeuralNetworksModel_getSupportedOperationsForDevices", model, devs, len(device_handles), flags)
        return [bool(flags[k]) for k in range(len(nn.operations))]
    finally:
        lib.fn("ANeuralNetworksModel_free")(model)


class CompiledModel:
    """A compiled NNAPI model, run many times, freed by ``close()``."""

    def __init__(self, lib: NnapiLibrary, nn: NnModel, *, preference: int, device_handles: list[int] | None = None,
                 relax_fp16: bool = False):
        self.lib = lib
        self.nn = nn  # owns the referenced constant buffers
        self._compilation = ctypes.c_void_p()
        self._model = _build_model(lib, nn, relax_fp16)
        # Frees both handles on close() or, failing that, when this object is collected.
        self._free = weakref.finalize(self, _free_handles, lib, self._compilation, self._model)
        try:
            if device_handles:
                devs = (ctypes.c_void_p * len(device_handles))(*device_handles)
                lib.call("ANeuralNetworksCompilation_createForDevices", self._model, devs, len(device_handles),
                         ctypes.byref(self._compilation))
            else:
                lib.call("ANeuralNetworksCompilation_create", self._model, ctypes.byref(self._compilation))
            if preference >= 0:  # -1: LiteRT's "undefined", NNAPI's default applies
                lib.call("ANeuralNetworksCompilation_setPreference", self._compilation, int(preference))
            lib.call("ANeuralNetworksCompilation_finish", self._compilation)
        except DelegateError:
            self.close()
            raise
        self.input_operands = [nn.operands[i] for i in nn.inputs]
        self.output_operands = [nn.operands[i] for i in nn.outputs]

    def run(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        """Computes the model: reads ``inputs``, writes into ``outputs`` (C-contiguous arrays)."""
        if self._compilation is None:
            raise DelegateError("NNAPI partition used after it was closed")
        lib = self.lib
        execution = ctypes.c_void_p()
        lib.call("ANeuralNetworksExecution_create", self._compilation, ctypes.byref(execution))
        try:
            for k, a in enumerate(inputs):
                lib.call("ANeuralNetworksExecution_setInput", execution, k, None, ctypes.c_void_p(a.ctypes.data),
                         a.nbytes)
            for k, a in enumerate(outputs):
                lib.call("ANeuralNetworksExecution_setOutput", execution, k, None, ctypes.c_void_p(a.ctypes.data),
                         a.nbytes)
            if lib.has("ANeuralNetworksExecution_compute"):
                lib.call("ANeuralNetworksExecution_compute", execution)
            else:
                event = ctypes.c_void_p()
                lib.call("ANeuralNetworksExecution_startCompute", execution, ctypes.byref(event))
                try:
                    lib.call("ANeuralNetworksEvent_wait", event)
                finally:
                    lib.fn("ANeuralNetworksEvent_free")(event)
        finally:
            lib.fn("ANeuralNetworksExecution_free")(execution)

    def close(self) -> None:
        """Frees the compilation, then the model (idempotent)."""
        self._free()
        self._compilation = None


def _free_handles(lib: NnapiLibrary, compilation: ctypes.c_void_p, model: ctypes.c_void_p) -> None:
    if compilation.value:
        lib.fn("ANeuralNetworksCompilation_free")(compilation)
    lib.fn("ANeuralNetworksModel_free")(model)
