"""Meet an accuracy target: keep the fewest layers float (mixed precision).

``quantize_model(..., target_sqnr=DB)`` (or ``metric=callable, target=value``) holds back
a few calibration samples from range estimation, quantizes the whole model to int8 and
scores it on them against the float model. Below target, it ranks the layers by how much
error each *adds* (the quant-report machinery: SQNR of a layer's output against the best
SQNR of its inputs, on the held-back samples), finds by bisection the shortest prefix of
that ranking whose layers kept float meet the target, then drops from it every layer the
target does not need (least sensitive first). Every choice depends only on the model,
the data and the options, so the same inputs give the same bytes.

The result is recorded in the model's metadata (``edgelite_mixed_precision``, JSON) so
that ``edgelite quant-report`` shows it; ``MixedPrecisionReport`` also carries the
latency cost measured on this machine (not stored: timings are not deterministic).

Example:
    >>> r = MixedPrecisionReport(target=40.0, metric="sqnr_db", int8_score=31.0, reached=41.2, met=True,
    ...                          kept=[KeptLayer("conv3", "CONV_2D", 6.5)], candidates=12, evaluations=5,
    ...                          samples=4, fallback="float", size_int8=1000, size_final=1400)
    >>> print(r.to_table().splitlines()[0])
    target sqnr_db >= 40: met (41.2; all-int8 31.0), 1 of 12 layers kept float
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from edgelite.quantize.report import _quantize_feed, _tensor_values, compare_models
from edgelite.quantize.runner import make_runner
from edgelite.quantize.selection import output_sqnr_db
from edgelite.quantize.spec import INT16_OPS
from edgelite.schema import read_model, write_model
from edgelite.schema.model import Buffer, Metadata, TensorType

METADATA_NAME = "edgelite_mixed_precision"
# Backward elimination tries dropping each chosen layer; past this many it stops there.
MAX_PRUNE = 16
# SQNR above this counts as exact when ranking layers.
CAP_DB = 100.0

Metric = Callable[[list, list], float]


@dataclass(frozen=True)
class KeptLayer:
    """A layer kept in higher precision: its output tensor, operator and the SQNR (dB)
    it cost in the all-int8 model (its inputs' SQNR minus its output's)."""

    name: str
    op: str
    sensitivity_db: float


@dataclass
class MixedPrecisionReport:
    """What the accuracy-target search chose and what it cost."""

    target: float
    metric: str
    int8_score: float
    reached: float
    met: bool
    kept: list[KeptLayer]
    candidates: int
    evaluations: int
    samples: int
    fallback: str
    size_int8: int
    size_final: int
    latency_int8_ms: float | None = None
    latency_final_ms: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self, deterministic: bool = False) -> dict:
        d = asdict(self)
        for k in ("int8_score", "reached"):
            if isinstance(d[k], float) and math.isinf(d[k]):
                d[k] = None if math.isnan(d[k]) else ("inf" if d[k] > 0 else "-inf")
        if deterministic:
            d.pop("latency_int8_ms")
            d.pop("latency_final_ms")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MixedPrecisionReport":
        """The report as ``to_dict`` (or a model's metadata) wrote it."""
        d = dict(d)
        d["kept"] = [KeptLayer(**k) for k in d.get("kept", [])]
        for k in ("int8_score", "reached"):
            if isinstance(d.get(k), str):
                d[k] = float(d[k])
            elif d.get(k) is None:
                d[k] = math.nan
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self) -> str:
        status = "met" if self.met else "NOT met"
        head = f"target {self.metric} >= {self.target:g}: {status} ({self.reached:.1f}; all-int8 {self.int8_score:.1f}), "
        lines = [head + (f"{len(self.kept)} of {self.candidates} layers kept {self.fallback}" if self.candidates
                         else "the all-int8 model meets it")]
        if self.kept:
            width = max(len("layer"), *(len(k.name) for k in self.kept))
            lines.append(f"  {'layer':<{width}}  {'op':<18} {'costs dB':>8}")
            for k in self.kept:
                lines.append(f"  {k.name:<{width}}  {k.op:<18} {k.sensitivity_db:>8.2f}")
        growth = self.size_final - self.size_int8
        lines.append(f"  size {self.size_final} bytes ({growth:+d} vs all-int8, before this record)"
                     + (f"; latency {self.latency_final_ms:.2f} ms vs {self.latency_int8_ms:.2f} ms all-int8"
                        " (edgelite, this machine)" if self.latency_final_ms is not None else ""))
        lines.append(f"  scored on {self.samples} calibration sample(s) held back from range estimation, "
                     f"{self.evaluations} model(s) evaluated")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def model_outputs(model_bytes: bytes, feeds: Sequence[dict], backend: str) -> list[list[np.ndarray]]:
    """Each sample's model outputs as float arrays (integer inputs quantized, outputs dequantized)."""
    m = read_model(model_bytes)
    runner = make_runner(model_bytes, None, backend, preserve=False)
    outs = m.subgraphs[0].outputs
    result = []
    for feed in feeds:
        got = runner.run(_quantize_feed(m, feed))
        result.append([_tensor_values(m, t, got[t]).astype(np.float32) for t in outs])
    return result


