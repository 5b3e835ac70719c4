"""The one in-memory quantization-parameter type, shared by converter and interpreter.

``real = scale * (q - zero_point)``, per tensor (one scale) or per channel along
``quantized_dimension``. The converter keeps it on IR values (``ir.Value.quant``), the
interpreter hands it to kernels (``TensorInfo.quant``); the flatbuffer's
``QuantizationParameters`` (``schema.model``) is made from it, or read into it, only at
the file's edge (``converter.lower.build_model``, ``interpreter.graph``).

A named tuple, so ``scale, zero_point, dim = v.quant`` and ``v.quant[0]`` keep working.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.quant import QuantParams
    >>> q = QuantParams(np.array([0.5], np.float32), np.array([3]))
    >>> q.per_channel, q.scalar_scale, q.scalar_zero_point, q.quantized_dimension
    (False, 0.5, 3, 0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class QuantParams(NamedTuple):
    """Quantization of one tensor: ``real = scale * (q - zero_point)``."""

    scale: np.ndarray  # float32, one value per tensor or per channel
    zero_point: np.ndarray  # int64, same length as scale
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def scalar_scale(self) -> float:
        return float(self.scale[0])

    @property
    def scalar_zero_point(self) -> int:
        return int(self.zero_point[0])
