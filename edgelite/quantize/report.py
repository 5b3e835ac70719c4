"""Where accuracy goes: per-layer comparison of a float model and its quantized twin.

Both models run on the same data with every intermediate tensor kept; tensors are
matched by name (the quantizer keeps activation names), quantized ones dequantized,
and for each layer the error ``quantized - float`` is summarised: mean error, max
absolute error, MSE and SQNR in dB. ``QuantReport`` renders the result as a text
table (worst layers first), JSON, or an HTML page with an inline SVG plot.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.quantize import quantize_model
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 8), np.float32)
    >>> y = b.add_tensor("y", (1, 8), np.float32); _ = b.add_operator("TANH", [x], [y]); b.mark_output(y)
    >>> data = np.random.default_rng(0).normal(size=(4, 1, 8)).astype(np.float32)
    >>> q = quantize_model(b.build(), "int8", calibration=data, backend="litert")
    >>> rep = compare_models(b.build(), q, data, backend="litert")
    >>> sorted(layer.name for layer in rep.layers), rep.samples
    (['x', 'y'], 4)
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgelite.quantize.calibrate import ProgressFn, activation_tensors
from edgelite.quantize.calibration import ImageOptions, load_calibration
from edgelite.quantize.legal import is_degenerate
from edgelite.quantize.numerics import dequantize
from edgelite.quantize.runner import make_runner
from edgelite.schema import read_model
from edgelite.schema.model import Model, TensorType


@dataclass
class LayerStats:
    """Error of one tensor of the quantized model against the float model.

    Attributes:
        name: tensor name (shared by both models).
        op: the float model's operator producing it (``"INPUT"`` for model inputs).
        order: position of that operator in the float graph.
        quantized: whether the quantized model holds it as integers.
        dtype: its type in the quantized model.
        mean_error, max_abs_error, mse: over all elements of all samples.
        sqnr_db: 10 log10(sum float^2 / sum error^2); inf when identical.
        degenerate: the float values' range on these data is (nearly) empty
            (``legal.NEAR_ZERO_RANGE``): calibrated on such data, the tensor gets the
            minimum range, and its SQNR says little.
    """

    name: str
    op: str
    order: int
    quantized: bool
    dtype: str
    mean_error: float
    max_abs_error: float
    mse: float
    sqnr_db: float
    degenerate: bool = False


@dataclass
class QuantReport:
    """The per-layer comparison; ``layers`` are in graph order."""

    layers: list[LayerStats]
    samples: int
    unmatched: list[str]

    def worst(self, top: int | None = None) -> list[LayerStats]:
        """Layers by increasing SQNR (the worst first)."""
        ranked = sorted(self.layers, key=lambda s: (s.sqnr_db, -s.mse, s.order))
        return ranked if top is None else ranked[:top]

    def to_dict(self) -> dict[str, Any]:
        def clean(v):
            return None if isinstance(v, float) and math.isinf(v) else v

        return {
            "samples": self.samples,
            "layers": [{k: clean(v) for k, v in asdict(s).items()} for s in self.worst()],
            "unmatched": self.unmatched,
        }

    def to_json(self) -> str:
        """JSON (infinite SQNR written as null), worst layers first."""
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self, top: int | None = None) -> str:
        """A fixed-width text table, worst layers first."""
        rows = self.worst(top)
        width = max([len("tensor")] + [len(s.name) for s in rows])
        head = f"{'tensor':<{width}}  {'op':<18} {'type':<7} {'SQNR dB':>8} {'MSE':>10} {'max|err|':>10} {'mean err':>10}"
        lines = [head, "-" * len(head)]
        for s in rows:
            lines.append(
                f"{s.name:<{width}}  {s.op:<18} {s.dtype:<7} {s.sqnr_db:>8.2f} {s.mse:>10.3g} "
                f"{s.max_abs_error:>10.3g} {s.mean_error:>10.3g}"
            )
        dead = [s.name for s in self.layers if s.degenerate]
        if dead:
            shown = ", ".join(dead[:8]) + (f" (+{len(dead) - 8} more)" if len(dead) > 8 else "")
            lines.append(f"degenerate (nearly empty) float range: {shown}")
        lines.append(f"({self.samples} samples, {len(self.layers)} tensors compared"
                     + (f", {len(self.unmatched)} float tensors without a quantized twin)" if self.unmatched else ")"))
        return "\n".join(lines)

    def to_html(self, title: str = "edgelite quantization report") -> str:
        """A self-contained HTML page: SQNR per layer (inline SVG) and the table."""
        return _html(self, title)


def _tensor_values(model: Model, index: int, value: np.ndarray) -> np.ndarray:
    t = model.subgraphs[0].tensors[index]
    q = t.quantization
    if t.type != TensorType.FLOAT32 and q is not None and q.is_quantized:
        return dequantize(value, q.scale, q.zero_point, q.quantized_dimension)
    return np.asarray(value, np.float32)


def _quantize_feed(model: Model, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sg = model.subgraphs[0]
    out = {}
    for i in sg.inputs:
        t = sg.tensors[i]
        v = feed[t.name]
        if t.type in (TensorType.INT8, TensorType.UINT8, TensorType.INT16) and t.quantization is not None:
            info = np.iinfo(t.numpy_dtype)
            s, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
            v = np.clip(np.round(v / s) + zp, info.min, info.max).astype(t.numpy_dtype)
        out[t.name] = v
    return out


def compare_models(
    float_model: Any,
    quant_model: Any,
    data: Any,
    *,
    backend: str = "auto",
    max_samples: int | None = None,
    image_options: ImageOptions | None = None,
    progress: ProgressFn | None = None,
) -> QuantReport:
    """Run both models on ``data`` and compare every tensor they share by name.

    Args:
        float_model, quant_model: ``.tflite`` bytes or paths.
        data: inputs in any form ``load_calibration`` accepts (float, the float
            model's layout); integer model inputs are quantized from it.
        backend: interpreter for both runs (see ``make_runner``).
        max_samples: use at most this many samples.
        image_options: normalisation for image folders.
        progress: called as ``progress(done, total, "comparing")``.
    """
    fbytes, qbytes = _read(float_model), _read(quant_model)
    fm, qm = read_model(fbytes), read_model(qbytes)
    fsg, qsg = fm.subgraphs[0], qm.subgraphs[0]
    f_tensors = activation_tensors(fm)
    q_by_name: dict[str, int] = {}
    for i, t in enumerate(qsg.tensors):
        if qm.tensor_data(t) is None:
            q_by_name.setdefault(t.name, i)
    pairs = [(f, q_by_name[fsg.tensors[f].name]) for f in f_tensors if fsg.tensors[f].name in q_by_name]
    unmatched = [fsg.tensors[f].name for f in f_tensors if fsg.tensors[f].name not in q_by_name]
    inputs = [(fsg.tensors[i].name, fsg.tensors[i].shape, fsg.tensors[i].numpy_dtype) for i in fsg.inputs]
    feeds = load_calibration(data, inputs, max_samples=max_samples, image_options=image_options)
    f_run = make_runner(fbytes, [f for f, _ in pairs], backend)
    q_run = make_runner(qbytes, [q for _, q in pairs], backend)
    acc = {f: np.zeros(5) for f, _ in pairs}  # count, sum err, sum err^2, sum ref^2, max |err|
    span = {f: [np.inf, -np.inf] for f, _ in pairs}  # float min, max
    for k, feed in enumerate(feeds):
        fv = f_run.run(feed)
        qv = q_run.run(_quantize_feed(qm, feed))
        for f, q in pairs:
            ref = fv[f].astype(np.float64)
            got = _tensor_values(qm, q, qv[q]).astype(np.float64)
            if got.shape != ref.shape:
                continue
            err = got - ref
            a = acc[f]
            a[0] += err.size
            a[1] += err.sum()
            a[2] += np.sum(err * err)
            a[3] += np.sum(ref * ref)
            a[4] = max(a[4], float(np.max(np.abs(err))) if err.size else 0.0)
            if ref.size:
                lo_hi = span[f]
                lo_hi[0], lo_hi[1] = min(lo_hi[0], float(ref.min())), max(lo_hi[1], float(ref.max()))
        if progress is not None:
            progress(k + 1, len(feeds), "comparing")
    producer = {}
    for order, op in enumerate(fsg.operators):
        for o in op.outputs:
            producer[o] = (order, fm.opcode_name(op))
    layers = []
    for f, q in pairs:
        n, s, s2, r2, mx = acc[f]
        if n == 0:
            continue
        order, op = producer.get(f, (-1, "INPUT"))
        qt = qsg.tensors[q]
        sq = float("inf") if s2 == 0 else (float("-inf") if r2 == 0 else 10 * math.log10(r2 / s2))
        layers.append(LayerStats(
            name=fsg.tensors[f].name, op=op, order=order,
            quantized=qt.type != TensorType.FLOAT32, dtype=TensorType(qt.type).name.lower(),
            mean_error=s / n, max_abs_error=mx, mse=s2 / n, sqnr_db=sq,
            degenerate=is_degenerate(*span[f]),
        ))
    layers.sort(key=lambda s: s.order)
    return QuantReport(layers=layers, samples=len(feeds), unmatched=unmatched)


def _read(model: Any) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def _html(rep: QuantReport, title: str) -> str:
    layers = rep.layers
    finite = [s.sqnr_db for s in layers if math.isfinite(s.sqnr_db)]
    top = max(finite + [1.0])
    bar_w, gap, height, left, bottom = 14, 4, 240, 48, 20
    width = left + len(layers) * (bar_w + gap) + 20
    worst = {s.name for s in rep.worst(max(1, len(layers) // 10))}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom + 10}" '
             f'role="img" aria-label="SQNR per layer">']
    for k in range(0, 5):
        v = top * k / 4
        y = height - (v / top) * (height - 10)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
    for k, s in enumerate(layers):
        v = s.sqnr_db if math.isfinite(s.sqnr_db) else top
        v = max(v, 0.0)
        h = (v / top) * (height - 10)
        x = left + k * (bar_w + gap)
        color = "#d9534f" if s.name in worst else ("#5b8def" if s.quantized else "#9aa5b1")
        label = html.escape(f"{s.name} ({s.op}): {s.sqnr_db:.2f} dB")
        parts.append(f'<rect x="{x}" y="{height - h:.1f}" width="{bar_w}" height="{h:.1f}" fill="{color}">'
                     f"<title>{label}</title></rect>")
    parts.append(f'<text x="{left}" y="{height + bottom}" font-size="11">layers in graph order '
                 f"(red: worst 10%, grey: float); y: SQNR dB</text></svg>")
    rows = "".join(
        f"<tr><td>{html.escape(s.name)}</td><td>{html.escape(s.op)}</td><td>{s.dtype}</td>"
        f"<td>{s.sqnr_db:.2f}</td><td>{s.mse:.3g}</td><td>{s.max_abs_error:.3g}</td><td>{s.mean_error:.3g}</td></tr>"
        for s in rep.worst()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{rep.samples} samples, {len(layers)} tensors compared. "
        "Layers with the lowest SQNR lose the most accuracy: candidates for <code>keep_float</code>.</p>"
        + "".join(parts)
        + "<h2>Layers, worst first</h2><table><tr><th>tensor</th><th>op</th><th>type</th><th>SQNR dB</th>"
        "<th>MSE</th><th>max |err|</th><th>mean err</th></tr>" + rows + "</table></body></html>"
    )
