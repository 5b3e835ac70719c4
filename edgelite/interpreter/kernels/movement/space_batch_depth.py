"""Moving elements between space, depth and batch: DEPTH_TO_SPACE, SPACE_TO_DEPTH
(NHWC, TFLite's "DCR" order), BATCH_TO_SPACE_ND and SPACE_TO_BATCH_ND.

Pure data movement for every dtype. SPACE_TO_BATCH_ND pads with real zero, which is
the output's zero point for a quantized tensor.

Example:
    >>> import numpy as np
    >>> from edgelite.interpreter.kernels.movement.space_batch_depth import depth_to_space
    >>> depth_to_space(np.arange(4).reshape(1, 1, 1, 4), 2)[0, :, :, 0].tolist()
    [[0, 1], [2, 3]]
"""

from __future__ import annotations


import numpy as np

from edgelite.quick_dataclass import dataclass
from edgelite.interpreter.kernels.base import Kernel, OpContext, register
from edgelite.interpreter.kernels.common import (
    Static,
    ValueShapedKernel,
    movement_accepts,
    option,
    output_zero,
)


def depth_to_space(x: np.ndarray, bs: int) -> np.ndarray:
    """``out[b, h*bs + i, w*bs + j, c] = x[b, h, w, (i*bs + j)*C + c]``."""
    b, h, w, d = x.shape
    c = d // (bs * bs)
    return x.reshape(b, h, w, bs, bs, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h * bs, w * bs, c)


def space_to_depth(x: np.ndarray, bs: int) -> np.ndarray:
    """The inverse of ``depth_to_space``."""
    b, h, w, c = x.shape
    return x.reshape(b, h // bs, bs, w // bs, bs, c).transpose(0, 1, 3, 2, 4, 5).reshape(
        b, h // bs, w // bs, bs * bs * c
    )


class _BlockKernel(Kernel):
    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def block(self, ctx: OpContext) -> tuple[int, tuple[int, ...]]:
        shape = ctx.input(0).shape
        bs = int(option(ctx, "blockSize", 0))
        if len(shape) != 4:
            raise ctx.fail(f"input must be 4-D NHWC, got {shape}")
        if bs < 1:
            raise ctx.fail(f"block size must be >= 1, got {bs}")
        return bs, shape


