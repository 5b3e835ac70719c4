"""Builds and drives the NNAPI test double (``nnapi_test_double.c``) for the delegate tests.

``prepare()`` compiles the C test double with the system C compiler (cached by source
hash and feature level), registers the NNAPI-semantics evaluator of ``nnapi_semantics.py``
with it, and returns the library path to pass as the NNAPI delegate's ``library`` option.
``Double(path)`` gives the test controls: failure injection, call counts, live-object
counts, misuse count, the last error text, and per-device unsupported operations.

This is a test double, not NNAPI: it checks how the delegate uses the API and computes
results from the NNAPI documentation; it says nothing about any real driver.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import traceback
from pathlib import Path

import numpy as np

from tests.delegates import nnapi_semantics as sem

SOURCE = Path(__file__).with_name("nnapi_test_double.c")
_CACHE = Path(os.environ.get("EDGELITE_TEST_CACHE", Path(tempfile.gettempdir()) / "edgelite-test-cache"))
_registered: dict[str, "Double"] = {}


class DoubleUnavailable(RuntimeError):
    """No C compiler: the double cannot be built (tests skip with this reason)."""


def build(feature_level: int = 31) -> str:
    """Compiles the double for ``feature_level`` (27, 28, 29, 30 or 31); returns its path."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise DoubleUnavailable("no C compiler (cc/gcc/clang) to build the NNAPI test double")
    digest = hashlib.sha256(SOURCE.read_bytes() + str(feature_level).encode()).hexdigest()[:16]
    out = _CACHE / f"libnnapi_test_double_fl{feature_level}_{digest}.so"
    if not out.exists():
        _CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        cmd = [cc, "-shared", "-fPIC", "-O1", "-fvisibility=hidden", f"-DDOUBLE_FEATURE_LEVEL={feature_level}",
               "-o", str(tmp), str(SOURCE)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise DoubleUnavailable(f"building the NNAPI test double failed: {res.stderr.strip()[:500]}")
        os.replace(tmp, out)
    return str(out)


def prepare(feature_level: int = 31) -> str:
    """Builds (cached) the double, registers the evaluator, resets its state; returns the path."""
    path = build(feature_level)
    if path not in _registered:
        _registered[path] = Double(path)
    _registered[path].reset()
    return path


def double(path: str) -> "Double":
    return _registered[path]


_EVAL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_VALIDATE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
BAD_DATA, OP_FAILED = 4, 5


class Double:
    """ctypes handle on one built double, with the evaluator registered."""

    def __init__(self, path: str):
        self.lib = lib = ctypes.CDLL(path)
        lib.nnapi_double_last_error.restype = ctypes.c_char_p
        lib.nnapi_double_live.restype = ctypes.c_long
        lib.nnapi_double_live.argtypes = [ctypes.c_int]
        lib.nnapi_double_call_count.restype = ctypes.c_long
        lib.nnapi_double_call_count.argtypes = [ctypes.c_char_p]
        lib.nnapi_double_fail_call.argtypes = [ctypes.c_char_p, ctypes.c_long, ctypes.c_int]
        lib.nnapi_double_set_error.argtypes = [ctypes.c_char_p]
        lib.nnapi_double_execution_model.restype = ctypes.c_void_p
        lib.nnapi_double_execution_model.argtypes = [ctypes.c_void_p]
        lib.nnapi_double_execution_buffer.restype = ctypes.c_void_p
        lib.nnapi_double_execution_buffer.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32,
                                                      ctypes.POINTER(ctypes.c_size_t)]
        lib.nnapi_double_execution_devices.restype = ctypes.c_char_p
        lib.nnapi_double_execution_devices.argtypes = [ctypes.c_void_p]
        lib.nnapi_double_execution_preference.argtypes = [ctypes.c_void_p]
        for name in ("operand_count", "operation_count", "model_relaxed"):
            getattr(lib, "nnapi_double_" + name).argtypes = [ctypes.c_void_p]
        lib.nnapi_double_operand_count.restype = ctypes.c_uint32
        lib.nnapi_double_operation_count.restype = ctypes.c_uint32
        u32p = ctypes.POINTER(ctypes.c_uint32)
        lib.nnapi_double_operand.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int32), u32p, ctypes.POINTER(u32p),
            ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_size_t)]
        lib.nnapi_double_channel_quant.argtypes = [ctypes.c_void_p, ctypes.c_uint32, u32p, u32p,
                                                   ctypes.POINTER(ctypes.POINTER(ctypes.c_float))]
        lib.nnapi_double_operation.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int32),
                                               u32p, ctypes.POINTER(u32p), u32p, ctypes.POINTER(u32p)]
        lib.nnapi_double_model_io.argtypes = [ctypes.c_void_p, u32p, ctypes.POINTER(u32p), u32p,
                                              ctypes.POINTER(u32p)]
        self.feature_level = lib.nnapi_double_feature_level()
        self.evaluations: list[dict] = []  # one entry per execution: model, preference, devices
        self.evaluator_errors: list[str] = []
        self._models: dict[int, sem.RecordedModel] = {}
        # Kept on self: ctypes callbacks must outlive their registration.
        self._eval_cb = _EVAL(self._evaluate)
        self._validate_cb = _VALIDATE(self._validate)
        lib.nnapi_double_set_evaluator(self._eval_cb)
        lib.nnapi_double_set_validator(self._validate_cb)

    # ---- controls ----
    def reset(self) -> None:
        self.lib.nnapi_double_reset()
        self.evaluations.clear()
        self.evaluator_errors.clear()

    def fail(self, function: str, nth: int = 1, code: int = OP_FAILED) -> None:
        """Makes the ``nth`` next call of ``function`` return ``code``."""
        self.lib.nnapi_double_fail_call(function.encode(), nth, code)

    def calls(self, function: str) -> int:
        return self.lib.nnapi_double_call_count(function.encode())

    def live(self) -> dict[str, int]:
        return {k: self.lib.nnapi_double_live(i) for i, k in enumerate(("models", "compilations", "executions",
                                                                          "events"))}

    @property
    def misuse(self) -> int:
        return self.lib.nnapi_double_misuse_count()

    @property
    def last_error(self) -> str:
        return self.lib.nnapi_double_last_error().decode()

    def set_unsupported(self, device: int, operation: int, unsupported: bool = True) -> None:
        self.lib.nnapi_double_set_device_unsupported(device, operation, int(unsupported))

    # ---- reading the recorded model ----
    def read_model(self, model: int) -> sem.RecordedModel:
        lib = self.lib
        operands = []
        for i in range(lib.nnapi_double_operand_count(model)):
            t, rank, sc, zp = ctypes.c_int32(), ctypes.c_uint32(), ctypes.c_float(), ctypes.c_int32()
            dims, val, length = ctypes.POINTER(ctypes.c_uint32)(), ctypes.c_void_p(), ctypes.c_size_t()
            lt = lib.nnapi_double_operand(model, i, ctypes.byref(t), ctypes.byref(rank), ctypes.byref(dims),
                                          ctypes.byref(sc), ctypes.byref(zp), ctypes.byref(val), ctypes.byref(length))
            shape = tuple(dims[d] for d in range(rank.value))
            o = sem.Operand(i, t.value, shape, float(sc.value), zp.value, lt)
            if val.value:
                raw = ctypes.string_at(val.value, length.value)
                o.value = np.frombuffer(raw, sem.DTYPES[t.value]).reshape(shape).copy()
            cd, cnt, scales = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.POINTER(ctypes.c_float)()
            if lib.nnapi_double_channel_quant(model, i, ctypes.byref(cd), ctypes.byref(cnt), ctypes.byref(scales)):
                o.channel_dim = cd.value
                o.channel_scales = np.array([scales[c] for c in range(cnt.value)], np.float32)
            operands.append(o)
        ops = []
        for k in range(lib.nnapi_double_operation_count(model)):
            t, nin, nout = ctypes.c_int32(), ctypes.c_uint32(), ctypes.c_uint32()
            ins, outs = ctypes.POINTER(ctypes.c_uint32)(), ctypes.POINTER(ctypes.c_uint32)()
            lib.nnapi_double_operation(model, k, ctypes.byref(t), ctypes.byref(nin), ctypes.byref(ins),
                                       ctypes.byref(nout), ctypes.byref(outs))
            ops.append(sem.Operation(t.value, [ins[j] for j in range(nin.value)],
                                     [outs[j] for j in range(nout.value)]))
        nin, nout = ctypes.c_uint32(), ctypes.c_uint32()
        ins, outs = ctypes.POINTER(ctypes.c_uint32)(), ctypes.POINTER(ctypes.c_uint32)()
        lib.nnapi_double_model_io(model, ctypes.byref(nin), ctypes.byref(ins), ctypes.byref(nout), ctypes.byref(outs))
        return sem.RecordedModel(operands, ops, [ins[j] for j in range(nin.value)],
                                 [outs[j] for j in range(nout.value)], bool(lib.nnapi_double_model_relaxed(model)))

    def _validate(self, model: int) -> int:
        try:
            m = self.read_model(model)
            sem.validate(m)
            self._models[model] = m
            return 0
        except sem.NnapiModelError as e:
            self.lib.nnapi_double_set_error(f"ANeuralNetworksModel_finish: {e}".encode())
            return BAD_DATA
        except Exception:  # a bug in the evaluator itself: report it, fail the call
            self.evaluator_errors.append(traceback.format_exc())
            self.lib.nnapi_double_set_error(b"test double evaluator crashed while validating (see evaluator_errors)")
            return OP_FAILED

    def _evaluate(self, execution: int) -> int:
        lib = self.lib
        try:
            model = lib.nnapi_double_execution_model(execution)
            m = self._models.get(model) or self.read_model(model)
            inputs = []
            for k, i in enumerate(m.inputs):
                n = ctypes.c_size_t()
                p = lib.nnapi_double_execution_buffer(execution, 0, k, ctypes.byref(n))
                o = m.operands[i]
                inputs.append(np.frombuffer(ctypes.string_at(p, n.value), sem.DTYPES[o.type]).reshape(o.shape))
            results = sem.Evaluator(m).run(inputs)
            for k, res in enumerate(results):
                n = ctypes.c_size_t()
                p = lib.nnapi_double_execution_buffer(execution, 1, k, ctypes.byref(n))
                data = np.ascontiguousarray(res).tobytes()
                assert len(data) == n.value, (len(data), n.value)
                ctypes.memmove(p, data, n.value)
            self.evaluations.append({
                "operations": [op.name for op in m.operations],
                "preference": lib.nnapi_double_execution_preference(execution),
                "devices": lib.nnapi_double_execution_devices(execution).decode().rstrip(","),
                "relaxed": m.relaxed,
            })
            return 0
        except sem.NnapiModelError as e:
            lib.nnapi_double_set_error(f"execution: {e}".encode())
            return OP_FAILED
        except Exception:
            self.evaluator_errors.append(traceback.format_exc())
            lib.nnapi_double_set_error(b"test double evaluator crashed (see evaluator_errors)")
            return OP_FAILED
