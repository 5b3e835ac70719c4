"""The GPU delegate: WebGPU through ``wgpu`` with WGSL compute shaders.

Modules, in the order a partition flows through them:

* ``delegate``: ``GpuDelegate`` (options, per-operator support checks);
* ``device``: finding an adapter and opening a device (the reasons it cannot);
* ``ops``: one builder per operator family, turning an operator into dispatches
  (``checks``: what they share);
* ``shaders``: the WGSL sources those builders fill in;
* ``runtime``: ``GpuPartition``: buffers, weights uploaded once, one submission per invoke.

``import edgelite.delegates.gpu`` does not import ``wgpu``; opening the device does.
"""
