"""ai.onnx.ml ``TreeEnsemble`` with constant trees, evaluated as the ONNX reference does.

The trees are unrolled at conversion exactly as the reference builds them (its
recursive ``build_node``: root, true branch, false branch; a shared node is built once
per path, and the set-membership values are read in that order). Every built node and
leaf becomes one row of constant tables; a leaf loops to itself. The graph then walks
all samples through all trees at once, one step per tree level::

    cur[n, t]  = root row of tree t
    repeat depth times:
        x      = GATHER(X, feature[cur], batch_dims=1)
        cond   = x <mode[cur]> split[cur]   (one comparison per mode used, picked by SELECT_V2)
        cond   = isnan(x) ? nan_true[cur] : cond
        cur    = SELECT_V2(cond, true_row[cur], false_row[cur])

Comparisons are exact in the input's dtype, as the reference's (a float32 value and a
float32 split compare exactly in Python). float64 ``X`` is compared through an
order-preserving int64 key of its bits (``BITCAST``; negative values mapped to
``INT64_MIN - bits``, so -0 and +0 share key 0), since LiteRT has no float64 kernels.
A NaN ``x`` takes ``missing_value_tracks_true`` or, for ``NEQ``, true (``nan != v``);
a NaN split makes the comparison false (``NEQ``: true), encoded as ``x < -inf`` /
``x >= -inf``. Set membership is ``REDUCE_ANY(EQUAL)`` against a NaN-padded row of the
node's members (``x in set`` is ``==`` on floats).

Aggregation follows the reference's order (tree by tree, float64 weights rounded into
a result of ``X``'s dtype):

* SUM: ``acc += w`` per tree; float32 adds of float32 values give the float64 sum
  rounded once (24 bits: the double rounding is harmless), so it is a chain of ADDs
  from 0 over a per-leaf row holding ``w`` at its target and 0 elsewhere.
* AVERAGE: ``acc += w / n_trees``; exact as above only where every ``w / n_trees`` is a
  float32 value (checked per leaf; otherwise refused).
* MIN / MAX: Python's ``min(acc, w)``, i.e. ``w`` only where ``w < acc`` (NaN never),
  as ``SELECT_V2(LESS(w, acc), w, acc)``; the other targets' rows hold NaN.
* float64: one tree only (no float64 adds); each leaf's row of results is computed at
  conversion in float64 as the reference computes it, then gathered as int64 bits.

Refused: ``post_transform`` other than NONE (the reference ignores it, the spec applies
it), a membership value of 0 (the reference's parser ends a set there), target ids
outside ``[0, n_targets)``, a cyclic or very deep tree, dtypes other than float32/float64.

Example:
    >>> from edgelite.converter.ops.registry import CONVERTERS
    >>> "ai.onnx.ml::TreeEnsemble" in CONVERTERS
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.registry import OpConverter, register

_F32, _F64, _I32, _I64 = (np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER = range(7)
AVERAGE, SUM, MIN, MAX = range(4)
_MAX_ROWS = 1 << 16
_MAX_DEPTH = 64
_MAX_TREES = 512
_CMP = {LEQ: "LESS_EQUAL", LT: "LESS", GTE: "GREATER_EQUAL", GT: "GREATER", EQ: "EQUAL", NEQ: "NOT_EQUAL"}


class _Refuse(Exception):
    """A reason the ensemble cannot be converted (turned into ``check``'s answer)."""


@dataclass
class _Tables:
    """One row per built node or leaf; leaves loop to themselves."""

    feature: list = field(default_factory=list)
    mode: list = field(default_factory=list)
    split: list = field(default_factory=list)
    nan_true: list = field(default_factory=list)
    true_row: list = field(default_factory=list)
    false_row: list = field(default_factory=list)
    members: list = field(default_factory=list)  # per row: tuple of member values (MEMBER rows)
    leaf: list = field(default_factory=list)  # per row: (weight, target) or None
    roots: list = field(default_factory=list)
    depth: int = 0

    def add(self, **kw) -> int:
        row = len(self.feature)
        if row >= _MAX_ROWS:
            raise _Refuse(f"more than {_MAX_ROWS} unrolled tree nodes")
        self.feature.append(kw.get("feature", 0))
        self.mode.append(kw.get("mode", LT))
        self.split.append(kw.get("split", -np.inf))
        self.nan_true.append(kw.get("nan_true", False))
        self.true_row.append(row)
        self.false_row.append(row)
        self.members.append(kw.get("members", ()))
        self.leaf.append(kw.get("leaf"))
        return row


def _build(a: dict, n_features: int) -> _Tables:
    """The reference's ``build_node`` recursion, unrolled into rows."""
    modes = [int(m) for m in np.asarray(a["nodes_modes"]).ravel()]
    splits = np.asarray(a["nodes_splits"]).ravel()
    feats = [int(f) for f in a["nodes_featureids"]]
    t_ids, f_ids = [int(i) for i in a["nodes_truenodeids"]], [int(i) for i in a["nodes_falsenodeids"]]
    t_leaf, f_leaf = [int(i) for i in a["nodes_trueleafs"]], [int(i) for i in a["nodes_falseleafs"]]
    weights = np.asarray(a["leaf_weights"]).ravel()
    targets = [int(t) for t in a["leaf_targetids"]]
    mtt = a.get("nodes_missing_value_tracks_true")
    mtt = [bool(v) for v in mtt] if mtt is not None else [False] * len(modes)
    mv = a.get("membership_values")
    n_targets = int(a["n_targets"])
    if mv is None:
        if MEMBER in modes:
            raise _Refuse("set membership nodes without membership_values (the reference raises)")
        members_iter = iter(())
    else:
        mv = np.asarray(mv).ravel()
        if int(np.isnan(mv).sum()) != modes.count(MEMBER):
            raise _Refuse("membership_values do not hold one NaN-ended set per membership node (the reference raises)")
        members_iter = iter(mv)
    tb = _Tables()

    def leaf(i: int, depth: int) -> int:
        if not 0 <= i < len(weights) or not 0 <= i < len(targets):
            raise _Refuse(f"leaf index {i} out of range")
        if not 0 <= targets[i] < n_targets:
            raise _Refuse(f"leaf target id {targets[i]} outside [0, n_targets={n_targets})")
        tb.depth = max(tb.depth, depth)
        return tb.add(leaf=(weights[i], targets[i]))

    def node(i: int, is_leaf: bool, depth: int) -> int:
        if is_leaf:
            return leaf(i, depth)
        if depth >= _MAX_DEPTH:
            raise _Refuse(f"a tree deeper than {_MAX_DEPTH} levels (or a cycle)")
        if not 0 <= i < len(modes):
            raise _Refuse(f"node index {i} out of range")
        mode, f, split, members = modes[i], feats[i], splits[i], ()
        if not 0 <= f < n_features:
            raise _Refuse(f"feature id {f} outside X's {n_features} features")
        if mode not in range(7):
            raise _Refuse(f"node mode {mode}")
        nan_true = mtt[i] or mode == NEQ  # a NaN x: `nan != v` holds, every other test fails
        if mode == MEMBER:
            got = []
            while True:
                try:
                    m = next(members_iter)
                except StopIteration:
                    raise _Refuse("membership_values run out (the reference raises)") from None
                if np.isnan(m):
                    break
                if m == 0:
                    raise _Refuse("a membership value of 0 (the reference's parser ends the set there, "
                                  "the spec does not)")
                got.append(m)
            members = tuple(got)
        elif np.isnan(split):  # every test false for a NaN split but NEQ: x < -inf / x >= -inf
            mode, split = (GTE if mode == NEQ else LT), -np.inf
        row = tb.add(feature=f, mode=mode, split=split, nan_true=nan_true, members=members)
        tb.true_row[row] = node(t_ids[i], bool(t_leaf[i]), depth + 1)
        tb.false_row[row] = node(f_ids[i], bool(f_leaf[i]), depth + 1)
        return row

    for r in a["tree_roots"]:
        r = int(r)
        if not 0 <= r < len(modes):
            raise _Refuse(f"tree root {r} out of range")
        degenerate = t_leaf[r] and f_leaf[r] and t_ids[r] == f_ids[r]
        tb.roots.append(node(r, bool(degenerate), 0))
    return tb


def _key64(e: Emitter, bits):
    """An int64 key of float64 bits ordered as the floats (NaN keys lie outside [key(-inf), key(inf)])."""
    neg = e.binary("LESS", bits, e.scalar(0, _I64))
    flipped = e.sub(e.scalar(np.iinfo(np.int64).min, _I64), bits)
    return e.select(neg, flipped, bits)


def _const_key64(values) -> np.ndarray:
    bits = np.asarray(values, _F64).view(np.int64)
    return np.where(bits < 0, np.iinfo(np.int64).min - bits, bits)


def _leaf_rows(tb: _Tables, agg: int, n_targets: int, n_trees: int, dt) -> tuple[np.ndarray, str | None]:
    """Per row, the contribution of its leaf to every target (rows of nodes are unused)."""
    rows = len(tb.feature)
    if dt == _F64:
        # one tree: the reference's result for that leaf, in float64
        init = {SUM: 0.0, AVERAGE: 0.0, MIN: np.finfo(_F64).max, MAX: np.finfo(_F64).min}[agg]
        table = np.full((rows, n_targets), init, _F64)
        for r, lf in enumerate(tb.leaf):
            if lf is None:
                continue
            w, t = np.float64(lf[0]), lf[1]
            acc = np.float64(init)
            if agg == SUM:
                acc = acc + w
            elif agg == AVERAGE:
                acc = acc + w / 1
            elif agg == MIN:
                acc = min(acc, w)
            else:
                acc = max(acc, w)
            table[r, t] = acc
        return table, None
    neutral = np.nan if agg in (MIN, MAX) else 0.0
    table = np.full((rows, n_targets), neutral, _F32)
    for r, lf in enumerate(tb.leaf):
        if lf is None:
            continue
        w = np.float64(np.float32(lf[0]))
        if agg == AVERAGE:
            w = w / n_trees
            if not (np.isnan(w) or np.float64(np.float32(w)) == w):
                return table, (f"AVERAGE: leaf weight {lf[0]!r} / {n_trees} trees is not a float32 value "
                               "(the reference adds it in float64)")
        table[r, lf[1]] = np.float32(w)
    return table, None


@register("TreeEnsemble", domain="ai.onnx.ml")
class TreeEnsemble(OpConverter):
    def _plan(self, node):
        x = node.inputs[0]
        dt = np.dtype(x.dtype) if x.dtype is not None else None
        if dt not in (_F32, _F64):
            raise _Refuse(f"TreeEnsemble on {dt} (float32, float64 here)")
        if x.shape is None or len(x.shape) != 2 or any(not isinstance(d, int) or d < 0 for d in x.shape):
            raise _Refuse("X must be 2-D with a static shape")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise _Refuse("X with no rows or no features")
        a = node.attrs
        if int(a.get("post_transform", 0)) != 0:
            raise _Refuse("post_transform other than NONE (the ONNX reference ignores it, the spec applies it)")
        agg = int(a.get("aggregate_function", SUM))
        if agg not in (AVERAGE, SUM, MIN, MAX):
            raise _Refuse(f"aggregate_function {agg}")
        for k in ("nodes_splits", "leaf_weights", "membership_values"):
            v = a.get(k)
            if v is not None and np.asarray(v).dtype != dt:
                raise _Refuse(f"{k} of {np.asarray(v).dtype} with X of {dt}")
        n_trees = len(a["tree_roots"])
        if not 0 < n_trees <= _MAX_TREES:
            raise _Refuse(f"{n_trees} trees (1 to {_MAX_TREES} here)")
        if dt == _F64 and n_trees != 1:
            raise _Refuse("float64 with more than one tree (the sums are float64; LiteRT has no float64 kernels)")
        tb = _build(a, x.shape[1])
        n_targets = int(a["n_targets"])
        table, why = _leaf_rows(tb, agg, n_targets, n_trees, dt)
        if why:
            raise _Refuse(why)
        return tb, table, agg, dt

    def check(self, node):
        try:
            self._plan(node)
        except _Refuse as r:
            return str(r)
        except (KeyError, TypeError, ValueError) as err:
            return f"malformed attributes ({err})"
        return None

    def lower(self, node, out):
        tb, table, agg, dt = self._plan(node)
        x, y = node.inputs[0], node.outputs[0]
        e = Emitter(out, node.name)
        n, n_trees, n_targets = x.shape[0], len(tb.roots), table.shape[1]
        if dt == _F64:
            xv = _key64(e, e.op("BITCAST", [x], x.shape, _I64, _bitcast_options()))
            split = e.const(_const_key64(tb.split))
            members = [_const_key64(m) for m in tb.members]
            lo, hi = _const_key64([-np.inf, np.inf])
        else:
            xv = x
            split = e.const(np.asarray(tb.split, _F32))
            members = [np.asarray(m, _F32) for m in tb.members]
        mdt = _I64 if dt == _F64 else _F32
        width = max((len(m) for m in members), default=0)
        modes_used = sorted({m for m in tb.mode})
        idx = lambda a: e.const(np.asarray(a, _I32))  # noqa: E731
        feature, true_row, false_row = idx(tb.feature), idx(tb.true_row), idx(tb.false_row)
        mode_t, nan_true = idx(tb.mode), e.const(np.asarray(tb.nan_true, np.bool_))
        if width:
            pad = np.full((len(members), width), np.nan if dt == _F32 else lo - 1, mdt)  # a key never met
            for r, m in enumerate(members):
                pad[r, : len(m)] = m
            member_t = e.const(pad)
        cur = e.const(np.broadcast_to(np.asarray(tb.roots, _I32), (n, n_trees)).copy())
        for _ in range(tb.depth):
            f = e.gather(feature, cur, axis=0)
            xs = e.gather(xv, f, axis=1, batch_dims=1)  # [n, trees]
            if dt == _F64:
                xnan = e.binary("LOGICAL_OR", e.binary("LESS", xs, e.scalar(lo, _I64)),
                                e.binary("GREATER", xs, e.scalar(hi, _I64)))
            else:
                xnan = e.binary("NOT_EQUAL", xs, xs)
            cond = None
            mode_now = e.gather(mode_t, cur, axis=0) if len(modes_used) > 1 else None
            for m in modes_used:
                if m == MEMBER:
                    mem = e.gather(member_t, cur, axis=0)  # [n, trees, width]
                    hit = e.binary("EQUAL", e.reshape(xs, (n, n_trees, 1)), mem)
                    c = e.reduce("REDUCE_ANY", hit, [2])
                else:
                    c = e.binary(_CMP[m], xs, e.gather(split, cur, axis=0))
                if cond is None:
                    cond = c
                else:
                    cond = e.select(e.binary("EQUAL", mode_now, e.scalar(m, _I32)), c, cond)
            cond = e.select(xnan, e.gather(nan_true, cur, axis=0), cond)
            cur = e.select(cond, e.gather(true_row, cur, axis=0), e.gather(false_row, cur, axis=0))
        if dt == _F64:
            bits = e.gather(e.const(table.view(np.int64)), cur, axis=0)  # [n, 1, targets]
            flat = e.reshape(bits, (n, n_targets))
            e.op("BITCAST", [flat], y.shape, _F64, _bitcast_options(), y=y)
            return
        contrib = e.gather(e.const(table), cur, axis=0)  # [n, trees, targets]
        init = {SUM: 0.0, AVERAGE: 0.0, MIN: np.finfo(_F32).max, MAX: np.finfo(_F32).min}[agg]
        acc = e.const(np.full((n, n_targets), init, _F32))
        for t in range(n_trees):
            w = e.reshape(e.slice(contrib, (0, t, 0), (n, 1, n_targets)), (n, n_targets))
            last = y if t == n_trees - 1 else None
            if agg in (SUM, AVERAGE):
                acc = e.add(acc, w, y=last)
            else:
                take = e.binary("LESS" if agg == MIN else "GREATER", w, acc)
                acc = e.select(take, w, acc, y=last)


def _bitcast_options():
    from edgelite.schema.fb.BitcastOptions import BitcastOptionsT

    return BitcastOptionsT()
