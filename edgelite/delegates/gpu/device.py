"""Opening a WebGPU device for the GPU delegate, or saying plainly why not.

``wgpu`` needs Python >= 3.11 (it ships no wheels for 3.10) and a WebGPU adapter:
Vulkan (Linux, Android, Raspberry Pi 4/5 through Mesa v3dv, lavapipe on a CPU),
Metal (macOS) or D3D12 (Windows). wgpu-native also offers an OpenGL backend; edgelite
prefers any other backend over it (OpenGL compute has no ``shader-f16`` and is the
least tested path) and uses it only when nothing else exists or when asked for.

Example:
    >>> from edgelite.delegates.gpu.device import DeviceRequest
    >>> DeviceRequest(adapter="llvmpipe", limits="default").adapter
    'llvmpipe'
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from edgelite.errors import DelegateError

_BACKEND_RANK = {"Vulkan": 0, "Metal": 0, "D3D12": 0, "OpenGL": 2}
# One device per request and process, shared by every GpuDelegate asking for it (a
# device is costly to open, and sharing it shares the compiled pipelines too).
_DEVICES: dict = {}


@dataclass(frozen=True)
class DeviceRequest:
    """Which adapter (index or substring of its name/backend; None: the best one) and limits.

    ``limits="default"`` asks for WebGPU's default limits (what a phone-class GPU
    guarantees; tests use it so code that needs more fails here too), ``"adapter"``
    for everything the adapter offers.
    """

    adapter: str | int | None = None
    limits: str = "adapter"
    f16: bool = False


@dataclass
class GpuDevice:
    """An open device and what the delegate needs to know about it."""

    device: object
    adapter_name: str
    backend: str
    has_f16: bool
    limits: dict
    is_cpu: bool = False  # a software rasterizer (lavapipe/llvmpipe, SwiftShader, WARP)
    pipelines: dict = field(default_factory=dict)  # WGSL source -> compute pipeline

    def describe(self) -> str:
        f16 = "fp16 storage (shader-f16)" if self.has_f16 else "fp32"
        cpu = ", a CPU emulation of a GPU: its timings say nothing about GPU speed" if self.is_cpu else ""
        return f"{self.adapter_name} ({self.backend}, {f16}{cpu})"


def import_wgpu():
    """``wgpu``, or DelegateError saying why it cannot be used here."""
    if sys.version_info < (3, 11):
        raise DelegateError(
            f"GPU delegate: wgpu needs Python >= 3.11 (this is {sys.version_info[0]}.{sys.version_info[1]}, "
            "for which wgpu ships no wheels); run on the CPU kernels or use a newer Python"
        )
    try:
        import wgpu
    except ImportError as e:
        raise DelegateError(
            f"GPU delegate: the wgpu package is not installed ({e}); pip install \"edgelite[gpu]\""
        ) from None
    return wgpu


def _adapters(wgpu) -> list:
    try:
        return list(wgpu.gpu.enumerate_adapters_sync())
    except (RuntimeError, OSError, wgpu.GPUError) as e:  # driver failures
        raise DelegateError(f"GPU delegate: wgpu could not enumerate adapters: {type(e).__name__}: {e}") from None


def _name(a) -> str:
    return str(a.info.get("device") or a.info.get("description") or "unknown adapter")


def open_device(request: DeviceRequest) -> GpuDevice:
    """Find an adapter and open a device on it.

    Raises:
        DelegateError: no wgpu, no adapter (no Vulkan/Metal/D3D12 driver: on Debian,
            ``apt-get install mesa-vulkan-drivers`` gives the lavapipe CPU driver), the
            requested adapter is absent, or the device cannot be created.
    """
    wgpu = import_wgpu()
    cached = _DEVICES.get(request)
    if cached is not None:
        return cached
    adapters = _adapters(wgpu)
    if not adapters:
        raise DelegateError(
            "GPU delegate: no WebGPU adapter found (no Vulkan, Metal or D3D12 driver); on Debian/Ubuntu "
            "`apt-get install mesa-vulkan-drivers` gives a (slow, CPU) Vulkan driver"
        )
    listing = ", ".join(f"{k}: {_name(a)} ({a.info.get('backend_type')})" for k, a in enumerate(adapters))
    want = request.adapter
    if want is None or want == "":
        adapter = min(adapters, key=lambda a: (_BACKEND_RANK.get(str(a.info.get("backend_type")), 1),
                                               str(a.info.get("adapter_type")) == "CPU"))
    elif isinstance(want, int) or str(want).isdigit():
        k = int(want)
        if not 0 <= k < len(adapters):
            raise DelegateError(f"GPU delegate: device={want!r}: no adapter {k}; adapters here: {listing}")
        adapter = adapters[k]
    else:
        text = str(want).lower()
        hits = [a for a in adapters if text in _name(a).lower() or text == str(a.info.get("backend_type")).lower()]
        if not hits:
            raise DelegateError(f"GPU delegate: device={want!r} matches no adapter; adapters here: {listing}")
        hits.sort(key=lambda a: _BACKEND_RANK.get(str(a.info.get("backend_type")), 1))
        adapter = hits[0]
    has_f16 = "shader-f16" in adapter.features
    features = ["shader-f16"] if (request.f16 and has_f16) else []
    if request.limits == "default":
        limits = None  # a device with WebGPU's default limits
        required = {}
    else:
        required = {k: v for k, v in adapter.limits.items()
                    if k.startswith(("max-storage", "max-buffer-size", "max-compute"))}
    try:
        device = adapter.request_device_sync(required_features=features, required_limits=required or limits)
    except (RuntimeError, wgpu.GPUError) as e:  # driver-specific failures
        raise DelegateError(f"GPU delegate: could not open a device on {_name(adapter)}: {type(e).__name__}: {e}") from None
    out = GpuDevice(
        device=device,
        adapter_name=_name(adapter),
        backend=str(adapter.info.get("backend_type")),
        has_f16="shader-f16" in features,
        limits=dict(device.limits),
        is_cpu=str(adapter.info.get("adapter_type")) == "CPU",
    )
    _DEVICES[request] = out
    return out
