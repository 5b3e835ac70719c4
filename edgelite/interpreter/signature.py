"""``SignatureRunner``: call a model's SignatureDef with keyword inputs, get a dict back.

Behaves like LiteRT's runner: inputs are named by the signature's input names, each
input is resized to the shape of the array given, the subgraph is (re)allocated only
when a shape changed, and the outputs come back as copies keyed by output name.

Example:
    >>> import numpy as np
    >>> import edgelite
    >>> from edgelite.schema.builder import ModelBuilder
    >>> b = ModelBuilder()
    >>> x = b.add_input("x", (1, 2), np.float32)
    >>> b.mark_output(x)
    >>> b.add_signature("serving_default", {"inp": x}, {"out": x})
    >>> runner = edgelite.Interpreter(model_content=b.build()).get_signature_runner()
    >>> runner(inp=np.ones((3, 2), np.float32))["out"].shape
    (3, 2)
"""

from __future__ import annotations

import numpy as np


class SignatureRunner:
    """Runs one SignatureDef of an ``Interpreter``. Get one with ``get_signature_runner``.

    Note: no other call on this runner or its interpreter may start before a call
    has returned (as with LiteRT).
    """

    def __init__(self, interpreter=None, signature_key=None):
        if not interpreter:
            raise ValueError("None interpreter provided.")
        if not signature_key:
            raise ValueError("None signature_key provided.")
        full = interpreter._get_full_signature_list()
        if signature_key not in full:
            raise ValueError(f'Invalid signature_key provided: "{signature_key}".')
        self._interpreter = interpreter
        self._signature_key = signature_key
        self._inputs: dict[str, int] = full[signature_key]["inputs"]
        self._outputs: dict[str, int] = full[signature_key]["outputs"]
        self._subgraph_index = interpreter._signature_subgraph(signature_key)

    def __call__(self, **kwargs):
        """Run the signature on ``kwargs`` (input name -> array); return output name -> array.

        Raises:
            ValueError: wrong number of inputs or an unknown input name.
            edgelite.errors.DTypeError: an input of the wrong dtype.
        """
        if len(kwargs) != len(self._inputs):
            raise ValueError(
                "Invalid number of inputs provided for running a SignatureDef, "
                f"expected {len(self._inputs)} vs provided {len(kwargs)}"
            )
        interp, sg = self._interpreter, self._subgraph_index
        for name, value in kwargs.items():
            if name not in self._inputs:
                raise ValueError(f"Invalid Input name ({name}) for SignatureDef")
            interp._resize(self._inputs[name], np.shape(value), strict=False, subgraph_index=sg)
        interp._allocate(sg)
        for name, value in kwargs.items():
            interp._set_tensor(self._inputs[name], value, sg)
        interp._invoke(sg)
        return {name: interp.get_tensor(index, sg) for name, index in self._outputs.items()}

    def get_input_details(self) -> dict:
        """Input name -> LiteRT-style detail dict."""
        return {n: self._interpreter._get_tensor_details(i, self._subgraph_index) for n, i in self._inputs.items()}

    def get_output_details(self) -> dict:
        """Output name -> LiteRT-style detail dict."""
        return {n: self._interpreter._get_tensor_details(i, self._subgraph_index) for n, i in self._outputs.items()}
