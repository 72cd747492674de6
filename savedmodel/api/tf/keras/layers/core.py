"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Embedding, and what layers share
(activations, tuple arguments, shapes as tf-keras writes them in a config)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras import initializers
from savedmodel.api.tf.keras.engine import Layer, input_spec_json
from savedmodel.errors import InvalidInputError, UnsupportedError


def _gelu(x: Any) -> Any:
    """tf.nn.gelu(approximate=False): x * (1 + erf(x / sqrt 2)) / 2."""
    erf = K.op("Erf", [ops.multiply(x, np.float32(1 / np.sqrt(2)))])
    return ops.multiply(ops.multiply(x, np.float32(0.5)), ops.add(erf, np.float32(1.0)))


ACTIVATIONS: dict[str | None, Callable[[Any], Any]] = {
    None: lambda x: x,
    "linear": lambda x: x,
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softmax": ops.softmax,
    "relu6": lambda x: K.op("Relu6", [x]),
    "elu": lambda x: K.op("Elu", [x]),
    "selu": lambda x: K.op("Selu", [x]),
    "softplus": lambda x: K.op("Softplus", [x]),
    "swish": lambda x: ops.multiply(x, ops.sigmoid(x)),
    "silu": lambda x: ops.multiply(x, ops.sigmoid(x)),
    "gelu": _gelu,
}


def activation_fn(activation: Any) -> tuple[Callable[[Any], Any], str]:
    """The function and the name saved in the config ("linear" for none)."""
    if callable(activation):
        return activation, getattr(activation, "__name__", "custom")
    if isinstance(activation, dict):  # a saved config {"class_name": ..., "config": ...}
        activation = activation.get("config", {}).get("name", activation.get("class_name"))
    if activation not in ACTIVATIONS:
        raise UnsupportedError(
            f"unsupported activation {activation!r} (supported: {sorted(map(str, ACTIVATIONS))})"
        )
    return ACTIVATIONS[activation], activation or "linear"


def kernel_bias_config(kernel: str, bias: str, seed: int | None = None) -> dict[str, Any]:
    """The initializers of a layer's kernel and bias, and its (absent) regularizers and constraints,
    as its config lists them."""
    kernel_config = initializers.serialize(kernel)
    if seed is not None and "seed" in kernel_config["config"]:
        kernel_config["config"]["seed"] = seed
    return {
        "kernel_initializer": kernel_config,
        "bias_initializer": initializers.serialize(bias),
        **dict.fromkeys(
            (
                "kernel_regularizer",
                "bias_regularizer",
                "activity_regularizer",
                "kernel_constraint",
                "bias_constraint",
            )
        ),
    }


def as_tuple(value: Any, n: int, what: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    items = tuple(int(v) for v in value)
    if len(items) != n:
        raise InvalidInputError(f"{what} must be an int or {n} ints, not {value!r}")
    return items


def tuple_json(items: Any) -> dict[str, Any]:
    return {"class_name": "__tuple__", "items": list(items)}


def check_channels_last(data_format: Any, layer: str) -> None:
    if data_format not in (None, "channels_last"):
        raise UnsupportedError(f"{layer}: only data_format='channels_last' is supported, not {data_format!r}")


def dims_of(shape: TensorShape, layer: Layer) -> list[Any]:
    if shape.dims is None:
        raise InvalidInputError(f"layer {layer.name}: the input's rank must be known")
    return list(shape.dims)


class Dense(Layer):
    _class_name = "Dense"
    _supports_masking = True

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation, self._activation_name = activation_fn(activation)
        self.use_bias = use_bias
        self._kernel_initializer = initializers.check(kernel_initializer)
        self._bias_initializer = initializers.check(bias_initializer)
        self._seed = seed

    def build(self, input_shape: TensorShape) -> None:
        fan_in = (input_shape.dims or (None,))[-1]
        if fan_in is None:
            raise InvalidInputError(f"Dense layer {self.name}: the last input dimension must be known")
        value = initializers.initial_value(
            self._kernel_initializer, (fan_in, self.units), self._dtype.as_numpy_dtype, self._seed
        )
        self.add_weight("kernel", (fan_in, self.units), lambda *_: value)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self._bias_initializer)
        self.built = True

    def _input_spec(self) -> Any:
        dims = self._build_input_shape.dims
        return input_spec_json(min_ndim=2, axes={-1: dims[-1]}) if dims else None

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        rank = x.shape.rank
        if rank is not None and rank > 2:  # tf-keras: a tensordot over the last axis
            x = K.einsum(_dense_equation(rank), x, self.kernel)
        else:
            x = ops.matmul(x, self.kernel)
        if self.use_bias:
            x = ops.bias_add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        dims = list(input_shape.dims or (None,))
        return TensorShape(dims[:-1] + [self.units])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self._activation_name,
            "use_bias": self.use_bias,
            **kernel_bias_config(self._kernel_initializer, self._bias_initializer, self._seed),
        }


