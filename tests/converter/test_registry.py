"""The op-converter registry: every file in ``converter/ops`` registers at least one op
(or is declared infrastructure), and registration is explicit."""

from __future__ import annotations

import importlib
import os

import numpy as np

import edgelite.converter.ops as ops_pkg
from edgelite.converter.ops import SUPPORT_MODULES, load_all, op_modules, registry


def test_every_ops_file_is_an_op_module_or_support():
    folder = os.path.dirname(ops_pkg.__file__)
    files = {f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py"}
    assert set(op_modules()) == files - SUPPORT_MODULES
    assert SUPPORT_MODULES <= files, "a support module listed that does not exist"


def test_every_op_module_registers_something():
    load_all()
    for name in op_modules():
        mod = importlib.import_module(f"edgelite.converter.ops.{name}")
        assert registry.REGISTERED_BY_MODULE.get(mod.__name__), f"ops/{name}.py registers no converter"


def test_support_modules_register_nothing():
    load_all()
    for name in SUPPORT_MODULES:
        assert not registry.REGISTERED_BY_MODULE.get(f"edgelite.converter.ops.{name}")


def test_an_op_module_registering_nothing_fails_to_load(monkeypatch):
    """A file of the ops folder that registers nothing (here: ``emit``, taken for an op
    module) makes ``load_all`` raise instead of being skipped silently."""
    import pytest

    from edgelite.errors import RegistrationError

    monkeypatch.setattr(ops_pkg, "SUPPORT_MODULES", SUPPORT_MODULES - {"emit"})
    monkeypatch.setattr(ops_pkg, "_loaded", False)
    with pytest.raises(RegistrationError, match="emit.py registers no converter"):
        load_all()


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


def test_every_op_has_one_ordered_list_of_strategies_with_explicit_predicates():
    """An op with several lowerings lists them once, in order; every strategy but the
    last overrides ``applies`` (an explicit predicate), and the list has no repeats."""
    load_all()
    multi = {k: chain for k, chain in registry.STRATEGIES.items() if len(chain) > 1}
    assert {"::Conv", "::ConvTranspose", "::Resize", "::Pad", "::Slice", "::Gather"} <= set(multi)
    for k, chain in multi.items():
        assert len({type(s) for s in chain}) == len(chain), k
        for s in chain[:-1]:
            assert type(s).applies is not registry.OpConverter.applies, f"{k}: {type(s).__name__} has no predicate"
        assert registry.CONVERTERS[k] is chain[0]


def test_registering_an_op_twice_is_an_error():
    import pytest

    from edgelite.errors import RegistrationError

    @registry.register("EdgeliteTestOnce", domain="test.domain")
    class First(registry.OpConverter):
        pass

    with pytest.raises(RegistrationError, match="EdgeliteTestOnce"):
        @registry.register("EdgeliteTestOnce", domain="test.domain")
        class Again(registry.OpConverter):
            pass

    with pytest.raises(RegistrationError, match="follows"):
        @registry.register("EdgeliteTestOnce", domain="test.domain", after=registry.OpConverter)
        class Misplaced(registry.OpConverter):
            pass


def test_the_strategy_is_chosen_once_by_predicate():
    from edgelite.converter.ir import Node, Value

    load_all()
    w = Value("w", (4, 3, 3, 3), np.dtype(np.float32), data=np.zeros((4, 3, 3, 3), np.float32))
    x = Value("x", (1, 3, 8, 8), np.dtype(np.float32))
    y = Value("y", (1, 4, 6, 6), np.dtype(np.float32))
    node = Node("Conv", "c", [x, w], [y])
    builtin = registry.get(node)
    assert type(builtin).__name__ == "Conv" and node.ann.strategy is builtin
    runtime_w = Value("w2", (4, 3, 3, 3), np.dtype(np.float32))
    node2 = Node("Conv", "c2", [x, runtime_w], [y])
    assert type(registry.get(node2)).__name__ == "ConvPatches"
