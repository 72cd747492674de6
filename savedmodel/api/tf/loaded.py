"""What `tf.saved_model.load` returns in the TF-shaped API: the shared loader's objects
(savedmodel.loader) seen with TensorFlow's types. Functions take and return EagerTensors,
variables are `tf.Variable`s sharing the loaded storage (so `assign` changes what the restored
functions compute), signatures carry `structured_input_signature`/`structured_outputs`, and
tracked lists such as a Keras model's `variables` are Python lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from savedmodel import loader as shared
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.function import TensorSpec
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.variables import BaseVariable, EagerVariable
from savedmodel.errors import NotFoundError


class LoadedAttributeError(NotFoundError, AttributeError):
    """The loaded object has no such attribute (TF raises AttributeError the same way)."""


def to_numpy(value: Any) -> Any:
    if isinstance(value, EagerTensor):
        return value._value
    if isinstance(value, BaseVariable):
        return np.asarray(value._dense_read()._value)
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_numpy(v) for v in value)
    return value


def to_eager(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_eager(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_eager(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_eager(v) for v in value)
    if isinstance(value, np.ndarray | np.generic):
        return EagerTensor(np.asarray(value))
    return value


def _facade_spec(spec: Any) -> Any:
    """A SignatureTensorSpec (savedmodel.runtime.structure) as a tf.TensorSpec; structures mapped."""
    if isinstance(spec, dict):
        return {k: _facade_spec(v) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return type(spec)(_facade_spec(v) for v in spec)
    if hasattr(spec, "dtype_enum") and hasattr(spec, "shape"):
        dtype = as_dtype(spec.dtype_enum) if spec.dtype_enum else as_dtype(spec.dtype)
        return TensorSpec(TensorShape(spec.shape), dtype, spec.name or None)
    return spec


class TensorCallable:
    """A callable of the shared loader: EagerTensors (or variables, arrays) in, EagerTensors out."""

    def __init__(self, target: Any, view: Loaded) -> None:
        self._target = target
        self._view = view

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._target(*[to_numpy(a) for a in args], **{k: to_numpy(v) for k, v in kwargs.items()})
        return to_eager(result)

    @property
    def structured_input_signature(self) -> Any:
        target = self._target
        if isinstance(target, shared.SignatureFunction):
            return ((), {k: _facade_spec(s) for k, s in target.input_specs.items()})
        if isinstance(target, shared.RestoredConcreteFunction):
            return (_facade_spec(target.args_spec), _facade_spec(target.kwargs_spec))
        raise LoadedAttributeError(f"{target!r} has no structured_input_signature")

    @property
    def structured_outputs(self) -> Any:
        target = self._target
        if isinstance(target, shared.SignatureFunction):
            return {k: _facade_spec(s) for k, s in target.output_specs.items()}
        if isinstance(target, shared.RestoredConcreteFunction):
            return _facade_spec(target.output_structure)
        raise LoadedAttributeError(f"{target!r} has no structured_outputs")

    @property
    def concrete_functions(self) -> list[Any]:
        return [self._view._wrap(c) for c in getattr(self._target, "concrete_functions", [])]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return repr(self._target)


class Signatures(Mapping):
    """`loaded.signatures`: in the order the saved `signatures` map lists them (as TF's loader)."""

    def __init__(self, model: Any, view: Loaded) -> None:
        self._signatures = model.signatures
        self._view = view
        self._order = _signature_order(model.meta_graph, list(self._signatures))

    def __getitem__(self, key: str) -> Any:
        return TensorCallable(self._signatures[key], self._view)

    def __iter__(self):  # noqa: ANN204
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return f"_SignatureMap({dict(self._signatures)!r})"


def _signature_order(meta_graph: Any, keys: list[str]) -> list[str]:
    graph = meta_graph.object_graph_def
    order: list[str] = []
    if graph.nodes:
        for child in graph.nodes[0].children:
            if child.local_name == "signatures":
                order = [c.local_name for c in graph.nodes[child.node_id].children if c.local_name in keys]
    return order + sorted(k for k in keys if k not in order)


_CONTAINERS = ("trackable_list_wrapper", "trackable_dict_wrapper")
_MODEL_ATTRIBUTES = ("path", "tags", "meta_graph", "session", "root")


class Loaded:
    """The loaded root object (or one of its children) with TF-typed values."""

    def __init__(self, model: Any, target: Any = None, cache: dict[int, Any] | None = None) -> None:
        self._model = model
        self._target = model.root if target is None else target
        self._cache: dict[int, Any] = {} if cache is None else cache
        if target is None:
            self.signatures = Signatures(model, self)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        if isinstance(value, shared.RestoredVariable):
            return self._cached(value, lambda: restored_variable(value))
        if isinstance(value, shared.RestoredObject) and value._identifier in _CONTAINERS:
            return self._container(value)
        if isinstance(value, shared.RestoredObject):
            return self._cached(value, lambda: Loaded(self._model, value, self._cache))
        if callable(value) and not isinstance(value, type):
            return TensorCallable(value, self)
        return value

    def _container(self, value: Any) -> Any:
        """A saved list or dict of trackables (a Keras model's `variables`...) as a Python one."""
        items = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        if value._identifier == "trackable_dict_wrapper":
            return {k: self._wrap(v) for k, v in items.items()}
        return [self._wrap(items[k]) for k in sorted(items, key=lambda k: int(k) if k.isdigit() else -1)]

    def _cached(self, value: Any, make: Any) -> Any:
        key = id(value)
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_model", "_target", "_cache"):
            raise AttributeError(name)
        target = self._target
        if target is not None and name in vars(target):
            return self._wrap(vars(target)[name])
        if target is None and name in ("variables", "trainable_variables"):
            # A TF1 model (no object graph): TF's loader lists its variables.
            found = self._wrap(self._model.variables())
            return found if name == "variables" else [v for v in found if v.trainable]
        if target is self._model.root and name in _MODEL_ATTRIBUTES:
            return getattr(self._model, name)
        raise LoadedAttributeError(f"the loaded object has no attribute {name!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._target is self._model.root:
            return TensorCallable(self._model, self)(*args, **kwargs)
        fn = vars(self._target).get("__call__")
        if fn is None:
            raise NotFoundError("the loaded object has no __call__ function")
        return TensorCallable(fn, self)(*args, **kwargs)

    def __dir__(self) -> list[str]:
        names = [k for k in vars(self._target) if not k.startswith("_")] if self._target is not None else []
        return sorted({*names, "signatures"})

    def __repr__(self) -> str:
        return repr(self._model) if self._target is self._model.root else repr(self._target)


def restored_variable(restored: Any) -> EagerVariable:
    """A tf.Variable over a restored variable's storage: reads, assigns and functions share it."""
    var = EagerVariable.__new__(EagerVariable)
    value = restored.numpy()
    var.dtype = as_dtype(value.dtype)
    var._shape = TensorShape(restored.shape)
    var.trainable = restored.trainable
    var._name = f"{restored.name or 'Variable'}:0"
    EagerVariable._uid += 1
    var._unique_id = EagerVariable._uid
    var._resource = restored.handle
    return var
