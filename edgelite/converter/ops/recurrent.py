"""RNN, GRU and LSTM with a static sequence length, unrolled into TFLite builtins.

Each time step of each direction becomes a handful of builtins: one
``FULLY_CONNECTED`` per gate for ``x_t W^T`` and one for ``h_{t-1} R^T`` (weights
``[hidden, in]`` are exactly ONNX's ``W``/``R`` rows, so run-time weights work too),
``ADD`` for the biases, the gate activations (``LOGISTIC``, ``TANH``, ``RELU``... or
their decompositions) and ``MUL``/``SUB``/``ADD`` for the state updates. The per-step
states are put together into ``Y``/``Y_h``/``Y_c`` with ``RESHAPE`` and
``CONCATENATION``. Gate order follows the spec: RNN ``i``; GRU ``z r h``; LSTM
``i o f c`` (peepholes ``i o f``).

Supported: every direction (forward/reverse/bidirectional), ``layout`` 0 and 1,
``activations`` with their ``activation_alpha``/``activation_beta``, ``clip``,
``initial_h``/``initial_c``, GRU ``linear_before_reset``, LSTM ``input_forget`` and
peepholes. ``sequence_lens`` is accepted when it is constant and every entry equals
the sequence length, or, for the forward direction, at run time: a step past a
batch entry's length keeps that entry's state and writes zeros to ``Y`` (a
``SELECT_V2`` on ``t < sequence_lens``).

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> all(registry.key(t) in registry.CONVERTERS for t in ("RNN", "GRU", "LSTM"))
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter, _options
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
# Activations that read (alpha, beta) from activation_alpha/beta, with ONNX's defaults.
_PARAMS = {
    "leakyrelu": (0.01, None),
    "thresholdedrelu": (1.0, None),
    "elu": (1.0, None),
    "affine": (1.0, 0.0),
    "scaledtanh": (1.0, 1.0),
    "hardsigmoid": (0.2, 0.5),
}
_PLAIN = {"tanh", "sigmoid", "relu", "softsign", "softplus"}


def _num_dirs(node) -> int:
    return 2 if node.attrs.get("direction", "forward") == "bidirectional" else 1


def _activations(node) -> list[tuple[str, float | None, float | None]]:
    """``(name, alpha, beta)`` per activation, forward's first; alphas consumed in order."""
    nd = _num_dirs(node)
    names = [str(a) for a in node.attrs.get("activations", [])] or _DEFAULT_ACTS[node.op_type] * nd
    alphas = list(node.attrs.get("activation_alpha", []))
    betas = list(node.attrs.get("activation_beta", []))
    out = []
    for name in names:
        key = name.lower()
        alpha = beta = None
        if key in _PARAMS:
            da, db = _PARAMS[key]
            alpha = float(alphas.pop(0)) if alphas else da
            if db is not None:
                beta = float(betas.pop(0)) if betas else db
        out.append((key, alpha, beta))
    return out


def _apply(e: Emitter, act, x):
    """One ONNX RNN activation function of ``x`` in builtins."""
    name, alpha, beta = act
    if name == "tanh":
        return e.unary("TANH", x)
    if name == "sigmoid":
        return e.unary("LOGISTIC", x)
    if name == "relu":
        return e.unary("RELU", x)
    if name == "leakyrelu":
        y = e._tmp("leaky_relu", x.shape, x.dtype, None)
        e.out.emit("LEAKY_RELU", [x], [y], _options("LeakyReluOptions", alpha=alpha))
        return y
    if name == "softsign":
        return e.div(x, e.add(e.unary("ABS", x), e.scalar(1.0, x.dtype)))
    if name == "softplus":
        return e.unary("LOG", e.add(e.unary("EXP", x), e.scalar(1.0, x.dtype)))
    if name == "affine":
        return e.add(e.mul(x, e.scalar(alpha, x.dtype)), e.scalar(beta, x.dtype))
    if name == "scaledtanh":
        return e.mul(e.unary("TANH", e.mul(x, e.scalar(beta, x.dtype))), e.scalar(alpha, x.dtype))
    if name == "hardsigmoid":
        y = e.add(e.mul(x, e.scalar(alpha, x.dtype)), e.scalar(beta, x.dtype))
        return e.binary("MINIMUM", e.binary("MAXIMUM", y, e.scalar(0.0, x.dtype)), e.scalar(1.0, x.dtype))
    if name == "thresholdedrelu":
        keep = e.binary("GREATER", x, e.scalar(alpha, x.dtype))
        return e.select(keep, x, e.scalar(0.0, x.dtype))
    if name == "elu":
        neg = e.mul(e.sub(e.unary("EXP", x), e.scalar(1.0, x.dtype)), e.scalar(alpha, x.dtype))
        return e.select(e.binary("GREATER", x, e.scalar(0.0, x.dtype)), x, neg)
    raise ValueError(f"activation {name!r}")  # unreachable: check() refuses it


