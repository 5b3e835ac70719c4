"""Runs LiteRT in a child process, so a model that makes LiteRT abort (a C++ CHECK)
fails one test instead of killing the test run.

Example:
    >>> from tests.converter.backend.litert_worker import run_in_litert  # doctest: +SKIP
    >>> outputs = run_in_litert(tflite_bytes, [x])                        # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Sequence

import numpy as np


class LiteRTCrash(AssertionError):
    """LiteRT's process died (abort/segfault) on the model: the file is not valid for it."""


def _serve(conn) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    while True:
        msg = conn.recv()
        if msg is None:
            return
        data, inputs, input_names, output_names = msg
        try:
            it = Interpreter(
                model_content=data,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            details = it.get_input_details()
            by_name = {d["name"]: d for d in details}
            chosen = [by_name.get(n, details[k]) for k, n in enumerate(input_names[: len(inputs)])]
            for d, x in zip(chosen, inputs):
                if tuple(d["shape"]) != tuple(x.shape):
                    it.resize_tensor_input(d["index"], list(x.shape))
            it.allocate_tensors()
            for d, x in zip(chosen, inputs):
                it.set_tensor(d["index"], x)
            it.invoke()
            outs = it.get_output_details()
            by_out = {d["name"]: d for d in outs}
            result = [it.get_tensor(by_out.get(n, outs[k])["index"]) for k, n in enumerate(output_names)]
            conn.send(("ok", result))
        except Exception as e:  # noqa: BLE001 - forwarded to the parent as text
            conn.send(("error", f"{type(e).__name__}: {e}"))


class _Worker:
    def __init__(self):
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        self.conn = parent

    def run(self, data: bytes, inputs, input_names, output_names, timeout: float = 120.0):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send((data, list(inputs), list(input_names), list(output_names)))
        if not self.conn.poll(timeout):
            self.proc.kill()
            self.proc = None
            raise LiteRTCrash(f"LiteRT did not answer within {timeout:.0f} s")
        try:
            status, payload = self.conn.recv()
        except (EOFError, ConnectionResetError):
            code = self.proc.exitcode if self.proc else None
            self.proc = None
            raise LiteRTCrash(f"LiteRT's process died (exit code {code}) on this model") from None
        if status == "error":
            raise LiteRTCrash(f"LiteRT rejected the model: {payload}")
        return payload


_WORKER = _Worker()


def run_in_litert(data: bytes, inputs: Sequence[np.ndarray], input_names: Sequence[str], output_names: Sequence[str]):
    """LiteRT's outputs (BUILTIN_WITHOUT_DEFAULT_DELEGATES) for ``inputs``, by name."""
    return _WORKER.run(data, [np.asarray(x) for x in inputs], input_names, output_names)
