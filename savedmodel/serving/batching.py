"""Opt-in server-side request batching (TF Serving's --enable_batching, simplified).

Predict requests for the same model version and signature whose inputs agree in
dtype and in every dimension but the first are queued; a queue is run as one
call when it holds `max_batch_size` rows or when the oldest request has waited
`batch_timeout_micros`. Inputs are concatenated along dimension 0 and each
output is split back by the requests' row counts. Requests that cannot be
batched (scalars, mismatched first dimensions, more rows than the maximum) run
on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from savedmodel.serving.errors import ServingError
from savedmodel.serving.model import Servable

RunFunction = Callable[[Servable, str, Mapping[str, np.ndarray]], Awaitable[dict[str, np.ndarray]]]


@dataclass
class _Pending:
    inputs: Mapping[str, np.ndarray]
    rows: int
    future: asyncio.Future


@dataclass
class _Queue:
    servable: Servable
    signature_key: str
    items: list[_Pending] = field(default_factory=list)
    rows: int = 0
    timer: asyncio.TimerHandle | None = None


def batch_rows(inputs: Mapping[str, np.ndarray]) -> int | None:
    """The shared first dimension of all inputs, or None when they cannot be batched."""
    rows = None
    for array in inputs.values():
        if array.ndim == 0:
            return None
        if rows is None:
            rows = array.shape[0]
        elif array.shape[0] != rows:
            return None
    return rows


class Batcher:
    def __init__(
        self,
        run: RunFunction,
        max_batch_size: int = 32,
        batch_timeout_micros: int = 1000,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._run = run
        self.max_batch_size = max_batch_size
        self.timeout = max(batch_timeout_micros, 0) / 1e6
        self._queues: dict[tuple, _Queue] = {}
        self._on_batch = on_batch

    async def submit(
        self, servable: Servable, signature_key: str, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        rows = batch_rows(inputs)
        if rows is None or rows == 0 or rows > self.max_batch_size:
            return await self._run(servable, signature_key, inputs)
        key = (
            id(servable),
            signature_key,
            tuple(sorted((name, a.dtype.str, a.shape[1:]) for name, a in inputs.items())),
        )
        loop = asyncio.get_running_loop()
        queue = self._queues.get(key)
        if queue is not None and queue.rows + rows > self.max_batch_size:
            self._flush(key)
            queue = None
        if queue is None:
            queue = _Queue(servable, signature_key)
            self._queues[key] = queue
            queue.timer = loop.call_later(self.timeout, self._flush, key)
        pending = _Pending(inputs, rows, loop.create_future())
        queue.items.append(pending)
        queue.rows += rows
        if queue.rows >= self.max_batch_size:
            self._flush(key)
        return await pending.future

    def _flush(self, key: tuple) -> None:
        queue = self._queues.pop(key, None)
        if queue is None or not queue.items:
            return
        if queue.timer is not None:
            queue.timer.cancel()
        asyncio.get_running_loop().create_task(self._process(queue))

    async def _process(self, queue: _Queue) -> None:
        items = queue.items
        if self._on_batch is not None:
            self._on_batch(queue.rows)
        try:
            if len(items) == 1:
                outputs = await self._run(queue.servable, queue.signature_key, items[0].inputs)
                _resolve(items[0], outputs)
                return
            names = list(items[0].inputs)
            merged = {name: np.concatenate([item.inputs[name] for item in items]) for name in names}
            outputs = await self._run(queue.servable, queue.signature_key, merged)
            splits = np.cumsum([item.rows for item in items])[:-1]
            parts: dict[str, list[np.ndarray]] = {}
            for name, array in outputs.items():
                if array.ndim == 0 or array.shape[0] != queue.rows:
                    raise ServingError(
                        "FAILED_PRECONDITION",
                        "Batched output tensor's 0th dimension does not equal the sum of the 0th "
                        f"dimension sizes of the input tensors (output {name!r})",
                    )
                parts[name] = np.split(array, splits)
            for index, item in enumerate(items):
                _resolve(item, {name: pieces[index] for name, pieces in parts.items()})
        except Exception as exc:  # noqa: BLE001 - every waiter gets the error
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)


def _resolve(item: _Pending, outputs: dict[str, np.ndarray]) -> None:
    if not item.future.done():
        item.future.set_result(outputs)
