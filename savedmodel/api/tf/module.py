"""`tf.Module`: tracks variables, submodules and tf.functions set as attributes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from savedmodel.api.tf.function import Function
from savedmodel.api.tf.variables import BaseVariable

_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")


def is_trackable(value: Any) -> bool:
    return isinstance(value, BaseVariable | Module | Function) or getattr(value, "_is_trackable", False)


def tracked_children(obj: Any) -> list[tuple[str, Any]]:
    """(name, child) pairs an object contributes to the object graph, in attribute order.

    Lists/tuples/dicts of trackables become ListWrapper/DictWrapper-like children
    (returned as the plain container; the saver gives them their own node).
    """
    out: list[tuple[str, Any]] = []
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        if is_trackable(value) or _container_of_trackables(value):
            out.append((name, value))
    return out


def _container_of_trackables(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return bool(value) and all(is_trackable(v) or _container_of_trackables(v) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(is_trackable(v) or _container_of_trackables(v) for v in value.values())
    return False


def class_functions(obj: Any) -> list[tuple[str, Function]]:
    """tf.functions defined on the object's class (bound to it), sorted by name."""
    found: list[tuple[str, Function]] = []
    for name in sorted(dir(type(obj))):
        attr = getattr(type(obj), name, None)
        if isinstance(attr, Function):
            found.append((name, attr.__get__(obj, type(obj))))
    return found


class Module:
    """A container of variables, submodules and functions (`tf.Module`)."""

    _is_trackable = True

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not _VALID_NAME.match(name):
            raise ValueError(
                f"'{name}' is not a valid module name. Module names must be valid Python identifiers "
                "(e.g. a valid class name)."
            )
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def _walk(self, predicate: Any, seen: set[int] | None = None) -> Iterator[Any]:
        seen = seen if seen is not None else {id(self)}
        for _name, value in sorted(vars(self).items()):
            yield from _walk_value(value, predicate, seen)

    @property
    def variables(self) -> tuple[Any, ...]:
        return tuple(self._walk(lambda v: isinstance(v, BaseVariable)))

    @property
    def trainable_variables(self) -> tuple[Any, ...]:
        return tuple(self._walk(lambda v: isinstance(v, BaseVariable) and v.trainable))

    @property
    def submodules(self) -> tuple[Any, ...]:
        return tuple(self._walk(lambda v: isinstance(v, Module)))

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} object at 0x{id(self):x}>"


def _walk_value(value: Any, predicate: Any, seen: set[int]) -> Iterator[Any]:
    if id(value) in seen:
        return
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _walk_value(value[key], predicate, seen)
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _walk_value(item, predicate, seen)
        return
    if predicate(value):
        seen.add(id(value))
        yield value
    if isinstance(value, Module):
        seen.add(id(value))
        yield from value._walk(predicate, seen)


def _camel_to_snake(name: str) -> str:
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower()
