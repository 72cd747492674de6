"""A `tf.data` subset for Estimator input functions: `Dataset.from_tensors(...).repeat()`."""

from __future__ import annotations

from typing import Any


class Dataset:
    """Holds one element (a nested structure of values), repeated as asked."""

    def __init__(self, element: Any, repeat: int | None = 1) -> None:
        self.element = element
        self._repeat = repeat

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        return Dataset(tensors)

    def repeat(self, count: int | None = None) -> Dataset:
        return Dataset(self.element, None if count is None or count < 0 else count)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        import numpy as np

        def stack(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: stack(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(stack(v) for v in value)
            return np.stack([np.asarray(value)] * batch_size)

        return Dataset(stack(self.element), self._repeat)

    def __iter__(self):  # noqa: ANN204
        count = 0
        while self._repeat is None or count < self._repeat:
            count += 1
            yield self.element
