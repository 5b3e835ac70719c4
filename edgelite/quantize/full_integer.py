"""Full-integer quantization (int8, or int16 activations with int8 weights) of a model.

Given each float activation's parameters, rewrites subgraph 0 operator by operator:
an operator with an integer kernel (``spec.INT8_OPS`` / ``INT16_OPS``) and not kept
float gets integer inputs, weights, bias and outputs and the version TFLite gives it;
any other operator stays float. Where an integer tensor meets a float operator (or the
other way round) a DEQUANTIZE (or QUANTIZE) is inserted once, just before the first
operator that needs it. Model inputs and outputs keep their names and get ``io_type``.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema import read_model
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 4), np.float32)
    >>> y = b.add_tensor("y", (1, 4), np.float32); _ = b.add_operator("RELU", [x], [y]); b.mark_output(y)
    >>> q = quantize_full_integer(read_model(b.build()), {0: (0.01, 0), 1: (0.01, -128)})
    >>> [q.opcode_name(op) for op in q.subgraphs[0].operators]
    ['QUANTIZE', 'RELU', 'DEQUANTIZE']
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import numpy as np

from edgelite.quantize.graph import GraphEditor, qparams
from edgelite.quantize.bias_correction import CORRECTED_OPS, shift_of_weight_error, weight_error
from edgelite.quantize.legal import CONV_OPS, legal_weight_scales, min_output_scale, raise_for_requant_floor
from edgelite.quantize.global_pool import choose_global_pool, emit_exact_global_pool, is_global_pool, is_static
from edgelite.quantize.numerics import abs_max, activation_params, quantize_array, quantize_bias, symmetric_weights
from edgelite.quantize.spec import INT8_OPS, INT16_OPS, INT64_BIAS_OPS, OpQuantSpec
from edgelite.quantize.versions import min_runtime_version, op_version
from edgelite.schema.model import Model, TensorType

_F32 = TensorType.FLOAT32
# Operators whose integer output range TFLite fixes; at a float model output they run in
# int16x8 (or float) by default (``QuantizeOptions.fixed_range_outputs``).
FIXED_RANGE_OUTPUT_OPS = ("LOGISTIC", "SOFTMAX", "TANH")
FIXED_RANGE_NOTE = "fixed-range output kept float"
_SUFFIX = {TensorType.INT8: "_int8", TensorType.INT16: "_int16", TensorType.UINT8: "_uint8", _F32: "_float"}


def _usable(params: tuple[float, int]) -> bool:
    """A scale that keeps products (bias scales) and multipliers finite in float32."""
    scale = params[0]
    return bool(np.isfinite(scale)) and 1e-30 < scale < 1e30


class _Int16View:
    """The int16 (symmetric) parameters of the int8 activation parameters' ranges, for
    the operators of an int8 model that run in int16x8; values set here stay here."""

    def __init__(self, act8: dict):
        self._act8 = act8
        self._own: dict[int, tuple[float, int]] = {}

    def __contains__(self, t) -> bool:
        return t in self._own or t in self._act8

    def __getitem__(self, t) -> tuple[float, int]:
        if t not in self._own:
            scale, zp = self._act8[t]
            self._own[t] = activation_params(scale * (-128 - zp), scale * (127 - zp), 16)
        return self._own[t]

    def __setitem__(self, t, value) -> None:
        self._own[t] = value

    def get(self, t, default=None):
        return self[t] if t in self else default


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays, read-only: cached ones are shared by several models' buffers."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


class _FullInteger:
    def __init__(self, model: Model, act: Mapping[int, tuple[float, int]], bits: int, io_type: str,
                 per_channel: bool, per_channel_fc: bool, keep_float: Sequence[str],
                 means: Mapping[int, np.ndarray | None] | None = None, fixed: frozenset = frozenset(),
                 int16_layers: Sequence[str] = (), fixed_outputs: str = "int8",
                 weight_cache: dict | None = None):
        self.g = GraphEditor(model)
        # Quantized weights by (tensor, how): they depend on the float weights only, so
        # candidates of the same model (bias correction on and off) share them.
        self.weight_cache = {} if weight_cache is None else weight_cache
        self.means = means
        self.fixed = fixed  # tensors whose parameters were given, never re-chosen
        # Types before the rewrite (the rewrite retypes tensors in place).
        self.orig_type = [t.type for t in self.g.tensors]
        self.act = dict(act)
        self.bits = bits
        self.qtype = TensorType.INT8 if bits == 8 else TensorType.INT16
        self.table = INT8_OPS if bits == 8 else INT16_OPS
        self.io_type = io_type
        self.per_channel = per_channel
        self.per_channel_fc = per_channel_fc
        self.keep = set(keep_float)
        self.q8: dict[int, int] = {}
        self.q16: dict[int, int] = {}  # int16 versions, for operators run in int16x8 in an int8 model
        self.qver = self.q8 if bits == 8 else self.q16  # the versions of the current precision
        self.fver: dict[int, int] = {}
        self.int16_layers = set(int16_layers)
        self.fixed_outputs = fixed_outputs
        self.retargetable: set[int] = set()
        self._const_cache: dict[tuple, int] = {}
        self.quantized_ops: list[int] = []
        self.widened: list[str] = []  # outputs whose scale was raised to a kernel's minimum
        self.int16_ops: list[tuple[int, str, str]] = []  # (op index, op, output) run in int16x8
        self.float_ops: list[tuple[int, str, str]] = []

    # -- tensor versions ----------------------------------------------------------------

    def _params(self, t: int) -> tuple[float, int]:
        return self.act[t]

    def get_q(self, t: int) -> int:
        if t not in self.qver:
            scale, zp = self._params(t)
            name = self.g.tensors[t].name + _SUFFIX[self.qtype]
            if self.qtype == TensorType.INT8 and t in self.q16 and t not in self.fver:
                # int16 -> int8 is one QUANTIZE (LiteRT has no int8 -> int16: that goes via float)
                src = self.q16[t]
                q = self.g.add_tensor(name, like=src, type=self.qtype, quant=qparams(scale, zp))
                self.g.emit("QUANTIZE", [src], [q], version=op_version("QUANTIZE", [TensorType.INT16], [self.qtype]))
            else:
                f = self.get_f(t)
                q = self.g.add_tensor(name, like=f, type=self.qtype, quant=qparams(scale, zp))
                self.g.emit("QUANTIZE", [f], [q], version=op_version("QUANTIZE", [_F32], [self.qtype]))
            self.qver[t] = q
        return self.qver[t]

    def _has_version(self, t: int) -> bool:
        return t in self.fver or t in self.q8 or t in self.q16

    def get_f(self, t: int) -> int:
        if t not in self.fver:
            q = self.qver[t] if t in self.qver else (self.q8[t] if t in self.q8 else self.q16[t])
            name = self.g.tensors[t].name + "_float"
            f = self.g.add_tensor(name, like=q, type=_F32)
            qt = self.g.tensors[q]
            self.g.emit("DEQUANTIZE", [q], [f], version=op_version("DEQUANTIZE", [qt.type], [_F32]))
            self.fver[t] = f
        return self.fver[t]

    def _requantize(self, q: int, scale: float, zp: int) -> int:
        t = self.g.tensors[q]
        new = self.g.add_tensor(t.name + "_requantized", like=q, quant=qparams(scale, zp))
        self.g.emit("QUANTIZE", [q], [new], version=op_version("QUANTIZE", [t.type], [t.type]))
        return new

    # -- constants -----------------------------------------------------------------------

    def _weight_source(self, t: int):
        """(int tensor index or None, float data or None) of a weight input.

        A weight that arrives already quantized (DEQUANTIZE of an integer constant, as
        ONNX QDQ models convert) is used as is.
        """
        data = self.g.const_data(t)
        if data is not None:
            return None, data
        k = self.g.producer.get(t)
        if k is not None:
            src = self.g.source_ops[k]
            if self.g.op_name(src) == "DEQUANTIZE":
                inner = src.inputs[0]
                it = self.g.tensors[inner]
                if self.g.const_data(inner) is not None and it.quantization is not None and it.quantization.is_quantized:
                    return inner, None
        return None, None

    def _is_const(self, t: int) -> bool:
        q, data = self._weight_source(t)
        return q is not None or data is not None

    def _quant_weight(self, t: int, role: str) -> int:
        pre, data = self._weight_source(t)
        if pre is not None:
            return pre
        tensor = self.g.tensors[t]
        dim = {"w0": 0, "w3": 3, "wfc": 0 if self.per_channel_fc else None}[role]
        if role in ("w0", "w3") and not self.per_channel:
            dim = None
        q_given = tensor.quantization
        key = (t, role, dim)
        if key not in self._const_cache:
            if q_given is not None and q_given.is_quantized:
                # A float constant annotated with the parameters to use (QDQ import).
                d = q_given.quantized_dimension if q_given.per_channel else None
                q = quantize_array(data, q_given.scale, q_given.zero_point, d, -127, 127, dtype=np.int8)
                params = qparams(q_given.scale, q_given.zero_point, q_given.quantized_dimension)
            else:
                wkey = ("symmetric", t, dim)
                if wkey not in self.weight_cache:
                    self.weight_cache[wkey] = _frozen(*symmetric_weights(data, dim, 8, bound=self._bound(t, data, dim)))
                q, scales = self.weight_cache[wkey]
                params = qparams(scales, np.zeros(len(scales), np.int64), dim or 0)
            self._const_cache[key] = self.g.add_constant(tensor.name, q, params)
        return self._const_cache[key]

    def _bound(self, t: int, data: np.ndarray, dim: int | None) -> np.ndarray:
        """max |w| per channel (float64) of weight tensor ``t``, computed once."""
        bkey = ("bound", t, dim)
        if bkey not in self.weight_cache:
            self.weight_cache[bkey] = _frozen(abs_max(data, dim))[0]
        return self.weight_cache[bkey]

    def _quant_bias(self, t: int, op: str, input_scale: float, weight: int, shift: np.ndarray | None = None) -> int:
        pre, data = self._weight_source(t)
        if pre is not None:
            return pre
        w_scales = self.g.tensors[weight].quantization.scale
        bits = 64 if self.bits == 16 and op in INT64_BIAS_OPS else 32
        data = data.astype(np.float64)
        if shift is not None and shift.shape == data.shape:
            data = data - shift
        q, scales = quantize_bias(data, input_scale, w_scales, bits)
        dim = 0
        return self.g.add_constant(self.g.tensors[t].name, q, qparams(scales, np.zeros(len(scales), np.int64), dim))

    def _bias_shift(self, op, name: str, w_quant: int) -> np.ndarray | None:
        """Mean output shift the weight rounding causes (``bias_correction``), or None.

        Only for weights this quantizer rounded itself: weights that arrive quantized
        (QDQ import) are used as they are, with their own biases.
        """
        if self.means is None or name not in CORRECTED_OPS:
            return None
        x, w = op.inputs[0], op.inputs[1]
        mean = self.means.get(x)
        pre, data = self._weight_source(w)
        given = self.g.tensors[w].quantization
        if mean is None or data is None or pre is not None or (given is not None and given.is_quantized):
            return None
        qt = self.g.tensors[w_quant]
        dw = weight_error(self.g.const_data(w_quant), qt.quantization.scale, qt.quantization.quantized_dimension, data)
        return shift_of_weight_error(name, op.builtin_options, mean, dw)

    def _quant_const_act(self, t: int, params: tuple[float, int] | None = None) -> int:
        data = np.asarray(self.g.const_data(t), np.float32)
        if params is None:
            params = activation_params(float(data.min(initial=0.0)), float(data.max(initial=0.0)), self.bits)
        key = (t, "a", params)
        if key not in self._const_cache:
            scale, zp = params
            lo, hi = (-128, 127) if self.bits == 8 else (-32767, 32767)
            q = quantize_array(data, np.array([scale]), np.array([zp]), None, lo, hi,
                               dtype=np.int8 if self.bits == 8 else np.int16)
            self._const_cache[key] = self.g.add_constant(self.g.tensors[t].name, q, qparams(scale, zp))
        return self._const_cache[key]

    # -- deciding --------------------------------------------------------------------------

    def _why_float(self, k: int, op, name: str, spec: OpQuantSpec | None) -> str | None:
        """None when the operator can be quantized, else the reason it stays float."""
        if spec is None:
            return f"no {'int8' if self.bits == 8 else 'int16x8'} kernel for {name} in TFLite"
        outs = [self.g.tensors[o].name for o in op.outputs]
        if name in self.keep or any(n in self.keep for n in outs):
            return "kept float on request"
        if (self.fixed_outputs == "float" and name in FIXED_RANGE_OUTPUT_OPS and self.io_type == "float32"
                and all(self.g.is_model_output(o) for o in op.outputs)):
            step = spec.fixed8[0] if self.bits == 8 else spec.fixed16[0]
            return f"{FIXED_RANGE_NOTE}: its {'int8' if self.bits == 8 else 'int16'} output has fixed steps of {step:g}"
        for pos, t in enumerate(op.inputs):
            role = spec.role(pos)
            if t < 0:
                if role in ("a", "w0", "w3", "wfc"):
                    return f"input {pos} omitted"
                continue
            tt = self.g.tensors[t]
            ttype = self.orig_type[t]
            if role == "-":
                continue
            if ttype != _F32 and not self._is_const(t):
                return f"input {tt.name!r} is {TensorType(ttype).name}, not float32"
            if role in ("w0", "w3", "wfc", "b"):
                if not self._is_const(t):
                    return f"{'weight' if role != 'b' else 'bias'} {tt.name!r} is not constant"
                if role != "b" and self.g.const_data(t) is not None and ttype != _F32:
                    return f"weight {tt.name!r} is {TensorType(ttype).name}"
            elif role == "s" and self.g.const_data(t) is None:
                return f"input {tt.name!r} is not constant"
            elif role == "a" and not self._is_const(t) and t not in self.qver:
                if t not in self.act:
                    return f"no range for input {tt.name!r}"
                if not _usable(self.act[t]):
                    return f"range of {tt.name!r} is unusable (scale {self.act[t][0]:g})"
        for o in op.outputs:
            ot = self.g.tensors[o]
            if self.orig_type[o] != _F32:
                return f"output {ot.name!r} is {TensorType(self.orig_type[o]).name}"
            if spec.output in ("calib", "shared") and o not in self.act:
                return f"no range for output {ot.name!r}"
            if spec.output in ("calib", "shared") and not _usable(self.act[o]):
                return f"range of {ot.name!r} is unusable (scale {self.act[o][0]:g})"
        if spec.output == "same":
            src = op.inputs[spec.source_position()]
            if self._is_const(src) and src not in self.act:
                return "its input is a constant (fold it first)"
        if spec.output == "fixed" and (spec.fixed8 if self.bits == 8 else spec.fixed16) is None:
            return f"no int16 output parameters for {name}"
        return None

    # -- rewriting -----------------------------------------------------------------------

    def run(self) -> Model:
        g = self.g
        for t in g.subgraph.inputs:
            tensor = g.tensors[t]
            if tensor.type != _F32 or self.io_type == "float32" or t not in self.act:
                self.fver[t] = t
                continue
            scale, zp = self._params(t)
            if self.io_type == "uint8":
                tensor.type, tensor.quantization = TensorType.UINT8, qparams(scale, zp + 128)
                q = g.add_tensor(tensor.name + "_int8", like=t, type=TensorType.INT8, quant=qparams(scale, zp))
                g.emit("QUANTIZE", [t], [q], version=1)
                self.qver[t] = q
            else:
                tensor.type, tensor.quantization = self.qtype, qparams(scale, zp)
                self.qver[t] = t
        for k, op in enumerate(g.source_ops):
            name = g.op_name(op)
            wide = self.bits == 8 and self._runs_in_int16(op, name)
            if wide:
                self._enter_int16()
            spec = self.table.get(name)
            reason = self._why_float(k, op, name, spec)
            if reason is None:
                self._quantize_op(k, op, name, spec)
                self.quantized_ops.append(k)
                if wide:
                    self.int16_ops.append((k, name, g.tensors[op.outputs[0]].name))
            else:
                if name not in ("QUANTIZE", "DEQUANTIZE"):
                    self.float_ops.append((k, name, reason))
                self._float_op(op)
            if wide:
                self._leave_int16()
        self._finish_outputs()
        versions = [(g.op_name(op), g.model.operator_codes[op.opcode_index].version) for op in g.ops]
        rt = min_runtime_version(versions)
        if rt is not None:
            g.add_metadata("min_runtime_version", rt.encode().ljust(16, b"\0"))
        return g.finish()

    def _runs_in_int16(self, op, name: str) -> bool:
        """Whether an operator of an int8 model runs in int16x8: asked for by output name
        (``int16_layers``), or a fixed-range activation writing a float model output
        (``fixed_outputs="int16"``: its int8 output would have 1/256 steps)."""
        outs = [self.g.tensors[o].name for o in op.outputs]
        if any(n in self.int16_layers for n in outs):
            return True
        return (self.fixed_outputs == "int16" and name in FIXED_RANGE_OUTPUT_OPS and self.io_type == "float32"
                and all(self.g.is_model_output(o) for o in op.outputs))

    def _enter_int16(self) -> None:
        self._saved = (self.bits, self.qtype, self.table, self.qver, self.act, self.retargetable)
        self.bits, self.qtype, self.table = 16, TensorType.INT16, INT16_OPS
        self.qver, self.act, self.retargetable = self.q16, _Int16View(self.act), set()

    def _leave_int16(self) -> None:
        self.bits, self.qtype, self.table, self.qver, self.act, self.retargetable = self._saved

    def _float_op(self, op) -> None:
        inputs = []
        for t in op.inputs:
            if t >= 0 and self._has_version(t):
                inputs.append(self.get_f(t))
            else:
                inputs.append(t)
        for o in op.outputs:
            self.fver[o] = o
        self.g.emit_copy(op, inputs)

    def _quantize_op(self, k: int, op, name: str, spec: OpQuantSpec) -> None:
        g = self.g
        out_params: tuple[float, int] | None = None
        if spec.output == "fixed":
            out_params = spec.fixed8 if self.bits == 8 else spec.fixed16
        elif spec.output == "shared":
            out_params = self._params(op.outputs[0])
        inputs: list[int] = []
        for pos, t in enumerate(op.inputs):
            role = spec.role(pos)
            if t < 0 or role == "-":
                inputs.append(t)
            elif role == "a":
                inputs.append(self._activation_input(t, out_params if spec.output == "shared" else None))
            elif role in ("b", "s"):
                inputs.append(-1)  # once the weight, input and output are known
            else:
                inputs.append(self._quant_weight(t, role))
        if name in CONV_OPS:
            self._legalize_weights(op, name, spec, inputs)
        elif self.bits == 8 and name in ("ADD", "SUB", "HARD_SWISH"):
            scales = [float(g.tensors[inputs[p]].quantization.scale[0]) for p in range(len(inputs))
                      if spec.role(p) == "a" and inputs[p] >= 0]
            self._raise_output_scale(op.outputs[0], min_output_scale(name, scales if name != "HARD_SWISH" else scales[0]))
        for pos, t in enumerate(op.inputs):
            if t >= 0 and spec.role(pos) == "b":
                x = inputs[spec.bias_input]
                w = next(inputs[p] for p in range(len(inputs)) if spec.role(p).startswith("w"))
                in_scale = float(g.tensors[x].quantization.scale[0])
                inputs[pos] = self._quant_bias(t, name, in_scale, w, self._bias_shift(op, name, w))
        if spec.output == "same":
            src = g.tensors[inputs[spec.source_position()]].quantization
            out_params = (float(src.scale[0]), int(src.zero_point[0]))
        for pos, t in enumerate(op.inputs):
            if t >= 0 and spec.role(pos) == "s":
                inputs[pos] = self._quant_const_act(t, out_params if out_params is not None else self._params(op.outputs[0]))
        if name == "MEAN" and self.bits == 8 and spec.output == "calib" and is_global_pool(g, op):
            out_params = self._global_pool(op, inputs[0])
            if out_params is None:
                return
        for o in op.outputs:
            scale, zp = out_params if out_params is not None else self._params(o)
            tensor = g.tensors[o]
            tensor.type, tensor.quantization = self.qtype, qparams(scale, zp)
            self.qver[o] = o
            if spec.output == "calib" and len(g.consumers.get(o, [])) == 1 and not g.is_model_output(o):
                self.retargetable.add(o)
        options = op.builtin_options
        if name in ("ADD", "SUB") and self.bits == 16 and options is not None:
            # General (not power-of-two) scales need the non-POT int16 kernel.
            options = copy.copy(options)
            options.potScaleInt16 = False
        types_in = [g.tensors[i].type if i >= 0 else -1 for i in inputs]
        types_out = [g.tensors[o].type for o in op.outputs]
        mul_scales = None
        if name == "MUL":
            mul_scales = tuple(float(g.tensors[i].quantization.scale[0]) for i in (inputs[0], inputs[1], op.outputs[0]))
        weight = next((inputs[p] for p in range(len(inputs)) if spec.role(p).startswith("w") and inputs[p] >= 0), None)
        per_channel = weight is not None and g.tensors[weight].quantization.per_channel
        version = op_version(
            name, [t for t in types_in if t != -1] if name != "SPLIT" else types_in, types_out, options,
            per_channel=per_channel, num_inputs=len(inputs),
            input_ranks=[len(g.tensors[i].shape) for i in inputs if i >= 0], mul_scales=mul_scales,
        )
        g.emit_copy(op, inputs, version=version, options=options)

    def _raise_output_scale(self, o: int, floor: float) -> None:
        """Widen a calibrated output range whose scale is below what the kernels accept.

        Only a (nearly) empty range gets here in practice (see ``legal``); its zero
        point stays, so 0.0 stays exact. Given parameters (``fixed``) are left alone:
        ``check_runtime_limits`` reports them instead.
        """
        if o in self.fixed or o not in self.act:
            return
        scale, zp = self.act[o]
        if scale < floor:
            self.act[o] = (float(floor), zp)
            self.widened.append(self.g.tensors[o].name)

    def _legalize_weights(self, op, name: str, spec: OpQuantSpec, inputs: list[int]) -> None:
        """Weight and output scales of a convolution / fully connected layer inside the
        runtimes' limits (``legal``): all-zero channels, biases that would saturate,
        requantization scales outside XNNPACK's [2**-32, 256)."""
        g = self.g
        w_pos = next(p for p in range(len(inputs)) if spec.role(p).startswith("w"))
        t = op.inputs[w_pos]
        pre, data = self._weight_source(t)
        given = g.tensors[t].quantization
        x = inputs[spec.bias_input]
        if x < 0 or g.tensors[x].quantization is None:
            return
        s_in = float(g.tensors[x].quantization.scale[0])
        wq = g.tensors[inputs[w_pos]].quantization
        ours = data is not None and pre is None and not (given is not None and given.is_quantized)
        scales = np.asarray(wq.scale, np.float32)
        dim = wq.quantized_dimension if len(scales) > 1 else None
        if ours:
            bound = self._bound(t, data, dim)
            b_pos = next((p for p in range(len(op.inputs)) if spec.role(p) == "b" and op.inputs[p] >= 0), None)
            bias = g.const_data(op.inputs[b_pos]) if b_pos is not None else None
            new = legal_weight_scales(scales, bound, s_in, bias)
        else:
            new = scales
        if self.bits == 8:
            self._raise_output_scale(op.outputs[0], min_output_scale(name, s_in, new))
            if ours and op.outputs[0] in self.act:
                new = raise_for_requant_floor(new, s_in, self.act[op.outputs[0]][0])
        if ours and not np.array_equal(new, scales):
            key = (t, "legal", dim, new.tobytes())
            if key not in self._const_cache:
                if key not in self.weight_cache:
                    self.weight_cache[key] = _frozen(quantize_array(data, new, np.zeros(len(new), np.int64), dim,
                                                                    -127, 127, dtype=np.int8))[0]
                q = self.weight_cache[key]
                self._const_cache[key] = g.add_constant(g.tensors[t].name, q, qparams(new, np.zeros(len(new), np.int64), dim or 0))
            inputs[w_pos] = self._const_cache[key]

    def _global_pool(self, op, x: int) -> tuple[float, int] | None:
        """An int8 global average pool: the output parameters of a single MEAN, or None
        when it was written as MEAN(keep_dims=False) + RESHAPE (see ``global_pool``)."""
        g, o = self.g, op.outputs[0]
        xq = g.tensors[x].quantization
        s_in, z_in = float(xq.scale[0]), int(xq.zero_point[0])
        s_out, z_out = self._params(o)
        shape = g.tensors[x].shape
        static = is_static(g, x) and is_static(g, o)
        form, scale = choose_global_pool(s_in, z_in, s_out, z_out, int(shape[1]) * int(shape[2]), int(shape[3]),
                                         allow_integer=static, allow_rescale=o not in self.fixed)
        self.act[o] = (scale, z_out)
        if form == "keep" or not emit_exact_global_pool(g, op, x, (scale, z_out)):
            return scale, z_out
        tensor = g.tensors[o]
        tensor.type, tensor.quantization = self.qtype, qparams(scale, z_out)
        self.qver[o] = o  # never retargeted: a RESHAPE's output keeps its input's parameters
        return None

    def _activation_input(self, t: int, shared: tuple[float, int] | None) -> int:
        g = self.g
        if self._is_const(t) and t not in self.act:
            return self._quant_const_act(t, shared)
        if shared is not None and t not in self.qver:
            # First integer use of a float tensor: quantize it straight to the shared parameters.
            self.act[t] = shared
        q = self.get_q(t)
        if shared is None:
            return q
        qp = g.tensors[q].quantization
        if np.isclose(qp.scale[0], shared[0], rtol=1e-6, atol=0) and int(qp.zero_point[0]) == shared[1]:
            return q
        if q == t and t in self.retargetable:
            # Only this operator reads t: let t's producer write the shared parameters.
            g.tensors[t].quantization = qparams(*shared)
            self.act[t] = shared
            self.retargetable.discard(t)
            return q
        return self._requantize(q, *shared)

    def _finish_outputs(self) -> None:
        g = self.g
        new_outputs = []
        for t in g.subgraph.outputs:
            tensor = g.tensors[t]
            if not self._has_version(t):
                new_outputs.append(t)
                continue
            if self.io_type == "float32" or t not in self.act and t not in self.qver and t not in self.q16:
                idx = self.get_f(t)
            elif self.io_type == "uint8":
                q = self.get_q(t)
                qp = g.tensors[q].quantization
                idx = g.add_tensor(tensor.name + "_uint8", like=q, type=TensorType.UINT8,
                                   quant=qparams(qp.scale[0], int(qp.zero_point[0]) + 128))
                g.emit("QUANTIZE", [q], [idx], version=1)
            else:
                idx = self.get_q(t)
            if idx != t:
                # The user-facing output keeps the original name.
                name = tensor.name
                tensor.name = name + _SUFFIX[TensorType(tensor.type)]
                g.tensors[idx].name = name
                for sig in g.model.signature_defs:
                    if sig.subgraph_index == 0:
                        for tm in sig.outputs:
                            if tm.tensor_index == t:
                                tm.tensor_index = idx
            new_outputs.append(idx)
        g.subgraph.outputs = new_outputs


