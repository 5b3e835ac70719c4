"""ONNX ``Attention`` (opsets 23-25) and ``RotaryEmbedding`` decomposed into TFLite builtins.

Data flow, as in ONNX's definition:

1. 3-D ``Q/K/V [B, S, heads * size]`` are split into heads: ``RESHAPE`` + ``TRANSPOSE``
   to ``[B, heads, S, size]``;
2. ``past_key``/``past_value`` are prepended along the sequence (``CONCATENATION``),
   giving the ``present_*`` outputs;
3. scores ``(Q * sqrt(scale)) @ (K * sqrt(scale))^T`` (``BATCH_MATMUL`` with ``adjY``);
   grouped-query attention reshapes ``Q`` to ``[B, kv_heads, group * Sq, size]`` so each
   key/value head serves its group of query heads without copying it;
4. ``softcap``: ``tanh(s / cap) * cap``;
5. an additive bias: the mask (boolean masks become ``0``/``-inf`` with ``SELECT_V2``,
   a short mask is padded with ``-inf``), the causal and sliding-window constraints
   (constants, or ``nonpad_kv_seqlen`` comparisons for per-batch frontiers);
6. ``SOFTMAX`` on the last axis; rows whose bias is ``-inf`` everywhere give 0
   (``REDUCE_MAX`` + ``EQUAL`` + ``SELECT_V2``), as ONNX's fully-masked-row rule;
7. ``probs @ V``, merged back to ``[B, Sq, heads * v_size]`` for 3-D inputs.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("Attention") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)
_NEG_INF = np.float32(-np.inf)


def _split_heads(e: Emitter, x, heads: int):
    """``[B, S, heads * size]`` -> ``[B, heads, S, size]``."""
    b, s, hidden = x.shape
    return e.transpose(e.reshape(x, (b, s, heads, hidden // heads)), (0, 2, 1, 3))


def _static_allowed(node, sq: int, skv: int, offset: int) -> np.ndarray | None:
    """Causal and sliding-window constraints with a scalar frontier offset: bool [Sq, Skv]."""
    i = np.arange(sq).reshape(sq, 1)
    j = np.arange(skv).reshape(1, skv)
    allowed = np.ones((sq, skv), bool)
    used = False
    if int(node.attrs.get("is_causal", 0)):
        allowed &= j <= i + offset
        used = True
    left, right = int(node.attrs.get("left_window_size", -1)), int(node.attrs.get("right_window_size", -1))
    diff = (i + offset) - j
    if left >= 0:
        allowed &= diff <= left
        used = True
    if right >= 0:
        allowed &= -diff <= right
        used = True
    return allowed if used else None


def _per_batch_allowed(e: Emitter, node, nonpad, sq: int, skv: int):
    """Allowed keys from ``nonpad_kv_seqlen`` [B]: padding beyond each batch's length, and
    causal / window frontiers at ``offset[b] = nonpad[b] - Sq``; bool [B, 1, Sq, Skv]."""
    b = nonpad.shape[0]
    n = e.reshape(e.cast(nonpad, np.int32), (b, 1, 1, 1))
    i = np.arange(sq).reshape(1, 1, sq, 1)
    j = np.arange(skv).reshape(1, 1, 1, skv)
    # Padding: key j is valid iff j < nonpad[b].
    allowed = e.binary("LESS", e.const((j + 0 * i).astype(np.int32), tag="key_index"), n)
    # With p = i + nonpad[b] - Sq (the query's absolute position) and d = p - j:
    # causal  j <= p      <=>  j - i + Sq <= nonpad[b]
    # left    d <= left   <=>  nonpad[b] <= left + j - i + Sq
    # right   -d <= right <=>  j - i + Sq - right <= nonpad[b]
    rel = (j - i + sq).astype(np.int32)
    if int(node.attrs.get("is_causal", 0)):
        allowed = e.binary("LOGICAL_AND", allowed, e.binary("LESS_EQUAL", e.const(rel, tag="causal"), n))
    left, right = int(node.attrs.get("left_window_size", -1)), int(node.attrs.get("right_window_size", -1))
    if left >= 0:
        allowed = e.binary("LOGICAL_AND", allowed, e.binary("LESS_EQUAL", n, e.const(rel + left, tag="left")))
    if right >= 0:
        allowed = e.binary("LOGICAL_AND", allowed, e.binary("LESS_EQUAL", e.const(rel - right, tag="right"), n))
    return allowed


@register("Attention")
class Attention(OpConverter):
    def check(self, node):
        q, k, v = node.inputs[:3]
        for t in (q, k, v):
            if t.dtype is not None and t.dtype != _F32:
                return f"{t.dtype} inputs (float32 only)"
        if q.shape is None or len(q.shape) not in (3, 4):
            return "Q must be 3-D or 4-D"
        if len(q.shape) == 3 and not ("q_num_heads" in node.attrs and "kv_num_heads" in node.attrs):
            return "3-D inputs without q_num_heads/kv_num_heads"
        mask = node.input(3)
        if mask is not None and mask.dtype not in (_F32, np.dtype(np.bool_)):
            return f"{mask.dtype} attn_mask"
        if node.input(6) is not None and node.input(4) is not None:
            return "nonpad_kv_seqlen together with past_key"
        hq, hkv = self._heads(node)
        if hkv == 0 or hq % hkv:
            return f"{hq} query heads cannot share {hkv} key/value heads"
        self._fill_output_shapes(node, hq, hkv)
        return None

    @staticmethod
    def _fill_output_shapes(node, hq, hkv):
        """Shapes of outputs ONNX inference leaves open (an unnamed output before a named one)."""
        q, k, v = node.inputs[:3]
        b, sq = q.shape[0], q.shape[1] if len(q.shape) == 3 else q.shape[2]
        if len(q.shape) == 3:
            dk, dv, skv = k.shape[2] // hkv, v.shape[2] // hkv, k.shape[1]
        else:
            dk, dv, skv = k.shape[3], v.shape[3], k.shape[2]
        past = node.input(4)
        total = skv + (past.shape[2] if past is not None else 0)
        shapes = [None, (b, hkv, total, dk), (b, hkv, total, dv), (b, hq, sq, total)]
        for o, shape in zip(node.outputs, shapes):
            if o.shape is None and shape is not None:
                o.shape, o.dtype = tuple(int(d) for d in shape), q.dtype

    @staticmethod
    def _heads(node):
        q, k = node.inputs[0], node.inputs[1]
        if len(q.shape) == 3:
            return int(node.attrs["q_num_heads"]), int(node.attrs["kv_num_heads"])
        return int(q.shape[1]), int(k.shape[1])

    def lower(self, node, out):
        e = Emitter(out, node.name)
        q, k, v = node.inputs[:3]
        mask, past_k, past_v, nonpad = node.input(3), node.input(4), node.input(5), node.input(6)
        outs = list(node.outputs) + [None] * (4 - len(node.outputs))
        y, present_k, present_v, qk_out = outs[:4]
        hq, hkv = self._heads(node)
        three_d = len(q.shape) == 3
        if three_d:
            q, k, v = _split_heads(e, q, hq), _split_heads(e, k, hkv), _split_heads(e, v, hkv)
        b, _, sq, d = q.shape
        if past_k is not None:
            k = e.concat([past_k, k], 2, y=present_k)
            v = e.concat([past_v, v], 2, y=present_v)
        else:
            if present_k is not None:
                e.reshape(k, None, y=present_k)
            if present_v is not None:
                e.reshape(v, None, y=present_v)
        skv = int(k.shape[2])
        scale = node.attrs.get("scale")
        root = np.float32(np.sqrt(1.0 / np.sqrt(d) if scale is None else float(scale)))
        qs, ks = e.mul(q, e.scalar(root, _F32)), e.mul(k, e.scalar(root, _F32))
        group = hq // hkv
        if group > 1:  # query head h uses key/value head h // group
            qs = e.reshape(qs, (b, hkv, group * sq, d))
        scores = e.matmul(qs, ks, adj_b=True)
        scores = e.reshape(scores, (b, hq, sq, skv))
        cap = float(node.attrs.get("softcap", 0.0) or 0.0)
        if cap > 0:
            c = e.scalar(cap, _F32)
            scores = e.mul(e.unary("TANH", e.div(scores, c)), c)
        mode = int(node.attrs.get("qk_matmul_output_mode", 0))
        bias, maybe_empty_rows = self._bias(e, node, mask, past_k, nonpad, b, sq, skv)
        biased = scores if bias is None else e.add(scores, bias)
        if qk_out is not None and mode in (0, 1):
            e.reshape(scores, None, y=qk_out)
        elif qk_out is not None and mode == 2:
            # Where the bias is -inf the sum is -inf (LiteRT's ADD would clamp it to -FLT_MAX).
            masked = e.binary("EQUAL", bias, e.scalar(_NEG_INF, _F32))
            e.select(masked, e.scalar(_NEG_INF, _F32), biased, y=qk_out)
        probs = e.softmax(biased)
        if maybe_empty_rows:
            rowmax = e.reduce("REDUCE_MAX", bias, [len(bias.shape) - 1], keep=True)
            empty = e.binary("EQUAL", rowmax, e.scalar(_NEG_INF, _F32))
            probs = e.select(empty, e.scalar(0.0, _F32), probs)
        if qk_out is not None and mode == 3:
            e.reshape(probs, None, y=qk_out)
        dv = int(v.shape[3])
        if group > 1:
            probs = e.reshape(probs, (b, hkv, group * sq, skv))
        if three_d:
            ctx = e.reshape(e.matmul(probs, v), (b, hq, sq, dv))
            e.reshape(e.transpose(ctx, (0, 2, 1, 3)), None, y=y)
        elif group > 1:
            e.reshape(e.matmul(probs, v), None, y=y)
        else:
            e.matmul(probs, v, y=y)

    @staticmethod
    def _bias(e: Emitter, node, mask, past_k, nonpad, b, sq, skv):
        """(additive bias broadcastable to [B, H, Sq, Skv] or None, whether a row can be all -inf).

        Terms are combined with ``SELECT_V2``, not ``ADD``: LiteRT's float ``ADD`` clamps its
        result to the float range, which would turn ``-inf`` into ``-FLT_MAX``.
        """
        zero, neg = e.scalar(0.0, _F32), e.scalar(_NEG_INF, _F32)
        m = None
        if mask is not None:
            m = mask
            if m.dtype == np.dtype(np.bool_):
                m = e.select(m, zero, neg)
            pad = skv - int(m.shape[-1])
            if pad > 0:
                block = np.full(tuple(m.shape[:-1]) + (pad,), _NEG_INF, np.float32)
                m = e.concat([m, e.const(block, tag="mask_pad")], len(m.shape) - 1)
        maybe_empty = m is not None
        if nonpad is not None:
            allowed = _per_batch_allowed(e, node, nonpad, sq, skv)
            maybe_empty = True
        else:
            offset = int(past_k.shape[2]) if past_k is not None else 0
            static = _static_allowed(node, sq, skv, offset)
            if static is None:
                return m, maybe_empty
            maybe_empty = maybe_empty or not bool(static.any(axis=-1).all())
            if m is None:
                return e.const(np.where(static, np.float32(0), _NEG_INF).astype(np.float32), tag="bias"), maybe_empty
            allowed = e.const(static, tag="allowed")
        return e.select(allowed, zero if m is None else m, neg), maybe_empty


@register("RotaryEmbedding")
class RotaryEmbedding(OpConverter):
    """Rotate pairs of the first ``rotary_embedding_dim`` features of each head:
    ``(x1, x2) -> (cos*x1 - sin*x2, sin*x1 + cos*x2)``, with ``x1``/``x2`` the two halves
    (or, ``interleaved``, the even and odd features, brought together by a ``GATHER``);
    ``cos``/``sin`` rows are picked by ``position_ids`` when given."""

    def check(self, node):
        x = node.inputs[0]
        if x.dtype is not None and x.dtype != _F32:
            return f"{x.dtype} input (float32 only)"
        if x.shape is None or len(x.shape) not in (3, 4):
            return "input must be 3-D or 4-D"
        if len(x.shape) == 3 and not node.attrs.get("num_heads"):
            return "3-D input without num_heads"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x, cos, sin, pos = node.inputs[0], node.inputs[1], node.inputs[2], node.input(3)
        y = node.outputs[0]
        if len(x.shape) == 3:  # [B, S, heads * D] -> [B, S, heads, D]; caches [B, S, 1, half]
            b, s, hidden = x.shape
            heads = int(node.attrs["num_heads"])
            x = e.reshape(x, (b, s, heads, hidden // heads))
            cache_shape = (b, s, 1)
        else:  # [B, heads, S, D]; caches [B, 1, S, half]
            b, _, s, _ = x.shape
            cache_shape = (b, 1, s)
        d = int(x.shape[3])
        rd = int(node.attrs.get("rotary_embedding_dim", 0) or d)
        half = rd // 2
        if pos is not None:
            cos, sin = e.gather(cos, pos, 0), e.gather(sin, pos, 0)
        cos, sin = e.reshape(cos, cache_shape + (half,)), e.reshape(sin, cache_shape + (half,))
        rot = e.slice(x, [0, 0, 0, 0], [-1, -1, -1, rd])
        interleaved = bool(node.attrs.get("interleaved", 0))
        if interleaved:  # even features first, then odd ones
            order = np.concatenate([np.arange(0, rd, 2), np.arange(1, rd, 2)]).astype(np.int32)
            rot = e.gather(rot, e.const(order, tag="deinterleave"), 3)
        x1 = e.slice(rot, [0, 0, 0, 0], [-1, -1, -1, half])
        x2 = e.slice(rot, [0, 0, 0, half], [-1, -1, -1, half])
        real = e.sub(e.mul(cos, x1), e.mul(sin, x2))
        imag = e.add(e.mul(sin, x1), e.mul(cos, x2))
        rotated = e.concat([real, imag], 3)
        if interleaved:
            inverse = np.argsort(order).astype(np.int32)
            rotated = e.gather(rotated, e.const(inverse, tag="interleave"), 3)
        if rd < d:
            rotated = e.concat([rotated, e.slice(x, [0, 0, 0, rd], [-1, -1, -1, d - rd])], 3)
        e.reshape(rotated, None, y=y)
