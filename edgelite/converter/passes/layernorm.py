"""``layer_norm``: LayerNorm written out in elementwise ops becomes one ``LayerNormalization``.

Exporters before ONNX opset 17 (and PaddlePaddle's, and tf2onnx's for Keras) write
LayerNorm as a chain of primitives, each in its own order:

* PyTorch / PaddlePaddle: ``d = x - ReduceMean(x)``, ``ReduceMean(Pow(d, 2))``,
  ``Add(eps)``, ``Sqrt``, ``Div(d, .)``, then ``Mul(gamma)``, ``Add(beta)``;
* TensorFlow / Keras (``tf.nn.moments`` + ``batch_normalization``): ``Mul(d, d)`` for
  the square, ``Reciprocal(Sqrt(var + eps))`` times gamma as ``inv``, then
  ``x * inv + (beta - mean * inv)`` (Keras 3: ``x * inv + (-mean * inv + beta)``);

each with or without the affine ``gamma``/``beta``. Left as they are, the int8
quantizer keeps their ``POW``/``SQRT``/``DIV`` in float. ``LayerNormalization`` lowers
to the TFLite sequence with int8 kernels (``ops/normalization.py``).

Rather than one matcher per exporter, the pass finds the region: the nodes reachable
from a ``ReduceMean`` of ``x`` over trailing axes through elementwise ops whose other
inputs are ``x``, constants or region values, ending in one value read outside. It
then checks, with numpy on random data, that the region computes
``(x - mean) / sqrt(var + eps) * gamma + beta`` for some per-element ``gamma`` and
``beta`` (fitted by least squares, then verified on fresh data at two scales, one where
``eps`` matters). A region that computes anything else is left alone.

Example:
    >>> from edgelite.converter.passes.layernorm import layer_norm
    >>> layer_norm.__name__
    'layer_norm'
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ir import Graph, Node, Value

_ONNX = ("", "ai.onnx")
_ELEMENTWISE = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
    "Sqrt": np.sqrt, "Reciprocal": np.reciprocal, "Neg": np.negative,
}
_MAX_REGION = 24  # the longest decomposition (Keras 2, affine) has 13 nodes
_RTOL = 1e-4


def layer_norm(g: Graph) -> None:
    """Replace every recognized LayerNorm decomposition with a ``LayerNormalization`` node."""
    for node in list(g.nodes):
        if node in g.nodes and node.op_type == "ReduceMean" and node.domain in _ONNX:
            _try_match(g, node)


def _axes(node: Node, rank: int) -> tuple[int, ...] | None:
    """Sorted non-negative axes of a keepdims ReduceMean, or None when not static."""
    if not node.attrs.get("keepdims", 1):
        return None
    axes = node.attrs.get("axes")
    if axes is None and node.input(1) is not None:
        if not node.inputs[1].is_constant:
            return None
        axes = np.asarray(node.inputs[1].data).ravel().tolist()
    if axes is None or len(axes) == 0:
        return None
    return tuple(sorted(int(a) % rank for a in axes))


def _try_match(g: Graph, first: Node) -> None:
    x = first.inputs[0]
    if x is None or x.shape is None or x.dtype != np.dtype(np.float32) or x.is_constant:
        return
    rank = len(x.shape)
    axes = _axes(first, rank)
    if axes is None or axes != tuple(range(axes[0], rank)):
        return  # LayerNormalization normalizes trailing axes only
    region = _grow(g, first, x, axes)
    if region is None:
        return
    cons = g.consumers()
    # Try the longest closed prefix first: its last value is LayerNorm's output.
    for end in range(len(region), 1, -1):
        part = region[:end]
        inside = {id(n) for n in part}
        escaping = [o for n in part for o in n.outputs
                    if g.is_output(o) or any(id(c) not in inside for c in cons.get(id(o), []))]
        if len(escaping) != 1 or escaping[0] is not part[-1].outputs[0]:
            continue
        fit = _fit(part, x, axes)
        if fit is not None:
            _rewrite(g, part, x, axes, *fit)
            return


def _grow(g: Graph, first: Node, x: Value, axes: tuple[int, ...]) -> list[Node] | None:
    """Nodes computable from ``x``, constants and ``first``'s output, in graph order."""
    known = {id(first.outputs[0])}
    region = [first]
    start = g.nodes.index(first)
    for node in g.nodes[start + 1:]:
        if len(region) >= _MAX_REGION:
            break
        if node.domain not in _ONNX or len(node.outputs) != 1:
            continue
        ins = [v for v in node.inputs if v is not None]
        if not any(id(v) in known for v in ins):
            continue
        if not all(id(v) in known or v is x or v.is_constant for v in ins):
            continue
        if node.op_type == "ReduceMean":
            if _axes(node, len(x.shape)) != axes or id(node.inputs[0]) not in known:
                continue
        elif node.op_type not in _ELEMENTWISE:
            continue
        region.append(node)
        known.add(id(node.outputs[0]))
    means = sum(1 for n in region if n.op_type == "ReduceMean")
    return region if means >= 2 else None