def _dense_equation(rank: int) -> str:
    letters = "abcdefgh"[: rank - 1]
    return f"{letters}y,yz->{letters}z"


class Activation(Layer):
    _class_name = "Activation"
    _supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation, self._activation_name = activation_fn(activation)

    def call(self, inputs: Any, **_: Any) -> Any:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self._activation_name}


class Dropout(Layer):
    """At inference, the identity (TensorFlow's graph has an Identity node)."""

    _class_name = "Dropout"
    _expects_training_arg = True
    _supports_masking = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Any, training: Any = None, **_: Any) -> Any:
        return ops.identity(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Flatten(Layer):
    _class_name = "Flatten"

    def __init__(self, data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_channels_last(data_format, "Flatten")

    def _flat_size(self, shape: TensorShape) -> int:
        rest = dims_of(shape, self)[1:]
        if any(d is None for d in rest):
            raise UnsupportedError(f"Flatten layer {self.name}: the non-batch dimensions must be known")
        return int(np.prod(rest, dtype=np.int64))

    def _input_spec(self) -> Any:
        return input_spec_json(min_ndim=1)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        return ops.reshape(x, [-1, self._flat_size(x.shape)])

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        return TensorShape([input_shape.dims[0] if input_shape.dims else None, self._flat_size(input_shape)])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last"}


class Reshape(Layer):
    _class_name = "Reshape"

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def _resolved(self, shape: TensorShape) -> list[int]:
        target = list(self.target_shape)
        if -1 in target:
            rest = dims_of(shape, self)[1:]
            if any(d is None for d in rest):
                raise UnsupportedError(f"Reshape layer {self.name}: -1 needs known input dimensions")
            known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
            target[target.index(-1)] = int(np.prod(rest, dtype=np.int64)) // known
        return target

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        return ops.reshape(x, [-1, *self._resolved(x.shape)])

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        return TensorShape([input_shape.dims[0] if input_shape.dims else None, *self._resolved(input_shape)])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": tuple_json(self.target_shape)}


class Embedding(Layer):
    _class_name = "Embedding"
    _autocast = False

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        mask_zero: bool = False,
        input_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.mask_zero = bool(mask_zero)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.input_length = input_length
        initializer = "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        self._initializer = initializers.check(initializer)

    def build(self, input_shape: TensorShape) -> None:
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self._initializer)
        self.built = True

    def call(self, inputs: Any, **_: Any) -> Any:
        ids = ops.convert_to_tensor(inputs)
        if ids.dtype.name not in ("int32", "int64"):
            ids = ops.cast(ids, "int32")
        return K.gather(self.embeddings, ids)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """With mask_zero, id 0 is padding: the mask is False there."""
        if not self.mask_zero:
            return super().compute_mask(inputs, mask)
        ids = ops.convert_to_tensor(inputs)
        return ops.not_equal(ids, ops.constant(np.zeros((), ids.dtype.as_numpy_dtype)))

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        return TensorShape([*dims_of(input_shape, self), self.output_dim])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.setdefault("batch_input_shape", tuple_json([None, self.input_length]))
        return {
            **config,
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self._initializer),
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": self.mask_zero,
            "input_length": self.input_length,
        }


class Masking(Layer):
    """Timesteps whose features all equal mask_value are masked (for the LSTM/GRU that follow) and
    zeroed."""

    _class_name = "Masking"
    _supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        x = ops.convert_to_tensor(inputs)
        differs = ops.not_equal(x, ops.constant(np.asarray(self.mask_value, x.dtype.as_numpy_dtype)))
        attrs = {"Tidx": g.attr_type("int32"), "keep_dims": g.attr_bool(False)}
        return K.op("Any", [differs, K.int_const(-1)], attrs, dtype=as_dtype("bool"), typed=False)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        return ops.multiply(x, ops.cast(ops.expand_dims(self.compute_mask(x), -1), x.dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}
