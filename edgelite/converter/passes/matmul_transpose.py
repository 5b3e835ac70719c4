"""Peephole after lowering: a TRANSPOSE that only swaps the last two axes of a
``BATCH_MATMUL`` operand becomes the operand's ``adjX`` / ``adjY`` flag.

``BATCH_MATMUL(L, R, adjX, adjY)`` multiplies ``L`` (its last two axes swapped when
``adjX``) by ``R`` (swapped when ``adjY``), so ``BATCH_MATMUL(L, TRANSPOSE(R, [.., -1, -2]))``
is ``BATCH_MATMUL(L, R, adjY=not adjY)``: the attention score ``Q @ K^T`` of a PyTorch
``nn.MultiheadAttention`` export needs no data movement for ``K^T``. The TRANSPOSE goes
only when the matmul is its one reader and its output is not a graph output.

Example:
    >>> from edgelite.converter.passes.matmul_transpose import swaps_last_two
    >>> swaps_last_two([0, 1, 3, 2]), swaps_last_two([1, 0, 2])
    (True, False)
"""

from __future__ import annotations

import copy

import numpy as np

from edgelite.converter.ir import Graph, read_counts


def swaps_last_two(perm) -> bool:
    p = [int(a) for a in perm]
    r = len(p)
    return r >= 2 and p == list(range(r - 2)) + [r - 1, r - 2]


def fold_matmul_transposes(ops: list, g: Graph) -> list:
    """Return ``ops`` with every foldable TRANSPOSE merged into its BATCH_MATMUL reader."""
    readers = read_counts(ops)
    public = {id(v) for v in list(g.inputs) + list(g.outputs)}
    producer = {id(o): op for op in ops for o in op.outputs}
    dead: set[int] = set()
    for op in ops:
        if op.op != "BATCH_MATMUL" or op.options is None:
            continue
        for k, flag in ((0, "adjX"), (1, "adjY")):
            v = op.inputs[k]
            t = producer.get(id(v)) if v is not None else None
            if t is None or t.op != "TRANSPOSE" or id(v) in public or readers.get(id(v)) != 1:
                continue
            perm = t.inputs[1]
            if perm is None or not perm.is_constant or not swaps_last_two(np.asarray(perm.data).reshape(-1)):
                continue
            if op.inputs[k].quant != t.inputs[0].quant:
                continue  # (a TRANSPOSE keeps its parameters; never seen otherwise)
            op.options = copy.copy(op.options)
            setattr(op.options, flag, not bool(getattr(op.options, flag)))
            op.inputs[k] = t.inputs[0]
            dead.add(id(t))
    return [op for op in ops if id(op) not in dead]


# -- attention heads split from a projection ---------------------------------------------------

# Ops that only move or select elements; their effect on positions is replayed on an index array.
_MOVES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "GATHER", "TRANSPOSE", "SPLIT", "SPLIT_V")


def _data_input(op):
    return op.inputs[1] if op.op == "SPLIT" else op.inputs[0]  # SPLIT is (axis, input)


def _replay(op, idx: np.ndarray, out: int = 0) -> np.ndarray | None:
    """Output ``out`` of ``op`` applied to an array of element positions (None when it
    cannot be replayed)."""
    out_shape = tuple(op.outputs[out].shape)
    if op.op in ("SPLIT", "SPLIT_V"):
        a = op.inputs[0] if op.op == "SPLIT" else op.inputs[2]
        if a is None or not a.is_constant:
            return None
        axis = int(np.asarray(a.data).reshape(-1)[0]) % idx.ndim
        start = sum(int(o.shape[axis]) for o in op.outputs[:out])
        r = np.take(idx, np.arange(start, start + out_shape[axis]), axis=axis)
        return r if r.shape == out_shape else None
    if op.op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return idx.reshape(out_shape) if idx.size == int(np.prod(out_shape)) else None
    if op.op == "TRANSPOSE":
        p = op.inputs[1]
        return None if p is None or not p.is_constant else idx.transpose(np.asarray(p.data).reshape(-1))
    if op.op == "GATHER":
        ind = op.inputs[1]
        o = op.options
        if ind is None or not ind.is_constant or o is None or int(getattr(o, "batchDims", 0) or 0) != 0:
            return None
        axis = int(o.axis) % idx.ndim
        data = np.asarray(ind.data)
        if data.size and (data.min() < -idx.shape[axis] or data.max() >= idx.shape[axis]):
            return None
        r = np.take(idx, data, axis=axis)
        return r if r.shape == out_shape else None
    return None


def _plain_fc(op) -> bool:
    if op.op != "FULLY_CONNECTED" or len(op.inputs) < 2:
        return False
    x, w = op.inputs[0], op.inputs[1]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    o = op.options
    return (
        x is not None and w is not None and w.is_constant and (b is None or b.is_constant)
        and x.dtype == np.float32 and w.dtype == np.float32 and op.outputs[0].dtype == np.float32
        and x.quant is None and w.quant is None and op.outputs[0].quant is None
        and o is not None and int(o.fusedActivationFunction) == 0 and len(w.shape) == 2
    )


