"""The op-converter registry: every file in ``converter/ops`` registers at least one op
(or is declared infrastructure), and registration is explicit."""

from __future__ import annotations

import importlib
import os

import edgelite.converter.ops as ops_pkg
from edgelite.converter.ops import OP_MODULES, SUPPORT_MODULES, load_all, registry


def test_every_ops_file_is_listed():
    folder = os.path.dirname(ops_pkg.__file__)
    files = {f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py"}
    assert files == set(OP_MODULES) | set(SUPPORT_MODULES), "add new op files to OP_MODULES"


def test_every_op_module_registers_something():
    load_all()
    for name in OP_MODULES:
        mod = importlib.import_module(f"edgelite.converter.ops.{name}")
        assert registry.REGISTERED_BY_MODULE.get(mod.__name__), f"ops/{name}.py registers no converter"


def test_support_modules_register_nothing():
    load_all()
    for name in SUPPORT_MODULES:
        assert not registry.REGISTERED_BY_MODULE.get(f"edgelite.converter.ops.{name}")


def test_registered_op_types():
    load_all()
    for op in [
        "Conv",
        "ConvTranspose",
        "MaxPool",
        "Resize",
        "Concat",
        "Split",
        "Pad",
        "Slice",
        "Gather",
        "MatMul",
        "LayerNormalization",
        "Softmax",
        "Where",
        "ReduceMean",
        "Equal",
    ]:
        assert registry.key(op) in registry.CONVERTERS, op
