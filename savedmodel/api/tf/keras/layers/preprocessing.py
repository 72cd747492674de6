"""Rescaling and Normalization (with its mean and variance given, or learnt by `adapt`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras.engine import Layer
from savedmodel.api.tf.keras.layers.core import dims_of, tuple_json
from savedmodel.errors import InvalidInputError


class Rescaling(Layer):
    _class_name = "Rescaling"

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        if x.dtype != self._dtype:
            x = ops.cast(x, self._dtype)
        dtype = self._dtype.as_numpy_dtype
        return ops.add(ops.multiply(x, dtype(self.scale)), dtype(self.offset))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), epsilon) per feature along `axis` (`invert`: the reverse)."""

    _class_name = "Normalization"
    _must_restore_from_config = True

    def __init__(
        self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.axis = (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in (axis or ()))
        if (mean is None) != (variance is None):
            raise InvalidInputError("Normalization: give both mean and variance, or neither (then adapt)")
        self.input_mean = None if mean is None else np.asarray(mean, np.float32)
        self.input_variance = None if variance is None else np.asarray(variance, np.float32)
        self.invert = bool(invert)

    def build(self, input_shape: TensorShape) -> None:
        self._build_input_shape = input_shape
        dims = dims_of(input_shape, self)
        keep = sorted(a % len(dims) for a in self.axis)
        param_shape = [int(dims[a]) for a in keep]
        self._broadcast_shape = [dims[a] if a in keep else 1 for a in range(len(dims))]
        self._param_shape = param_shape
        if self.input_mean is None:  # adapt() fills these: weights mean, variance, count
            self.add_weight("mean", param_shape, "zeros", trainable=False, attribute="adapt_mean")
            self.add_weight("variance", param_shape, "ones", trainable=False, attribute="adapt_variance")
            self.add_weight("count", (), "zeros", trainable=False, dtype="int64")
        self.built = True

    def adapt(self, data: Any, batch_size: Any = None, steps: Any = None) -> None:
        values = np.asarray(data, np.float32)
        if self._batch_input_shape is None:  # as tf-keras: adapting sets an input shape of any size
            self._batch_input_shape = [None] * values.ndim
        if not self.built:
            self.build(TensorShape([None, *values.shape[1:]]))
        if self.input_mean is not None:
            raise InvalidInputError("Normalization: adapt() needs a layer made without mean and variance")
        keep = {a % values.ndim for a in self.axis}
        reduce = tuple(a for a in range(values.ndim) if a not in keep)
        self.adapt_mean.assign(values.mean(axis=reduce).astype(np.float32))
        self.adapt_variance.assign(values.var(axis=reduce).astype(np.float32))
        self.count.assign(np.int64(np.prod([values.shape[a] for a in reduce])))

    def _statistics(self) -> tuple[Any, Any]:
        if self.input_mean is not None:
            mean = np.broadcast_to(self.input_mean, self._param_shape).reshape(self._broadcast_shape)
            variance = np.broadcast_to(self.input_variance, self._param_shape).reshape(self._broadcast_shape)
            return mean.astype(np.float32), variance.astype(np.float32)
        shape = self._broadcast_shape
        return ops.reshape(self.adapt_mean, shape), ops.reshape(self.adapt_variance, shape)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        if x.dtype != self._dtype:
            x = ops.cast(x, self._dtype)
        mean, variance = self._statistics()
        std = ops.maximum(ops.sqrt(variance), np.float32(K.EPSILON))
        if self.invert:
            return ops.add(mean, ops.multiply(x, std))
        return ops.divide(ops.subtract(x, mean), std)

    def get_config(self) -> dict[str, Any]:
        def listed(value: Any) -> Any:
            return None if value is None else value.tolist()

        return {
            **super().get_config(),
            "axis": tuple_json(self.axis),
            "invert": self.invert,
            "mean": listed(self.input_mean),
            "variance": listed(self.input_variance),
        }
