"""What ``edgelite inspect`` shows: a JSON-ready summary of a model, and its table form.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema import read_model
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", shape=(1, 4), dtype=np.float32)
    >>> y = b.add_tensor("y", shape=(1, 4), dtype=np.float32)
    >>> _ = b.add_operator("RELU", inputs=[x], outputs=[y])
    >>> b.mark_output(y)
    >>> summarize(read_model(b.build()))["ops"]
    [{'op': 'RELU', 'version': 1, 'count': 1}]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from edgelite.schema.model import Model, Tensor, TensorType

# Metadata entries shown decoded as text, not as a byte count.
_TEXT_METADATA = ("min_runtime_version", "edgelite_io_layout", "producer", "edgelite_producer")


def _tensor_entry(model: Model, sg_index: int, index: int) -> dict[str, Any]:
    t: Tensor = model.subgraphs[sg_index].tensors[index]
    entry: dict[str, Any] = {
        "name": t.name,
        "index": index,
        "shape": list(t.shape),
        "shape_signature": list(t.shape_signature if t.shape_signature is not None else t.shape),
        "dtype": TensorType(t.type).name.lower() if t.type in TensorType._value2member_map_ else f"type_{t.type}",
    }
    q = t.quantization
    if q is not None and len(q.scale):
        entry["quantization"] = {
            "scales": [float(s) for s in q.scale[:8]],
            "zero_points": [int(z) for z in q.zero_point[:8]],
            "num_channels": int(len(q.scale)),
            "quantized_dimension": int(q.quantized_dimension),
        }
    return entry


def _metadata_value(name: str, data: bytes) -> Any:
    if name in _TEXT_METADATA or (data and all(32 <= c < 127 or c == 0 for c in data) and len(data) <= 256):
        return data.rstrip(b"\0").decode("ascii", errors="replace")
    return {"bytes": len(data)}


def summarize(model: Model) -> dict[str, Any]:
    """A dictionary of everything ``inspect`` prints (stable keys, JSON-serializable)."""
    subgraphs = []
    for s, sg in enumerate(model.subgraphs):
        hist: Counter = Counter()
        for op in sg.operators:
            code = model.operator_codes[op.opcode_index]
            hist[(model.opcode_name(op), code.version)] += 1
        subgraphs.append(
            {
                "index": s,
                "name": sg.name or "",
                "num_tensors": len(sg.tensors),
                "num_operators": len(sg.operators),
                "inputs": [_tensor_entry(model, s, i) for i in sg.inputs],
                "outputs": [_tensor_entry(model, s, i) for i in sg.outputs],
                "ops": [{"op": k[0], "version": k[1], "count": n} for k, n in sorted(hist.items())],
            }
        )
    params = 0
    weight_bytes: Counter = Counter()
    seen_buffers: set[int] = set()
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.buffer == 0 or t.buffer in seen_buffers or t.buffer >= len(model.buffers):
                continue
            nbytes = model.buffers[t.buffer].nbytes
            if nbytes == 0:
                continue
            seen_buffers.add(t.buffer)
            name = TensorType(t.type).name.lower() if t.type in TensorType._value2member_map_ else f"type_{t.type}"
            weight_bytes[name] += nbytes
            params += int(np.prod(t.shape, dtype=np.int64)) if t.sparsity is None else nbytes
    total_ops: Counter = Counter()
    for sgs in subgraphs:
        for e in sgs["ops"]:
            total_ops[(e["op"], e["version"])] += e["count"]
    return {
        "version": model.version,
        "description": model.description or "",
        "subgraphs": subgraphs,
        "signatures": [
            {
                "key": sig.signature_key,
                "subgraph_index": sig.subgraph_index,
                "inputs": {tm.name: tm.tensor_index for tm in sig.inputs},
                "outputs": {tm.name: tm.tensor_index for tm in sig.outputs},
            }
            for sig in model.signature_defs
        ],
        "ops": [{"op": k[0], "version": k[1], "count": n} for k, n in sorted(total_ops.items())],
        "parameters": params,
        "weight_bytes": dict(sorted(weight_bytes.items())),
        "metadata": {name: _metadata_value(name, data) for name, data in model.metadata_dict().items()},
    }


def _fmt_tensor(e: dict[str, Any]) -> str:
    shape = "x".join(str(d) for d in e["shape_signature"]) or "scalar"
    text = f"  {e['name']:<32} {shape:<20} {e['dtype']:<8}"
    q = e.get("quantization")
    if q:
        if q["num_channels"] == 1:
            text += f" scale={q['scales'][0]:.6g} zero_point={q['zero_points'][0]}"
        else:
            text += f" per-channel({q['num_channels']}) dim={q['quantized_dimension']}"
    return text


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable table form of ``summarize``'s output."""
    lines = [f"TFLite model, schema version {summary['version']}"
             + (f" ({summary['description']})" if summary["description"] else "")]
    for sg in summary["subgraphs"]:
        title = f"Subgraph {sg['index']}" + (f" '{sg['name']}'" if sg["name"] else "")
        lines.append(f"\n{title}: {sg['num_operators']} operators, {sg['num_tensors']} tensors")
        lines.append(" Inputs:")
        lines.extend(_fmt_tensor(e) for e in sg["inputs"])
        lines.append(" Outputs:")
        lines.extend(_fmt_tensor(e) for e in sg["outputs"])
    if summary["signatures"]:
        lines.append("\nSignatures:")
        for sig in summary["signatures"]:
            lines.append(
                f"  {sig['key']!r} (subgraph {sig['subgraph_index']}): inputs {sorted(sig['inputs'])}"
                f" -> outputs {sorted(sig['outputs'])}"
            )
    lines.append("\nOperators (op, version, count):")
    for e in sorted(summary["ops"], key=lambda e: (-e["count"], e["op"])):
        lines.append(f"  {e['op']:<28} v{e['version']:<3} {e['count']:>5}")
    lines.append(f"\nParameters: {summary['parameters']:,}")
    if summary["weight_bytes"]:
        lines.append("Weight bytes by dtype: " + ", ".join(f"{k} {v:,}" for k, v in summary["weight_bytes"].items()))
    if summary["metadata"]:
        lines.append("Metadata:")
        for k, v in summary["metadata"].items():
            lines.append(f"  {k}: {v['bytes']} bytes" if isinstance(v, dict) else f"  {k}: {v}")
    return "\n".join(lines)