def _evaluate(part: list[Node], x: Value, data: np.ndarray) -> np.ndarray:
    env = {id(x): data}
    for n in part:
        args = [env[id(v)] if id(v) in env else np.asarray(v.data, np.float64) for v in n.inputs if v is not None]
        if n.op_type == "ReduceMean":
            axes = _axes(n, data.ndim)
            env[id(n.outputs[0])] = args[0].mean(axis=axes, keepdims=True)
        else:
            with np.errstate(all="ignore"):
                env[id(n.outputs[0])] = _ELEMENTWISE[n.op_type](*args)
    return env[id(part[-1].outputs[0])]


def _epsilon(part: list[Node]) -> float | None:
    """The constant added to the variance (the second ReduceMean's output)."""
    means = [n for n in part if n.op_type == "ReduceMean"]
    if len(means) < 2:
        return None
    var = means[1].outputs[0]
    for n in part:
        if n.op_type == "Add" and any(v is var for v in n.inputs):
            other = n.inputs[1] if n.inputs[0] is var else n.inputs[0]
            if other is not None and other.is_constant and other.data.size == 1:
                return float(np.asarray(other.data).ravel()[0])
    return None


def _normalized(data: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = data.mean(axis=axes, keepdims=True)
    var = ((data - mean) ** 2).mean(axis=axes, keepdims=True)
    return (data - mean) / np.sqrt(var + eps)


def _fit(part: list[Node], x: Value, axes: tuple[int, ...]):
    """``(eps, gamma, beta)`` if ``part`` computes LayerNorm of ``x``, else None."""
    eps = _epsilon(part)
    if eps is None or not eps >= 0:
        return None
    shape = tuple(x.shape)
    norm_shape = shape[axes[0]:]
    rng = np.random.default_rng(0)
    # Fit y = n * gamma + beta per normalized element over several random draws.
    ns, ys = [], []
    for scale in (1.0, 3.0, 0.5, 2.0):
        data = rng.standard_normal(shape) * scale + rng.standard_normal()
        y = _evaluate(part, x, data)
        if y.shape != shape:
            return None
        ns.append(_normalized(data, axes, eps).reshape(-1, *norm_shape))
        ys.append(y.reshape(-1, *norm_shape))
    n, y = np.concatenate(ns), np.concatenate(ys)
    n_mean, y_mean = n.mean(axis=0), y.mean(axis=0)
    denom = ((n - n_mean) ** 2).sum(axis=0)
    if np.any(denom == 0):
        return None
    gamma = ((n - n_mean) * (y - y_mean)).sum(axis=0) / denom
    beta = y_mean - gamma * n_mean
    # Verify on fresh data, at a scale where var ~ eps too (so eps is really that eps).
    for scale in (1.0, max(np.sqrt(eps), 1e-4)):
        data = rng.standard_normal(shape) * scale + rng.standard_normal() * scale
        want = _normalized(data, axes, eps) * gamma + beta
        got = _evaluate(part, x, data)
        if not np.all(np.isfinite(got)) or np.abs(got - want).max() > _RTOL * max(np.abs(want).max(), 1.0):
            return None
    return eps, gamma, beta


def _snap(a: np.ndarray, value: float) -> np.ndarray:
    """Least-squares noise off exact constants: values within 1e-6 of ``value`` become it."""
    a = a.copy()
    a[np.abs(a - value) <= 1e-6 * max(1.0, abs(value))] = value
    return a


def _rewrite(g: Graph, part: list[Node], x: Value, axes, eps, gamma, beta) -> None:
    last = part[-1]
    y = last.outputs[0]
    gamma = _snap(gamma, 1.0).astype(np.float32)
    beta = _snap(beta, 0.0).astype(np.float32)
    inputs = [x, g.const(gamma, last.name + "_ln_scale")]
    if np.any(beta != 0):
        inputs.append(g.const(beta, last.name + "_ln_bias"))
    new = g.add_node("LayerNormalization", inputs, [y], {"axis": int(axes[0]), "epsilon": float(eps)},
                     name=last.name, before=last)
    y.producer = new
    for n in part:
        g.remove_node(n)
