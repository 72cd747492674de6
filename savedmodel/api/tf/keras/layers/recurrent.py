"""LSTM and GRU. Over a known number of timesteps the recurrence is unrolled into a static loop;
over an unknown number it is one while loop over the time axis (StatelessWhile, outputs collected
in a TensorList). TensorFlow loads and runs the graph as it is; tf-keras rebuilds the layers from
their configs. Weights live on the layer's `cell` (LSTMCell / GRUCell), as in tf-keras: kernel,
recurrent_kernel, bias."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.control_flow import element_shape_tensor, tensor_list_op, while_loop
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.graph import TensorShape
from savedmodel.api.tf.keras import backend as K
from savedmodel.api.tf.keras import initializers
from savedmodel.api.tf.keras.engine import Layer, input_spec_json
from savedmodel.api.tf.keras.layers.core import activation_fn, dims_of
from savedmodel.errors import InvalidInputError, UnsupportedError


class _Cell(Layer):
    """What LSTMCell and GRUCell share: units, activations, initializers."""

    _expects_training_arg = True
    _gates = 4
    _states = 2  # (h, c)

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation, self._activation_name = activation_fn(activation)
        self.recurrent_activation, self._recurrent_activation_name = activation_fn(recurrent_activation)
        self.use_bias = bool(use_bias)
        self._kernel_initializer = initializers.check(kernel_initializer)
        self._recurrent_initializer = initializers.check(recurrent_initializer)
        self._bias_initializer = initializers.check(bias_initializer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)

    def _metadata(self) -> dict[str, Any]:
        out = super()._metadata()
        if "build_input_shape" in out:  # tf-keras records a cell's as a tuple
            out["build_input_shape"] = {"class_name": "__tuple__", "items": out["build_input_shape"]["items"]}
        return out

    def build_cell(self, input_dim: int) -> None:
        width = self._gates * self.units
        self.add_weight("kernel", (input_dim, width), self._kernel_initializer)
        self.add_weight("recurrent_kernel", (self.units, width), self._recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_value)
        self.built = True

    def _bias_shape(self) -> tuple[int, ...]:
        return (self._gates * self.units,)

    def _context(self) -> dict[str, Any]:
        """What every timestep uses, made once: each weight read once, the split axes."""
        ctx: dict[str, Any] = {name: ops.convert_to_tensor(var) for name, var in self._weight_slots}
        ctx["axis"], ctx["last_axis"] = K.int_const(1), K.int_const(-1)
        ctx["input_bias"] = ctx.get("bias")
        return ctx

    def step(self, projected: Any, state: Any, ctx: dict[str, Any]) -> tuple[Any, Any]:
        raise NotImplementedError

    def _projected(self, x: Any, ctx: dict[str, Any]) -> Any:
        """x @ kernel + input bias: one op over all timesteps."""
        projected = K.einsum("abc,cd->abd", x, ctx["kernel"])
        if ctx["input_bias"] is not None:
            projected = ops.bias_add(projected, ctx["input_bias"])
        return projected

    def unroll(self, x: Any, timesteps: int, backwards: bool, mask: Any = None) -> list[Any]:
        """The outputs of every timestep of x ([batch, time, features]), in the order processed.
        Where `mask` ([batch, time]) is False a step keeps the state and repeats the last output."""
        ctx = self._context()
        steps = K.unstack(self._projected(x, ctx), timesteps, axis=1)
        keeps: list[Any] = [None] * timesteps
        state = None
        if mask is not None:
            keeps = K.unstack(ops.expand_dims(mask, -1), timesteps, axis=1)
            state = self._pack(self._zero_state(x))
        order = range(timesteps - 1, -1, -1) if backwards else range(timesteps)
        outputs = []
        for t in order:
            output, state = self._masked_step(steps[t], state, ctx, keeps[t])
            outputs.append(output)
        return outputs

    def _masked_step(self, z: Any, state: Any, ctx: dict[str, Any], keep: Any) -> tuple[Any, Any]:
        """`step`, but where `keep` ([batch, 1]) is False the old state stays (the output is h)."""
        output, new = self.step(z, state, ctx)
        if keep is None:
            return output, new
        kept = [ops.where(keep, n, o) for n, o in zip(self._flat(new), self._flat(state), strict=True)]
        return kept[0], self._pack(kept)

    def _pack(self, flat: list[Any]) -> Any:
        return tuple(flat) if self._states > 1 else flat[0]

    def _flat(self, state: Any) -> list[Any]:
        return list(state) if self._states > 1 else [state]

    def _zero_state(self, x: Any) -> list[Any]:
        return [self._zeros(K.gather(ops.shape(x), K.int_const([0])))] * self._states

    def loop(self, x: Any, backwards: bool, sequences: bool, mask: Any = None) -> Any:
        """The recurrence over x ([batch, time, features]) of any length as one while loop: the
        last output, or ([batch, time, units]) every output in the order processed."""
        ctx = self._context()
        steps = _time_first(self._projected(x, ctx), backwards)
        keeps = None if mask is None else _time_first(ops.expand_dims(mask, -1), backwards)
        count = K.gather(ops.shape(steps), K.int_const(0))
        carried = self._zero_state(x)
        if sequences:
            item_shape = element_shape_tensor(TensorShape([None, self.units]))
            dtype = carried[0].dtype
            carried.append(tensor_list_op("TensorListReserve", [item_shape, count], dtype, "TensorArrayV2"))

        def body(t: Any, *values: Any) -> list[Any]:
            keep = None if keeps is None else K.gather(keeps, t)
            state = self._pack(list(values[: self._states]))
            output, state = self._masked_step(K.gather(steps, t), state, ctx, keep)
            new = self._flat(state)
            for tensor in new:
                tensor.set_shape([None, self.units])  # what the loop carries: static shapes
            if sequences:
                new.append(_set_item(values[-1], t, output))
            return [ops.add(t, K.int_const(1)), *new]

        def more(t: Any, *_: Any) -> Any:
            return ops.less(t, count)

        final = while_loop(more, body, [K.int_const(0), *carried], maximum_iterations=count)
        if not sequences:
            return final[1]  # h
        stacked = _stack_list(final[-1], self.units, carried[0].dtype)
        return ops.transpose(stacked, [1, 0, 2])

    def _zeros(self, batch: Any) -> Any:
        """A [batch, units] state of zeros, `batch` a 1-element int32 tensor."""
        dims = ops.concat([batch, K.int_const([self.units])], 0)
        zero = ops.constant(np.float32(0.0))
        attrs = {"T": g.attr_type(zero.dtype), "index_type": g.attr_type("int32")}
        return K.op("Fill", [dims, zero], attrs, shape=[None, self.units], dtype=zero.dtype, typed=False)

    def _bias_value(self, shape: Any, dtype: Any) -> np.ndarray:
        return initializers.initial_value(self._bias_initializer, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self._activation_name,
            "recurrent_activation": self._recurrent_activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "recurrent_initializer": initializers.serialize(self._recurrent_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "implementation": 2,
        }


class LSTMCell(_Cell):
    _class_name = "LSTMCell"

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("name", "lstm_cell")  # tf-keras names every LSTM's cell so
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_value(self, shape: Any, dtype: Any) -> np.ndarray:
        bias = super()._bias_value(shape, dtype)
        if self.unit_forget_bias:  # the forget gate starts at 1
            bias[self.units : 2 * self.units] = 1
        return bias

    def step(self, z: Any, state: Any, ctx: dict[str, Any]) -> tuple[Any, Any]:
        """One timestep from the projected input: (output, new state); the state is (h, c),
        None before the first step."""
        if state is not None:
            z = ops.add(z, ops.matmul(state[0], ctx["recurrent_kernel"]))
        i, f, g, o = K.split(z, 4, axis=ctx["axis"])
        i, f, o = (self.recurrent_activation(t) for t in (i, f, o))
        c = ops.multiply(i, self.activation(g))
        if state is not None:
            c = ops.add(ops.multiply(f, state[1]), c)
        h = ops.multiply(o, self.activation(c))
        return h, (h, c)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    _class_name = "GRUCell"
    _gates = 3
    _states = 1  # h

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("name", "gru_cell")
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        width = self._gates * self.units
        return (2, width) if self.reset_after else (width,)

    def _context(self) -> dict[str, Any]:
        ctx = super()._context()
        ctx["one"] = ops.constant(np.float32(1.0))
        ctx["input_bias"] = ctx["recurrent_bias"] = None
        if self.use_bias and self.reset_after:
            ctx["input_bias"], ctx["recurrent_bias"] = K.unstack(ctx["bias"], 2, axis=0)
        elif self.use_bias:
            ctx["input_bias"] = ctx["bias"]
        if not self.reset_after:
            ctx["recurrent_parts"] = K.split(ctx["recurrent_kernel"], 3, axis=ctx["axis"])
        return ctx

    def step(self, mx: Any, state: Any, ctx: dict[str, Any]) -> tuple[Any, Any]:
        """One timestep from the projected input; the state is h, None before the first step
        (then h is zero)."""
        x_z, x_r, x_h = K.split(mx, 3, axis=ctx["axis"])
        if self.reset_after:
            inner = ctx["recurrent_bias"]
            if state is not None:
                inner = ops.matmul(state, ctx["recurrent_kernel"])
                if ctx["recurrent_bias"] is not None:
                    inner = ops.bias_add(inner, ctx["recurrent_bias"])
            r_z, r_r, r_h = K.split(inner, 3, axis=ctx["last_axis"]) if inner is not None else (None,) * 3
            z = self.recurrent_activation(_plus(x_z, r_z))
            r = self.recurrent_activation(_plus(x_r, r_r))
            hh = self.activation(_plus(x_h, None if r_h is None else ops.multiply(r, r_h)))
        else:
            u_z, u_r, u_h = ctx["recurrent_parts"]
            z = self.recurrent_activation(_plus(x_z, None if state is None else ops.matmul(state, u_z)))
            r = self.recurrent_activation(_plus(x_r, None if state is None else ops.matmul(state, u_r)))
            recurrent = None if state is None else ops.matmul(ops.multiply(r, state), u_h)
            hh = self.activation(_plus(x_h, recurrent))
        h = ops.multiply(ops.subtract(ctx["one"], z), hh)
        if state is not None:
            h = ops.add(ops.multiply(z, state), h)
        return h, h

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


def _plus(x: Any, y: Any) -> Any:
    return x if y is None else ops.add(x, y)


def _time_first(x: Any, backwards: bool) -> Any:
    """[batch, time, ...] as [time, batch, ...], the time axis reversed if `backwards`."""
    x = ops.transpose(x, [1, 0, 2])
    if backwards:
        reverse = {"Tidx": g.attr_type("int32")}
        x = K.op("ReverseV2", [x, K.int_const([0])], reverse, shape=x.shape)
    return x


def _set_item(tensor_list: Any, index: Any, value: Any) -> Any:
    attrs = {"element_dtype": g.attr_type(value.dtype)}
    variant = [as_dtype("variant")]
    return ops.apply(
        "TensorListSetItem", [tensor_list, index, value], attrs, variant, [[]], "TensorListSetItem"
    )[0]


def _stack_list(tensor_list: Any, units: int, dtype: Any) -> Any:
    """The TensorList's [batch, units] items stacked: [time, batch, units]."""
    attrs = {"element_dtype": g.attr_type(dtype), "num_elements": g.attr_int(-1)}
    inputs = [tensor_list, element_shape_tensor(TensorShape([None, units]))]
    shape = TensorShape([None, None, units])
    return ops.apply(
        "TensorListStack", inputs, attrs, [dtype], [shape], "TensorArrayV2Stack/TensorListStack"
    )[0]