def fold_head_transposes(ops: list, g: Graph, new_value) -> list:
    """Replace ``TRANSPOSE(moves(FULLY_CONNECTED(x, W, b)))`` (a head split: the projection's
    columns regrouped per head, heads moved in front of the tokens) by
    ``BATCH_MATMUL(x, W regrouped per head, adjY) + b regrouped``: the weights are permuted
    once at conversion instead of the activations at every run.

    ``new_value(name, shape, dtype)`` makes the intermediate tensors. Float32 only.
    """
    from edgelite.converter.lower import TflOp
    from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT

    public = {id(v) for v in list(g.inputs) + list(g.outputs)}
    producer = {id(o): op for op in ops for o in op.outputs}
    result: list = []
    changed = False
    for op in ops:
        plan = _head_split(op, producer) if op.op == "TRANSPOSE" and id(op.outputs[0]) not in public else None
        if plan is None:
            result.append(op)
            continue
        fc, cols, m_rows, transposed = plan
        x, w = fc.inputs[0], fc.inputs[1]
        b = fc.inputs[2] if len(fc.inputs) > 2 else None
        y = op.outputs[0]
        batch = tuple(cols.shape[:-1])
        k = int(w.shape[1])
        x2 = new_value(x.name + "_rows", (1,) * len(batch) + (m_rows, k), np.float32)
        result.append(TflOp("RESHAPE", [x, _const(np.array(x2.shape, np.int32), x2.name + "_shape")], [x2]))
        w3 = _const(np.ascontiguousarray(np.asarray(w.data)[cols]), w.name + "_heads")  # [*batch, P, K]
        opts = BatchMatMulOptionsT()
        opts.adjX, opts.adjY = False, True
        mm = y if b is None else new_value(y.name + "_nobias", tuple(y.shape), np.float32)
        # rows x per-head columns: x2 @ w3^T; transposed (K^T of attention): w3 @ x2^T.
        result.append(TflOp("BATCH_MATMUL", [w3, x2] if transposed else [x2, w3], [mm], opts))
        if b is not None:
            from edgelite.schema.fb.AddOptions import AddOptionsT

            bb = np.asarray(b.data)[cols]
            bb = bb[..., :, None] if transposed else bb[..., None, :]
            b3 = _const(np.ascontiguousarray(bb), b.name + "_heads")
            result.append(TflOp("ADD", [mm, b3], [y], AddOptionsT()))
        changed = True
    return _drop_unread(result, public) if changed else result


def _const(a: np.ndarray, name: str):
    from edgelite.converter.ir import Value

    return Value(name, tuple(a.shape), a.dtype, data=a)


def _head_split(t, producer):
    """``(fc, cols [*batch, P], rows M, transposed)`` when TRANSPOSE ``t`` reads a column
    regrouping of a FULLY_CONNECTED output whose rows stay in order (``transposed``: rows and
    columns swapped in the last two axes, as for K^T); otherwise None."""
    chain = [(t, 0)]
    v = t.inputs[0]
    for _ in range(8):
        p = producer.get(id(v))
        if p is None:
            return None
        if _plain_fc(p):
            break
        if p.op not in _MOVES:
            return None
        chain.append((p, [id(o) for o in p.outputs].index(id(v))))
        v = _data_input(p)
    else:
        return None
    fc = p
    f_shape = tuple(fc.outputs[0].shape)
    n = int(f_shape[-1])
    idx = np.arange(int(np.prod(f_shape)), dtype=np.int64).reshape(f_shape)
    for op, k in reversed(chain):
        idx = _replay(op, idx, k)
        if idx is None:
            return None
    if idx.ndim < 3:
        return None
    m_rows = int(np.prod(f_shape[:-1]))
    for transposed, view in ((False, idx), (True, np.swapaxes(idx, -1, -2))):
        rows, cols = view // n, view % n
        if view.shape[-2] != m_rows:
            continue
        # Every output row m reads FC row m (same for all heads and columns)...
        if not np.array_equal(rows, np.broadcast_to(np.arange(m_rows)[:, None], rows.shape)):
            continue
        # ... and every column of head b reads one FC column, the same for all rows.
        c = cols[..., :1, :]
        if np.array_equal(cols, np.broadcast_to(c, cols.shape)):
            return fc, c[..., 0, :], m_rows, transposed
    return None


def _drop_unread(ops: list, public: set[int]) -> list:
    """Remove operators none of whose outputs is read or public (repeatedly)."""
    while True:
        readers = read_counts(ops)
        keep = [op for op in ops if any(id(o) in public or readers.get(id(o)) for o in op.outputs)]
        if len(keep) == len(ops):
            return keep
        ops = keep


