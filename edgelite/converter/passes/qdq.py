"""QDQ import: ONNX ``QuantizeLinear``/``DequantizeLinear`` pairs become quantization parameters.

A QDQ model (ONNX Runtime's ``quantize_static`` in QDQ format, PyTorch QAT exports)
is a float graph with fake-quantization written into it: every activation passes
through ``QuantizeLinear -> DequantizeLinear`` and every weight arrives as
``DequantizeLinear(int8 constant)``. TFLite wants the opposite: integer tensors that
carry ``(scale, zero_point)``. This pass, first in the pipeline (before constant
folding would fold the weight ``DequantizeLinear`` away), rewrites the graph into the
plain float model plus annotations on the IR values (``Value.quant``):

* ``DequantizeLinear(constant q, scale, zero_point)`` becomes the float constant
  ``(q - zero_point) * scale`` (exactly ONNX's float32 arithmetic); int8 weights with
  zero point 0 keep ``(scales, zero_points, axis)`` so the quantizer reuses the very
  same integers. ``QuantizeLinear`` of a float constant (QAT weights) is evaluated
  first (round half to even, saturate), as ONNX does.
* ``x -> QuantizeLinear -> DequantizeLinear -> ...`` (per-tensor, int8 or uint8,
  both nodes with the same constant parameters) is removed; ``x`` gets the parameters.
  uint8 zero points map to int8 exactly as ``zp - 128`` (``q_u8 - zp == (q_u8 - 128) -
  (zp - 128)``, and the saturation bounds move with it).

After lowering, ``annotate_lowered_weights`` moves a weight's parameters onto the
TFLite filter the op converter made from it (CONV_2D dim 0, DEPTHWISE_CONV_2D dim 3,
FULLY_CONNECTED dim 0, TRANSPOSE_CONV dim 0, grouped convolutions sliced per group)
after checking that the filter's values are integers times those scales, and
``activation_ranges`` lists the activations' ``{tensor_name: (scale, zero_point)}``:
the ``fixed_ranges`` contract of ``edgelite.quantize.quantize_model``.

Example:
    >>> import numpy as np
    >>> from edgelite.converter.ir import Graph, Value
    >>> g = Graph()
    >>> x = g.add_input(Value("x", (1, 4), np.dtype("float32")))
    >>> s, z = g.const(np.float32(0.1), "s"), g.const(np.uint8(128), "z")
    >>> q = g.add_node("QuantizeLinear", [x, s, z], ["xq"]).outputs[0]
    >>> y = g.add_node("DequantizeLinear", [q, s, z], ["y"]).outputs[0]
    >>> r = g.add_node("Relu", [y], ["r"]).outputs[0]; g.outputs.append(r)
    >>> p = QdqImport("import"); p(g)
    >>> [n.op_type for n in g.nodes], x.quant[1]
    (['Relu'], array([0]))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelite.converter.ir import Graph, Node, Value, read_counts
from edgelite.errors import ConversionError
from edgelite.schema.op_facts import channel_axis
from edgelite.schema.quant import QuantParams

_ONNX_DOMAINS = ("", "ai.onnx")
_FILTER_INPUT = 1  # the filter input of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV
# ONNX weight axis of the output channels, per node type (FullyConnected: already [out, in]).
_ONNX_OUT_AXIS = {"Conv": 0, "ConvTranspose": 1, "FullyConnected": 0}
# Integer types whose quantized constants this pass folds (others: the op converters decide).
_FOLDABLE = ("int8", "uint8", "int16", "uint16", "int32")
_WEIGHTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# Ops whose output shares the input's parameters: a tensor before them may take the
# parameters of the tensor after them (1-D convolutions end in a RESHAPE).
_PASS_THROUGH = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE")


def _is(node: Node | None, op_type: str) -> bool:
    return node is not None and node.op_type == op_type and node.domain in _ONNX_DOMAINS


def _const(v: Value | None) -> bool:
    return v is not None and v.is_constant


def _params_constant(node: Node) -> bool:
    """Scale (and zero point, when given) are constants and the node is not blocked."""
    if not _const(node.input(1)) or int(node.attrs.get("block_size", 0) or 0):
        return False
    zp = node.input(2)
    return zp is None or _const(zp)


def _q_dtype(node: Node) -> np.dtype:
    """Quantized type of a QuantizeLinear (zero point's, ``output_dtype``, else uint8) or DequantizeLinear."""
    zp = node.input(2)
    if zp is not None:
        return np.dtype(zp.dtype)
    if node.op_type == "DequantizeLinear":
        x = node.inputs[0]
        if x.dtype is None and _is(x.producer, "QuantizeLinear"):
            return _q_dtype(x.producer)  # before shape inference
        return np.dtype(x.dtype if x.dtype is not None else np.uint8)
    if "output_dtype" in node.attrs:
        from onnx import helper

        return np.dtype(helper.tensor_dtype_to_np_dtype(int(node.attrs["output_dtype"])))
    return np.dtype(np.uint8)


def _scalar_params(node: Node) -> tuple[float, int, np.dtype] | None:
    """``(scale, zero_point, quantized dtype)`` of a per-tensor int8/uint8 Q or DQ node."""
    if not _params_constant(node):
        return None
    scale = np.asarray(node.inputs[1].data)
    zp = node.input(2)
    zpa = np.zeros(1, np.int64) if zp is None else np.asarray(zp.data)
    dt = _q_dtype(node)
    if scale.size != 1 or zpa.size != 1 or dt not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    return float(scale.reshape(-1)[0]), int(zpa.reshape(-1)[0]), dt


def _broadcast(p: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    p = np.asarray(p)
    if p.size == 1 or ndim == 0:
        return p.reshape(())
    shape = [1] * ndim
    shape[axis] = p.size
    return p.reshape(shape)


def _quantize_constant(node: Node) -> np.ndarray:
    """ONNX QuantizeLinear of a constant: round half to even, then saturate."""
    x = np.asarray(node.inputs[0].data, np.float32)
    axis = int(node.attrs.get("axis", 1)) % max(x.ndim, 1)
    scale = _broadcast(np.asarray(node.inputs[1].data, np.float32), x.ndim, axis)
    dt = _q_dtype(node)
    zp = node.input(2)
    zpv = _broadcast(np.asarray(zp.data, np.float32), x.ndim, axis) if zp is not None else np.float32(0)
    info = np.iinfo(dt)
    return np.clip(np.rint(x / scale) + zpv, info.min, info.max).astype(dt)


@dataclass
class QdqImport:
    """The ``qdq_import`` pass (see the module docstring).

    Attributes:
        mode: ``"auto"`` (import when the model looks quantized), ``"import"`` or ``"off"``.
        imported: set by the run: the graph was a QDQ model and its pairs were removed.
        activations: number of activation tensors that received parameters.
        weights: number of weight constants annotated with their own parameters.
        notes: what could not be imported as is (conflicting pairs, uint8 weights ...).
    """

    mode: str = "auto"
    imported: bool = False
    activations: int = 0
    weights: int = 0
    notes: list[str] = field(default_factory=list)

    def __call__(self, g: Graph) -> None:
        if self.mode not in ("auto", "import", "off"):
            raise ConversionError(f"qdq must be 'auto', 'import' or 'off', not {self.mode!r}")
        cons = g.consumers()
        pairs = [(q, cons.get(id(q.outputs[0]), [])) for q in g.nodes if self._activation_pair(g, q, cons)]
        self.imported = self.mode == "import" or self.mode == "auto" and bool(pairs and self._has_quantized_weights(g))
        # Folding quantized constants is exact ONNX arithmetic: done in every mode (the
        # generic folder's reference evaluator lacks DequantizeLinear before opset 19).
        for node in list(g.nodes):
            if (_is(node, "QuantizeLinear") and _const(node.inputs[0]) and _params_constant(node)
                    and _q_dtype(node).name in _FOLDABLE):
                readers = cons.get(id(node.outputs[0]), [])
                if readers and all(_is(r, "DequantizeLinear") for r in readers) and not g.is_output(node.outputs[0]):
                    self._fold_in_place(g, node, _quantize_constant(node))
        weights = {id(n.inputs[1]) for n in g.nodes
                   if n.op_type in _WEIGHTED and n.domain in _ONNX_DOMAINS and len(n.inputs) > 1}
        for node in list(g.nodes):
            if (_is(node, "DequantizeLinear") and _const(node.inputs[0]) and _params_constant(node)
                    and np.dtype(node.inputs[0].dtype).name in _FOLDABLE):
                self._dequantize_constant(g, node, annotate=self.imported and id(node.outputs[0]) in weights)
        if not self.imported:
            return
        for q, dqs in pairs:
            self._remove_pair(g, q, dqs)

    # -- detection -----------------------------------------------------------------

    def _activation_pair(self, g: Graph, q: Node, cons) -> bool:
        if not _is(q, "QuantizeLinear") or _const(q.inputs[0]) or g.is_output(q.outputs[0]):
            return False
        params = _scalar_params(q)
        readers = cons.get(id(q.outputs[0]), [])
        if params is None or not readers:
            return False
        for dq in readers:
            if not _is(dq, "DequantizeLinear") or dq.inputs[0] is not q.outputs[0]:
                return False
            p = _scalar_params(dq)
            if p is None or not np.isclose(p[0], params[0], rtol=1e-6, atol=0) or p[1] != params[1]:
                return False
        x = q.inputs[0]
        if any(g.is_output(dq.outputs[0]) for dq in readers) and (g.is_output(x) or any(x is v for v in g.inputs)):
            return False  # removing it would merge a graph input/output with another one
        return x.dtype is None or np.dtype(x.dtype) == np.float32

    @staticmethod
    def _has_quantized_weights(g: Graph) -> bool:
        for n in g.nodes:
            if n.op_type in _WEIGHTED and n.domain in _ONNX_DOMAINS and len(n.inputs) > 1:
                w = n.inputs[1]
                dq = w.producer if w is not None else None
                if _is(dq, "DequantizeLinear"):
                    src = dq.inputs[0]
                    if _const(src) or (_is(src.producer, "QuantizeLinear") and _const(src.producer.inputs[0])):
                        return True
        return False

    # -- rewriting -----------------------------------------------------------------

    @staticmethod
    def _fold_in_place(g: Graph, node: Node, data: np.ndarray) -> Value:
        out = node.outputs[0]
        g.remove_node(node)
        out.data, out.shape, out.dtype = data, tuple(data.shape), data.dtype
        return out

    def _dequantize_constant(self, g: Graph, node: Node, annotate: bool) -> None:
        q = np.asarray(node.inputs[0].data)
        axis = int(node.attrs.get("axis", 1)) % max(q.ndim, 1)
        scale_in = np.asarray(node.inputs[1].data)
        zp_in = node.input(2)
        zp = np.zeros(1, q.dtype) if zp_in is None else np.asarray(zp_in.data)
        scale = _broadcast(scale_in, q.ndim, axis)
        # ONNX computes (x - zero_point) * scale in the scale's float type.
        real = ((q.astype(np.float32) - _broadcast(zp, q.ndim, axis).astype(np.float32)) * scale).astype(scale_in.dtype)
        out = self._fold_in_place(g, node, np.asarray(real))
        if not annotate:
            return
        if q.dtype == np.int8 and not np.any(zp):
            out.quant = QuantParams(scale_in.reshape(-1).astype(np.float32), np.zeros(scale_in.size, np.int64),
                         axis if scale_in.size > 1 else 0)
            self.weights += 1
            if np.any(q == -128):
                self.notes.append(f"{out.name}: int8 weight holds -128; TFLite weights are [-127, 127], clipped")
        else:
            self.notes.append(f"{out.name}: {q.dtype} weights with zero point {zp.reshape(-1)[:1]} are not "
                              "symmetric int8; the quantizer derives its own scales")

    def _remove_pair(self, g: Graph, q: Node, dqs: list[Node]) -> None:
        x = q.inputs[0]
        scale, zp, dt = _scalar_params(q)
        if dt == np.uint8:
            zp -= 128  # the same real values in int8
        quant = QuantParams(np.array([scale], np.float32), np.array([zp], np.int64), 0)
        if x.quant is None:
            x.quant = quant
            self.activations += 1
        elif not (np.isclose(x.quant[0][0], scale, rtol=1e-6, atol=0) and int(x.quant[1][0]) == zp):
            self.notes.append(f"{x.name}: quantized twice ({x.quant[0][0]:g}, {x.quant[1][0]}) and "
                              f"({scale:g}, {zp}); the first is used")
        for dq in dqs:
            g.remove_node(dq)
            g.replace_uses(dq.outputs[0], x)
        g.remove_node(q)


def fc_weight_quant(b: Value, transposed: bool, alpha: float = 1.0):
    """``Value.quant`` of the ``[out, in]`` FULLY_CONNECTED weight made from the ONNX weight ``b``.

    ``transposed``: the weight is ``b.T`` (MatMul, Gemm with ``transB=0``). None when
    ``b`` carries no parameters or they are not per output channel.
    """
    if b.quant is None or not alpha > 0:
        return None
    scales, zps, axis = b.quant
    scales = scales * np.float32(alpha) if alpha != 1.0 else scales
    if scales.size == 1:
        return QuantParams(scales, zps, 0)
    if (1 - axis if transposed else axis) != 0:
        return None
    return QuantParams(scales, zps, 0)


def _fits(data: np.ndarray, scales: np.ndarray, dim: int) -> bool:
    """Are the float weights integers in [-128, 127] times ``scales`` (along ``dim``)?"""
    if scales.size > 1 and (dim >= data.ndim or data.shape[dim] != scales.size):
        return False
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.asarray(data, np.float64) / _broadcast(scales.astype(np.float64), data.ndim, dim)
    return bool(np.all(np.isfinite(r)) and np.all(np.abs(r - np.rint(r)) < 1e-2) and np.all(np.abs(r) < 128.5))


def annotate_lowered_weights(node: Node, ops, notes: list[str] | None = None) -> int:
    """Give the filters the TFLite ops of ``node`` use the parameters of ``node``'s weight.

    Returns the number of filters annotated; filters whose values do not fit the
    parameters (an op converter that scaled them) are left for the quantizer.
    """
    w = node.input(_FILTER_INPUT)
    if w is None or w.quant is None:
        return 0
    scales, zps, axis = w.quant
    out_axis = _ONNX_OUT_AXIS.get(node.op_type)
    offset, done = 0, 0
    for op in ops:
        dim = channel_axis(op.op)  # TFLite filter dimension of the output channels
        f = op.inputs[_FILTER_INPUT] if dim is not None and len(op.inputs) > _FILTER_INPUT else None
        if f is None or not f.is_constant:
            continue
        if scales.size == 1:
            cand = QuantParams(scales, zps, 0)
        elif axis == out_axis and f is not w:
            n = f.shape[dim]
            cand = QuantParams(scales[offset : offset + n], zps[offset : offset + n], dim)
            offset += n
        elif f is w:
            cand = w.quant
        else:
            cand = None
        if cand is not None and _fits(f.data, cand[0], cand[2] if cand[0].size > 1 else 0):
            f.quant = cand
            done += 1
        else:
            f.quant = None
            if notes is not None:
                notes.append(f"{node.describe()}: weight parameters do not map onto {op.op}; derived by the quantizer")
    return done


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


# Elementwise maps whose output range follows from the input's 256 levels.
_UNARY_MAPS = {
    "RELU": lambda x: np.maximum(x, 0.0),
    "RELU6": _relu6,
    "RELU_0_TO_1": lambda x: np.clip(x, 0.0, 1.0),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1.0, 1.0),
    "HARD_SWISH": lambda x: x * _relu6(x + 3.0) / 6.0,
    "NEG": np.negative,
    "ABS": np.abs,
}
# Clamps whose input may take their output's parameters (the clamp is then exact).
_CLAMPS = ("RELU", "RELU6", "RELU_0_TO_1", "RELU_N1_TO_1")
_BINARY_MAPS = {"MUL": np.multiply, "ADD": np.add, "SUB": np.subtract, "DIV": np.divide}
# ActivationFunctionType NONE, RELU, RELU_N1_TO_1, RELU6.
_FUSED = {1: _UNARY_MAPS["RELU"], 2: _UNARY_MAPS["RELU_N1_TO_1"], 3: _relu6}


def _levels(quant) -> np.ndarray:
    """The 256 real values an int8 tensor with ``quant`` can hold."""
    return np.float64(quant[0][0]) * (np.arange(-128, 128, dtype=np.float64) - int(quant[1][0]))


def _derived_range(op) -> tuple[float, float] | None:
    """Output range of an elementwise op (or op with a scalar constant) from its input's levels."""
    if len(op.outputs) != 1:
        return None
    if op.op in _UNARY_MAPS and op.inputs and op.inputs[0] is not None and op.inputs[0].quant is not None:
        y = _UNARY_MAPS[op.op](_levels(op.inputs[0].quant))
    elif op.op in _BINARY_MAPS and len(op.inputs) == 2 and all(v is not None for v in op.inputs):
        a, b = op.inputs
        if b.is_constant and b.data.size == 1 and a.quant is not None and not a.is_constant:
            y = _BINARY_MAPS[op.op](_levels(a.quant), float(np.asarray(b.data).reshape(-1)[0]))
        elif a.is_constant and a.data.size == 1 and b.quant is not None and not b.is_constant:
            y = _BINARY_MAPS[op.op](float(np.asarray(a.data).reshape(-1)[0]), _levels(b.quant))
        else:
            return None
        fused = _FUSED.get(int(getattr(op.options, "fusedActivationFunction", 0) or 0))
        y = fused(y) if fused is not None else y
    else:
        return None
    y = y[np.isfinite(y)]
    return (float(y.min()), float(y.max())) if y.size else None


def activation_ranges(g: Graph, ops) -> dict[str, tuple[float, int]]:
    """``{tensor_name: (scale, zero_point)}`` of every lowered activation with parameters.

    Gaps left by op converters that lower one ONNX op into several TFLite ops are
    filled: a tensor whose only reader is a clamp (RELU, RELU6, RELU_0_TO_1,
    RELU_N1_TO_1) takes the clamp's output parameters; a tensor that only feeds a
    shape-only op (RESHAPE ...) takes that op's output parameters (both hold the same
    values); the output of another elementwise op (HardSigmoid's MUL ...) gets the
    range its input's 256 levels map to.
    """
    from edgelite.quantize.numerics import activation_params  # lazily: a later stage

    readers = read_counts(ops)
    public = {id(v) for v in list(g.inputs) + list(g.outputs)}
    for op in reversed(ops):
        # A clamp that is the only reader of an unannotated tensor (HardSigmoid's
        # ADD -> RELU_0_TO_1) lends it its output parameters: the ADD then rounds once,
        # straight to ONNX Runtime's integers, and the clamp in equal parameters is exact
        # (int8 saturation first changes nothing, the clamp bounds lie inside it).
        if op.op in _CLAMPS and op.inputs and op.outputs and op.inputs[0] is not None:
            src, dst = op.inputs[0], op.outputs[0]
            if (src.quant is None and dst.quant is not None and not src.is_constant and readers.get(id(src)) == 1
                    and id(src) not in public and src.dtype is not None and np.dtype(src.dtype) == np.float32):
                src.quant = dst.quant
    for op in ops:
        out = op.outputs[0] if op.outputs else None
        if out is None or out.quant is not None or out.dtype is None or np.dtype(out.dtype) != np.float32:
            continue
        rng = _derived_range(op)
        if rng is not None:
            scale, zp = activation_params(rng[0], rng[1], 8)
            out.quant = QuantParams(np.array([scale], np.float32), np.array([zp], np.int64), 0)
    for op in reversed(ops):
        if op.op in _PASS_THROUGH and op.inputs and op.outputs:
            src, dst = op.inputs[0], op.outputs[0]
            if src is not None and not src.is_constant and src.quant is None and dst.quant is not None:
                src.quant = dst.quant
    ranges: dict[str, tuple[float, int]] = {}
    seen: set[int] = set()
    values = list(g.inputs) + [v for op in ops for v in list(op.inputs) + list(op.outputs)]
    for v in values:
        if v is None or id(v) in seen or v.is_constant or v.quant is None:
            continue
        seen.add(id(v))
        if v.dtype is not None and np.dtype(v.dtype) == np.float32:
            ranges[v.name] = (float(v.quant[0][0]), int(v.quant[1][0]))
    return ranges
