"""The kernel registry: every kernel file registers something, the index read from the
``@register`` lines matches what is registered, no operator has two kernels at one
priority, every registered name is a real builtin operator, and the float/data-movement
op list is covered."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import kernel_modules, load_all, op_index
from edgelite.interpreter.kernels.base import (
    _REGISTRY,
    FLOAT,
    INT8,
    Kernel,
    RegistrationError,
    kernels_for,
    register,
    registered_ops,
)
from edgelite.schema.ops import all_builtin_names

FLOAT_OPS = ["ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "SIGN", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "ELU", "SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION", "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL", "ARG_MAX", "ARG_MIN", "TOPK_V2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "CONCATENATION", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "PAD", "PADV2", "MIRROR_PAD", "SLICE", "STRIDED_SLICE", "GATHER", "GATHER_ND", "TILE", "BROADCAST_TO", "SHAPE", "FILL", "ZEROS_LIKE", "CAST", "RANGE", "ONE_HOT", "REVERSE_V2", "WHERE", "SELECT", "SELECT_V2", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "EMBEDDING_LOOKUP", "DEQUANTIZE", "DENSIFY", "CUMSUM", "ADD_N"]


PKG = "edgelite.interpreter.kernels."


def _registered_by_module() -> dict[str, set[str]]:
    load_all()
    out: dict[str, set[str]] = {}
    for op, ks in _REGISTRY.items():
        for k in ks:
            mod = type(k).__module__
            if mod.startswith(PKG):
                out.setdefault(mod[len(PKG):], set()).add(op)
    return out


@pytest.mark.parametrize("module", kernel_modules())
def test_every_kernel_file_registers_a_kernel(module):
    assert _registered_by_module().get(module), f"kernels/{module.replace('.', '/')}.py registers no kernel"


def test_every_kernel_file_is_in_an_op_family():
    for module in kernel_modules():
        assert "." in module, f"kernels/{module}.py: put it in its op family's folder"


def test_the_index_read_from_the_decorators_matches_the_registry():
    """``op_index`` reads the ``@register(...)`` lines without importing; it must name
    exactly the modules that register each operator (a registration written any other
    way would be invisible to lazy loading)."""
    want: dict[str, set[str]] = {}
    for module, ops in _registered_by_module().items():
        for op in ops:
            want.setdefault(op, set()).add(module)
    got = {op: set(mods) for op, mods in op_index().items()}
    assert got == want


def test_every_name_the_kernel_modules_register_is_a_builtin_operator():
    # (Custom operators registered elsewhere, e.g. by tests, use their custom_code names.)
    names = {op for ops in _registered_by_module().values() for op in ops}
    unknown = names - set(all_builtin_names())
    assert not unknown, f"registered names that are not TFLite builtins: {sorted(unknown)}"


def test_no_operator_has_two_kernels_at_one_priority():
    load_all()
    for op, ks in _REGISTRY.items():
        prios = [k.priority for k in ks]
        assert len(prios) == len(set(prios)), (op, [(type(k).__name__, k.priority) for k in ks])
        assert prios == sorted(prios, reverse=True), op


def test_registering_an_operator_twice_at_one_priority_is_an_error():
    @register("EdgeliteTestTwice", priority=INT8)
    class First(Kernel):
        def prepare(self, ctx): ...

        def eval(self, params, inputs, outputs): ...

    with pytest.raises(RegistrationError, match="EdgeliteTestTwice"):
        @register("EdgeliteTestTwice", priority=INT8)
        class Second(Kernel):
            def prepare(self, ctx): ...

            def eval(self, params, inputs, outputs): ...

    @register("EdgeliteTestTwice", priority=FLOAT)
    class Third(Kernel):
        def prepare(self, ctx): ...

        def eval(self, params, inputs, outputs): ...

    assert [type(k).__name__ for k in kernels_for("EdgeliteTestTwice")] == ["First", "Third"]


def test_reduce_registers_every_reducer_it_knows():
    from edgelite.interpreter.kernels.reduce.reduce_float import _REDUCERS, Reduce

    assert set(_REDUCERS) == {op for op, ks in _REGISTRY.items() if any(isinstance(k, Reduce) for k in ks)}


def test_registered_objects_are_kernels_with_prepare_and_eval():
    load_all()
    for name, ks in _REGISTRY.items():
        for k in ks:
            assert isinstance(k, Kernel), (name, k)
            assert type(k).prepare is not Kernel.prepare and type(k).eval is not Kernel.eval, (name, type(k))


def test_float_and_movement_ops_are_all_covered():
    missing = set(FLOAT_OPS) - set(registered_ops())
    assert not missing, sorted(missing)


def test_float32_add_selects_the_float_kernel():
    from edgelite.interpreter.kernels.elementwise.elementwise_float import Arith
    from tests.interpreter.kernels.oracle import make_context

    ctx = make_context("ADD", [np.zeros(2, np.float32), np.zeros(2, np.float32)])
    from edgelite.interpreter.kernels.base import select_kernel

    assert isinstance(select_kernel(ctx), Arith)


def test_kernel_tests_mirror_the_op_families():
    """Every op family in edgelite/interpreter/kernels/ has its test folder here."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    families = {m.split(".")[0] for m in kernel_modules()}
    missing = sorted(f for f in families if not any((here / f).glob("test_*.py")))
    assert not missing, f"no tests/interpreter/kernels/<family>/ for {missing}"


