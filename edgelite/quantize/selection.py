"""Choosing between quantized candidates on the user's own calibration data.

``bias_correction="auto"`` (the default) quantizes the model twice, with and without
bias correction, runs both integer models on a bounded, evenly spread subset of the
calibration samples and keeps the one whose outputs are closer to the float model's
(higher SQNR). Bias correction removes the mean output shift that weight rounding
causes in each layer; on most models that is a clear gain (1-6 dB), but where the
remaining error is dominated by shifts that activation rounding adds upstream,
removing the weight part can unmask them and lower the output SQNR. Which case a
model is in shows only when the whole integer model runs, so that is what is scored.

Only calibration data is used, so a held-out test set stays untouched; the float
reference outputs are recorded during calibration (no extra float runs). The subset
holds ``selection_samples`` samples (32 by default), fewer for large models: each
candidate is run on at most ``SCORING_MACS`` multiply-accumulates in all (8 samples
of MobileNetV2 at 224x224), and on at least ``MIN_SAMPLES``. The integer
models run on edgelite's interpreter, bit-exact with LiteRT's built-in kernels (LiteRT
when ``backend="litert"`` or edgelite cannot run the model).

Example:
    >>> evaluation_samples(100, 4)
    [0, 25, 50, 75]
    >>> import numpy as np
    >>> round(output_sqnr_db(1.0, 0.01), 1)
    20.0
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from edgelite.quantize.runner import make_runner
from edgelite.schema.model import Model
from edgelite.schema.op_facts import channel_axis

# Scoring runs each candidate on at most this many multiply-accumulates in all
# (about 8 MobileNetV2-224 inferences) and on at least MIN_SAMPLES samples: small
# models get every sample ``selection_samples`` allows, large ones a bounded cost.
SCORING_MACS = 2_500_000_000
MIN_SAMPLES = 4


@dataclass(frozen=True)
class Candidate:
    """One quantized model and its score on the evaluation samples.

    Attributes:
        name: what distinguishes it (``"bias_correction=False"``...).
        model: the ``.tflite`` bytes.
        sqnr_db: SQNR (dB) of its outputs against the float model's, all outputs and
            samples together; ``None`` before scoring.
    """

    name: str
    model: bytes
    sqnr_db: float | None = None


def evaluation_samples(n: int, limit: int) -> list[int]:
    """At most ``limit`` sample indices spread evenly over ``range(n)`` (all when ``n <= limit``)."""
    if limit <= 0 or n <= 0:
        return []
    if n <= limit:
        return list(range(n))
    return [k * n // limit for k in range(limit)]


def model_macs(model: Model) -> int:
    """Multiply-accumulates of one inference of subgraph 0's convolutions and
    fully-connected layers (output elements x weights per output channel)."""
    sg = model.subgraphs[0]
    total = 0
    for op in sg.operators:
        dim = channel_axis(model.opcode_name(op))  # the weights' output-channel axis
        if dim is None or len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs:
            continue
        w = [max(int(d), 1) for d in (sg.tensors[op.inputs[1]].shape or ())]
        out = [max(int(d), 1) for d in (sg.tensors[op.outputs[0]].shape or ())]
        if len(w) > dim and w[dim]:
            total += int(np.prod(out, dtype=np.int64)) * int(np.prod(w, dtype=np.int64)) // w[dim]
    return total


def scoring_samples(model: Model, limit: int) -> int:
    """How many samples to score candidates on: ``limit``, fewer for large models."""
    macs = max(model_macs(model), 1)
    return max(min(limit, SCORING_MACS // macs), min(limit, MIN_SAMPLES))


def output_sqnr_db(signal: float, noise: float) -> float:
    """``10 log10(signal / noise)``; ``inf`` without noise."""
    if noise <= 0.0:
        return math.inf
    if signal <= 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _quantize_input(value: np.ndarray, dtype: np.dtype, params: tuple[float, int]) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype.kind != "f" or dtype.kind == "f":
        return value
    scale, zp = params
    info = np.iinfo(dtype)
    return np.clip(np.round(value.astype(np.float64) / scale) + zp, info.min, info.max).astype(dtype)


def score(model_bytes: bytes, feeds: Sequence[Mapping[str, np.ndarray]],
          references: Sequence[Sequence[np.ndarray]], backend: str = "auto") -> float:
    """SQNR (dB) of a quantized model's outputs against float reference outputs.

    Args:
        model_bytes: the quantized ``.tflite`` model; integer inputs are fed the float
            feeds quantized with their parameters, integer outputs are dequantized.
        feeds: ``{input_name: float array}`` per sample.
        references: the float model's outputs per sample, in ``subgraph.outputs`` order.
        backend: the interpreter (``edgelite.quantize.runner.make_runner``).

    Returns:
        SQNR in dB over all outputs and samples.
    """
    runner = make_runner(model_bytes, None, backend, preserve=False)
    inputs = {spec.name: spec for spec in runner.inputs}
    signal = noise = 0.0
    for feed, ref in zip(feeds, references):
        fed = {name: _quantize_input(v, inputs[name].dtype, inputs[name].quantization) if name in inputs else v
               for name, v in feed.items()}
        got = runner.run(fed)
        for spec, want in zip(runner.outputs, ref):
            y = got[spec.index].astype(np.float64)
            if spec.dtype.kind != "f":
                scale, zp = spec.quantization
                y = (y - zp) * scale
            want = np.asarray(want, np.float64)
            signal += float(np.sum(want * want))
            noise += float(np.sum((want - y) ** 2))
    return output_sqnr_db(signal, noise)


def choose(candidates: Sequence[Candidate], feeds: Sequence[Mapping[str, np.ndarray]],
           references: Sequence[Sequence[np.ndarray]], backend: str = "auto",
           progress: Callable[[int, int, str], None] | None = None,
           num_threads: int = 1) -> tuple[Candidate, list[Candidate]]:
    """Score every candidate and return the best (the first on ties) and all scored ones.

    Candidates with identical bytes are scored once. ``num_threads`` > 1 scores up to
    that many candidates at once, each on its own single-threaded interpreter (each
    score is computed exactly as alone). Deterministic: the interpreters are, and the
    order of ``candidates`` breaks ties.
    """
    distinct = list(dict.fromkeys(c.model for c in candidates))
    workers = max(1, min(int(num_threads), len(distinct)))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        futures = {m: pool.submit(score, m, feeds, references, backend) for m in distinct} if pool else {}
        scored: list[Candidate] = []
        seen: dict[bytes, float] = {}
        for k, c in enumerate(candidates):
            if c.model not in seen:
                seen[c.model] = futures[c.model].result() if pool else score(c.model, feeds, references, backend)
            scored.append(Candidate(c.name, c.model, seen[c.model]))
            if progress is not None:
                progress(k + 1, len(candidates), "choosing")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    best = scored[0]
    for c in scored[1:]:
        if c.sqnr_db > best.sqnr_db:
            best = c
    return best, scored