class _Recurrent(OpConverter):
    """Shared checks, weight slicing and output assembly of RNN/GRU/LSTM."""

    def check(self, node):
        x = node.inputs[0]
        if x.dtype is not None and x.dtype != _F32:
            return f"{x.dtype} input (float32 only)"
        if x.shape is None or len(x.shape) != 3:
            return "input without a static 3-D shape"
        for i in (1, 2):
            if node.input(i) is None or node.input(i).shape is None:
                return f"input {i} without a static shape"
        if node.attrs.get("direction", "forward") not in ("forward", "reverse", "bidirectional"):
            return f"direction={node.attrs.get('direction')!r}"
        acts = _activations(node)
        per_dir = len(_DEFAULT_ACTS[node.op_type])
        if len(acts) != per_dir * _num_dirs(node):
            return f"{len(acts)} activations (expected {per_dir * _num_dirs(node)})"
        bad = [a for a, _, _ in acts if a not in _PARAMS and a not in _PLAIN]
        if bad:
            return f"activation(s) {bad}"
        return self._check_lens(node)

    def _check_lens(self, node):
        lens = node.input(4)
        if lens is None:
            return None
        seq = node.inputs[0].shape[1 if node.attrs.get("layout", 0) else 0]
        if lens.is_constant:
            if np.all(np.asarray(lens.data) == seq):
                return None
            return "sequence_lens that differ from the sequence length (a static unroll needs them all equal)"
        if node.attrs.get("direction", "forward") != "forward":
            return "run-time sequence_lens with a reverse direction"
        return None

    # -- helpers --------------------------------------------------------------------------

    def _rows(self, e: Emitter, v, d: int, lo: int, n: int):
        """``v[d, lo:lo+n, ...]`` without its leading axis (a constant when ``v`` is one)."""
        if v.is_constant:
            return e.const(np.ascontiguousarray(np.asarray(v.data, _F32)[d, lo : lo + n]), tag="w")
        shape = list(v.shape)
        part = e.slice(v, [d, lo] + [0] * (len(shape) - 2), [1, n] + shape[2:])
        return e.reshape(part, [n] + shape[2:])

    def _fc(self, e: Emitter, x, w, rows: int):
        from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT

        y = e._tmp("fc", (rows, w.shape[0]), _F32, None)
        e.out.emit("FULLY_CONNECTED", [x, w, None], [y], FullyConnectedOptionsT())
        return y

    def _state(self, e: Emitter, v, d: int, batch: int, hidden: int, layout: int):
        """Initial state of direction ``d`` as ``[batch, hidden]`` (zeros when omitted)."""
        if v is None:
            return e.const(np.zeros((batch, hidden), _F32), tag="zeros")
        if v.is_constant:
            a = np.asarray(v.data, _F32)
            return e.const(np.ascontiguousarray(a[:, d] if layout else a[d]), tag="h0")
        if layout:
            return e.reshape(e.slice(v, [0, d, 0], [batch, 1, hidden]), (batch, hidden))
        return e.reshape(e.slice(v, [d, 0, 0], [1, batch, hidden]), (batch, hidden))

    def _clip(self, e: Emitter, node, x):
        clip = node.attrs.get("clip")
        if clip is None:
            return x
        c = float(clip)
        return e.binary("MINIMUM", e.binary("MAXIMUM", x, e.scalar(-c, _F32)), e.scalar(c, _F32))

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x = node.inputs[0]
        layout = int(node.attrs.get("layout", 0))
        seq, batch = (x.shape[1], x.shape[0]) if layout else (x.shape[0], x.shape[1])
        hidden = int(node.attrs["hidden_size"]) if "hidden_size" in node.attrs else node.inputs[2].shape[-1]
        nd = _num_dirs(node)
        direction = node.attrs.get("direction", "forward")
        acts = _activations(node)
        per_dir = len(acts) // nd
        lens = node.input(4)
        mask_lens = lens if lens is not None and not lens.is_constant else None
        if mask_lens is not None and mask_lens.dtype != np.dtype(np.int32):
            mask_lens = e.cast(mask_lens, np.int32)
        steps_x = []
        for t in range(seq):
            begin = [0, t, 0] if layout else [t, 0, 0]
            size = [batch, 1, x.shape[2]] if layout else [1, batch, x.shape[2]]
            steps_x.append(e.slice(x, begin, size))
        ys: list[list] = []  # per direction, per time index: h [batch, hidden]
        finals_h, finals_c = [], []
        for d in range(nd):
            reverse = direction == "reverse" or d == 1
            cell = self._cell_factory(e, node, d, hidden, batch, acts[d * per_dir : (d + 1) * per_dir])
            h = self._state(e, node.input(5), d, batch, hidden, layout)
            c = self._state(e, node.input(6), d, batch, hidden, layout) if node.op_type == "LSTM" else None
            per_t = [None] * seq
            for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
                h_new, c_new = cell(steps_x[t], h, c)
                if mask_lens is not None:
                    live = e.reshape(e.binary("LESS", e.const(np.array(t, np.int32), tag="t"), mask_lens), (batch, 1))
                    per_t[t] = e.select(live, h_new, e.scalar(0.0, _F32))
                    h_new = e.select(live, h_new, h)
                    if c_new is not None:
                        c_new = e.select(live, c_new, c)
                else:
                    per_t[t] = h_new
                h, c = h_new, c_new
            ys.append(per_t)
            finals_h.append(h)
            finals_c.append(c)
        self._write_outputs(e, node, layout, seq, batch, hidden, nd, ys, finals_h, finals_c)

    def _write_outputs(self, e, node, layout, seq, batch, hidden, nd, ys, finals_h, finals_c):
        readers = e.out.graph.consumers() if e.out.graph is not None else None

        def wanted(i):
            o = node.outputs[i] if i < len(node.outputs) else None
            if o is None or o.shape is None:
                return None
            if readers is None or id(o) in readers or e.out.graph.is_output(o):
                return o
            return None

        y = wanted(0)
        if y is not None:
            if layout:
                parts = [e.reshape(ys[d][t], (batch, 1, hidden)) for t in range(seq) for d in range(nd)]
                flat = parts[0] if len(parts) == 1 else e.concat(parts, 1)
            else:
                parts = [e.reshape(ys[d][t], (1, batch, hidden)) for t in range(seq) for d in range(nd)]
                flat = parts[0] if len(parts) == 1 else e.concat(parts, 0)
            e.reshape(flat, None, y=y)
        for i, finals in ((1, finals_h), (2, finals_c)):
            o = wanted(i)
            if o is None or finals[0] is None:
                continue
            if layout:
                parts = [e.reshape(f, (batch, 1, hidden)) for f in finals]
                flat = parts[0] if nd == 1 else e.concat(parts, 1)
            else:
                parts = [e.reshape(f, (1, batch, hidden)) for f in finals]
                flat = parts[0] if nd == 1 else e.concat(parts, 0)
            e.reshape(flat, None, y=o)

    # -- per-op cell ----------------------------------------------------------------------

    def _gate_params(self, e, node, d, hidden):
        """Per gate: (W_g [H, I], R_g [H, H], Wb_g, Rb_g) with biases as [H] values or None."""
        g_count = _GATES[node.op_type]
        w, r, b = node.inputs[1], node.inputs[2], node.input(3)
        out = []
        for g in range(g_count):
            wg = self._rows(e, w, d, g * hidden, hidden)
            rg = self._rows(e, r, d, g * hidden, hidden)
            wb = rb = None
            if b is not None:
                wb = self._rows(e, b, d, g * hidden, hidden)
                rb = self._rows(e, b, d, (g_count + g) * hidden, hidden)
            out.append((wg, rg, wb, rb))
        return out

    def _bias_sum(self, e, wb, rb):
        if wb is None:
            return None
        if wb.is_constant and rb.is_constant:
            return e.const(np.asarray(wb.data, _F32) + np.asarray(rb.data, _F32), tag="bias")
        return e.add(wb, rb)

    def _cell_factory(self, e, node, d, hidden, batch, acts):
        raise NotImplementedError


