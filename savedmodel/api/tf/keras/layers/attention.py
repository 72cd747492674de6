"""EinsumDense and MultiHeadAttention (3-D query/value/key, attention over the sequence axis, no
masks), with tf-keras's sublayers and equations: query/key/value/attention_output EinsumDense
layers, scores `aecd,abcd->acbe`, softmax over the last axis, context `acbe,aecd->abcd`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras import initializers
from savedmodel.api.tf.keras.engine import KerasTensor, Layer, _shape_of
from savedmodel.api.tf.keras.layers.core import activation_fn, dims_of, kernel_bias_config, tuple_json
from savedmodel.errors import InvalidInputError, UnsupportedError


class EinsumDense(Layer):
    """`einsum(equation, inputs, kernel) + bias`; `output_shape` leaves out the batch dimension."""

    _class_name = "EinsumDense"

    def __init__(
        self,
        equation: str,
        output_shape: Any,
        activation: Any = None,
        bias_axes: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.equation = equation
        shape = (
            [output_shape] if isinstance(output_shape, int) or output_shape is None else list(output_shape)
        )
        self.partial_output_shape = shape
        self.activation, self._activation_name = activation_fn(activation)
        self.bias_axes = bias_axes
        self._kernel_initializer = initializers.check(kernel_initializer)
        self._bias_initializer = initializers.check(bias_initializer)

    def _specs(self) -> tuple[str, str, str]:
        inputs, rest = self.equation.split(",")
        kernel, output = rest.split("->")
        if "." in self.equation:
            raise UnsupportedError(f"EinsumDense: ellipses in {self.equation!r} are not supported")
        return inputs, kernel, output

    def _full_output_shape(self, input_shape: TensorShape) -> list[Any]:
        inputs, _, output = self._specs()
        dims = dims_of(input_shape, self)
        full = [dims[0], *self.partial_output_shape]
        if len(full) != len(output):
            raise InvalidInputError(f"EinsumDense {self.name}: output_shape does not fit {self.equation!r}")
        return [dims[inputs.index(c)] if c in inputs else d for c, d in zip(output, full, strict=True)]

    def build(self, input_shape: TensorShape) -> None:
        inputs, kernel, output = self._specs()
        dims = dims_of(input_shape, self)
        full = self._full_output_shape(input_shape)
        kernel_shape = [dims[inputs.index(c)] if c in inputs else full[output.index(c)] for c in kernel]
        self.add_weight("kernel", kernel_shape, self._kernel_initializer)
        if self.bias_axes:
            first = min(output.index(c) for c in self.bias_axes)
            bias_shape = [full[i] if c in self.bias_axes else 1 for i, c in enumerate(output) if i >= first]
            self.add_weight("bias", bias_shape, self._bias_initializer)
        self.full_output_shape = full
        self.built = True

    def call(self, inputs: Any, **_: Any) -> Any:
        x = K.einsum(self.equation, inputs, self.kernel)
        if self.bias_axes:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        return TensorShape(self._full_output_shape(input_shape))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": self._activation_name,
            "bias_axes": self.bias_axes,
            **kernel_bias_config(self._kernel_initializer, self._bias_initializer),
        }


class MultiHeadAttention(Layer):
    _class_name = "MultiHeadAttention"
    _expects_training_arg = True
    _refuses_mask = True  # tf-keras would derive an attention mask from it

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: Any = None,
        attention_axes: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        for key in ("query_shape", "key_shape", "value_shape", "softmax_robust_masking"):
            kwargs.pop(key, None)
        super().__init__(**kwargs)
        if output_shape is not None:
            raise UnsupportedError("MultiHeadAttention: output_shape is not supported")
        if attention_axes not in (None, 1, [1], (1,)):
            raise UnsupportedError("MultiHeadAttention: only attention over axis 1 is supported")
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self._kernel_initializer = initializers.check(kernel_initializer)
        self._bias_initializer = initializers.check(bias_initializer)
        self._shapes: tuple[TensorShape, TensorShape, TensorShape] | None = None

    def _dense(self, name: str, equation: str, output_shape: list[Any], bias_axes: str) -> EinsumDense:
        return EinsumDense(
            equation,
            output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=self._kernel_initializer,
            bias_initializer=self._bias_initializer,
            name=name,
            dtype=self.dtype,
        )

    def _build_from_shapes(self, query: TensorShape, value: TensorShape, key: TensorShape) -> None:
        for what, shape in (("query", query), ("value", value), ("key", key)):
            if len(dims_of(shape, self)) != 3:
                raise UnsupportedError(
                    f"MultiHeadAttention: the {what} must be 3-D [batch, length, features]"
                )
        self._shapes = (query, value, key)
        heads = self.num_heads
        projections = [
            ("_query_dense", "query", query, self.key_dim),
            ("_key_dense", "key", key, self.key_dim),
            ("_value_dense", "value", value, self.value_dim),
        ]
        for attribute, name, shape, size in projections:
            dense = self._dense(name, "abc,cde->abde", [None, heads, size], "de")
            dense.build(shape)
            dense._build_input_shape = shape
            self.add_sublayer(attribute, dense)
        out_dim = dims_of(query, self)[-1]
        output = self._dense("attention_output", "abcd,cde->abe", [None, out_dim], "e")
        output_input = TensorShape([None, query.dims[1], heads, self.value_dim])
        output.build(output_input)
        output._build_input_shape = output_input
        self.add_sublayer("_output_dense", output)
        self.built = True

    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        if value is None:
            raise InvalidInputError(f"layer {self.name}: MultiHeadAttention needs a value")
        if not self.built:
            shape = (lambda t: t.shape) if isinstance(query, KerasTensor) else _shape_of
            self._build_from_shapes(shape(query), shape(value), shape(key if key is not None else value))
        if key is not None:
            kwargs["key"] = key
        return super().__call__(query, value=value, **kwargs)

    def call(self, query: Any, value: Any = None, key: Any = None, training: Any = None, **_: Any) -> Any:
        key = value if key is None else key
        q = self._query_dense.call(query)
        k = self._key_dense.call(key)
        v = self._value_dense.call(value)
        q = ops.multiply(q, np.float32(1.0 / math.sqrt(self.key_dim)))
        scores = K.einsum("aecd,abcd->acbe", k, q)
        probs = ops.softmax(scores)
        context = K.einsum("acbe,aecd->abcd", probs, v)
        return self._output_dense.call(context)

    def compute_output_shape(self, input_shape: Any, kwargs: dict[str, Any]) -> TensorShape:
        return input_shape

    def _traceable(self) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        def shape_json(shape: TensorShape | None) -> Any:
            return None if shape is None else {"class_name": "TensorShape", "items": list(shape.dims)}

        query, value, key = self._shapes or (None, None, None)
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": None,
            "attention_axes": tuple_json([1]),
            **kernel_bias_config(self._kernel_initializer, self._bias_initializer),
            "query_shape": shape_json(query),
            "key_shape": shape_json(key),
            "value_shape": shape_json(value),
            "softmax_robust_masking": False,
        }
