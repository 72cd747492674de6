"""`tf1.wrap_function`: run TF1 graph-building code once, call the result eagerly,
and `prune` it to a function of chosen feeds and fetches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.function import TensorSpec, flatten, pack
from savedmodel.api.tf.graph import Graph, Operation, Tensor
from savedmodel.api.tf.session import Session


class WrappedFunction:
    """The graph built by a TF1-style function, with a session holding its variables."""

    def __init__(
        self, fn: Callable[..., Any], signature: Sequence[Any] | None, name: str | None = None
    ) -> None:
        self.graph = Graph()
        self._name = name or getattr(fn, "__name__", "wrapped_function")
        self._inputs: list[Tensor] = []
        with self.graph.as_default():
            for i, spec in enumerate(signature or []):
                spec = spec if isinstance(spec, TensorSpec) else TensorSpec(spec.shape, spec.dtype)
                self._inputs.append(
                    ops.placeholder(spec.dtype, spec.shape.dims, name=spec.name or f"args_{i}")
                )
            self._structured_outputs = fn(*self._inputs)
        self._session = Session(graph=self.graph)
        created = [
            v for v in self.variables if hasattr(v, "initial_value") and type(v).__name__ == "GraphVariable"
        ]
        if created:
            self._session.run([v.initializer for v in created])
        for var in self.variables:
            var._wrapped_session = self._session

    @property
    def variables(self) -> list[Any]:
        return self.graph.get_collection("variables")

    trainable_variables = property(lambda self: self.graph.get_collection("trainable_variables"))

    @property
    def inputs(self) -> list[Tensor]:
        return list(self._inputs)

    @property
    def structured_outputs(self) -> Any:
        return self._structured_outputs

    def __call__(self, *args: Any) -> Any:
        if self._structured_outputs is None:
            return None
        return self.prune(self._inputs, self._structured_outputs)(*args)

    def prune(
        self, feeds: Any, fetches: Any, name: str | None = None, input_signature: Any = None
    ) -> PrunedFunction:
        return PrunedFunction(self, feeds, fetches)


class PrunedFunction:
    """A function of `feeds` computing `fetches` in a wrapped graph."""

    def __init__(self, wrapped: WrappedFunction, feeds: Any, fetches: Any) -> None:
        self._wrapped = wrapped
        graph = wrapped.graph
        self._feeds = [
            graph.as_graph_element(f) for f in (feeds if isinstance(feeds, list | tuple) else [feeds])
        ]
        self._fetches = fetches
        self.graph = graph

    @property
    def inputs(self) -> list[Tensor]:
        return list(self._feeds)

    @property
    def outputs(self) -> list[Any]:
        return flatten(self._fetches)

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self._feeds):
            raise TypeError(f"pruned function takes {len(self._feeds)} arguments, got {len(args)}")
        feed_dict = {}
        for tensor, value in zip(self._feeds, args, strict=True):
            if not isinstance(value, EagerTensor):
                raise TypeError(f"inputs to a pruned concrete function must be Tensors, got {value!r}")
            feed_dict[tensor] = value._value
        flat = flatten(self._fetches)
        values = self._wrapped._session.run(flat, feed_dict)
        outs = [
            None if isinstance(f, Operation) else EagerTensor(np.asarray(v), self._element(f).dtype)
            for f, v in zip(flat, values, strict=True)
        ]
        return pack(self._fetches, outs)

    def _element(self, fetch: Any) -> Tensor:
        return self.graph.as_graph_element(fetch)


def wrap_function(
    fn: Callable[..., Any], signature: Sequence[Any] | None, name: str | None = None
) -> WrappedFunction:
    return WrappedFunction(fn, signature, name)
