"""``GpuDelegate``: options, per-operator support, and partitions built on WebGPU.

Options are LiteRT's GPU delegate keys plus edgelite's own; ``load_delegate("gpu",
{...})`` takes them as strings or native values:

=============================  ===================================================
``is_precision_loss_allowed``  -1: use the priorities; 0: fp32; 1: fp16 storage
                               (needs the adapter's ``shader-f16``; fp32 otherwise)
``inference_preference``       0 FAST_SINGLE_ANSWER, 1 SUSTAINED_SPEED, 2 BALANCED
                               (accepted for compatibility; no effect on WebGPU)
``inference_priority1..3``     0 AUTO, 1 MAX_PRECISION, 2 MIN_LATENCY, 3 MIN_MEMORY_USAGE;
                               with -1 above, MIN_LATENCY first allows fp16
``max_delegated_partitions``   keep the N largest partitions (default 1; 0: all)
``enable_quant``               run int8/uint8 models in float, rounding each output to
                               its int8 grid, as LiteRT (default true)
``validate``                   also run partitions on the CPU kernels and compare
``validate_tolerance``         with validate: raise above this relative difference
``device``                     adapter index or name substring ("llvmpipe", "vulkan")
``limits``                     "adapter" (default) or "default" (WebGPU's defaults)
``min_partition_size``         smaller partitions stay on the CPU (default 1)
=============================  ===================================================

Example:
    >>> import edgelite
    >>> try:
    ...     d = edgelite.load_delegate("gpu", {"max_delegated_partitions": "2"})
    ... except edgelite.errors.DelegateError:
    ...     d = None  # no wgpu or no adapter here
"""

from __future__ import annotations

import logging

from edgelite.delegates.base import BaseDelegate, check_keys, parse_bool, parse_float, parse_int
from edgelite.delegates.gpu.device import DeviceRequest, GpuDevice, open_device
from edgelite.errors import DelegateError

log = logging.getLogger("edgelite.delegates")

_KEYS = {
    "is_precision_loss_allowed",
    "inference_preference",
    "inference_priority1",
    "inference_priority2",
    "inference_priority3",
    "max_delegated_partitions",
    "enable_quant",
    "experimental_flags",
    "validate",
    "validate_tolerance",
    "device",
    "limits",
    "min_partition_size",
}
MIN_LATENCY = 2


class GpuDelegate(BaseDelegate):
    """Runs partitions of a model on a WebGPU device.

    Args:
        precision_loss_allowed: store tensors and weights as fp16 (``shader-f16``);
            accumulation stays fp32.
        max_delegated_partitions: keep the N largest partitions (0: all).
        min_partition_size: smaller partitions stay on the CPU.
        validate, validate_tolerance: validate mode (docs/delegates.md).
        device: adapter index or name substring (None: the best adapter).
        limits: ``"adapter"`` or ``"default"`` (WebGPU's default limits).
        enable_quant: run int8/uint8 operators in float (LiteRT's ENABLE_QUANT).

    Raises:
        DelegateError: no wgpu, no adapter, or bad options.

    Example:
        >>> import edgelite
        >>> from edgelite.delegates import GpuDelegate
        >>> try:
        ...     gpu = GpuDelegate(limits="default")
        ... except edgelite.errors.DelegateError:
        ...     gpu = None
    """

    name = "GPU"

    def __init__(
        self,
        *,
        precision_loss_allowed: bool = False,
        max_delegated_partitions: int = 1,
        min_partition_size: int = 1,
        validate: bool = False,
        validate_tolerance: float | None = None,
        device: str | int | None = None,
        limits: str = "adapter",
        enable_quant: bool = True,
    ) -> None:
        super().__init__(
            max_delegated_partitions=max_delegated_partitions,
            min_partition_size=min_partition_size,
            validate=validate,
            validate_tolerance=validate_tolerance,
        )
        self.enable_quant = bool(enable_quant)
        if limits not in ("adapter", "default"):
            raise DelegateError(f"GPU delegate: limits={limits!r}: expected 'adapter' or 'default'")
        self.gpu: GpuDevice = open_device(DeviceRequest(adapter=device, limits=limits, f16=bool(precision_loss_allowed)))
        self.fp16 = self.gpu.has_f16
        if precision_loss_allowed and not self.fp16:
            # Permission, not a requirement (as LiteRT): fp32 is exact, so say so and go on.
            log.info("GPU delegate: %s has no shader-f16; running in fp32", self.gpu.adapter_name)

    @classmethod
    def from_options(cls, options: dict) -> "GpuDelegate":
        """Build from a LiteRT-style option dict (values may be strings)."""
        check_keys(options, _KEYS, "GPU")
        loss = parse_int(options.get("is_precision_loss_allowed", 0), "is_precision_loss_allowed", -1, 1)
        parse_int(options.get("inference_preference", 0), "inference_preference", 0, 2)
        prio = [parse_int(options.get(f"inference_priority{k}", 0), f"inference_priority{k}", 0, 3) for k in (1, 2, 3)]
        quant = parse_bool(options.get("enable_quant", True), "enable_quant")
        parse_int(options.get("experimental_flags", 1), "experimental_flags", 0, 15)
        fp16 = loss == 1 or (loss == -1 and prio[0] == MIN_LATENCY)
        tol = options.get("validate_tolerance")
        return cls(
            precision_loss_allowed=fp16,
            max_delegated_partitions=parse_int(options.get("max_delegated_partitions", 1), "max_delegated_partitions", 0),
            min_partition_size=parse_int(options.get("min_partition_size", 1), "min_partition_size", 1),
            validate=parse_bool(options.get("validate", False), "validate"),
            validate_tolerance=None if tol is None else parse_float(tol, "validate_tolerance"),
            device=options.get("device"),
            limits=str(options.get("limits", "adapter")),
            enable_quant=quant,
        )

    # -- the Delegate contract ---------------------------------------------------------------

    def node_support(self, ctx):
        """None when the operator can run on the GPU, else the reason (LiteRT-style)."""
        from edgelite.delegates.gpu.ops import support

        return support(ctx, self.gpu.limits, self.enable_quant)

    def prepare_partition(self, partition):
        """Compile the partition's shaders, upload its weights, plan its buffers."""
        from edgelite.delegates.gpu.runtime import GpuPartition

        return GpuPartition(self, partition)

    def __repr__(self) -> str:
        return f"GpuDelegate({self.gpu.describe()}, fp16={self.fp16}, max_delegated_partitions={self.max_delegated_partitions})"
