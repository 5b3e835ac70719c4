"""Small models for schema tests, built with ModelBuilder (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT
from edgelite.schema.fb.GeluOptions import GeluOptionsT
from edgelite.schema.fb.Padding import Padding
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT


def conv_gelu_model(seed: int = 0) -> bytes:
    """CONV_2D -> GELU (code 150, above the 127 byte limit) -> RESHAPE -> FC -> ADD."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.add_input("image", shape=(1, 8, 8, 3), dtype=np.float32)
    w = b.add_constant("conv/w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    bias = b.add_constant("conv/b", rng.standard_normal(4).astype(np.float32))
    c = b.add_tensor("conv/out", shape=(1, 8, 8, 4), dtype=np.float32)
    opts = Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = Padding.SAME, 1, 1
    b.add_operator("CONV_2D", [x, w, bias], [c], opts)
    g = b.add_tensor("gelu", shape=(1, 8, 8, 4), dtype=np.float32)
    b.add_operator("GELU", [c], [g], GeluOptionsT())
    r = b.add_tensor("flat", shape=(1, 256), dtype=np.float32)
    shape = b.add_constant("flat/shape", np.array([1, 256], np.int32))
    ro = ReshapeOptionsT()
    ro.newShape = [1, 256]
    b.add_operator("RESHAPE", [g, shape], [r], ro)
    fw = b.add_constant("fc/w", rng.standard_normal((10, 256)).astype(np.float32) * 0.1)
    f = b.add_tensor("fc", shape=(1, 10), dtype=np.float32)
    b.add_operator("FULLY_CONNECTED", [r, fw, -1], [f], FullyConnectedOptionsT())
    k = b.add_constant("offset", rng.standard_normal((1, 10)).astype(np.float32))
    y = b.add_tensor("logits", shape=(1, 10), dtype=np.float32)
    b.add_operator("ADD", [f, k], [y], AddOptionsT())
    b.mark_output(y)
    b.add_signature("serving_default", {"image": x}, {"logits": y})
    b.add_metadata("min_runtime_version", b"1.14.0".ljust(16, b"\0"))
    return b.build()


def custom_op_model() -> bytes:
    """A CUSTOM op with opaque option bytes next to a builtin one."""
    b = ModelBuilder()
    x = b.add_input("x", shape=(2, 2), dtype=np.float32)
    y = b.add_tensor("y", shape=(2, 2), dtype=np.float32)
    b.add_operator("CUSTOM", [x], [y], custom_code="MyOp", custom_options=bytes(range(37)), version=2)
    b.mark_output(y)
    return b.build()