def fold_head_merges(ops: list, g: Graph, new_value) -> list:
    """Replace ``FULLY_CONNECTED(moves(O), W, b)`` where the moves include a TRANSPOSE that
    merges heads (``O`` is ``[*heads, M, P]``, each projection input column one
    ``(head, p)``) by ``SUM_heads(BATCH_MATMUL(O, W regrouped per head, adjY)) + b``:
    the output projection reads the heads where they are. Float32 only."""
    from edgelite.converter.lower import TflOp
    from edgelite.schema.fb.AddOptions import AddOptionsT
    from edgelite.schema.fb.BatchMatMulOptions import BatchMatMulOptionsT
    from edgelite.schema.fb.ReducerOptions import ReducerOptionsT

    public = {id(v) for v in list(g.inputs) + list(g.outputs)}
    producer = {id(o): op for op in ops for o in op.outputs}
    result: list = []
    changed = False
    for op in ops:
        plan = _head_merge(op, producer) if op.op == "FULLY_CONNECTED" else None
        if plan is None:
            result.append(op)
            continue
        o_val, w3, n_batch = plan
        w, y = op.inputs[1], op.outputs[0]
        b = op.inputs[2] if len(op.inputs) > 2 else None
        m_rows, e = int(o_val.shape[-2]), int(w.shape[0])
        opts = BatchMatMulOptionsT()
        opts.adjX, opts.adjY = False, True
        per_head = new_value(y.name + "_per_head", tuple(o_val.shape[:-2]) + (m_rows, e), np.float32)
        result.append(TflOp("BATCH_MATMUL", [o_val, _const(w3, w.name + "_heads")], [per_head], opts))
        summed = new_value(y.name + "_sum", (m_rows, e), np.float32)
        ro = ReducerOptionsT()
        ro.keepDims = False
        result.append(TflOp("SUM", [per_head, _const(np.arange(n_batch, dtype=np.int32), summed.name + "_axes")],
                            [summed], ro))
        last = summed
        if b is not None:
            biased = new_value(y.name + "_biased", (m_rows, e), np.float32)
            ao = AddOptionsT()
            ao.fusedActivationFunction = int(op.options.fusedActivationFunction)
            result.append(TflOp("ADD", [summed, b], [biased], ao))
            last = biased
        result.append(TflOp("RESHAPE", [last, _const(np.array(y.shape, np.int32), y.name + "_shape")], [y]))
        changed = True
    return _drop_unread(result, public) if changed else result


def _head_merge(fc, producer):
    """``(O, W3 [*heads, E, P], number of head axes)`` for a foldable head merge, else None."""
    x, w = fc.inputs[0], fc.inputs[1]
    if not (fc.op == "FULLY_CONNECTED" and len(fc.inputs) >= 2 and x is not None and w is not None
            and w.is_constant and len(w.shape) == 2 and x.dtype == np.float32 and w.dtype == np.float32
            and x.quant is None and w.quant is None and fc.outputs[0].quant is None and fc.options is not None):
        return None
    b = fc.inputs[2] if len(fc.inputs) > 2 else None
    if (b is not None and not b.is_constant) or (b is None and int(fc.options.fusedActivationFunction) != 0):
        return None
    chain, v = [], x
    for _ in range(8):
        p = producer.get(id(v))
        if p is None or p.op not in _MOVES:
            break
        chain.append((p, [id(o) for o in p.outputs].index(id(v))))
        v = _data_input(p)
    if not any(p.op == "TRANSPOSE" for p, _ in chain):
        return None
    o_val = v
    if o_val.shape is None or len(o_val.shape) < 3:
        return None
    idx = np.arange(int(np.prod(o_val.shape)), dtype=np.int64).reshape(o_val.shape)
    for op, j in reversed(chain):
        idx = _replay(op, idx, j)
        if idx is None:
            return None
    k = int(w.shape[1])
    if idx.shape[-1] != k:
        return None
    z = idx.reshape(-1, k)  # FULLY_CONNECTED reads its input as rows of K
    heads = tuple(int(d) for d in o_val.shape[:-2])
    m_rows, p_cols = int(o_val.shape[-2]), int(o_val.shape[-1])
    bi, mi, pi = np.unravel_index(z, (int(np.prod(heads)), m_rows, p_cols))
    if z.shape[0] != m_rows or not np.array_equal(mi, np.broadcast_to(np.arange(m_rows)[:, None], mi.shape)):
        return None
    if not (np.array_equal(bi, np.broadcast_to(bi[:1], bi.shape)) and np.array_equal(pi, np.broadcast_to(pi[:1], pi.shape))):
        return None
    kb, kp = bi[0], pi[0]
    if len(set(zip(kb.tolist(), kp.tolist()))) != k or k != int(np.prod(heads)) * p_cols:
        return None
    wd = np.asarray(w.data)
    w3 = np.empty((int(np.prod(heads)), int(w.shape[0]), p_cols), np.float32)
    w3[kb, :, kp] = wd.T  # W3[head, e, p] = W[e, k] for the column k that reads (head, p)
    return o_val, w3.reshape(heads + w3.shape[1:]), len(heads)
