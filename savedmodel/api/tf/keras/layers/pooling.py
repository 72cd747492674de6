"""Max and average pooling (1D, 2D) and global pooling, channels_last. 1D pooling runs as
TensorFlow runs it: a unit height (ExpandDims), the 2D pool, then a Squeeze."""

from __future__ import annotations

from typing import Any

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras.engine import Layer, input_spec_json
from savedmodel.api.tf.keras.layers.convolutional import check_padding, conv_output_length
from savedmodel.api.tf.keras.layers.core import as_tuple, check_channels_last, dims_of, tuple_json


class _Pooling(Layer):
    rank = 2
    _op_type = "MaxPool"

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.pool_size = as_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else as_tuple(strides, self.rank, "strides")
        self.padding = check_padding(padding, type(self).__name__)

    def _input_spec(self) -> Any:
        return input_spec_json(ndim=self.rank + 2)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        if self.rank == 1:
            y = K.pool2d(
                self._op_type, ops.expand_dims(x, 1), (1, *self.pool_size), (1, *self.strides), self.padding
            )
            return ops.squeeze(y, [1])
        return K.pool2d(self._op_type, x, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        dims = dims_of(input_shape, self)
        spatial = [
            conv_output_length(d, k, self.padding, s, 1)
            for d, k, s in zip(dims[1:-1], self.pool_size, self.strides, strict=True)
        ]
        return TensorShape([dims[0], *spatial, dims[-1]])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": tuple_json(self.pool_size),
            "padding": self.padding,
            "strides": tuple_json(self.strides),
            "data_format": "channels_last",
        }


class MaxPooling2D(_Pooling):
    _class_name = "MaxPooling2D"


class AveragePooling2D(_Pooling):
    _class_name = "AveragePooling2D"
    _op_type = "AvgPool"


class MaxPooling1D(_Pooling):
    _class_name = "MaxPooling1D"
    rank = 1


class AveragePooling1D(_Pooling):
    _class_name = "AveragePooling1D"
    rank = 1
    _op_type = "AvgPool"


class _GlobalPooling(Layer):
    rank = 2
    _average = True

    def __init__(self, data_format: Any = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _input_spec(self) -> Any:
        return input_spec_json(ndim=self.rank + 2)

    def _axes(self) -> list[int]:
        return list(range(1, self.rank + 1))

    def call(self, inputs: Any, **_: Any) -> Any:
        reduce = K.mean if self._average else K.reduce_max
        return reduce(inputs, self._axes(), self.keepdims)

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        dims = dims_of(input_shape, self)
        if self.keepdims:
            return TensorShape([dims[0], *([1] * self.rank), dims[-1]])
        return TensorShape([dims[0], dims[-1]])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling):
    _class_name = "GlobalAveragePooling2D"


class GlobalMaxPooling2D(_GlobalPooling):
    _class_name = "GlobalMaxPooling2D"
    _average = False


class GlobalAveragePooling1D(_GlobalPooling):
    """Given a mask ([batch, steps]), the mean over the unmasked steps only."""

    _class_name = "GlobalAveragePooling1D"
    rank = 1
    _takes_mask = True

    def call(self, inputs: Any, mask: Any = None, **kwargs: Any) -> Any:
        if mask is None:
            return super().call(inputs, **kwargs)
        x = ops.convert_to_tensor(inputs)
        weights = ops.cast(ops.expand_dims(mask, -1), x.dtype)
        total = ops.reduce_sum(ops.multiply(x, weights), axis=1, keepdims=self.keepdims)
        return ops.divide(total, ops.reduce_sum(weights, axis=1, keepdims=self.keepdims))


class GlobalMaxPooling1D(_GlobalPooling):
    _class_name = "GlobalMaxPooling1D"
    rank = 1
    _average = False


MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
