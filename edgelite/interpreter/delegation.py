"""The delegate seam: how a delegate takes over partitions of a subgraph's plan.

This is the one documented contract between the interpreter and every delegate
(``edgelite.delegates``: GPU, NNAPI). The interpreter imports no delegate; a delegate
is any object with the attributes and methods of ``Delegate`` below.

What happens at ``allocate_tensors`` (and again after every resize), for each
delegate of ``Interpreter(experimental_delegates=[...])`` in list order, as in
LiteRT's ``ModifyGraphWithDelegate``:

1. the CPU kernels are prepared as usual (shapes known, constant subgraphs folded);
2. ``delegate.node_support(ctx)`` is asked about every operator still on the CPU and
   answers ``None`` (supported) or a reason string; ``ctx`` is the operator's
   ``OpContext`` with the current shapes, constant data and output shapes;
3. ``partition()`` groups supported operators into *connected, convex* node subsets
   (no path leaves a partition and comes back), drops those smaller than
   ``delegate.min_partition_size``, keeps the ``delegate.max_delegated_partitions``
   largest (0: all), and orders the remaining CPU operators and partitions
   topologically;
4. ``delegate.prepare_partition(partition)`` returns a ``PartitionKernel``: the
   partition becomes one step of the plan (an operator named ``DELEGATE``), whose
   boundary input tensors are read from the arena and boundary outputs written into
   it once per ``invoke``; tensors internal to a partition get no arena slot.

With ``delegate.validate`` true, each partition also runs on the CPU kernels after
every invoke and the largest absolute and relative differences are recorded
(``Interpreter.get_delegation_plan().partitions[k].validation``); with
``delegate.validate_tolerance`` set, a larger relative difference raises
``DelegateValidationError``.

Example:
    >>> import numpy as np, edgelite
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.interpreter.delegation import PartitionKernel
    >>> class NegKernel(PartitionKernel):
    ...     def invoke(self, inputs, outputs):
    ...         np.negative(inputs[0], out=outputs[0])
    >>> class NegDelegate:             # runs NEG, nothing else
    ...     name = "NEG"; max_delegated_partitions = 0; min_partition_size = 1
    ...     validate = False; validate_tolerance = None
    ...     def node_support(self, ctx):
    ...         return None if ctx.op_name == "NEG" else "only NEG"
    ...     def prepare_partition(self, partition):
    ...         return NegKernel()
    >>> b = ModelBuilder(); x = b.add_input("x", (2,), np.float32)
    >>> y = b.add_tensor("y", (2,), np.float32); _ = b.add_operator("NEG", [x], [y]); b.mark_output(y)
    >>> it = edgelite.Interpreter(model_content=b.build(), experimental_delegates=[NegDelegate()])
    >>> it.allocate_tensors(); it.set_tensor(x, np.array([1, -2], np.float32)); it.invoke()
    >>> it.get_tensor(y).tolist(), [d["op_name"] for d in it._get_ops_details()]
    ([-1.0, 2.0], ['DELEGATE'])
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.errors import DelegateError
from edgelite.interpreter.graph import OpNode, SubgraphSpec, make_context
from edgelite.interpreter.kernels.base import Kernel, OpContext, TensorInfo

log = logging.getLogger("edgelite.delegates")

DELEGATE_OP = "DELEGATE"


class DelegateValidationError(DelegateError):
    """Validate mode: a partition's outputs differ from the CPU kernels' beyond the tolerance."""


# -- the contract ----------------------------------------------------------------------------


class PartitionKernel:
    """What ``Delegate.prepare_partition`` returns: runs one partition per ``invoke``.

    ``invoke(inputs, outputs)`` gets the partition's boundary input arrays (in
    ``Partition.inputs`` order, read-only) and writes every boundary output array (in
    ``Partition.outputs`` order). It must not keep references to them across calls:
    the arena is re-planned by ``allocate_tensors``.
    """

    def invoke(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """Figures for ``inspect``/benchmarks (dispatches, bytes moved...); optional."""
        return {}

    def close(self) -> None:
        """Release device resources; called when the plan is replaced."""


@runtime_checkable
class Delegate(Protocol):
    """What the interpreter needs of a delegate object.

    Attributes:
        name: short name for log lines and the plan ("GPU", "NNAPI").
        max_delegated_partitions: keep at most this many partitions, largest first (0: all).
        min_partition_size: smaller partitions stay on the CPU.
        validate: also run each partition on the CPU kernels and record differences.
        validate_tolerance: with ``validate``, raise when a relative difference exceeds it
            (None: only record).
    """

    name: str
    max_delegated_partitions: int
    min_partition_size: int
    validate: bool
    validate_tolerance: float | None

    def node_support(self, ctx: OpContext) -> str | None:
        """None when the operator can run in a partition, else why not (one line)."""

    def prepare_partition(self, partition: "Partition") -> PartitionKernel:
        """Build (compile, upload weights for) one partition; raise DelegateError if it cannot."""


def check_delegates(delegates) -> list:
    """The ``experimental_delegates`` list, checked: every item must implement ``Delegate``."""
    out = list(delegates or ())
    for d in out:
        if not isinstance(d, Delegate):
            raise DelegateError(
                f"experimental_delegates: {type(d).__name__} is not an edgelite delegate (it lacks "
                "node_support/prepare_partition); create one with edgelite.load_delegate('gpu') or "
                "see docs/delegates.md, 'Writing a delegate'"
            )
    return out


# -- what a delegate sees ---------------------------------------------------------------------


@dataclass
class Partition:
    """One connected, convex subset of operators handed to a delegate.

    ``nodes`` are the operators' contexts in a valid execution order; ``inputs`` are the
    non-constant tensors the partition reads from outside, ``outputs`` the tensors it
    produces that are read outside it or are subgraph outputs. Constant inputs
    (weights, folded values) are in the nodes' ``TensorInfo.data``.
    """

    index: int
    delegate_name: str
    nodes: list[OpContext]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    @property
    def node_indices(self) -> list[int]:
        return [n.op_index for n in self.nodes]


@dataclass
class PartitionDiff:
    """Validate mode figures of one partition, over every invoke so far."""

    invokes: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst_output: str = ""


@dataclass
class PartitionRecord:
    """A delegated partition as the plan reports it."""

    index: int
    delegate: str
    node_index: int  # its index in the execution plan (after the model's operators, as LiteRT)
    nodes: list[int]
    op_names: list[str]
    inputs: list[int]
    outputs: list[int]
    kernel: PartitionKernel | None = None
    validation: PartitionDiff | None = None

    def to_dict(self) -> dict:
        out = {
            "index": self.index,
            "delegate": self.delegate,
            "node_index": self.node_index,
            "nodes": self.nodes,
            "op_names": self.op_names,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "stats": self.kernel.stats() if self.kernel is not None else {},
        }
        if self.validation is not None:
            out["validation"] = vars(self.validation).copy()
        return out


@dataclass
class DelegationPlan:
    """The execution plan of one subgraph after its delegates were applied."""

    subgraph: int
    total_nodes: int
    partitions: list[PartitionRecord] = field(default_factory=list)
    unsupported: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # delegate -> [(op, reason)]
    dropped: dict[str, list[list[int]]] = field(default_factory=dict)  # delegate -> partitions left on CPU
    execution: list[tuple[str, int, str]] = field(default_factory=list)  # ("cpu"|"delegate", index, op name)
    log_lines: list[str] = field(default_factory=list)

    @property
    def delegated_nodes(self) -> int:
        return sum(len(p.nodes) for p in self.partitions)

    def to_dict(self) -> dict:
        return {
            "subgraph": self.subgraph,
            "total_nodes": self.total_nodes,
            "delegated_nodes": self.delegated_nodes,
            "partitions": [p.to_dict() for p in self.partitions],
            "unsupported": {k: [{"op": o, "reason": r} for o, r in v] for k, v in self.unsupported.items()},
            "dropped_partitions": self.dropped,
            "execution_plan": [{"kind": k, "index": i, "op_name": n} for k, i, n in self.execution],
            "log": self.log_lines,
        }

    def describe(self) -> str:
        """Human-readable plan: log lines, partitions, then the execution order."""
        lines = list(self.log_lines)
        for p in self.partitions:
            stats = p.kernel.stats() if p.kernel is not None else {}
            extra = "  " + ", ".join(f"{k}={v}" for k, v in stats.items()) if stats else ""
            counts: dict[str, int] = {}
            for name in p.op_names:
                counts[name] = counts.get(name, 0) + 1
            ops = ", ".join(f"{n} x{c}" for n, c in sorted(counts.items()))
            lines.append(
                f"partition {p.index} ({p.delegate}, plan node {p.node_index}): {len(p.nodes)} ops "
                f"[{p.nodes[0]}..{p.nodes[-1]}], inputs {p.inputs}, outputs {p.outputs}{extra}"
            )
            lines.append(f"  ops: {ops}")
            if p.validation is not None and p.validation.invokes:
                v = p.validation
                lines.append(f"  validate: {v.invokes} invokes, max abs diff {v.max_abs:.3g}, max rel diff {v.max_rel:.3g} ({v.worst_output})")
        lines.append("execution plan: " + " ".join(f"{n}#{i}" if k == "cpu" else f"DELEGATE#{i}" for k, i, n in self.execution))
        return "\n".join(lines)


# -- partitioning -----------------------------------------------------------------------------


def _preds(steps, produced_by) -> list[list[int]]:
    """Direct predecessors (step positions) of every step, through the tensors it reads."""
    out = []
    for step in steps:
        ps = {produced_by[i] for i in step.op.inputs if i in produced_by}
        out.append(sorted(ps))
    return out


def partition(supported: list[bool], preds: list[list[int]]) -> list[list[int]]:
    """Connected, convex groups of supported nodes (positions in a topological order).

    A node joins the partitions of its supported direct predecessors when that keeps
    every partition convex: no predecessor outside the merged set may itself depend on
    the set. Otherwise it starts a new partition. Returns the groups, each sorted.

    Example:
        >>> # 0 -> 1 -> 2 and 0 -> 2; node 1 unsupported: {0} and {2} must stay apart
        >>> partition([True, False, True], [[], [0], [0, 1]])
        [[0], [2]]
    """
    n = len(supported)
    parent: dict[int, int] = {}

    def find(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    part: list[int | None] = [None] * n
    reach: list[set[int]] = [set() for _ in range(n)]  # partitions each node depends on (raw ids)
    members: dict[int, list[int]] = {}
    for v in range(n):
        r: set[int] = set()
        for m in preds[v]:
            r |= reach[m]
            if part[m] is not None:
                r.add(part[m])
        reach[v] = r
        if not supported[v]:
            continue
        cands = sorted({find(part[m]) for m in preds[v] if part[m] is not None}, key=lambda p: -len(members[p]))
        chosen: list[int] = []
        for c in cands:
            trial = set(chosen) | {c}
            if _convex_with(v, trial, preds, part, reach, members, find):
                chosen = sorted(trial)
        if chosen:
            root = chosen[0]
            for c in chosen[1:]:
                parent[c] = root
                members[root].extend(members.pop(c))
        else:
            root = v
            parent[root] = root
            members[root] = []
        members[root].append(v)
        part[v] = root
    return sorted((sorted(ms) for ms in members.values()), key=lambda g: g[0])


def _convex_with(v, group: set[int], preds, part, reach, members, find) -> bool:
    """Whether ``group``'s partitions plus node ``v`` form a convex set."""
    inside = set(group)
    # Joining one partition can only create paths that end at v (v has no users yet);
    # merging several can also close a path between two of them.
    nodes = [v] if len(group) == 1 else [v] + [x for p in group for x in members[p]]
    for node in nodes:
        for m in preds[node]:
            if part[m] is not None and find(part[m]) in inside:
                continue
            if any(find(p) in inside for p in reach[m]):
                return False  # m is outside the set and depends on it: a path leaves and returns
    return True


