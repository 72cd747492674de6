"""Namespaces of the TF-shaped facade (`tf.nn`, `tf.compat.v1`, `tf.keras.layers`...) that answer a
name they do not implement with one clear `savedmodel.UnsupportedError` naming it, never a raw
AttributeError from an internal object."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

from savedmodel.errors import UnsupportedError


def unsupported(path: str) -> UnsupportedError:
    return UnsupportedError(f"{path} is not supported by savedmodel (not part of its TensorFlow-shaped API)")


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class Namespace:
    """A namespace of known attributes, `path` naming it in errors (e.g. `tf.nn`)."""

    def __init__(self, path: str, **attrs: Any) -> None:
        object.__setattr__(self, "_path", path)
        self.__dict__.update(attrs)

    def __getattr__(self, name: str) -> Any:
        if _is_dunder(name):
            raise AttributeError(name)
        raise unsupported(f"{self._path}.{name}")

    def __dir__(self) -> list[str]:
        return sorted(k for k in self.__dict__ if not k.startswith("_"))

    def __repr__(self) -> str:
        return f"<savedmodel {self._path} namespace>"


class StrictView:
    """A view of a SimpleNamespace or module that raises UnsupportedError for missing names and
    shows its sub-namespaces as StrictViews too (`tf.keras.layers.Conv2D`)."""

    def __init__(self, target: Any, path: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_views", {})

    def __getattr__(self, name: str) -> Any:
        if _is_dunder(name):
            raise AttributeError(name)
        try:
            value = getattr(self._target, name)
        except UnsupportedError:
            raise  # the implementation's own message (it may name what to use instead)
        except AttributeError:
            raise unsupported(f"{self._path}.{name}") from None
        return strict(value, f"{self._path}.{name}", self._views)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __dir__(self) -> list[str]:
        return sorted(k for k in dir(self._target) if not k.startswith("_"))

    def __repr__(self) -> str:
        return f"<savedmodel {self._path} namespace>"


def strict(value: Any, path: str, cache: dict[str, Any]) -> Any:
    """`value`, or a cached StrictView of it when it is a plain namespace or module."""
    if not isinstance(value, SimpleNamespace | ModuleType):
        return value
    view = cache.get(path)
    if view is None or view._target is not value:
        view = cache[path] = StrictView(value, path)
    return view


class LazyNamespace:
    """A namespace whose attributes come from a module imported on first use (`tf.keras`)."""

    def __init__(self, module: str, path: str, **extra: Any) -> None:
        self._module = module
        self._path = path
        self._extra = extra
        self._views: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._extra:
            return self._extra[name]
        module = importlib.import_module(self._module)
        try:
            value = getattr(module, name)
        except UnsupportedError:
            raise
        except AttributeError:
            raise unsupported(f"{self._path}.{name}") from None
        return strict(value, f"{self._path}.{name}", self._views)

    def __dir__(self) -> list[str]:
        module = importlib.import_module(self._module)
        return sorted({*self._extra, *(k for k in dir(module) if not k.startswith("_"))})

    def __repr__(self) -> str:
        return f"<savedmodel {self._path} namespace>"