def sqnr_metric(float_outputs: list, quant_outputs: list) -> float:
    """SQNR (dB) over every output of every sample."""
    signal = noise = 0.0
    for ref_row, got_row in zip(float_outputs, quant_outputs):
        for ref, got in zip(ref_row, got_row):
            r = np.asarray(ref, np.float64)
            signal += float(np.sum(r * r))
            noise += float(np.sum((r - np.asarray(got, np.float64)) ** 2))
    return output_sqnr_db(signal, noise)


def _latency_ms(model_bytes: bytes, feeds: Sequence[dict], backend: str, repeats: int = 3) -> float:
    m = read_model(model_bytes)
    runner = make_runner(model_bytes, None, backend, preserve=False)
    fed = [_quantize_feed(m, f) for f in feeds[:2]]
    runner.run(fed[0])  # warm-up (compilation, planning)
    times = []
    for _ in range(repeats):
        for f in fed:
            t0 = time.perf_counter()
            runner.run(f)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _candidates(float_bytes: bytes, int8_bytes: bytes, held: Sequence[dict], backend: str,
                fallback: str = "float") -> list[KeptLayer]:
    """Quantized layers, most error added first (ties: graph order)."""
    rep = compare_models(float_bytes, int8_bytes, list(held), backend=backend)
    sqnr = {s.name: s.sqnr_db for s in rep.layers}
    fm = read_model(float_bytes)
    fsg = fm.subgraphs[0]
    qm = read_model(int8_bytes)
    q_types = {t.name: t.type for t in qm.subgraphs[0].tensors if qm.tensor_data(t) is None}
    ranked = []
    for order, op in enumerate(fsg.operators):
        if not op.outputs:
            continue
        out = fsg.tensors[op.outputs[0]].name
        name = fm.opcode_name(op)
        # Only layers the quantizer made integer, and whose int8 twin is in the model.
        # (A model output keeps its name on the DEQUANTIZE after it: "<name>_int8" is the op's.)
        integer = any(q_types.get(n, TensorType.FLOAT32) != TensorType.FLOAT32
                      for n in (out, out + "_int8", out + "_int16"))
        if out not in sqnr or not integer or (fallback == "int16x8" and name not in INT16_OPS):
            continue
        ins = [sqnr[fsg.tensors[i].name] for i in op.inputs if i >= 0 and fsg.tensors[i].name in sqnr]
        # A float model input's SQNR is infinite: its int8 rounding is charged to the first layer.
        before = min(max(ins), CAP_DB) if ins else CAP_DB
        after = min(sqnr[out], CAP_DB)
        ranked.append((-(before - after), order, KeptLayer(out, name, float(before - after))))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in ranked]


