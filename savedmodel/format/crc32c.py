"""CRC-32C (Castagnoli) as LevelDB and TensorFlow use it, backed by `google_crc32c`.

Stored checksums are "masked" so that a checksum of data holding checksums does
not degenerate: rotate right by 15 bits and add a constant (mod 2**32).
"""

from __future__ import annotations

import google_crc32c

MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF

Buffer = bytes | bytearray | memoryview


_CHUNK = 4 << 20  # bytes copied at a time when hashing a non-bytes buffer


def crc32c(data: Buffer) -> int:
    """CRC-32C of `data` (any contiguous bytes-like object, e.g. a memmap view)."""
    return extend(0, data)


def extend(crc: int, data: Buffer) -> int:
    """CRC-32C of (the data whose CRC is `crc`) followed by `data`."""
    if isinstance(data, bytes):
        return google_crc32c.extend(crc, data)
    # The C extension only takes `bytes`: feed other buffers in bounded chunks so
    # that hashing a large memory-mapped tensor never copies it whole.
    view = memoryview(data)
    if not view.c_contiguous:
        return google_crc32c.extend(crc, view.tobytes())
    view = view.cast("B")
    for start in range(0, len(view), _CHUNK):
        crc = google_crc32c.extend(crc, view[start : start + _CHUNK].tobytes())
    return crc


def masked(crc: int) -> int:
    """The masked form that is stored on disk."""
    crc &= _U32
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmasked(masked_crc: int) -> int:
    """Inverse of `masked`."""
    rot = (masked_crc - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def masked_crc32c(data: Buffer) -> int:
    return masked(crc32c(data))
