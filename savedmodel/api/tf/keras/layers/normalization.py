"""BatchNormalization (inference: the moving statistics) and LayerNormalization, as the
arithmetic of tf.nn.batch_normalization: x * (gamma * rsqrt(var + eps)) + (beta - mean * that)."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras import initializers
from savedmodel.api.tf.keras.engine import Layer, input_spec_json
from savedmodel.api.tf.keras.layers.core import dims_of


def normalize(x: Any, mean: Any, variance: Any, beta: Any, gamma: Any, epsilon: float) -> Any:
    inv = K.rsqrt(ops.add(variance, np.float32(epsilon)))
    if gamma is not None:
        inv = ops.multiply(inv, gamma)
    shift = (
        ops.negative(ops.multiply(mean, inv)) if beta is None else ops.subtract(beta, ops.multiply(mean, inv))
    )
    return ops.add(ops.multiply(x, inv), shift)


def _axes(axis: Any) -> list[int]:
    return [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]


class _Normalization(Layer):
    """The parameters shared by both: axis, epsilon, center (beta), scale (gamma)."""

    _supports_masking = True

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = _axes(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self._beta_initializer = initializers.check(beta_initializer)
        self._gamma_initializer = initializers.check(gamma_initializer)

    def _resolve_axes(self, input_shape: TensorShape) -> list[int]:
        rank = len(dims_of(input_shape, self))
        self.axis = sorted(a % rank for a in self.axis)
        return self.axis

    def _param_shape(self, input_shape: TensorShape) -> tuple[int, ...]:
        dims = dims_of(input_shape, self)
        return tuple(int(dims[a]) for a in self.axis)

    def _add_gamma_beta(self, shape: tuple[int, ...]) -> None:
        if self.scale:
            self.add_weight("gamma", shape, self._gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self._beta_initializer)

    def _broadcast(self, value: Any, rank: int) -> Any:
        """A parameter reshaped to broadcast against the input, unless its axes are the last ones."""
        if value is None or self.axis == list(range(rank - len(self.axis), rank)):
            return value
        shape = [1] * rank
        for a, d in zip(self.axis, self._param_shape(self._build_input_shape), strict=True):
            shape[a] = d
        return ops.reshape(value, shape)

    def _config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": list(self.axis),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self._beta_initializer),
            "gamma_initializer": initializers.serialize(self._gamma_initializer),
        }


class BatchNormalization(_Normalization):
    _class_name = "BatchNormalization"
    _expects_training_arg = True

    def __init__(
        self,
        axis: Any = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        self.momentum = float(momentum)
        self._mean_initializer = initializers.check(moving_mean_initializer)
        self._variance_initializer = initializers.check(moving_variance_initializer)

    def build(self, input_shape: TensorShape) -> None:
        self._build_input_shape = input_shape
        self._resolve_axes(input_shape)
        shape = self._param_shape(input_shape)
        self._add_gamma_beta(shape)
        self.add_weight("moving_mean", shape, self._mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self._variance_initializer, trainable=False)
        self.built = True

    def _input_spec(self) -> Any:
        dims = dims_of(self._build_input_shape, self)
        return input_spec_json(ndim=len(dims), axes={a: dims[a] for a in self.axis})

    def call(self, inputs: Any, training: Any = None, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        rank = len(dims_of(self._build_input_shape, self))

        def param(name: str) -> Any:
            return self._broadcast(getattr(self, name, None), rank)

        return normalize(
            x, param("moving_mean"), param("moving_variance"), param("beta"), param("gamma"), self.epsilon
        )

    def get_config(self) -> dict[str, Any]:
        config = self._config()
        return {
            **{k: v for k, v in config.items() if k not in ("beta_initializer", "gamma_initializer")},
            "momentum": self.momentum,
            "beta_initializer": config["beta_initializer"],
            "gamma_initializer": config["gamma_initializer"],
            "moving_mean_initializer": initializers.serialize(self._mean_initializer),
            "moving_variance_initializer": initializers.serialize(self._variance_initializer),
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        }


class LayerNormalization(_Normalization):
    _class_name = "LayerNormalization"

    def build(self, input_shape: TensorShape) -> None:
        self._build_input_shape = input_shape
        self._resolve_axes(input_shape)
        self._add_gamma_beta(self._param_shape(input_shape))
        self.built = True

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        rank = len(dims_of(self._build_input_shape, self))
        mean = K.mean(x, self.axis, keepdims=True)
        variance = K.mean(K.squared_difference(x, mean), self.axis, keepdims=True)
        beta = self._broadcast(getattr(self, "beta", None), rank)
        gamma = self._broadcast(getattr(self, "gamma", None), rank)
        return normalize(x, mean, variance, beta, gamma, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **self._config(),
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        }