@register("DEPTH_TO_SPACE")
class DepthToSpace(_BlockKernel):
    def prepare(self, ctx: OpContext) -> int:
        bs, (b, h, w, d) = self.block(ctx)
        if d % (bs * bs):
            raise ctx.fail(f"depth {d} is not a multiple of block_size^2 = {bs * bs}")
        ctx.set_output_shape(0, (b, h * bs, w * bs, d // (bs * bs)))
        return bs

    def eval(self, bs: int, inputs, outputs):
        np.copyto(outputs[0], depth_to_space(inputs[0], bs))


@register("SPACE_TO_DEPTH")
class SpaceToDepth(_BlockKernel):
    def prepare(self, ctx: OpContext) -> int:
        bs, (b, h, w, c) = self.block(ctx)
        if h % bs or w % bs:
            raise ctx.fail(f"height {h} and width {w} must be multiples of the block size {bs}")
        ctx.set_output_shape(0, (b, h // bs, w // bs, c * bs * bs))
        return bs

    def eval(self, bs: int, inputs, outputs):
        np.copyto(outputs[0], space_to_depth(inputs[0], bs))


@dataclass(frozen=True)
class BlockPlan:
    block: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]  # paddings (SPACE_TO_BATCH) or crops (BATCH_TO_SPACE)
    fill: object


def _block_and_pairs(static: Static, shape, block_values, pair_values, what: str):
    block = tuple(int(b) for b in np.asarray(block_values).reshape(-1))
    m = len(block)
    pairs = np.asarray(pair_values).reshape(-1, 2) if np.asarray(pair_values).size else np.zeros((0, 2), int)
    if not 1 <= m <= len(shape) - 1:
        raise static.fail(f"block shape {list(block)} needs 1 to {len(shape) - 1} spatial dims of input {shape}")
    if any(b < 1 for b in block):
        raise static.fail(f"block shape {list(block)} must be positive")
    if pairs.shape[0] != m or (pairs < 0).any():
        raise static.fail(f"{what} {pairs.tolist()} need one non-negative pair per block dimension")
    return block, tuple((int(a), int(b)) for a, b in pairs)


@register("SPACE_TO_BATCH_ND")
class SpaceToBatchNd(ValueShapedKernel):
    """Inputs ``(x, block_shape, paddings)``: zero-pad the spatial dims, then move each
    block offset into the batch dimension."""

    value_inputs = (1, 2)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def static_extra(self, ctx: OpContext):
        return output_zero(ctx.outputs[0])

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        block, pads = _block_and_pairs(static, shape, values[1], values[2], "paddings")
        spatial = [n + a + b for n, (a, b) in zip(shape[1:], pads)]
        for d, (p, b) in enumerate(zip(spatial, block)):
            if p % b:
                raise static.fail(f"padded spatial dimension {d} ({p}) is not a multiple of block {b}")
        out = (shape[0] * int(np.prod(block)),) + tuple(p // b for p, b in zip(spatial, block))
        out += shape[1 + len(block):]
        return BlockPlan(block, pads, static.extra), [out]

    def run(self, plan: BlockPlan, inputs, outputs):
        x = inputs[0]
        m = len(plan.block)
        full = tuple(plan.pads) + ((0, 0),) * (x.ndim - 1 - m)
        xp = np.pad(x, ((0, 0),) + full, mode="constant", constant_values=plan.fill)
        n = x.shape[0]
        split = [n]
        for d, b in enumerate(plan.block):
            split += [xp.shape[1 + d] // b, b]
        rest = list(xp.shape[1 + m:])
        y = xp.reshape(split + rest)
        # block offsets first, then batch, then the reduced spatial dims, then the rest
        perm = [2 + 2 * d for d in range(m)] + [0] + [1 + 2 * d for d in range(m)]
        perm += list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
        np.copyto(outputs[0], y.transpose(perm).reshape(outputs[0].shape))


@register("BATCH_TO_SPACE_ND")
class BatchToSpaceNd(ValueShapedKernel):
    """Inputs ``(x, block_shape, crops)``: the inverse of SPACE_TO_BATCH_ND, then crop."""

    value_inputs = (1, 2)

    def accepts(self, ctx: OpContext) -> bool:
        return movement_accepts(ctx)

    def plan(self, static: Static, shapes, values):
        shape = shapes[0]
        block, crops = _block_and_pairs(static, shape, values[1], values[2], "crops")
        nb = int(np.prod(block))
        if shape[0] % nb:
            raise static.fail(f"batch {shape[0]} is not a multiple of the block size product {nb}")
        out = [shape[0] // nb]
        for d, (b, (c0, c1)) in enumerate(zip(block, crops)):
            full = shape[1 + d] * b
            if c0 + c1 > full:
                raise static.fail(f"crops {(c0, c1)} exceed spatial dimension {d} of size {full}")
            out.append(full - c0 - c1)
        out += list(shape[1 + len(block):])
        return BlockPlan(block, crops, None), [tuple(out)]

    def run(self, plan: BlockPlan, inputs, outputs):
        x = inputs[0]
        m = len(plan.block)
        nb = int(np.prod(plan.block))
        n = x.shape[0] // nb
        spatial = list(x.shape[1:1 + m])
        rest = list(x.shape[1 + m:])
        y = x.reshape(list(plan.block) + [n] + spatial + rest)
        perm = [m]
        for d in range(m):
            perm += [m + 1 + d, d]
        perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
        y = y.transpose(perm).reshape([n] + [s * b for s, b in zip(spatial, plan.block)] + rest)
        index = (slice(None),) + tuple(slice(c0, y.shape[1 + d] - c1) for d, (c0, c1) in enumerate(plan.pads))
        np.copyto(outputs[0], y[index])