def quantize_full_integer(
    model: Model,
    activation_params_by_tensor: Mapping[int, tuple[float, int]],
    *,
    bits: int = 8,
    io_type: str = "float32",
    per_channel: bool = True,
    per_channel_fully_connected: bool = True,
    keep_float: Sequence[str] = (),
    report: list | None = None,
    input_means: Mapping[int, np.ndarray | None] | None = None,
    fixed: Sequence[int] = (),
    widened: list | None = None,
    int16_layers: Sequence[str] = (),
    fixed_range_outputs: str = "int8",
    int16_report: list | None = None,
    weight_cache: dict | None = None,
) -> Model:
    """Rewrite ``model`` (not modified) with integer operators where TFLite has them.

    Args:
        model: float model.
        activation_params_by_tensor: ``{tensor_index: (scale, zero_point)}`` for float
            activations of subgraph 0 (model inputs included).
        bits: 8 (int8) or 16 (int16 activations, int8 weights).
        io_type: ``"float32"``, ``"int8"``, ``"uint8"`` or ``"int16"``.
        per_channel: per-channel CONV_2D / DEPTHWISE_CONV_2D weights.
        per_channel_fully_connected: per-channel FULLY_CONNECTED weights.
        keep_float: tensor or operator-type names whose operators stay float.
        report: if given, receives ``(op_index, op_name, reason)`` for each float operator.
        input_means: ``{tensor_index: per-position mean}`` of the float inputs of
            CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operators: their biases are
            corrected for the mean shift weight rounding causes (``bias_correction``).
        fixed: tensors whose parameters were given (``fixed_ranges``): kept as they are
            where the quantizer would otherwise pick a kernel-friendlier scale.
        int16_layers: (int8 models) output tensor names of operators that run in
            int16x8 instead (int16 activations, int8 weights; QUANTIZE/DEQUANTIZE
            around them), where LiteRT has their int16 kernel.
        fixed_range_outputs: a LOGISTIC / SOFTMAX / TANH writing a float model output:
            ``"int8"`` (TFLite's fixed 1/256 steps), ``"int16"`` or ``"float"``.
        int16_report: if given, receives ``(op_index, op_name, output)`` for each
            operator that runs in int16x8 in an int8 model.
        widened: if given, receives the names of outputs whose calibrated scale was
            raised to the smallest one their kernels accept (``legal``).
        weight_cache: a dict kept between calls on the same ``model`` (same weights,
            same ``per_channel`` options): the quantized weights computed once are
            reused (``quantize_model`` builds two candidates for bias correction).

    Returns:
        The quantized model.
    """
    fi = _FullInteger(model, activation_params_by_tensor, bits, io_type, per_channel,
                      per_channel_fully_connected, keep_float, input_means, frozenset(fixed),
                      int16_layers, fixed_range_outputs, weight_cache)
    result = fi.run()
    if report is not None:
        report.extend(fi.float_ops)
    if widened is not None:
        widened.extend(fi.widened)
    if int16_report is not None:
        int16_report.extend(fi.int16_ops)
    return result
