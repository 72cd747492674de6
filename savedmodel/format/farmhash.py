"""FarmHash Fingerprint64, the string hash TensorFlow uses (tensorflow::Fingerprint64).

One helper for every caller: the Fingerprint and StringToHashBucketFast kernels
and the SavedModel fingerprint (`fingerprint.pb`). The hash comes from the
`pyfarmhash` package (Google's FarmHash C++ code), a core dependency.
"""

from __future__ import annotations

import farmhash as _farmhash


def fingerprint64(data: bytes | bytearray | memoryview) -> int:
    """FarmHash Fingerprint64 of `data` as an unsigned 64-bit integer (farmhashna::Hash64)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    return _farmhash.fingerprint64(data)


__all__ = ["fingerprint64"]