class _RNN(Layer):
    _identifier = "_tf_keras_rnn_layer"
    _expects_training_arg = True
    _takes_mask = True
    _cell_class: type[_Cell] = LSTMCell

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        time_major: bool = False,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if return_state or stateful or time_major:
            raise UnsupportedError(f"{name}: return_state, stateful and time_major are not supported")
        layer_keys = ("name", "dtype", "trainable", "input_shape", "batch_input_shape")
        layer_kwargs = {k: kwargs.pop(k) for k in layer_keys if k in kwargs}
        super().__init__(**layer_kwargs)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)
        for key in ("activity_regularizer", "cell"):
            kwargs.pop(key, None)
        self.add_sublayer("cell", self._cell_class(units, dtype=self.dtype, **kwargs))

    def build(self, input_shape: TensorShape) -> None:
        dims = dims_of(input_shape, self)
        if len(dims) != 3 or dims[-1] is None:
            raise InvalidInputError(
                f"layer {self.name}: expects [batch, timesteps, features] with known features"
            )
        self.cell.build_cell(int(dims[-1]))
        self.cell._build_input_shape = TensorShape([dims[0], dims[-1]])
        self.built = True

    def call(self, inputs: Any, training: Any = None, mask: Any = None, **_: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
        timesteps = (x.shape.dims or (None, None))[1]
        if timesteps is None:
            return self.cell.loop(x, self.go_backwards, self.return_sequences, mask)
        outputs = self.cell.unroll(x, int(timesteps), self.go_backwards, mask)
        return K.stack(outputs, axis=1) if self.return_sequences else outputs[-1]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Every timestep's output carries the input's mask (as given, even going backwards)."""
        return mask if self.return_sequences else None

    def _input_spec(self) -> Any:
        features = dims_of(self._build_input_shape, self)[-1]
        return [input_spec_json(ndim=3, shape=[None, None, features])]

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        dims = dims_of(input_shape, self)
        units = self.cell.units
        return TensorShape([dims[0], dims[1], units] if self.return_sequences else [dims[0], units])

    def get_config(self) -> dict[str, Any]:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key)
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": False,
            "go_backwards": self.go_backwards,
            "stateful": False,
            "unroll": self.unroll,
            "time_major": False,
            **cell,
            "activity_regularizer": None,
        }


class LSTM(_RNN):
    _class_name = "LSTM"
    _cell_class = LSTMCell


class GRU(_RNN):
    _class_name = "GRU"
    _cell_class = GRUCell
