"""The pool of large output buffers (savedmodel/ops/_buffers.py): a buffer is handed out again only
when no array, view or exported buffer of it is alive."""

from __future__ import annotations

import numpy as np

from savedmodel.ops._buffers import MIN_BYTES, BufferPool

LARGE = (MIN_BYTES // 4,)  # float32 elements of the smallest pooled array


def test_a_released_buffer_is_reused_and_a_live_one_never() -> None:
    pool = BufferPool(1 << 30)
    first = pool.empty(LARGE, np.float32)
    second = pool.empty(LARGE, np.float32)
    assert not np.shares_memory(first, second)
    address = first.__array_interface__["data"][0]
    del first
    third = pool.empty(LARGE, np.float32)
    assert third.__array_interface__["data"][0] == address
    assert not np.shares_memory(third, second)


def test_views_and_exported_buffers_keep_a_buffer_in_use() -> None:
    pool = BufferPool(1 << 30)
    array = pool.empty(LARGE, np.float32)
    view = array[::2]
    del array
    fresh = pool.empty(LARGE, np.float32)
    assert not np.shares_memory(fresh, view)
    exported = memoryview(view)
    del view, fresh  # the second buffer is free again, the first is exported
    again = pool.empty(LARGE, np.float32)
    assert not np.shares_memory(again, np.asarray(exported))
    assert len(pool._buffers) == 2


def test_shapes_dtypes_and_what_stays_outside_the_pool() -> None:
    pool = BufferPool(1 << 30)
    a = pool.empty((4, 256, 1024), np.float64)
    assert a.shape == (4, 256, 1024) and a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable
    small = pool.empty((16,), np.float32)
    assert small.base is None and not pool._buffers[1:]
    del a
    smaller = pool.empty((1024, 1024), np.float32)  # a quarter of the free buffer: too wasteful to reuse
    assert len(pool._buffers) == 2 and smaller.nbytes == 1 << 22
    off = BufferPool(0)
    assert off.empty(LARGE, np.float32).base is None and not off._buffers


def test_unused_buffers_beyond_the_limit_are_dropped() -> None:
    pool = BufferPool(2 * MIN_BYTES)
    held = [pool.empty(LARGE, np.float32) for _ in range(4)]
    del held
    pool.empty((2 * LARGE[0],), np.float32)  # a new size: the idle ones are trimmed to the limit
    assert sum(b.nbytes for b in pool._buffers) <= 4 * MIN_BYTES
