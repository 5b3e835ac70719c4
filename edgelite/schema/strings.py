"""TFLite's packed string-tensor layout.

A STRING tensor's buffer is ``int32 count``, ``int32 offsets[count + 1]`` (from the
buffer start), then the bytes of every string back to back.
"""

from __future__ import annotations

import numpy as np

from edgelite.errors import ModelFormatError


def decode_string_tensor(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unpack a STRING buffer into an object array of ``bytes`` with ``shape``."""
    buf = raw.tobytes()
    if len(buf) < 4:
        raise ModelFormatError("string tensor buffer shorter than its 4-byte count")
    count = int(np.frombuffer(buf, "<i4", 1)[0])
    if count < 0 or 4 * (count + 2) > len(buf):
        raise ModelFormatError(f"string tensor count {count} does not fit its {len(buf)}-byte buffer")
    offsets = np.frombuffer(buf, "<i4", count + 1, 4)
    if np.any(np.diff(offsets) < 0) or offsets[0] < 4 * (count + 2) or offsets[-1] > len(buf):
        raise ModelFormatError("string tensor offsets are out of order or out of range")
    items = [buf[offsets[i] : offsets[i + 1]] for i in range(count)]
    out = np.empty(count, dtype=object)
    out[:] = items
    expected = int(np.prod(shape, dtype=np.int64))
    if expected != count:
        raise ModelFormatError(f"string tensor has {count} strings, shape {list(shape)} needs {expected}")
    return out.reshape(shape)


def encode_string_tensor(values) -> bytes:
    """Pack an iterable of ``str``/``bytes`` into TFLite's string buffer layout."""
    items = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in np.asarray(values, dtype=object).ravel()]
    count = len(items)
    header = 4 * (count + 2)
    offsets = np.empty(count + 1, np.int64)
    pos = header
    for i, it in enumerate(items):
        offsets[i] = pos
        pos += len(it)
    offsets[count] = pos
    return np.int32(count).tobytes() + offsets.astype("<i4").tobytes() + b"".join(items)