def _topo_order(units: list[list[int]], preds: list[list[int]]) -> list[int]:
    """Order units (groups of step positions) topologically, earliest original step first."""
    unit_of = {}
    for u, members in enumerate(units):
        for s in members:
            unit_of[s] = u
    deps: list[set[int]] = [set() for _ in units]
    for u, members in enumerate(units):
        for s in members:
            deps[u] |= {unit_of[m] for m in preds[s] if unit_of[m] != u}
    users: list[list[int]] = [[] for _ in units]
    for u, ds in enumerate(deps):
        for d in ds:
            users[d].append(u)
    missing = [len(d) for d in deps]
    heap = [(units[u][0], u) for u in range(len(units)) if missing[u] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, u = heapq.heappop(heap)
        order.append(u)
        for w in users[u]:
            missing[w] -= 1
            if missing[w] == 0:
                heapq.heappush(heap, (units[w][0], w))
    if len(order) != len(units):
        raise DelegateError("delegate partitioning produced a cycle between partitions (a bug: please report it)")
    return order


class _DelegateKernel(Kernel):
    """The CPU-side step of one partition: copies in, runs the delegate, copies out."""

    op = DELEGATE_OP

    def __init__(self, record: PartitionRecord, cpu_steps: list, runtime, delegate) -> None:
        self.record = record
        self.cpu_steps = cpu_steps
        self.runtime = runtime
        self.delegate = delegate

    def eval(self, params, inputs, outputs):
        self.record.kernel.invoke(inputs, outputs)
        if self.delegate.validate:
            _validate(self, inputs, outputs)
        return None


def _validate(k: _DelegateKernel, inputs, outputs) -> None:
    """Run the partition's CPU kernels on the same inputs and compare the outputs."""
    rt, rec = k.runtime, k.record
    arrays = {i: a for i, a in zip(rec.inputs, inputs)}
    for step in k.cpu_steps:
        ins = [None if i < 0 else arrays.get(i, rt.array(i)) for i in step.op.inputs]
        outs = [np.empty(rt.shapes[t], rt.spec.tensors[t].dtype) for t in step.op.outputs]
        step.fn(step.params, ins, outs)
        arrays.update(zip(step.op.outputs, outs))
    diff = rec.validation
    diff.invokes += 1
    worst_rel = 0.0
    for t, got in zip(rec.outputs, outputs):
        ref = arrays[t].astype(np.float64)
        d = np.abs(got.astype(np.float64) - ref)
        if d.size == 0:
            continue
        mx = float(d.max())
        rel = float((d / np.maximum(np.abs(ref), 1e-6 * max(float(np.abs(ref).max()), 1e-30))).max())
        if mx > diff.max_abs:
            diff.max_abs = mx
        if rel > diff.max_rel:
            diff.max_rel, diff.worst_output = rel, rt.spec.tensors[t].name
        worst_rel = max(worst_rel, rel)
    tol = k.delegate.validate_tolerance
    if tol is not None and worst_rel > tol:
        raise DelegateValidationError(
            f"validate: partition {rec.index} ({rec.delegate}, ops {rec.nodes[0]}..{rec.nodes[-1]}) differs from the "
            f"CPU kernels by a relative {worst_rel:.3g} > tolerance {tol:g} (worst output {diff.worst_output!r})"
        )


def apply_delegates(runtime, steps: list, shapes, values: dict, delegates: list, step_type) -> tuple[list, DelegationPlan]:
    """Replace partitions of ``steps`` by delegate steps; returns the new steps and the plan.

    ``runtime`` is the ``SubgraphRuntime`` (for shapes and arrays at validation time);
    ``step_type`` builds a step (the executor's ``Step``).
    """
    spec: SubgraphSpec = runtime.spec
    plan = DelegationPlan(subgraph=spec.index, total_nodes=len(spec.ops))
    next_node = len(spec.ops)
    graph_outputs = set(spec.outputs)
    for delegate in delegates:
        candidates = [s for s in steps if not s.deferred and not s.dynamic and s.op.name != DELEGATE_OP]
        cand_pos = {id(s): k for k, s in enumerate(steps)}
        produced_by = {o: k for k, s in enumerate(steps) for o in s.op.outputs}
        preds = _preds(steps, produced_by)
        supported = [False] * len(steps)
        reasons: list[tuple[str, str]] = []
        contexts: dict[int, OpContext] = {}
        for s in candidates:
            k = cand_pos[id(s)]
            ctx = make_context(spec, s.op, shapes, values)
            ctx.output_shapes = [shapes[t] for t in s.op.outputs]
            contexts[k] = ctx
            why = delegate.node_support(ctx)
            if why is None:
                supported[k] = True
            else:
                reasons.append((s.op.name, why))
        groups = partition(supported, preds)
        groups.sort(key=lambda g: (-len(g), g[0]))
        keep, dropped = [], []
        limit = int(delegate.max_delegated_partitions or 0)
        for g in groups:
            if len(g) < max(int(delegate.min_partition_size), 1) or (limit and len(keep) >= limit):
                dropped.append([steps[k].op.index for k in g])
            else:
                keep.append(g)
        keep.sort(key=lambda g: g[0])
        in_partition = {k for g in keep for k in g}
        units = [[k] for k in range(len(steps)) if k not in in_partition] + keep
        units.sort(key=lambda u: u[0])
        new_steps = []
        for u in _topo_order(units, preds):
            members = units[u]
            if len(members) == 1 and members[0] not in in_partition:
                new_steps.append(steps[members[0]])
                continue
            new_steps.append(_delegate_step(runtime, delegate, plan, [steps[k] for k in members],
                                            [contexts[k] for k in members], values, graph_outputs, next_node, step_type))
            next_node += 1
        steps = new_steps
        plan.unsupported[delegate.name] = reasons
        plan.dropped[delegate.name] = dropped
        _log_plan(plan, delegate, steps, reasons)
    plan.execution = [
        ("delegate", s.op.index, DELEGATE_OP) if s.op.name == DELEGATE_OP else ("cpu", s.op.index, s.op.name) for s in steps
    ]
    return steps, plan


def _delegate_step(runtime, delegate, plan, members, contexts, values, graph_outputs, node_index, step_type):
    spec = runtime.spec
    produced = {o for s in members for o in s.op.outputs}
    inputs: list[int] = []
    for s in members:
        for i in s.op.inputs:
            if i >= 0 and i not in produced and i not in values and i not in inputs:
                inputs.append(i)
    ids = {s.op.index for s in members}
    read_outside = {i for op in spec.ops if op.index not in ids for i in op.inputs}
    # experimental_preserve_all_tensors: every intermediate stays readable, so a partition
    # hands back all it computes (slower, but never a stale tensor).
    keep_all = runtime.preserve_all_tensors
    outputs = [o for s in members for o in s.op.outputs if keep_all or o in graph_outputs or o in read_outside]
    info = {c.op_index: c for c in contexts}
    tinfo = {}
    for c in contexts:
        for t in list(c.inputs) + list(c.outputs):
            if t is not None:
                tinfo[t.index] = t
    part = Partition(
        index=len(plan.partitions),
        delegate_name=delegate.name,
        nodes=[info[s.op.index] for s in members],
        inputs=[tinfo[i] for i in inputs],
        outputs=[tinfo[o] for o in outputs],
    )
    record = PartitionRecord(
        index=part.index,
        delegate=delegate.name,
        node_index=node_index,
        nodes=part.node_indices,
        op_names=[c.op_name for c in part.nodes],
        inputs=inputs,
        outputs=outputs,
        validation=PartitionDiff() if delegate.validate else None,
    )
    t0 = time.perf_counter()
    record.kernel = delegate.prepare_partition(part)
    log.debug("%s: prepared partition %d in %.1f ms", delegate.name, part.index, 1000 * (time.perf_counter() - t0))
    plan.partitions.append(record)
    kernel = _DelegateKernel(record, members, runtime, delegate)
    node = OpNode(index=node_index, name=DELEGATE_OP, version=1, inputs=tuple(inputs), outputs=tuple(outputs), kernel=kernel)
    return step_type(node, kernel.eval, None, [], [])


def _log_plan(plan: DelegationPlan, delegate, steps, reasons) -> None:
    n_deleg = sum(len(p.nodes) for p in plan.partitions if p.delegate == delegate.name)
    n_parts = sum(1 for p in plan.partitions if p.delegate == delegate.name)
    cpu_runs = 0
    prev_cpu = False
    for s in steps:
        is_cpu = s.op.name != DELEGATE_OP
        cpu_runs += is_cpu and not prev_cpu
        prev_cpu = is_cpu
    lines = []
    if reasons:
        seen = []
        for op, why in reasons:
            if (op, why) not in seen:
                seen.append((op, why))
        lines.append(f"Following operations are not supported by {delegate.name} delegate:")
        lines += [f"{op}: {why}" for op, why in seen]
    n_cpu = sum(1 for s in steps if s.op.name != DELEGATE_OP)
    lines.append(f"{n_deleg} operations will run on the {delegate.name}, and the remaining {n_cpu} operations will run on the CPU.")
    lines.append(
        f"Replacing {n_deleg} out of {plan.total_nodes} node(s) with delegate ({delegate.name}) node, "
        f"yielding {n_parts + cpu_runs} partitions for subgraph {plan.subgraph}."
    )
    for line in lines:
        log.info("%s", line)
    plan.log_lines += lines


def execution_details(spec: SubgraphSpec, plan: DelegationPlan, op_details) -> list[dict]:
    """``_get_ops_details()`` after delegation: the execution plan, partitions as DELEGATE."""
    by_index = {op.index: op for op in spec.ops}
    parts = {p.node_index: p for p in plan.partitions}
    out = []
    for kind, index, _ in plan.execution:
        if kind == "cpu":
            out.append(op_details(spec, by_index[index]))
            continue
        p = parts[index]
        node = OpNode(index=index, name=DELEGATE_OP, version=1, inputs=tuple(p.inputs), outputs=tuple(p.outputs))
        d = op_details(spec, node)
        d["delegated_nodes"] = list(p.nodes)
        d["delegate"] = p.delegate
        out.append(d)
    return out


def close_plan(plan: DelegationPlan | None) -> None:
    """Release the partition kernels of a plan that is being replaced."""
    if plan is None:
        return
    for p in plan.partitions:
        if p.kernel is not None:
            p.kernel.close()
            p.kernel = None
