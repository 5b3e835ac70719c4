"""The package's layers, read from its imports (lazy ones inside functions included).

``errors`` (and ``version``, ``quick_dataclass``) < ``schema`` < ``interpreter`` < {``delegates``, ``quantize``} < ``converter``
< the CLI, ``quickstart`` and the package facade: a module imports only from its own
layer or the ones below. ``delegates`` and ``quantize`` never import each other;
``schema`` imports nothing of ours but ``errors`` and ``quick_dataclass``. Inside the interpreter,
``compute/`` (GEMM flavours, im2col, fixed point, LUTs, the JIT decorator) imports no
kernel and nothing else of the interpreter, and ``kernels/`` imports only ``compute/``,
``kernels/`` and nothing above them. See docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "edgelite"

# (layer, group): a module may import any lower layer, and its own group.
_LAYERS = {
    "errors": (0, "errors"),
    "version": (0, "version"),
    "quick_dataclass": (0, "quick_dataclass"),
    "schema": (1, "schema"),
    "interpreter": (2, "interpreter"),
    "delegates": (3, "delegates"),
    "quantize": (3, "quantize"),
    "converter": (4, "converter"),
}
_TOP = (5, "top")  # cli, quickstart, __main__, the package __init__ (facade)
# Inside the interpreter: compute < kernels < the rest.
_INTERPRETER_SUB = {"compute": 0, "kernels": 1}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``edgelite`` module ``path`` imports, anywhere in the file, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "edgelite" or (node.level and not node.module):
                # ``from edgelite import x``: x may be a sub-package
                found += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, mod))
    return [(line, m) for line, m in found if m == "edgelite" or m.startswith("edgelite.")]


def _layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) < 2:
        return _TOP
    return _LAYERS.get(parts[1], _TOP)


def _sublayer(module: str) -> int:
    parts = module.split(".")
    return _INTERPRETER_SUB.get(parts[2], 2) if len(parts) > 2 else 2


def violations() -> list[str]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        if "fb" in path.relative_to(PKG).parts[:2] and path.parent.name == "fb":
            continue  # generated flatbuffer accessors import only the flatbuffers runtime
        me = _module_name(path)
        my_layer, my_group = _layer(me)
        for line, target in _imports(path):
            t_layer, t_group = _layer(target)
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if target == "edgelite" and my_group != "top":
                out.append(f"{where}: only the CLI/apps layer may import the package facade")
            elif t_layer > my_layer:
                out.append(f"{where}: {my_group} (layer {my_layer}) imports {t_group} (layer {t_layer})")
            elif t_layer == my_layer and t_group != my_group:
                out.append(f"{where}: {my_group} and {t_group} must not import each other")
            elif my_group == t_group == "interpreter" and _sublayer(target) > _sublayer(me) < 2:
                out.append(f"{where}: interpreter {me.split('.')[2]}/ imports a layer above it")
    return out


def test_imports_go_down_the_layers_only():
    bad = violations()
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_schema_imports_only_errors():
    """(and the records' decorator, ``edgelite.quick_dataclass``, which imports nothing of ours)"""
    for path in sorted((PKG / "schema").rglob("*.py")):
        for line, target in _imports(path):
            assert target.startswith(("edgelite.schema", "edgelite.errors", "edgelite.quick_dataclass")), \
                f"{path}:{line} imports {target}"
    assert not _imports(PKG / "quick_dataclass.py")


@pytest.mark.parametrize("source, expected", [
    ("import edgelite.converter.api\n", "quantize (layer 3) imports converter (layer 4)"),
    ("def f():\n    from edgelite.delegates import x\n", "quantize and delegates must not import each other"),
    ("from edgelite import quickstart\n", "imports top"),
])
def test_the_checker_sees_lazy_and_upward_imports(tmp_path, monkeypatch, source, expected):
    """The checker itself: a quantize module importing upwards or sideways is caught."""
    fake = tmp_path / "edgelite" / "quantize"
    fake.mkdir(parents=True)
    (tmp_path / "edgelite" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text(source)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PKG", tmp_path / "edgelite")
    bad = violations()
    assert any(expected in b for b in bad), bad
