"""Loading ``libneuralnetworks.so`` with ctypes, and what the loaded runtime offers.

``NnapiLibrary.load(path)`` opens the library named by ``path``, else by the environment
variable ``EDGELITE_NNAPI_LIBRARY``, else ``libneuralnetworks.so`` (a public NDK library
since Android 8.1, so an app process, Termux's python included, may dlopen it). Where none
opens, it raises ``DelegateError("NNAPI is not available on this system: ...")``.

The feature level is ``ANeuralNetworks_getRuntimeFeatureLevel()`` where the library has it
(Android 12+); otherwise the device's API level from ``android_get_device_api_level()``
(libc, Android 10+); otherwise (Android 8.1/9, or a non-Android library such as the test
double) the newest level whose entry points the library exports.

Example:
    >>> import os
    >>> from edgelite.errors import DelegateError
    >>> from edgelite.delegates.nnapi.library import NnapiLibrary
    >>> try:
    ...     NnapiLibrary.load("/nonexistent/libneuralnetworks.so")
    ... except DelegateError as e:
    ...     print(str(e).split(":")[0])
    NNAPI is not available on this system
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from edgelite.delegates.nnapi import abi
from edgelite.errors import DelegateError

ENV_VAR = "EDGELITE_NNAPI_LIBRARY"
DEFAULT_NAME = "libneuralnetworks.so"
# Entry points without which the delegate cannot work at any feature level.
_REQUIRED = [name for name, (_, _, level) in abi.PROTOTYPES.items() if level == 27]


@dataclass(frozen=True)
class Device:
    """One NNAPI device (``ANeuralNetworks_getDevice``)."""

    index: int
    name: str
    type: str  # "cpu", "gpu", "accelerator", "other", "unknown"
    feature_level: int
    version: str
    handle: int  # the ANeuralNetworksDevice pointer


class NnapiLibrary:
    """A loaded NNAPI runtime: its entry points as checked ctypes functions."""

    def __init__(self, cdll: ctypes.CDLL, path: str):
        self.path = path
        self._cdll = cdll
        self._fns: dict[str, ctypes._CFuncPtr] = {}
        missing = []
        for name, (restype, argtypes, _level) in abi.PROTOTYPES.items():
            try:
                fn = getattr(cdll, name)
            except AttributeError:
                if name in _REQUIRED:
                    missing.append(name)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            self._fns[name] = fn
        if missing:
            raise DelegateError(
                f"NNAPI is not available on this system: {path} lacks {', '.join(missing[:3])}"
                + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            )
        self.feature_level = self._feature_level()

    @classmethod
    def load(cls, path: str | None = None) -> "NnapiLibrary":
        """Opens the NNAPI library (``path``, ``$EDGELITE_NNAPI_LIBRARY``, ``libneuralnetworks.so``).

        Raises:
            DelegateError: "NNAPI is not available on this system: ..." when it cannot be
                opened or lacks the Android 8.1 entry points.
        """
        target = path or os.environ.get(ENV_VAR) or DEFAULT_NAME
        try:
            cdll = ctypes.CDLL(target)
        except OSError as e:
            where = "" if (path or os.environ.get(ENV_VAR)) else " (not an Android device?)"
            raise DelegateError(f"NNAPI is not available on this system: cannot load {target}{where}: {e}") from None
        return cls(cdll, target)

    def has(self, name: str) -> bool:
        return name in self._fns

    def fn(self, name: str):
        """The ctypes function ``name``; DelegateError when this runtime lacks it."""
        try:
            return self._fns[name]
        except KeyError:
            level = abi.PROTOTYPES[name][2]
            raise DelegateError(
                f"NNAPI runtime at feature level {self.feature_level} lacks {name} (needs {level})"
            ) from None

    def call(self, name: str, *args) -> None:
        """Calls an entry point that returns a result code; DelegateError unless NO_ERROR."""
        rc = self.fn(name)(*args)
        if rc != abi.ResultCode.NO_ERROR:
            raise DelegateError(f"NNAPI {name} failed: {abi.result_name(rc)}")

    def _feature_level(self) -> int:
        if "ANeuralNetworks_getRuntimeFeatureLevel" in self._fns:
            return int(self._fns["ANeuralNetworks_getRuntimeFeatureLevel"]())
        api = _android_api_level()
        if api:
            return min(api, int(abi.FeatureLevel.FL5))
        # Android 8.1 / 9 or a non-Android library: the newest level whose entry points exist.
        level = 27
        for lv in (28, 29, 30):
            names = [n for n, (_, _, need) in abi.PROTOTYPES.items() if need == lv]
            if names and all(n in self._fns for n in names):
                level = lv
            elif names:
                break
        return level

    def devices(self) -> list[Device]:
        """The NNAPI devices (feature level 29+); [] on older runtimes."""
        if not self.has("ANeuralNetworks_getDeviceCount"):
            return []
        count = ctypes.c_uint32()
        self.call("ANeuralNetworks_getDeviceCount", ctypes.byref(count))
        out = []
        for i in range(count.value):
            handle = ctypes.c_void_p()
            self.call("ANeuralNetworks_getDevice", i, ctypes.byref(handle))
            name, version = ctypes.c_char_p(), ctypes.c_char_p()
            dtype, level = ctypes.c_int32(), ctypes.c_int64()
            self.call("ANeuralNetworksDevice_getName", handle, ctypes.byref(name))
            self.call("ANeuralNetworksDevice_getType", handle, ctypes.byref(dtype))
            self.call("ANeuralNetworksDevice_getVersion", handle, ctypes.byref(version))
            self.call("ANeuralNetworksDevice_getFeatureLevel", handle, ctypes.byref(level))
            try:
                kind = abi.DeviceType(dtype.value).name.lower()
            except ValueError:
                kind = "unknown"
            out.append(
                Device(i, (name.value or b"").decode(), kind, int(level.value), (version.value or b"").decode(),
                       int(handle.value))
            )
        return out


def _android_api_level() -> int:
    try:
        libc = ctypes.CDLL(None)
        fn = libc.android_get_device_api_level
    except (OSError, AttributeError):
        return 0
    fn.restype = ctypes.c_int
    return max(int(fn()), 0)


def devices(library: str | None = None) -> list[Device]:
    """The accelerators NNAPI offers on this system.

    Example:
        >>> from edgelite.delegates import nnapi
        >>> try:
        ...     names = [d.name for d in nnapi.devices()]
        ... except nnapi.DelegateError:
        ...     names = []   # not Android
    """
    return NnapiLibrary.load(library).devices()
