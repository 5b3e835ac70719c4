"""Quantized CONCATENATION against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.kernels.quant_harness import Spec, TSpec, check, random_q, run_edgelite
from edgelite.errors import ShapeError
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT


def _opts(axis):
    o = ConcatenationOptionsT()
    o.axis = axis
    return o


def test_uint8_rescale_by_hand():
    # input scale 1 zp 0 -> output scale 0.5 zp 10: q_out = 2 q + 10
    spec = Spec("CONCATENATION", [TSpec((1, 2), np.uint8, (1.0, 0)), TSpec((1, 1), np.uint8, (0.5, 10))],
                [TSpec((1, 3), np.uint8, (0.5, 10))], _opts(1))
    out = run_edgelite(spec, [np.array([[3, 200]], np.uint8), np.array([[7]], np.uint8)])[0]
    assert out.tolist() == [[16, 255, 7]]


def test_int8_different_params_refused():
    spec = Spec("CONCATENATION", [TSpec((1, 2), np.int8, (1.0, 0)), TSpec((1, 1), np.int8, (0.5, 0))],
                [TSpec((1, 3), np.int8, (0.5, 0))], _opts(1))
    with pytest.raises(ShapeError):
        run_edgelite(spec, [np.zeros((1, 2), np.int8), np.zeros((1, 1), np.int8)])


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_against_litert(dt, axis):
    rng = np.random.default_rng(axis + 5)
    shapes = {0: [(2, 3, 4), (3, 3, 4), (1, 3, 4)], 1: [(2, 3, 4), (2, 5, 4)], -1: [(2, 3, 4), (2, 3, 7)]}[axis]
    for same in (True, False):
        zp = (lambda: 0) if dt == np.int16 else (lambda: int(rng.integers(-30, 30)) + (128 if dt == np.uint8 else 0))
        qo = (float(rng.uniform(0.01, 0.2)), zp())
        qs = [qo if (same or dt == np.int8) else (float(rng.uniform(0.01, 0.2)), zp()) for _ in shapes]
        out = list(shapes[0])
        ax = axis % 3
        out[ax] = sum(s[ax] for s in shapes)
        spec = Spec("CONCATENATION", [TSpec(s, dt, q) for s, q in zip(shapes, qs)], [TSpec(tuple(out), dt, qo)],
                    _opts(axis))
        check(spec, [random_q(rng, s, dt) for s in shapes])
