"""Comparing softmax outputs honestly when their logits are ill-conditioned.

A softmax output ``y = softmax(beta * z)`` changes by a factor ``exp(beta * dz)`` when a
logit moves by ``dz``. Logits of magnitude ``M`` are only known to about ``1e-5 * M``
(the relative tolerance every other float tensor of these tests is held to; one float32
ulp of ``M`` is ``M / 2**23``), so once that uncertainty approaches 1, the output's value
is decided by rounding, not by the model. The ONNX suite's light models have such
logits: their stand-in weights are constants, which makes squeezenet's 1000 logits all
about 9.5e9 (one ulp is 1024) and exactly equal in the reference; whether a few of them
come out one ulp larger depends on the BLAS micro-kernel that summed them, and then the
softmax puts all its mass on those few.

``softmax_agrees`` judges such an output through its logits instead: edgelite's logits
(the softmax's input tensor) must reproduce the reference's logit differences, which the
reference output gives exactly where it is positive (``log y_i - log y_j = beta * (z_i -
z_j)``), to within ``1e-5`` of the largest logit -- the same relative tolerance as
everywhere else. It is used only after the plain comparison failed and only when the
logits are ill-conditioned (that tolerance exceeds ``ILL_CONDITIONED``), so a
well-conditioned softmax is held to the plain comparison alone.
"""

from __future__ import annotations

import numpy as np

REL_TOL = 1e-5           # as edgelite_backend._compare for every float output
ILL_CONDITIONED = 1e-3   # logit uncertainty (in units of beta*z) above which outputs are rounding noise
_LOG_TINY = float(np.log(np.finfo(np.float32).tiny))  # below this a float32 softmax output underflows


def logit_tolerance(logits: np.ndarray, beta: float) -> float:
    return REL_TOL * float(np.max(np.abs(beta * logits.astype(np.float64)), initial=0.0))


def ill_conditioned(logits: np.ndarray, beta: float) -> bool:
    return logit_tolerance(logits, beta) > ILL_CONDITIONED


def softmax_agrees(reference: np.ndarray, logits: np.ndarray, beta: float = 1.0) -> bool:
    """True when ``logits`` (softmax over the last axis) explain ``reference`` within tolerance.

    Example:
        >>> z = np.array([[9.5e9, 9.5e9 + 1024.0]], np.float32)   # one ulp apart
        >>> softmax_agrees(np.array([[0.5, 0.5]], np.float32), z)
        True
        >>> softmax_agrees(np.array([[0.9, 0.1]], np.float32), np.array([[1.0, 2.0]], np.float32))
        False
    """
    if reference.size != logits.size or not np.all(np.isfinite(logits)):
        return False
    tol = logit_tolerance(logits, beta)
    z = beta * logits.astype(np.float64).reshape(-1, logits.shape[-1])
    y = reference.astype(np.float64).reshape(z.shape)
    for zr, yr in zip(z, y):
        top = int(np.argmax(yr))
        if not yr[top] > 0:
            return False
        dz = zr - zr[top]
        pos = yr > 0
        # Where the reference is positive, its log ratios are the logit differences.
        if np.any(np.abs((np.log(yr[pos]) - np.log(yr[top])) - dz[pos]) > 2 * tol + 1e-4):
            return False
        # Where it underflowed to 0, the logit must lie far enough below the top one.
        if np.any(dz[~pos] > _LOG_TINY + np.log(yr[top]) + 2 * tol + 1e-4):
            return False
    return True