@register("RNN")
class RNN(_Recurrent):
    """``H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)``."""

    def _cell_factory(self, e, node, d, hidden, batch, acts):
        ((w, r, wb, rb),) = self._gate_params(e, node, d, hidden)
        bias = self._bias_sum(e, wb, rb)

        def cell(xt, h, c):
            z = e.add(self._fc(e, xt, w, batch), self._fc(e, h, r, batch))
            if bias is not None:
                z = e.add(z, bias)
            return _apply(e, acts[0], self._clip(e, node, z)), None

        return cell


@register("GRU")
class GRU(_Recurrent):
    """Gates ``z r h``; ``linear_before_reset`` moves ``r`` outside the recurrent product."""

    def _cell_factory(self, e, node, d, hidden, batch, acts):
        (wz, rz, wbz, rbz), (wr, rr, wbr, rbr), (wh, rh, wbh, rbh) = self._gate_params(e, node, d, hidden)
        bz, br = self._bias_sum(e, wbz, rbz), self._bias_sum(e, wbr, rbr)
        lbr = bool(node.attrs.get("linear_before_reset", 0))
        bh = None if lbr else self._bias_sum(e, wbh, rbh)
        f, g = acts

        def gate(xt, h, w, r, bias):
            s = e.add(self._fc(e, xt, w, batch), self._fc(e, h, r, batch))
            return s if bias is None else e.add(s, bias)

        def cell(xt, h, c):
            z = _apply(e, f, self._clip(e, node, gate(xt, h, wz, rz, bz)))
            r = _apply(e, f, self._clip(e, node, gate(xt, h, wr, rr, br)))
            if lbr:
                rec = self._fc(e, h, rh, batch)
                if rbh is not None:
                    rec = e.add(rec, rbh)
                pre = e.add(self._fc(e, xt, wh, batch), e.mul(r, rec))
                if wbh is not None:
                    pre = e.add(pre, wbh)
            else:
                pre = gate(xt, e.mul(r, h), wh, rh, bh)
            hh = _apply(e, g, self._clip(e, node, pre))
            # H = (1 - z) * hh + z * H_prev = hh + z * (H_prev - hh)
            return e.add(hh, e.mul(z, e.sub(h, hh))), None

        return cell


