"""edgelite.delegates: run partitions of a model on other hardware.

Delegates plug into the interpreter through one seam,
``edgelite.interpreter.delegation`` (see docs/delegates.md, "Writing a delegate").
Built in:

* ``"gpu"``: WebGPU through ``wgpu`` (Vulkan, Metal, D3D12), WGSL compute shaders
  (``edgelite.delegates.gpu.GpuDelegate``).
* ``"nnapi"``: Android's Neural Networks API through ctypes
  (``edgelite.delegates.nnapi.NnapiDelegate``; raises ``DelegateError`` where
  ``libneuralnetworks.so`` is not available).

Example:
    >>> import edgelite
    >>> try:
    ...     gpu = edgelite.load_delegate("gpu", {"is_precision_loss_allowed": 0})
    ... except edgelite.errors.DelegateError as e:
    ...     gpu = None   # no wgpu, no adapter: the message says which
"""

from __future__ import annotations

from edgelite.delegates.registry import delegate_names, load_delegate

__all__ = ["load_delegate", "delegate_names", "GpuDelegate", "NnapiDelegate"]


def __getattr__(name: str):
    # Lazy: importing edgelite.delegates must not import wgpu.
    if name == "GpuDelegate":
        from edgelite.delegates.gpu.delegate import GpuDelegate

        return GpuDelegate
    if name == "NnapiDelegate":
        from edgelite.delegates.nnapi.delegate import NnapiDelegate

        return NnapiDelegate
    raise AttributeError(f"module 'edgelite.delegates' has no attribute {name!r}")
