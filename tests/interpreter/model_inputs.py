"""Random inputs for whole-model tests, from LiteRT-style input details."""

from __future__ import annotations

import numpy as np


def random_inputs(details, seed: int = 0) -> list[np.ndarray]:
    """One array per input: floats uniform in [0, 1) (image-like: these models take
    normalised camera frames), integers over their dtype's whole range; dynamic (-1)
    dimensions become 1."""
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        shape = [max(int(s), 1) for s in d["shape"]]
        if np.issubdtype(d["dtype"], np.floating):
            out.append(rng.uniform(0, 1, shape).astype(d["dtype"]))
        else:
            info = np.iinfo(d["dtype"])
            out.append(rng.integers(info.min, info.max, shape, endpoint=True).astype(d["dtype"]))
    return out