@register("LSTM")
class LSTM(_Recurrent):
    """Gates ``i o f c`` with optional peepholes ``P = [Pi, Po, Pf]`` and ``input_forget``."""

    def check(self, node):
        reason = super().check(node)
        if reason is None and node.input(7) is not None and node.input(7).shape is None:
            return "peepholes without a static shape"
        return reason

    def _cell_factory(self, e, node, d, hidden, batch, acts):
        (wi, ri, wbi, rbi), (wo, ro, wbo, rbo), (wf, rf, wbf, rbf), (wc, rc, wbc, rbc) = self._gate_params(
            e, node, d, hidden
        )
        bi, bo, bf, bc = (self._bias_sum(e, *p) for p in ((wbi, rbi), (wbo, rbo), (wbf, rbf), (wbc, rbc)))
        p = node.input(7)
        pi = po = pf = None
        if p is not None:
            pi, po, pf = (self._rows(e, p, d, k * hidden, hidden) for k in range(3))
        couple = bool(node.attrs.get("input_forget", 0))
        f, g, hact = acts

        def pre(xt, h, w, r, bias):
            s = e.add(self._fc(e, xt, w, batch), self._fc(e, h, r, batch))
            return s if bias is None else e.add(s, bias)

        def cell(xt, h, c):
            si = pre(xt, h, wi, ri, bi)
            if pi is not None:
                si = e.add(si, e.mul(pi, c))
            i = _apply(e, f, self._clip(e, node, si))
            if couple:
                fg = e.sub(e.scalar(1.0, _F32), i)
            else:
                sf = pre(xt, h, wf, rf, bf)
                if pf is not None:
                    sf = e.add(sf, e.mul(pf, c))
                fg = _apply(e, f, self._clip(e, node, sf))
            cc = _apply(e, g, self._clip(e, node, pre(xt, h, wc, rc, bc)))
            c_new = e.add(e.mul(fg, c), e.mul(i, cc))
            so = pre(xt, h, wo, ro, bo)
            if po is not None:
                so = e.add(so, e.mul(po, c_new))
            o = _apply(e, f, self._clip(e, node, so))
            return e.mul(o, _apply(e, hact, c_new)), c_new

        return cell
