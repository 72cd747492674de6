"""Kahn's topological order, as the executor, the loop analysis and `show`'s function order use it."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def stack_order(ready: list[T], consumers: Mapping[T, Iterable[T]], pending: dict[T, int]) -> list[T]:
    """Kahn's algorithm with a stack: take the item at the end of `ready`, place it, and push each
    consumer whose last pending dependency that was. `pending` (item -> dependencies not yet placed)
    and `ready` are consumed. Items on a cycle are never placed: the caller compares lengths.

    The stack decides ties: callers push their first choice last (e.g. file order reversed)."""
    order: list[T] = []
    while ready:
        item = ready.pop()
        order.append(item)
        for consumer in consumers.get(item, ()):
            pending[consumer] -= 1
            if pending[consumer] == 0:
                ready.append(consumer)
    return order