_SELECTION_CHILD = """
import json, sys
from edgelite.interpreter import Interpreter
import edgelite.interpreter.kernels as K
if sys.argv[1] == "full":
    K.load_all()
out = {}
for path in sys.argv[2:]:
    it = Interpreter(model_path=path)
    out[path] = [type(op.kernel).__name__ for spec in it._specs for op in spec.ops]
print(json.dumps({"kernels": out, "imported": sorted(K._imported)}))
"""


def _selection(mode, models):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", _SELECTION_CHILD, mode, *map(str, models)], capture_output=True,
                         text=True, env=env, check=True, cwd=str(root))
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_priority_staged_loading_chooses_what_a_full_import_chooses():
    """``select_kernel`` imports kernel modules one priority level at a time; on models
    of every kind (int8, uint8, 16x8, float, float16, dynamic range) it must pick the
    kernels a process that imported every module picks; an int8 model must leave the
    float and dynamic-range conv modules unimported, a float model the int8 and
    dynamic-range ones."""
    from pathlib import Path

    fx = Path(__file__).resolve().parents[2] / "fixtures"
    models = [fx / f"{n}.tflite" for n in ("mobilenet_v2_035_96_int8", "uint8_tf1", "int16x8", "float32_cnn",
                                           "mobilenet_v2_035_96_float16", "mobilenet_v2_035_96_dynamic",
                                           "efficientnet_small_96_int8", "int8_io_cnn")]
    lazy, full = _selection("lazy", models), _selection("full", models)
    assert lazy["kernels"] == full["kernels"]
    only_int8 = _selection("lazy", models[:1])["imported"]
    assert "conv.conv_quant" in only_int8
    assert not {"conv.conv_float", "conv.conv_hybrid", "conv.depthwise_float", "conv.depthwise_hybrid"} & set(only_int8)
    # ... and a float model the int8 and dynamic-range modules of its operators
    only_float = set(_selection("lazy", [fx / "float32_cnn.tflite"])["imported"])
    assert "conv.conv_float" in only_float
    assert not {m for m in only_float if m.endswith(("_quant", "_hybrid"))}, only_float


def test_priority_levels_are_read_from_the_decorators():
    from edgelite.interpreter.kernels import priority_levels
    from edgelite.interpreter.kernels.base import HYBRID, INT8

    levels = priority_levels("CONV_2D")
    assert levels[0] == INT8 and HYBRID in levels and levels == sorted(levels, reverse=True)
    assert priority_levels("EdgeliteNoSuchOperator") == []


_NON_INTEGER = [np.float32, np.float16, np.int32, np.int64, np.bool_]


def _contexts_without_integer_storage(op: str):
    """Operators of ``op`` whose tensors are float32/float16/int32/int64/bool, unquantized,
    with 1-4 inputs (constant or not) and 1-2 outputs, in every dtype mix of input 0 /
    the other inputs / the outputs."""
    from edgelite.interpreter.kernels.base import OpContext, TensorInfo

    def info(i, dt, const):
        dt = np.dtype(dt)
        shape = (1, 4, 4, 4)
        return TensorInfo(i, f"t{i}", shape, dt, 0, None, np.zeros(shape, dt) if const else None)

    for n_in in (1, 2, 3, 4):
        for first in _NON_INTEGER:
            for rest in _NON_INTEGER:
                for out in _NON_INTEGER:
                    for const in (False, True):
                        ins = [info(0, first, False)] + [info(i, rest, const) for i in range(1, n_in)]
                        for n_out in (1, 2):
                            outs = [info(10 + j, out, False) for j in range(n_out)]
                            yield OpContext(op, 0, 1, None, None, None, ins, outs)


def test_kernels_above_float_need_an_integer_tensor():
    """``select_kernel`` skips the priorities above FLOAT for an operator with no int8,
    uint8, int16 or quantized tensor: no kernel registered there may accept one."""
    load_all()
    for op, kernels in _REGISTRY.items():
        above = [k for k in kernels if k.priority > FLOAT and type(k).__module__.startswith(PKG)]
        if not above:
            continue
        for ctx in _contexts_without_integer_storage(op):
            for k in above:
                try:
                    took = k.accepts(ctx)
                except Exception:  # noqa: BLE001 - looked past the dtypes: it must decline instead
                    took = True
                assert not took, f"{type(k).__qualname__} ({op}, priority {k.priority}) accepts " \
                                 f"{[t.dtype.name for t in ctx.inputs]} -> {[t.dtype.name for t in ctx.outputs]}"
