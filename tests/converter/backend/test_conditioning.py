"""The softmax-through-logits comparison used for ill-conditioned outputs (conditioning.py)."""

import numpy as np

from tests.converter.backend.conditioning import ill_conditioned, softmax_agrees
from tests.converter.backend.edgelite_backend import SoftmaxOutput, explained_by_logits


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def test_squeezenet_like_ties_are_explained_by_one_ulp():
    # Reference: 1000 equal logits (0.001 each). edgelite: 56 of them one ulp (1024) higher.
    z = np.full((1, 1000), 9.5e9, np.float32)
    z[0, :56] = np.nextafter(z[0, :56], np.float32(np.inf))
    ours = _softmax(z.astype(np.float64))
    ref = np.full((1, 1000), 0.001, np.float32)
    assert not np.allclose(ours, ref, rtol=1e-3)          # the plain comparison fails...
    assert ill_conditioned(z, 1.0) and softmax_agrees(ref, z)  # ...the logits explain it
    assert explained_by_logits(SoftmaxOutput.wrap(ours, z, 1.0), ref)


def test_ill_conditioned_but_wrong_logits_are_rejected():
    z = np.full((1, 10), 9.5e9, np.float32)
    z[0, 3] += 1e6          # far more than 1e-5 of the largest logit (9.5e4)
    ref = np.full((1, 10), 0.1, np.float32)
    assert ill_conditioned(z, 1.0) and not softmax_agrees(ref, z)


def test_well_conditioned_softmax_is_never_judged_through_logits():
    z = np.array([[1.0, 2.0, 3.0]], np.float32)
    ours = _softmax(z.astype(np.float64))
    assert not ill_conditioned(z, 1.0)
    # Even a wrong reference is not "explained": the plain comparison alone decides.
    assert not explained_by_logits(SoftmaxOutput.wrap(ours, z, 1.0), ours[:, ::-1])
    assert not explained_by_logits(ours, ours)  # a plain array carries no logits


def test_underflowed_reference_entries_need_far_lower_logits():
    z = np.array([[100000.0, 0.0]], np.float32)   # tolerance 1.0: ill-conditioned
    assert softmax_agrees(np.array([[1.0, 0.0]], np.float32), z)
    z_close = np.array([[100000.0, 99990.0]], np.float32)
    assert not softmax_agrees(np.array([[1.0, 0.0]], np.float32), z_close)
