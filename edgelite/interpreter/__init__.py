"""The edgelite interpreter: runs ``.tflite`` models with LiteRT's Python API.

Layers, in the order a model flows through them:

* ``graph``: the file's subgraphs as checked, typed specs; a kernel resolved per operator.
* ``executor``: prepare kernels, fold constant operators, plan the arena, run the steps.
* ``planner``: greedy-by-size best-fit placement of tensors in one arena.
* ``interpreter`` / ``signature`` / ``details``: the LiteRT-compatible API.
* ``kernels``: the operator implementations (numpy reference, optional Numba).

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter import Interpreter, OpResolverType
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder(); x = b.add_input("x", (2,), np.float32); b.mark_output(x)
    >>> it = Interpreter(model_content=b.build(),
    ...                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    >>> it.allocate_tensors()
    >>> [d["name"] for d in it.get_input_details()]
    ['x']
"""

from edgelite.interpreter.interpreter import Interpreter, OpResolverType  # noqa: F401
from edgelite.interpreter.signature import SignatureRunner  # noqa: F401

__all__ = ["Interpreter", "OpResolverType", "SignatureRunner"]
