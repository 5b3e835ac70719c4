"""The NNAPI delegate: Android's Neural Networks API through ctypes.

* ``NnapiDelegate`` (``edgelite.load_delegate("nnapi", options)``): the delegate.
* ``devices(library=None)``: the NNAPI devices (accelerators) of this system.
* ``abi``: NeuralNetworks.h's enum values and structs; ``lowering``: TFLite -> NNAPI.

Where ``libneuralnetworks.so`` is missing (any machine that is not Android) creating the
delegate raises ``DelegateError("NNAPI is not available on this system: ...")``.
"""

from __future__ import annotations

from edgelite.delegates.nnapi.library import Device, NnapiLibrary, devices
from edgelite.errors import DelegateError

__all__ = ["NnapiDelegate", "devices", "Device", "NnapiLibrary", "DelegateError"]


def __getattr__(name: str):
    # Lazy: the delegate imports the interpreter's delegation seam.
    if name == "NnapiDelegate":
        from edgelite.delegates.nnapi.delegate import NnapiDelegate

        return NnapiDelegate
    raise AttributeError(f"module 'edgelite.delegates.nnapi' has no attribute {name!r}")
