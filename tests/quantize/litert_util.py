"""Running models in LiteRT (the oracle) for the quantizer's tests."""

from __future__ import annotations

import numpy as np
import pytest

litert = pytest.importorskip("ai_edge_litert.interpreter")


def run_litert(model: bytes, feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    """Outputs (dequantized to float32) for each feed; feeds are float, quantized as needed."""
    it = litert.Interpreter(
        model_content=model,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    ins = {d["name"]: d for d in it.get_input_details()}
    outs = it.get_output_details()
    results = []
    for feed in feeds:
        for name, value in feed.items():
            d = ins[name]
            v = np.asarray(value)
            if v.dtype.kind == "f" and d["dtype"] != np.float32:
                scale, zp = d["quantization"]
                info = np.iinfo(d["dtype"])
                v = np.clip(np.round(v / scale) + zp, info.min, info.max).astype(d["dtype"])
            it.set_tensor(d["index"], v)
        it.invoke()
        row = []
        for d in outs:
            r = it.get_tensor(d["index"])
            if d["dtype"] != np.float32:
                scale, zp = d["quantization"]
                r = (r.astype(np.float32) - zp) * scale
            row.append(r)
        results.append(row)
    return results


def sqnr(ref: list[list[np.ndarray]], got: list[list[np.ndarray]]) -> float:
    a = np.concatenate([np.ravel(x) for row in ref for x in row]).astype(np.float64)
    b = np.concatenate([np.ravel(x) for row in got for x in row]).astype(np.float64)
    noise = np.sum((a - b) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(a * a) / noise))