def search(
    build: Callable[[tuple[str, ...]], bytes],
    float_bytes: bytes,
    held: Sequence[dict],
    references: list,
    *,
    target: float,
    metric: Metric | None = None,
    fallback: str = "float",
    backend: str = "auto",
    measure_latency: bool = True,
) -> tuple[bytes, MixedPrecisionReport]:
    """The model with the fewest layers kept in ``fallback`` precision that meets ``target``.

    Args:
        build: quantizes the model keeping the named output tensors' operators in the
            fallback precision.
        float_bytes: the float model.
        held: calibration samples held back from range estimation.
        references: the float model's outputs on ``held`` (``model_outputs``).
        target: the score to reach (dB for the default SQNR metric).
        metric: ``metric(float_outputs, quant_outputs) -> float`` (higher is better);
            each argument is a list over samples of lists over model outputs.
        fallback: the precision of kept layers (``"float"`` or ``"int16x8"``: then only
            operators with an int16 kernel are candidates).
        backend: the interpreter that scores candidates.
        measure_latency: time the all-int8 and the final model (edgelite, this machine).
    """
    fn = metric or sqnr_metric
    cache: dict[tuple[str, ...], tuple[bytes, float]] = {}

    def evaluate(keep: tuple[str, ...]) -> tuple[bytes, float]:
        key = tuple(sorted(keep))
        if key not in cache:
            q = build(key)
            cache[key] = (q, float(fn(references, model_outputs(q, held, backend))))
        return cache[key]

    base, base_score = evaluate(())
    ranked = _candidates(float_bytes, base, held, backend, fallback) if base_score < target else []
    chosen: list[KeptLayer] = []
    notes: list[str] = []
    best, best_score = base, base_score
    if ranked:
        all_q, all_score = evaluate(tuple(k.name for k in ranked))
        if all_score < target:
            notes.append(f"the target is out of reach: with all {len(ranked)} quantized layers kept {fallback} "
                         f"the score is {all_score:.2f}")
            chosen, best, best_score = list(ranked), all_q, all_score
        else:
            lo, hi = 1, len(ranked)  # the shortest prefix meeting the target lies in [lo, hi]
            while lo < hi:
                mid = (lo + hi) // 2
                if evaluate(tuple(k.name for k in ranked[:mid]))[1] >= target:
                    hi = mid
                else:
                    lo = mid + 1
            chosen = list(ranked[:lo])
            for layer in sorted(chosen, key=lambda k: k.sensitivity_db)[:MAX_PRUNE]:
                if len(chosen) == 1:
                    break
                trial = [k for k in chosen if k is not layer]
                if evaluate(tuple(k.name for k in trial))[1] >= target:
                    chosen = trial
            best, best_score = evaluate(tuple(k.name for k in chosen))
    report = MixedPrecisionReport(
        target=float(target), metric=getattr(fn, "__name__", "metric") if metric else "sqnr_db",
        int8_score=base_score, reached=best_score, met=best_score >= target, kept=chosen,
        candidates=len(ranked) if ranked else 0, evaluations=len(cache), samples=len(held), fallback=fallback,
        size_int8=len(base), size_final=len(best), notes=notes,
    )
    final = _with_metadata(best, report)
    if measure_latency:
        report.latency_int8_ms = _latency_ms(base, held, backend)
        report.latency_final_ms = _latency_ms(final, held, backend) if final is not base else report.latency_int8_ms
    return final, report


def _with_metadata(model_bytes: bytes, report: MixedPrecisionReport) -> bytes:
    m = read_model(model_bytes)
    data = json.dumps(report.to_dict(deterministic=True), sort_keys=True).encode()
    m.buffers.append(Buffer(data=np.frombuffer(data, np.uint8)))
    m.metadata.append(Metadata(name=METADATA_NAME, buffer=len(m.buffers) - 1))
    return write_model(m)


def stored_report(model_bytes: bytes) -> dict | None:
    """The accuracy-target search's record in a model's metadata, or None."""
    raw = read_model(model_bytes).metadata_dict().get(METADATA_NAME)
    return json.loads(bytes(raw).decode()) if raw else None
