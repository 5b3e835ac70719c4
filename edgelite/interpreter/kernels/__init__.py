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
import) to learn which module registers which operator. ``tests/interpreter/kernels/
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
import re
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Files of this package that hold no kernel.
_INFRA = frozenset({"__init__", "base", "common"})
_DECORATOR = re.compile(r"^@register\(([^)]*)\)", re.MULTILINE)
_OP_NAME = re.compile(r"""["']([A-Za-z0-9_]+)["']""")

_index: dict[str, tuple[str, ...]] | None = None
_imported: set[str] = set()
_loaded = False


def kernel_modules() -> tuple[str, ...]:
    """Every kernel module, as ``family.module`` names relative to this package, sorted."""
    names = []
    for path in _HERE.rglob("*.py"):
        rel = path.relative_to(_HERE).with_suffix("")
        if rel.name in _INFRA or rel.name.startswith("_"):
            continue
        names.append(".".join(rel.parts))
    return tuple(sorted(names))


def _build_index() -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for module in kernel_modules():
        text = (_HERE / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        for args in _DECORATOR.findall(text):
            for op in _OP_NAME.findall(args):
                table.setdefault(op, set()).add(module)
    return {op: tuple(sorted(mods)) for op, mods in table.items()}


def op_index() -> dict[str, tuple[str, ...]]:
    """Operator name -> the kernel modules whose ``@register`` lines name it."""
    global _index
    if _index is None:
        _index = _build_index()
    return _index


def modules_for(op_name: str) -> tuple[str, ...]:
    """The kernel modules registering ``op_name`` (``family.module``, sorted)."""
    return op_index().get(op_name, ())


def load_for(op_name: str) -> None:
    """Import the modules that register ``op_name`` (every module for an unknown name).

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
