"""The kernel registry: every listed module registers something, every registered name
is a real builtin operator, and the float/data-movement op list is covered."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from edgelite.interpreter.kernels import KERNEL_MODULES, load_all
from edgelite.interpreter.kernels.base import _REGISTRY, Kernel, registered_ops
from edgelite.schema.ops import all_builtin_names

FLOAT_OPS = ["ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "SIGN", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "ELU", "SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION", "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL", "ARG_MAX", "ARG_MIN", "TOPK_V2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "CONCATENATION", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "PAD", "PADV2", "MIRROR_PAD", "SLICE", "STRIDED_SLICE", "GATHER", "GATHER_ND", "TILE", "BROADCAST_TO", "SHAPE", "FILL", "ZEROS_LIKE", "CAST", "RANGE", "ONE_HOT", "REVERSE_V2", "WHERE", "SELECT", "SELECT_V2", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "EMBEDDING_LOOKUP", "DEQUANTIZE", "DENSIFY", "CUMSUM", "ADD_N"]


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_every_listed_module_registers_a_kernel(module):
    load_all()
    mod = importlib.import_module(f"edgelite.interpreter.kernels.{module}")
    mine = [k for ks in _REGISTRY.values() for k in ks if type(k).__module__ == mod.__name__]
    assert mine, f"kernels/{module}.py registers no kernel"


def test_every_name_the_kernel_modules_register_is_a_builtin_operator():
    # (Custom operators registered elsewhere, e.g. by tests, use their custom_code names.)
    load_all()
    modules = {f"edgelite.interpreter.kernels.{m}" for m in KERNEL_MODULES}
    names = {name for name, ks in _REGISTRY.items() if any(type(k).__module__ in modules for k in ks)}
    unknown = names - set(all_builtin_names())
    assert not unknown, f"registered names that are not TFLite builtins: {sorted(unknown)}"


def test_registered_objects_are_kernels_with_prepare_and_eval():
    load_all()
    for name, ks in _REGISTRY.items():
        for k in ks:
            assert isinstance(k, Kernel), (name, k)
            assert type(k).prepare is not Kernel.prepare and type(k).eval is not Kernel.eval, (name, type(k))


def test_float_and_movement_ops_are_all_covered():
    missing = set(FLOAT_OPS) - set(registered_ops())
    assert not missing, sorted(missing)


def test_kernel_modules_have_no_duplicates():
    assert len(set(KERNEL_MODULES)) == len(KERNEL_MODULES)


def test_float32_add_selects_the_float_kernel():
    from edgelite.interpreter.kernels.elementwise import Add
    from tests.interpreter.kernels.oracle import make_context

    ctx = make_context("ADD", [np.zeros(2, np.float32), np.zeros(2, np.float32)])
    from edgelite.interpreter.kernels.base import select_kernel

    assert isinstance(select_kernel(ctx), Add)
