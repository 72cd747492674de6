"""Layers that merge a list of tensors: Concatenate, Add, Subtract, Multiply, Average, Maximum,
Minimum."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras.engine import Layer
from savedmodel.errors import InvalidInputError


class _Merge(Layer):
    _minimum_inputs = 2
    _refuses_mask = True  # tf-keras would merge the masks

    def _check(self, inputs: Any) -> list[Any]:
        if not isinstance(inputs, list | tuple) or len(inputs) < self._minimum_inputs:
            raise InvalidInputError(
                f"layer {self.name} ({self._class_name}) takes a list of at least "
                f"{self._minimum_inputs} inputs"
            )
        return list(inputs)

    def _merge(self, values: list[Any]) -> Any:
        raise NotImplementedError

    def call(self, inputs: Any, **_: Any) -> Any:
        return self._merge([ops.convert_to_tensor(v) for v in self._check(inputs)])

    def compute_output_shape(self, input_shape: Any, kwargs: dict[str, Any]) -> TensorShape:
        shapes = self._check(input_shape)
        return functools.reduce(ops._broadcast, shapes)


def _elementwise(class_name: str, combine: Any, minimum: int = 2, doc: str = "") -> type[_Merge]:
    def merge(self: _Merge, values: list[Any]) -> Any:
        return functools.reduce(combine, values)

    return type(
        class_name,
        (_Merge,),
        {"_class_name": class_name, "_merge": merge, "_minimum_inputs": minimum, "__doc__": doc},
    )


Add = _elementwise("Add", ops.add, 1, "Sums its inputs (AddV2 nodes).")
Multiply = _elementwise("Multiply", ops.multiply, 1, "Multiplies its inputs.")
Maximum = _elementwise("Maximum", ops.maximum, 1, "The elementwise maximum of its inputs.")
Minimum = _elementwise("Minimum", ops.minimum, 1, "The elementwise minimum of its inputs.")
Subtract = _elementwise("Subtract", ops.subtract, 2, "Its first input minus its second.")


class Average(_Merge):
    _class_name = "Average"
    _minimum_inputs = 1

    def _merge(self, values: list[Any]) -> Any:
        total = functools.reduce(ops.add, values)
        return ops.divide(total, np.float32(len(values)))


class Concatenate(_Merge):
    _class_name = "Concatenate"
    _minimum_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _merge(self, values: list[Any]) -> Any:
        return ops.concat(values, axis=self.axis)

    def compute_output_shape(self, input_shape: Any, kwargs: dict[str, Any]) -> TensorShape:
        shapes = self._check(input_shape)
        if any(s.dims is None for s in shapes):
            return TensorShape(None)
        dims = list(shapes[0].dims)
        axis = self.axis % len(dims)
        sizes = [s.dims[axis] for s in shapes]
        dims[axis] = None if None in sizes else sum(sizes)
        return TensorShape(dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
