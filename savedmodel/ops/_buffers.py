"""Large kernel outputs in reused memory.

A fresh array of many megabytes costs more than the arithmetic that fills it on some machines: the
allocator maps new pages for it and returns them when it is freed, and every page is then
faulted in (and zeroed by the kernel) again at the next call, which on a virtual machine can take
longer than the copy itself (MobileNetV2 at batch 32 spent a third of its time so).
`empty(shape, dtype)` hands out such arrays from a pool of buffers instead: a buffer is reused once
nothing refers to it any more (no array, view or exported buffer of it is alive: its reference
count says so), so a call's intermediate tensors take the memory the previous call's released.

The pool is off unless SAVEDMODEL_BUFFER_POOL_MB sets how many MiB of buffers that nothing uses it
may keep between calls: on a quiet machine it gained little (ResNet50 at batch 32 8% faster,
EfficientNetB0 5% slower) for a much higher peak RSS (ResNet50 850 against 492 MiB, EfficientNetB0
1665 against 922), while on a busy VM whose page faults are slow it saved up to a third of a call.
Arrays under a megabyte always come from NumPy (the allocator reuses those already).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Sequence

import numpy as np

MIN_BYTES = 1 << 20
# A free buffer serves requests down to this fraction of its size (the rest lies unused meanwhile).
_FIT = 0.75


def _limit_from_environment() -> int:
    try:
        return max(0, int(os.environ.get("SAVEDMODEL_BUFFER_POOL_MB", "0"))) << 20
    except ValueError:
        return 0


class BufferPool:
    """Buffers handed out as array views and taken back when no view of them is alive."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._buffers: list[np.ndarray] = []  # uint8 arrays owning their memory
        self._lock = threading.Lock()

    def empty(self, shape: Sequence[int], dtype: np.dtype | type) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, no NumPy call per op
        if size < MIN_BYTES or self.limit_bytes <= 0 or dtype.hasobject:
            return np.empty(shape, dtype)
        with self._lock:
            buffer = self._free_fitting(size)
            if buffer is None:
                buffer = np.empty(size, np.uint8)
                self._buffers.append(buffer)
                self._trim()
            return buffer[:size].view(dtype).reshape(shape)

    def _free_fitting(self, size: int) -> np.ndarray | None:
        buffers, best = self._buffers, -1
        for index in range(len(buffers)):
            nbytes = buffers[index].nbytes
            if _FIT * nbytes <= size <= nbytes and (best < 0 or nbytes < buffers[best].nbytes):
                if _unused(buffers, index):
                    best = index
        return buffers[best] if best >= 0 else None

    def _trim(self) -> None:
        """Drop unused buffers, largest first, while the unused ones exceed the limit."""
        buffers = self._buffers
        free = sorted(
            (i for i in range(len(buffers)) if _unused(buffers, i)), key=lambda i: -buffers[i].nbytes
        )
        idle = sum(buffers[i].nbytes for i in free)
        dropped = set()
        for index in free:
            if idle <= self.limit_bytes:
                break
            idle -= buffers[index].nbytes
            dropped.add(index)
        if dropped:
            self._buffers = [b for i, b in enumerate(buffers) if i not in dropped]

    def clear(self) -> None:
        """Forget every buffer (arrays still using one keep it alive until they go)."""
        with self._lock:
            self._buffers = []


def _references(buffers: list[np.ndarray], index: int) -> int:
    return sys.getrefcount(buffers[index])


# What _references gives for a buffer only the pool's list refers to (measured, not assumed: it
# depends on the interpreter).
_UNUSED = _references([np.empty(0, np.uint8)], 0)


def _unused(buffers: list[np.ndarray], index: int) -> bool:
    """Whether nothing but the pool refers to the buffer (views of it refer to it as their base)."""
    return _references(buffers, index) <= _UNUSED


POOL = BufferPool(_limit_from_environment())


def pooled(array: np.ndarray) -> bool:
    """Whether `array` is a view of one of the pool's buffers."""
    base = array.base
    return type(base) is np.ndarray and any(b is base for b in POOL._buffers)


def pools(shape: Sequence[int], dtype: np.dtype) -> bool:
    """Whether `empty(shape, dtype)` would come from the pool (on, large, no objects): kernels
    that need extra work to write into a given output ask first, so small ops pay nothing."""
    return POOL.limit_bytes > 0 and not dtype.hasobject and math.prod(shape) * dtype.itemsize >= MIN_BYTES


def empty(shape: Sequence[int], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-contiguous array, from the pool when it is large."""
    return POOL.empty(shape, dtype)
