"""Operator kernels, one sub-package per op family.

``conv/`` holds CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV in their float, int8
(``_quant``) and dynamic-range (``_hybrid``) variants side by side; ``matmul/``,
``elementwise/``, ``activations/``, ``normalization/``, ``reduce/``, ``pooling/``,
``resize/``, ``quantization/``, ``movement/``, ``tensor/`` and ``spectral/`` likewise. Compute
primitives several families share (GEMM flavours, im2col, fixed point, LUTs, the JIT
decorator) live one layer down in :mod:`edgelite.interpreter.compute`, which imports
no kernel.

A kernel declares its operators and its priority where it is defined, with
``@register("CONV_2D", priority=INT8)`` (:func:`edgelite.interpreter.kernels.base.register`);
there is no other table. Only the modules a model needs are imported (importing all of
them costs a few hundred milliseconds at start-up): the first lookup reads the
``@register(...)`` lines of the kernel files (a text scan, about a millisecond, no
import) to learn which module registers which operator, and at which priority.
:func:`select_kernel <edgelite.interpreter.kernels.base.select_kernel>` imports them
from the highest priority down and stops at the first kernel that accepts the
operator, so an int8 CONV_2D never imports the float and dynamic-range conv modules
(about 15 ms at start-up); the kernel chosen is the one a full import would choose,
because every module registering at or above a priority is imported before any kernel
of that priority is tried. ``tests/interpreter/kernels/
test_registry.py`` checks that this index equals what the modules really register,
that every kernel file registers something, and that no operator is registered twice
at one priority.

Example:
    >>> from edgelite.interpreter.kernels import modules_for
    >>> modules_for("DEPTHWISE_CONV_2D")
    ('conv.depthwise_float', 'conv.depthwise_hybrid', 'conv.depthwise_quant')
"""

from __future__ import annotations

import importlib
import os
import re

# os, not pathlib: this scan runs at every start-up, and rglob's pattern compilation
# and Path objects cost several times the file reads (measured).
_HERE = os.path.dirname(os.path.abspath(__file__))
# Files of this package that hold no kernel.
_INFRA = frozenset({"__init__", "base", "common"})
# a decorator at the start of a line; matched after a newline (texts get one prepended)
# because a literal prefix lets the regex engine skip ahead, where "^" in MULTILINE
# mode tries every position (5 ms over the kernel files, measured)
_DECORATOR = re.compile(r"\n@register\(([^)]*)\)")
_OP_NAME = re.compile(r"""["']([A-Za-z0-9_]+)["']""")
_PRIORITY = re.compile(r"priority\s*=\s*([^,)]+)")
# a priority the text scan cannot read (an expression): imported before everything
UNKNOWN_PRIORITY = float("inf")

_index: dict[str, tuple[str, ...]] | None = None
_priorities: dict[str, dict[str, float]] | None = None  # op -> module -> highest priority
_lowest: dict[str, dict[str, float]] | None = None  # op -> module -> lowest priority
_imported: set[str] = set()
_loaded = False


def kernel_modules() -> tuple[str, ...]:
    """Every kernel module, as ``family.module`` names relative to this package, sorted."""
    names = []
    for folder, dirs, files in os.walk(_HERE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, _HERE)
        prefix = "" if rel == os.curdir else rel.replace(os.sep, ".") + "."
        for name in files:
            stem = name[:-3]
            if not name.endswith(".py") or stem in _INFRA or stem.startswith("_"):
                continue
            names.append(prefix + stem)
    return tuple(sorted(names))


def _priority_value(args: str) -> float:
    from edgelite.interpreter.kernels import base

    m = _PRIORITY.search(args)
    if m is None:
        return base.FLOAT
    text = m.group(1).strip()
    if text.isdigit():
        return int(text)
    value = getattr(base, text, None) if text.isidentifier() and text.isupper() else None
    return value if isinstance(value, int) else UNKNOWN_PRIORITY


def _build_index() -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    table: dict[str, set[str]] = {}
    prios: dict[str, dict[str, float]] = {}
    lowest: dict[str, dict[str, float]] = {}
    for module in kernel_modules():
        with open(os.path.join(_HERE, *module.split(".")) + ".py", encoding="utf-8") as f:
            text = "\n" + f.read()
        for args in _DECORATOR.findall(text):
            priority = _priority_value(args)
            for op in _OP_NAME.findall(args.split("priority")[0]):
                table.setdefault(op, set()).add(module)
                at = prios.setdefault(op, {})
                at[module] = max(at.get(module, -UNKNOWN_PRIORITY), priority)
                low = lowest.setdefault(op, {})
                low[module] = min(low.get(module, UNKNOWN_PRIORITY), priority)
    return {op: tuple(sorted(mods)) for op, mods in table.items()}, prios, lowest


def op_index() -> dict[str, tuple[str, ...]]:
    """Operator name -> the kernel modules whose ``@register`` lines name it."""
    global _index, _priorities, _lowest
    if _index is None:
        _index, _priorities, _lowest = _build_index()
    return _index


def priority_levels(op_name: str) -> list[float]:
    """The priorities ``op_name`` is registered at in the kernel files, highest first
    (empty for an operator no kernel file names)."""
    op_index()
    return sorted(set(_priorities.get(op_name, {}).values()), reverse=True)


def modules_for(op_name: str, max_priority: float | None = None) -> tuple[str, ...]:
    """The kernel modules registering ``op_name`` (``family.module``, sorted); with
    ``max_priority``, those registering it at that priority or below (or at one the text
    scan cannot read)."""
    modules = op_index().get(op_name, ())
    if max_priority is None:
        return modules
    at, low = _priorities.get(op_name, {}), _lowest.get(op_name, {})
    return tuple(m for m in modules if low.get(m, -UNKNOWN_PRIORITY) <= max_priority or at.get(m) == UNKNOWN_PRIORITY)


def load_for(op_name: str, min_priority: float | None = None, max_priority: float | None = None) -> None:
    """Import the modules that register ``op_name`` (every module for an unknown name);
    with ``min_priority``, only those registering it at that priority or above; with
    ``max_priority``, only those registering it at that priority or below (a priority
    the text scan cannot read counts as both).

    An operator no kernel file names may still have a kernel registered elsewhere
    (tests and applications can ``@register`` their own), so the full set is loaded
    for it.
    """
    if _loaded:
        return
    modules = modules_for(op_name)
    if not modules:
        load_all()
        return
    if min_priority is not None:
        at = _priorities.get(op_name, {})
        modules = tuple(m for m in modules if at.get(m, UNKNOWN_PRIORITY) >= min_priority)
    if max_priority is not None:
        below = set(modules_for(op_name, max_priority))
        modules = tuple(m for m in modules if m in below)
    for name in modules:
        if name not in _imported:
            importlib.import_module(f"{__name__}.{name}")
            _imported.add(name)


def load_all() -> None:
    """Import every kernel module once (registration happens on import)."""
    global _loaded
    if _loaded:
        return
    for name in kernel_modules():
        importlib.import_module(f"{__name__}.{name}")
        _imported.add(name)
    _loaded = True
