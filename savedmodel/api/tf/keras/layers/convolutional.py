"""Conv1D, Conv2D, DepthwiseConv2D (channels_last). Conv1D runs as TensorFlow runs it: the input
and kernel get a unit height (ExpandDims), a Conv2D, then a Squeeze."""

from __future__ import annotations

import math
from typing import Any

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras import initializers
from savedmodel.api.tf.keras.engine import Layer, input_spec_json
from savedmodel.api.tf.keras.layers.core import (
    activation_fn,
    as_tuple,
    check_channels_last,
    dims_of,
    kernel_bias_config,
    tuple_json,
)
from savedmodel.errors import InvalidInputError, UnsupportedError


def conv_output_length(
    length: int | None, kernel: int, padding: str, stride: int, dilation: int
) -> int | None:
    if length is None:
        return None
    if padding == "same":
        return math.ceil(length / stride)
    return math.ceil((length - (kernel - 1) * dilation) / stride)


def check_padding(padding: str, layer: str) -> str:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise UnsupportedError(f"{layer}: padding={padding!r} is not supported (use 'valid' or 'same')")
    return padding


class _Conv(Layer):
    """The shared part of convolutions over `rank` spatial dimensions."""

    rank = 2
    _kernel_attr = "kernel"

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: Any = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        check_channels_last(data_format, name)
        if groups != 1:
            raise UnsupportedError(f"{name}: groups={groups} is not supported")
        self.kernel_size = as_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = as_tuple(strides, self.rank, "strides")
        self.dilation_rate = as_tuple(dilation_rate, self.rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise InvalidInputError(
                f"{name}: strides > 1 with dilation_rate > 1 is not supported by TensorFlow"
            )
        self.padding = check_padding(padding, name)
        self.activation, self._activation_name = activation_fn(activation)
        self.use_bias = use_bias
        self._bias_initializer = initializers.check(bias_initializer)

    def _out_channels(self, in_channels: int) -> int:
        raise NotImplementedError

    def _kernel_shape(self, in_channels: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _in_channels(self, input_shape: TensorShape) -> int:
        channels = dims_of(input_shape, self)[-1]
        if channels is None:
            raise InvalidInputError(f"layer {self.name}: the channel dimension must be known")
        return int(channels)

    def build(self, input_shape: TensorShape) -> None:
        channels = self._in_channels(input_shape)
        self.add_weight(self._kernel_attr, self._kernel_shape(channels), self._kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self._out_channels(channels),), self._bias_initializer)
        self.built = True

    def _input_spec(self) -> Any:
        return input_spec_json(min_ndim=self.rank + 2, axes={-1: self._in_channels(self._build_input_shape)})

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        dims = dims_of(input_shape, self)
        spatial = [
            conv_output_length(d, k, self.padding, s, r)
            for d, k, s, r in zip(dims[1:-1], self.kernel_size, self.strides, self.dilation_rate, strict=True)
        ]
        return TensorShape([dims[0], *spatial, self._out_channels(self._in_channels(input_shape))])

    def _convolve(self, x: Any) -> Any:
        raise NotImplementedError

    def call(self, inputs: Any, **_: Any) -> Any:
        x = self._convolve(ops.convert_to_tensor(inputs))
        if self.use_bias:
            x = ops.bias_add(x, self.bias)
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_size": tuple_json(self.kernel_size),
            "strides": tuple_json(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": tuple_json(self.dilation_rate),
            "groups": 1,
            "activation": self._activation_name,
            "use_bias": self.use_bias,
        }


class Conv2D(_Conv):
    _class_name = "Conv2D"

    def __init__(
        self, filters: int, kernel_size: Any, kernel_initializer: Any = "glorot_uniform", **kwargs: Any
    ) -> None:
        super().__init__(kernel_size, **kwargs)
        self.filters = int(filters)
        self._kernel_initializer = initializers.check(kernel_initializer)

    def _out_channels(self, in_channels: int) -> int:
        return self.filters

    def _kernel_shape(self, in_channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, in_channels, self.filters)

    def _convolve(self, x: Any) -> Any:
        return K.conv2d(x, self.kernel, self.strides, self.padding, self.dilation_rate)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            **kernel_bias_config(self._kernel_initializer, self._bias_initializer),
        }


class Conv1D(Conv2D):
    _class_name = "Conv1D"
    rank = 1

    def _convolve(self, x: Any) -> Any:
        x = ops.expand_dims(x, -3)
        kernel = ops.expand_dims(self.kernel, 0)
        y = K.conv2d(x, kernel, (1, *self.strides), self.padding, (1, *self.dilation_rate))
        return ops.squeeze(y, [-3])


class DepthwiseConv2D(_Conv):
    _class_name = "DepthwiseConv2D"
    _kernel_attr = "depthwise_kernel"

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        depthwise_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(kernel_size, strides=strides, padding=padding, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self._kernel_initializer = initializers.check(depthwise_initializer)

    def _out_channels(self, in_channels: int) -> int:
        return in_channels * self.depth_multiplier

    def _kernel_shape(self, in_channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, in_channels, self.depth_multiplier)

    def _convolve(self, x: Any) -> Any:
        return K.depthwise_conv2d(x, self.depthwise_kernel, self.strides, self.padding, self.dilation_rate)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "bias_regularizer": None,
            "activity_regularizer": None,
            "bias_constraint": None,
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self._kernel_initializer),
            "depthwise_regularizer": None,
            "depthwise_constraint": None,
        }
