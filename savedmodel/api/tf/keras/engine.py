"""The Keras engine: Keras tensors, `Layer`, `InputLayer`, op layers (TFOpLambda), the functional
`Model` and `Sequential`, `model.save(dir)` and `models.load_model`."""

from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.function import Function, TensorSpec, function
from savedmodel.api.tf.graph import TensorShape, as_shape
from savedmodel.api.tf.module import Module
from savedmodel.api.tf.variables import Variable
from savedmodel.errors import FormatError, InvalidInputError, UnsupportedError
from savedmodel.proto import saved_metadata_pb2

_NAME_COUNTS: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
_TENSOR_SERIALS = itertools.count()


def _unique_layer_name(base: str) -> str:
    """Keras's default names: `input_1`, `input_2`...; `dense`, `dense_1`...; `tf.__operators__.add`..."""
    n = next(_NAME_COUNTS[base])
    if base == "input":
        return f"input_{n}"
    return base if n == 1 else f"{base}_{n - 1}"


# --- Keras tensors ------------------------------------------------------------------------------


class KerasTensor:
    """A symbolic output of a layer in a functional model."""

    def __init__(
        self,
        layer: Layer,
        inputs: list[Any],
        kwargs: dict[str, Any],
        shape: TensorShape,
        dtype: Any,
        call_inputs: Any = None,
    ) -> None:
        self.layer = layer
        self.serial = next(_TENSOR_SERIALS)  # creation order: a shared layer's nodes are numbered by it
        self.inbound = inputs
        # the first call argument as given: one tensor, or a list of them (Concatenate, Add)
        self.call_inputs = call_inputs if call_inputs is not None else (inputs[0] if inputs else None)
        self.kwargs = kwargs
        self.shape = shape
        self.dtype = as_dtype(dtype)

    @property
    def name(self) -> str:
        return self.layer.name

    def __repr__(self) -> str:
        return (
            f"<KerasTensor: shape={self.shape} dtype={self.dtype.name} (created by layer "
            f"'{self.layer.name}')>"
        )


_OPERATORS = {
    "__add__": ("__operators__.add", ops.add),
    "__sub__": ("math.subtract", ops.subtract),
    "__mul__": ("math.multiply", ops.multiply),
    "__truediv__": ("math.truediv", ops.divide),
}


def _install_keras_operators() -> None:
    for dunder, (fname, fn) in _OPERATORS.items():

        def forward(self: KerasTensor, other: Any, fname: str = fname, fn: Any = fn) -> KerasTensor:
            return TFOpLambda(fname)(self, y=other)

        def reverse(self: KerasTensor, other: Any, fname: str = fname, fn: Any = fn) -> KerasTensor:
            return TFOpLambda(fname, reverse=True)(self, y=other)

        setattr(KerasTensor, dunder, forward)
        setattr(KerasTensor, dunder.replace("__", "__r", 1), reverse)


_install_keras_operators()


# --- layers ------------------------------------------------------------------------------------


class Layer(Module):
    """Base of layers: `__call__` on Keras tensors builds the model graph, on tensors computes.

    A layer's weights are made by `add_weight` (tracked under their attribute name, in Keras's
    order); layers it owns (an LSTM's cell) are tracked by `add_sublayer`."""

    _class_name = "Layer"
    _identifier = "_tf_keras_layer"
    _expects_training_arg = False
    _autocast = True
    _must_restore_from_config = False
    _supports_masking = False  # passes its input's mask on (tf-keras's supports_masking); else drops it
    _takes_mask = False  # call() takes the input's mask as `mask`
    _refuses_mask = False  # tf-keras lets a mask change what it computes, which is not done here

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = "float32",
        trainable: bool = True,
        input_shape: Any = None,
        batch_input_shape: Any = None,
        input_dim: int | None = None,
        **_: Any,
    ) -> None:
        super().__init__(name=name or _unique_layer_name(_snake(type(self).__name__)))
        if input_dim is not None and input_shape is None:  # Dense(4, input_dim=3)
            input_shape = (input_dim,)
        self._dtype = as_dtype(dtype or "float32")
        self.trainable = trainable
        self.built = False
        if input_shape is not None:
            batch_input_shape = [None, *([input_shape] if isinstance(input_shape, int) else input_shape)]
        # a Sequential model's first layer may say its input's shape (`Dense(2, input_shape=(3,))`)
        self._batch_input_shape = None if batch_input_shape is None else list(batch_input_shape)
        self._weight_slots: list[tuple[str, Any]] = []
        self._sublayer_slots: list[tuple[str, Layer]] = []

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    @property
    def dtype(self) -> str:
        return self._dtype.name

    def build(self, input_shape: TensorShape) -> None:
        self.built = True

    def add_weight(
        self,
        name: str,
        shape: Any,
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        dtype: Any = None,
        attribute: str | None = None,
    ) -> Any:
        """A weight `<layer>/<name>`, tracked (and kept on the layer) as `attribute` (default: name)."""
        from savedmodel.api.tf.keras import initializers

        dtype = as_dtype(dtype).as_numpy_dtype if dtype is not None else self._dtype.as_numpy_dtype
        value = (
            np.asarray(initializer(shape, dtype), dtype=dtype)
            if callable(initializer)
            else initializers.initial_value(initializer, shape, dtype)
        )
        var = Variable(
            value,
            name=f"{self.name}/{name}",
            trainable=trainable,
        )
        self._weight_slots.append((attribute or name, var))
        setattr(self, attribute or name, var)
        return var

    def add_sublayer(self, attribute: str, layer: Layer) -> Layer:
        self._sublayer_slots.append((attribute, layer))
        setattr(self, attribute, layer)
        return layer

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The output's mask (None: unmasked) given the input's (from Embedding(mask_zero=True) or
        Masking): passed on, or dropped as tf-keras drops it; refused where tf-keras would use it
        in a way not done here."""
        if all(m is None for m in _flat(mask)):
            return None
        if self._refuses_mask:
            raise UnsupportedError(f"layer {self.name} ({self._class_name}): masked inputs are not supported")
        return mask if self._supports_masking else None

    def _call_masked(self, inputs: Any, mask: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """The layer's output and the output's mask, in a model whose tensors carry masks."""
        if self._takes_mask and mask is not None:
            kwargs = {**kwargs, "mask": mask}
        return self.call(inputs, **kwargs), self.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape: Any, kwargs: dict[str, Any]) -> TensorShape:
        return input_shape

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        flat_inputs = [t for t in _flat(inputs) if isinstance(t, KerasTensor)]
        if flat_inputs:
            shape = _map(inputs, lambda t: t.shape)
            if not self.built:
                self.build(shape)
                self.built = True
            if getattr(self, "_build_input_shape", None) is None:
                self._build_input_shape = shape
                self._build_input_dtype = flat_inputs[0].dtype
            tensor_kwargs = [v for v in kwargs.values() if isinstance(v, KerasTensor)]
            return KerasTensor(
                self,
                flat_inputs + tensor_kwargs,
                kwargs,
                self.compute_output_shape(shape, kwargs),
                self._output_dtype(flat_inputs[0]),
                call_inputs=inputs,
            )
        if not self.built:
            self.build(_map(inputs, _shape_of) if isinstance(inputs, list | tuple) else _shape_of(inputs))
            self.built = True
        return self.call(inputs, **kwargs)

    def _output_dtype(self, inputs: KerasTensor) -> Any:
        return self._dtype

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = {"class_name": "__tuple__", "items": self._batch_input_shape}
        return config

    def _metadata(self) -> dict[str, Any]:
        """What tf-keras stores for a layer in keras_metadata.pb."""
        out: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "expects_training_arg": self._expects_training_arg,
            "dtype": self.dtype,
            "batch_input_shape": None,
            "stateful": False,
            "must_restore_from_config": isinstance(self, TFOpLambda) or self._must_restore_from_config,
            "preserve_input_structure_in_config": isinstance(self, TFOpLambda),
            "autocast": self._autocast and not isinstance(self, TFOpLambda),
            "class_name": self._class_name,
            "config": self.get_config(),
        }
        if "batch_input_shape" in out["config"]:
            out["batch_input_shape"] = out["config"]["batch_input_shape"]
        input_spec = self._input_spec() if getattr(self, "_build_input_shape", None) is not None else None
        if input_spec is not None:
            out["input_spec"] = input_spec
        shape = getattr(self, "_build_input_shape", None)
        if shape is not None:
            out["build_input_shape"] = _map(shape, _shape_json)
        return out

    def _input_spec(self) -> Any:
        """The layer's InputSpec as tf-keras saves it (None: the layer has none)."""
        return None

    @property
    def _object_identifier(self) -> str:
        return self._identifier

    # object graph (what tf-keras's SavedModel serialization tracks per layer)
    def _own_weights(self) -> list[Any]:
        """The layer's weights in Keras's order: its own, then its sublayers'."""
        return [var for _, var in self._weight_paths()]

    def _weight_paths(self) -> list[tuple[str, Any]]:
        """(object path below the layer, variable), e.g. `kernel`, `cell/recurrent_kernel`."""
        out = list(self._named_weights())
        for attribute, layer in self._sublayer_slots:
            out += [(f"{attribute}/{path}", var) for path, var in layer._weight_paths()]
        return out

    def _traceable(self) -> bool:
        """Whether tf-keras-style `__call__` functions are traced for the layer: a single-tensor
        call with no tensor keyword arguments."""
        shape = getattr(self, "_build_input_shape", None)
        return isinstance(shape, TensorShape) and type(self).call is not Layer.call

    def _saved_functions(self) -> dict[str, Any]:
        """Traced functions saved with the layer (`__call__`, `call_and_return_...`)."""
        if not self._traceable():
            return {}
        spec = TensorSpec(self._build_input_shape, self._input_dtype(), "inputs")
        return _call_functions(self, spec, expects_training=self._expects_training_arg)

    def _input_dtype(self) -> Any:
        return getattr(self, "_build_input_dtype", self._dtype)

    def _saved_layers(self) -> list[Layer]:
        return []

    def _saved_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_saved_state_cache")
        if state is None:
            weights = self._own_weights()
            state = {
                "variables": list(weights),
                "trainable_variables": [v for v in weights if v.trainable],
                "regularization_losses": [],
                "functions": self._saved_functions(),
            }
            functions = state["functions"]
            api: list[tuple[str, Any]] = [
                ("non_trainable_variables", [v for v in weights if not v.trainable]),
                ("layers", list(self._saved_layers())),
                ("metrics", []),
                ("layer_regularization_losses", []),
                ("layer_metrics", {}),
                ("variables", state["variables"]),
                ("trainable_variables", state["trainable_variables"]),
                ("regularization_losses", state["regularization_losses"]),
            ]
            for name in ("__call__", "_default_save_signature", "call_and_return_all_conditional_losses"):
                if name in functions:
                    api.append((name, functions[name]))
            if "call_and_return_all_conditional_losses" in functions:
                api.append(
                    (
                        "call_and_return_conditional_losses",
                        functions["call_and_return_all_conditional_losses"],
                    )
                )
            state["keras_api"] = _KerasApi(api)
            self._saved_state_cache = state
        return state

    def _saved_children(self) -> list[tuple[str, Any]]:
        if isinstance(self, InputLayer):
            return []
        state = self._saved_state()
        if isinstance(self, TFOpLambda):  # tf-keras saves an op layer's keras_api empty
            return [("keras_api", state.setdefault("empty_keras_api", _KerasApi([])))]
        out: list[tuple[str, Any]] = list(self._layer_children())
        out += [
            ("variables", state["variables"]),
            ("trainable_variables", state["trainable_variables"]),
            ("regularization_losses", state["regularization_losses"]),
            ("keras_api", state["keras_api"]),
        ]
        for name in ("__call__", "call_and_return_all_conditional_losses", "_default_save_signature"):
            if name in state["functions"]:
                out.append((name, state["functions"][name]))
        out += [(name, var) for name, var in self._named_weights()]
        return out

    def _layer_children(self) -> list[tuple[str, Any]]:
        return list(self._sublayer_slots)

    def _named_weights(self) -> list[tuple[str, Any]]:
        return list(self._weight_slots)

    @property
    def weights(self) -> list[Any]:
        """In tf-keras's order (a Dense layer's kernel, then its bias; a model's layer by layer)."""
        return self._own_weights()

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, values: list[Any]) -> None:
        for var, value in zip(self.weights, values, strict=True):
            var.assign(np.asarray(value, dtype=var.dtype.as_numpy_dtype))


def _add_layer_metadata(
    meta: saved_metadata_pb2.SavedMetadata, owner: Layer, path: str, node_ids: dict[int, int], seen: set[int]
) -> None:
    """A node for each layer below `owner` (a model's layers, a nested model's, an LSTM's cell, an
    attention layer's projections), at its first object path: tf-keras rebuilds a model from its
    layers' nodes and builds a layer it rebuilt unbuilt from the shape recorded there."""
    inbound: dict[str, Any] = {}
    if isinstance(owner, Model):
        layers = owner.get_config()["layers"]
        inbound = {entry["name"]: entry.get("inbound_nodes") for entry in layers if "name" in entry}
    for index, (local_name, layer) in enumerate(owner._layer_children()):
        if id(layer) in seen or (node_ids and id(layer) not in node_ids):
            continue
        seen.add(id(layer))
        node = meta.nodes.add(
            node_id=node_ids.get(id(layer), index + 1),
            node_path=f"{path}.{local_name}",
            identifier=layer._identifier,
        )
        node.version.producer, node.version.min_consumer = 2, 1
        layer_meta = layer._metadata()
        if inbound.get(layer.name):
            layer_meta = _insert_after(layer_meta, "config", "inbound_nodes", inbound[layer.name])
        node.metadata = json.dumps(layer_meta)
        _add_layer_metadata(meta, layer, f"{path}.{local_name}", node_ids, seen)


def input_spec_json(
    ndim: int | None = None,
    min_ndim: int | None = None,
    axes: dict[int, int] | None = None,
    shape: Any = None,
) -> dict[str, Any]:
    """An InputSpec as tf-keras writes one in keras_metadata.pb."""
    return {
        "class_name": "InputSpec",
        "config": {
            "dtype": None,
            "shape": None if shape is None else {"class_name": "__tuple__", "items": list(shape)},
            "ndim": ndim,
            "max_ndim": None,
            "min_ndim": min_ndim,
            "axes": {str(k): v for k, v in (axes or {}).items()},
        },
    }


class _KerasApi:
    """The `keras_api` child of a layer: its variables, layers and traced call functions."""

    _object_identifier = "_generic_user_object"

    def __init__(self, children: list[tuple[str, Any]]) -> None:
        self._children = children

    def _saved_children(self) -> list[tuple[str, Any]]:
        return list(self._children)


def _insert_after(mapping: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


def _type_spec_json(tensor: KerasTensor) -> dict[str, Any]:
    return {
        "class_name": "TypeSpec",
        "type_spec": "tf.TensorSpec",
        "serialized": {
            "class_name": "__tuple__",
            "items": [_shape_json(tensor.shape), tensor.dtype.name, tensor.layer.name],
        },
    }


def _shape_json(shape: TensorShape) -> dict[str, Any]:
    return {"class_name": "TensorShape", "items": list(shape.dims) if shape.dims is not None else None}


def _call_functions(layer: Layer, specs: Any, expects_training: bool) -> dict[str, Any]:
    """`__call__` and `call_and_return_all_conditional_losses` traced as tf-keras traces them."""

    if expects_training:

        def layer_call_fn(inputs: Any, training: Any = False, mask: Any = None) -> Any:
            return layer.call(inputs)

        def call_and_return(inputs: Any, training: Any = False, mask: Any = None) -> Any:
            return layer.call(inputs), []

        arg_sets: list[tuple[Any, ...]] = [(specs, True, None), (specs, False, None)]
    else:

        def layer_call_fn(inputs: Any) -> Any:  # type: ignore[misc]
            return layer.call(inputs)

        def call_and_return(inputs: Any) -> Any:  # type: ignore[misc]
            return layer.call(inputs), []

        arg_sets = [(specs,)]
    name = layer.name.replace(".", "_")
    call = Function(layer_call_fn, name=f"{name}_layer_call_fn")
    losses = Function(call_and_return, name=f"{name}_layer_call_and_return_conditional_losses")
    for args in arg_sets:
        losses.get_concrete_function(*args)
    for args in arg_sets:
        call.get_concrete_function(*args)
    return {"__call__": call, "call_and_return_all_conditional_losses": losses}


def _shape_of(value: Any) -> TensorShape:
    return (
        value.shape
        if hasattr(value, "shape") and isinstance(value.shape, TensorShape)
        else TensorShape(np.shape(value))
    )


def _snake(name: str) -> str:
    """A class name as Keras names its instances: `Conv2D` -> `conv2d`, `LSTMCell` -> `lstm_cell`."""
    import re

    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


class InputLayer(Layer):
    _class_name = "InputLayer"
    _identifier = "_tf_keras_input_layer"

    def __init__(
        self, batch_input_shape: Any, dtype: Any = "float32", name: str | None = None, **_: Any
    ) -> None:
        super().__init__(name=name or _unique_layer_name("input"), dtype=dtype)
        self.batch_input_shape = as_shape(batch_input_shape)
        self.built = True

    def _metadata(self) -> dict[str, Any]:
        config = self.get_config()
        return {
            "class_name": "InputLayer",
            "name": self.name,
            "dtype": self.dtype,
            "sparse": False,
            "ragged": False,
            "batch_input_shape": config["batch_input_shape"],
            "config": config,
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "batch_input_shape": {
                "class_name": "__tuple__",
                "items": list(self.batch_input_shape.dims or []),
            },
            "dtype": self.dtype,
            "sparse": False,
            "ragged": False,
            "name": self.name,
            "optional": False,
        }


class TFOpLambda(Layer):
    """A TensorFlow op applied to Keras tensors (`x + 2`, `tf.math.multiply(x, y)`)."""

    _class_name = "TFOpLambda"
    _FUNCTIONS = {
        "__operators__.add": ops.add,
        "math.add": ops.add,
        "math.subtract": ops.subtract,
        "math.multiply": ops.multiply,
        "math.truediv": ops.divide,
    }

    def __init__(
        self, function_name: str, reverse: bool = False, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name or _unique_layer_name(f"tf.{function_name}"), **kwargs)
        if function_name not in self._FUNCTIONS:
            raise InvalidInputError(f"TFOpLambda function {function_name!r} is not supported")
        self.function_name = function_name
        self.reverse = reverse
        self.built = True

    def call(self, inputs: Any, y: Any = None, name: Any = None, **_: Any) -> Any:
        fn = self._FUNCTIONS[self.function_name]
        return fn(y, inputs) if self.reverse else fn(inputs, y)

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        other = kwargs.get("y")
        if isinstance(other, KerasTensor):
            from savedmodel.api.tf.ops import _broadcast

            return _broadcast(input_shape, other.shape)
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "function": self.function_name,
        }


def Input(  # noqa: N802
    shape: Any = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = None,
    batch_shape: Any = None,
    **_: Any,
) -> KerasTensor:
    dims = [shape] if isinstance(shape, int) else list(shape or [])
    full = list(batch_shape) if batch_shape is not None else [batch_size, *dims]
    layer = InputLayer(full, dtype=dtype or "float32", name=name)
    return KerasTensor(layer, [], {}, layer.batch_input_shape, layer._dtype)


# --- models --------------------------------------------------------------------------------------


class Model(Layer):
    """A functional model over Keras tensors."""

    _class_name = "Functional"
    _identifier = "_tf_keras_network"

    def __init__(
        self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name or _unique_layer_name("model"))
        self._inputs = inputs if isinstance(inputs, list | tuple) else [inputs]
        self._outputs = outputs
        self._nodes = self._topological()
        self._layers = _keras_layer_order(self._inputs, _flat(self._outputs))
        # a layer called more than once (shared) has several nodes: numbered in creation order
        self._node_index: dict[int, int] = {}
        for layer in self._layers:
            mine = sorted((t for t in self._nodes if t.layer is layer), key=lambda t: t.serial)
            first = _first_node_index(layer)
            self._node_index.update({id(t): first + i for i, t in enumerate(mine)})
        self.built = True

    def _topological(self) -> list[KerasTensor]:
        order: list[KerasTensor] = []
        seen: set[int] = set()

        def visit(t: Any) -> None:
            if not isinstance(t, KerasTensor) or id(t) in seen:
                return
            seen.add(id(t))
            for parent in t.inbound + [v for v in t.kwargs.values() if isinstance(v, KerasTensor)]:
                visit(parent)
            order.append(t)

        for t in self._inputs:
            visit(t)
        for out in _flat(self._outputs):
            visit(out)
        return order

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[la.name for la in self.layers]}.")

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return _flat(self._outputs)

    def call(self, inputs: Any, training: Any = None, **_: Any) -> Any:
        return self._run(inputs)[0]

    def _call_masked(self, inputs: Any, mask: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
        if any(m is not None for m in _flat(mask)):
            raise UnsupportedError(f"model {self.name}: a masked input to a nested model is not supported")
        return self._run(inputs)

    def _run(self, inputs: Any) -> tuple[Any, Any]:
        """The outputs and their masks (None where unmasked)."""
        values: dict[int, Any] = {}
        masks: dict[int, Any] = {}
        given = inputs if isinstance(inputs, list | tuple) else [inputs]
        for tensor, value in zip(self._inputs, given, strict=True):
            value = ops.convert_to_tensor(value)
            if value.dtype != tensor.dtype:
                value = ops.cast(value, tensor.dtype)
            values[id(tensor)] = value
        for node in self._nodes:
            if id(node) in values:
                continue
            args = _map(node.call_inputs, lambda t: values[id(t)])
            kwargs = {k: values[id(v)] if isinstance(v, KerasTensor) else v for k, v in node.kwargs.items()}
            mask = _map(node.call_inputs, lambda t: masks.get(id(t)))
            out, masks[id(node)] = node.layer._call_masked(args, mask, kwargs)
            if hasattr(out, "set_shape") and out.shape.dims is None and node.shape.dims is not None:
                out.set_shape(node.shape)  # an op without static shape inference (Einsum, Split...)
            values[id(node)] = out
        return _map(self._outputs, lambda t: values[id(t)]), _map(self._outputs, lambda t: masks.get(id(t)))

    def __call__(self, inputs: Any, training: Any = None, **kwargs: Any) -> Any:
        if isinstance(inputs, KerasTensor):
            return super().__call__(inputs, **kwargs)
        return self.call(inputs, training=training)

    # inference
    def predict_on_batch(self, x: Any) -> Any:
        return _map(self.call(x), lambda t: np.asarray(t._value) if isinstance(t, EagerTensor) else t)

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: Any = None, **_: Any
    ) -> Any:
        return self.predict_on_batch(x)

    def __calls__(self) -> None:  # pragma: no cover - placeholder to keep Module semantics
        return None

    # config
    def get_config(self) -> dict[str, Any]:
        inbound: dict[int, list[Any]] = {id(layer): [] for layer in self._layers}
        for node in sorted(self._nodes, key=lambda t: t.serial):
            if node.inbound:
                inbound[id(node.layer)].append(self._node_data(node))
        layers = [
            {
                "class_name": layer._class_name,
                "config": layer.get_config(),
                "name": layer.name,
                "inbound_nodes": inbound[id(layer)],
            }
            for layer in self._layers
        ]
        return {
            "name": self.name,
            "trainable": True,
            "layers": layers,
            "input_layers": [self._ref(t) for t in self._inputs],
            "output_layers": [self._ref(t) for t in _flat(self._outputs)],
        }

    def _ref(self, tensor: KerasTensor) -> list[Any]:
        """How a saved config names a tensor: [layer name, node index, tensor index]."""
        return [tensor.layer.name, self._node_index.get(id(tensor), 0), 0]

    def _node_data(self, node: KerasTensor) -> list[Any]:
        """One call of a layer as a saved config records it."""
        kwargs = {k: self._ref(v) if isinstance(v, KerasTensor) else v for k, v in node.kwargs.items()}
        if isinstance(node.layer, TFOpLambda):
            kwargs.setdefault("name", None)
            return [*self._ref(node.inbound[0]), kwargs]
        # each tensor of the first argument, with the other arguments
        return [[*self._ref(t), kwargs] for t in _flat(node.call_inputs)]

    def summary(self) -> None:
        for layer in self.layers:
            print(f"{layer.name} ({layer._class_name})")

    # saving
    def _default_signature_function(self) -> Function:
        specs = [TensorSpec(t.shape, t.dtype, t.layer.name) for t in self._inputs]

        def serving(*args: Any) -> Any:
            out = self.call(list(args) if len(args) > 1 else args[0])
            if isinstance(out, dict):
                return out
            return (
                {self.outputs[0].layer.name: out}
                if not isinstance(out, list | tuple)
                else {t.layer.name: o for t, o in zip(self.outputs, out, strict=True)}
            )

        fn = function(serving, input_signature=specs)
        fn._name = "serving_default"
        return fn

    def _root_metadata(self) -> dict[str, Any]:
        specs = [
            {
                "class_name": "InputSpec",
                "config": {
                    "dtype": None,
                    "shape": {"class_name": "__tuple__", "items": list(t.shape.dims or [])},
                    "ndim": len(t.shape.dims or []),
                    "max_ndim": None,
                    "min_ndim": None,
                    "axes": {},
                },
            }
            for t in self._inputs
        ]
        out: dict[str, Any] = {
            "name": self.name,
            "trainable": True,
            "expects_training_arg": True,
            "dtype": "float32",
            "batch_input_shape": None,
            "must_restore_from_config": False,
            "preserve_input_structure_in_config": False,
            "autocast": False,
            "class_name": self._class_name,
            "config": self.get_config(),
            "input_spec": specs,
        }
        if len(self._inputs) == 1:
            out["build_input_shape"] = _shape_json(self._inputs[0].shape)
        else:
            out["build_input_shape"] = [_shape_json(t.shape) for t in self._inputs]
        out["is_graph_network"] = True
        saves = [_type_spec_json(t) for t in self._inputs]
        args = [saves[0]] if len(saves) == 1 else [saves]
        out["full_save_spec"] = {"class_name": "__tuple__", "items": [args, {}]}
        out["save_spec"] = saves[0] if len(saves) == 1 else saves
        out["keras_version"] = "2.21.0"
        out["backend"] = "tensorflow"
        out["model_config"] = {"class_name": self._class_name, "config": out["config"]}
        return out

    def _keras_metadata_bytes(self, node_ids: dict[int, int] | None = None) -> bytes:
        """keras_metadata.pb: one node per Keras object, ids and paths those of the object graph."""
        meta = saved_metadata_pb2.SavedMetadata()
        root = meta.nodes.add(node_id=0, node_path="root", identifier=self._identifier)
        root.version.producer, root.version.min_consumer = 2, 1
        root.metadata = json.dumps(self._root_metadata())
        _add_layer_metadata(meta, self, "root", node_ids or {}, {id(self)})
        return meta.SerializeToString(deterministic=True)

    def _tracked_layers(self) -> list[Layer]:
        """The layers in the object graph (a Sequential model does not track its InputLayer)."""
        return list(self.layers)

    # a model used as a layer of another
    def _metadata(self) -> dict[str, Any]:
        return self._root_metadata()

    def compute_output_shape(self, input_shape: Any, kwargs: dict[str, Any]) -> Any:
        return _map(self._outputs, lambda t: t.shape)

    def _output_dtype(self, inputs: KerasTensor) -> Any:
        return self.outputs[0].dtype

    def _weight_paths(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for local_name, layer in self._layer_children():
            if local_name.startswith("layer_with_weights-"):
                out += [(f"{local_name}/{path}", var) for path, var in layer._weight_paths()]
        return out

    def _layer_children(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        weighted = 0
        for i, layer in enumerate(self._tracked_layers()):
            if layer._own_weights():
                out.append((f"layer_with_weights-{weighted}", layer))
                weighted += 1
            out.append((f"layer-{i}", layer))
        return out

    def _own_weights(self) -> list[Any]:
        return [v for layer in self._tracked_layers() for v in layer._own_weights()]

    def _saved_layers(self) -> list[Layer]:
        return self._tracked_layers()

    def _input_specs(self) -> Any:
        specs = [TensorSpec(t.shape, t.dtype, t.layer.name) for t in self._inputs]
        return specs[0] if len(specs) == 1 else specs

    def _saved_functions(self) -> dict[str, Any]:
        if not self._inputs:
            return {}
        specs = self._input_specs()
        functions = _call_functions(self, specs, expects_training=True)
        names = [t.layer.name for t in self.outputs]

        def _wrapped_model(args_0: Any) -> Any:
            out = self.call(args_0)
            flat = _flat(out)
            return {name: value for name, value in zip(names, flat, strict=True)}

        functions["_default_save_signature"] = Function(_wrapped_model).get_concrete_function(specs)
        return functions

    def save(
        self,
        filepath: str | os.PathLike[str],
        overwrite: bool = True,
        save_format: str | None = None,
        signatures: Any = None,
        options: Any = None,
        **_: Any,
    ) -> None:
        from savedmodel.api.tf.saving import save

        fmt = _save_format(filepath, save_format)
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        if fmt == "keras":
            self._save_keras3(filepath)
            return
        save(self, filepath, signatures=signatures)

    def _save_keras3(self, filepath: str | os.PathLike[str]) -> None:
        """A Keras 3 `.keras` file: the model saved as tf-keras saves it, then converted
        (savedmodel.convert.keras3; a layer it cannot translate raises ConversionError)."""
        import tempfile

        from savedmodel.api.tf.saving import save
        from savedmodel.convert.keras3 import to_keras3

        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(tmp) / "saved_model"
            save(self, saved)
            to_keras3(saved, filepath, overwrite=True)


class Sequential(Model):
    _class_name = "Sequential"
    _identifier = "_tf_keras_sequential"

    @property
    def layers(self) -> list[Layer]:
        """As in tf-keras, a Sequential model's layers leave out its InputLayer."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _tracked_layers(self) -> list[Layer]:
        return self.layers

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": [
                {"class_name": layer._class_name, "config": layer.get_config()} for layer in self._layers
            ],
        }

    def __init__(self, layers: list[Layer] | None = None, name: str | None = None) -> None:
        Layer.__init__(self, name=name or _unique_layer_name("sequential"))
        self._pending = list(layers or [])
        self._layers = []
        self._nodes = []
        self._inputs = []
        self._outputs = None
        if self._pending and isinstance(self._pending[0], KerasTensor):
            self._build_from(self._pending.pop(0))
        elif self._pending and isinstance(self._pending[0], InputLayer):
            first = self._pending.pop(0)
            self._build_from(KerasTensor(first, [], {}, first.batch_input_shape, first._dtype))
        elif self._pending and getattr(self._pending[0], "_batch_input_shape", None) is not None:
            self._build_from_first_layer()

    def _build_from_first_layer(self) -> None:
        first = self._pending[0]
        shape = first._batch_input_shape
        self._build_from(Input(batch_shape=shape, dtype=first.dtype, name=f"{first.name}_input"))

    def add(self, layer: Any) -> None:
        if isinstance(layer, KerasTensor) and not self._pending:
            self._build_from(layer)
            return
        self._pending.append(layer)
        if self._inputs:
            self._build_from(self._inputs[0])
        elif getattr(self._pending[0], "_batch_input_shape", None) is not None:
            self._build_from_first_layer()

    def _build_from(self, inp: KerasTensor) -> None:
        x: Any = inp
        for layer in self._pending:
            x = layer(x)
        Model.__init__(self, inputs=inp, outputs=x, name=self.name)

    def call(self, inputs: Any, training: Any = None, **kwargs: Any) -> Any:
        if not self._inputs:
            value = ops.convert_to_tensor(inputs)
            self._build_from(Input(shape=list(value.shape.dims[1:]), dtype=value.dtype))
        return Model.call(self, inputs, training=training)


def _keras_layer_order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Layer]:
    """A functional model's layers in tf-keras's order (which its config, its object graph's
    `layer-N` and `get_weights` follow): by depth from the outputs, deepest first; at equal depth in
    the order a depth-first walk from the outputs meets them; inputs that reach no output last."""
    order: list[KerasTensor] = []  # nodes, each after the nodes it takes
    first_seen: dict[int, int] = {}
    done: set[int] = set()

    def visit(tensor: KerasTensor) -> None:
        if id(tensor) in done:
            return
        first_seen.setdefault(id(tensor.layer), len(first_seen))
        for parent in tensor.inbound:
            visit(parent)
        done.add(id(tensor))
        order.append(tensor)

    for tensor in outputs:
        visit(tensor)
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for tensor in reversed(order):
        depth = max(node_depth.get(id(tensor), 0), layer_depth.get(id(tensor.layer), 0))
        layer_depth[id(tensor.layer)] = node_depth[id(tensor)] = depth
        for parent in tensor.inbound:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    layers = {id(t.layer): t.layer for t in order}
    for tensor in inputs:
        if id(tensor.layer) not in layers:
            layers[id(tensor.layer)] = tensor.layer
            layer_depth[id(tensor.layer)], first_seen[id(tensor.layer)] = 0, -1
    return sorted(layers.values(), key=lambda la: (-layer_depth[id(la)], first_seen[id(la)]))


def _first_node_index(layer: Layer) -> int:
    """The index of a layer's first call in a model's config: a model used as a layer has a node
    of its own (its construction), so its calls count from 1, as tf-keras counts them."""
    return 1 if isinstance(layer, Model) and layer._inputs else 0


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for k in value for v in _flat(value[k])]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _flat(item)]
    return [value]


def _map(value: Any, fn: Any) -> Any:
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_map(v, fn) for v in value)
    return fn(value)


# --- loading --------------------------------------------------------------------------------------


def _layer_from_config(class_name: str, config: dict[str, Any]) -> Layer:
    if class_name == "InputLayer":
        shape = config.get("batch_input_shape")
        items = shape["items"] if isinstance(shape, dict) else shape
        return InputLayer(items, dtype=config.get("dtype", "float32"), name=config.get("name"))
    if class_name == "TFOpLambda":
        return TFOpLambda(config["function"], name=config.get("name"), dtype=config.get("dtype", "float32"))
    if class_name in ("Functional", "Sequential", "Model"):  # a model used as a layer
        return _rebuild_functional(config, class_name)
    from savedmodel.api.tf.keras import layers

    cls = getattr(layers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise UnsupportedError(f"cannot rebuild a Keras layer of class {class_name!r}")
    return cls.from_config(_decode_config(config))


def _decode_config(value: Any) -> Any:
    """A saved config with its tuples and TensorShapes (`{"class_name": "__tuple__", ...}`) as lists."""
    if isinstance(value, dict):
        if value.get("class_name") in ("__tuple__", "TensorShape") and "items" in value:
            return None if value["items"] is None else [_decode_config(v) for v in value["items"]]
        return {k: _decode_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_config(v) for v in value]
    return value


def _inbound_call(
    entry: Any, outputs: dict[tuple[str, int], KerasTensor]
) -> tuple[Any, dict[str, Any]] | None:
    """A call node of a saved functional config: the first argument and the keyword arguments;
    None while a tensor it takes is not made yet."""
    if entry and isinstance(entry[0], str):  # a TFOpLambda's node: [name, 0, 0, kwargs]
        entry = [entry]

    def tensor(ref: Any) -> KerasTensor | None:
        return outputs.get((ref[0], int(ref[1])))

    def is_ref(value: Any) -> bool:
        return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)

    kwargs = (entry[0] + [{}])[3] or {}
    refs = [item for item in entry] + [v for v in kwargs.values() if is_ref(v)]
    if any(tensor(ref) is None for ref in refs):
        return None
    tensors = [tensor(item) for item in entry]
    kwargs = {k: tensor(v) if is_ref(v) else v for k, v in kwargs.items() if k != "name"}
    return (tensors[0] if len(tensors) == 1 else tensors), kwargs


def _rebuild_sequential(config: dict[str, Any]) -> Model:
    built = [_layer_from_config(entry["class_name"], entry["config"]) for entry in config["layers"]]
    if built and isinstance(built[0], InputLayer):
        first = built.pop(0)
        return Sequential(
            [KerasTensor(first, [], {}, first.batch_input_shape, first._dtype), *built],
            name=config.get("name"),
        )
    if not built or built[0]._batch_input_shape is None:
        raise InvalidInputError("a Sequential model without an input shape cannot be rebuilt")
    return Sequential(built, name=config.get("name"))


def _rebuild_functional(config: dict[str, Any], class_name: str) -> Model:
    if class_name == "Sequential" and "input_layers" not in config:
        return _rebuild_sequential(config)
    outputs: dict[tuple[str, int], KerasTensor] = {}
    pending: list[tuple[Layer, str, list[Any]]] = []  # each layer's calls not made yet, in order
    for entry in config["layers"]:
        layer = _layer_from_config(entry["class_name"], entry["config"])
        name = entry.get("name") or layer.name
        if isinstance(layer, InputLayer):
            outputs[(name, 0)] = KerasTensor(layer, [], {}, layer.batch_input_shape, layer._dtype)
            continue
        pending.append((layer, name, list(entry.get("inbound_nodes") or [[]])))
    while pending:
        progress = False
        for layer, name, nodes in pending:
            call = _inbound_call(nodes[0], outputs) if nodes else None
            if call is None:
                continue
            index = _first_node_index(layer) + sum(1 for key in outputs if key[0] == name)
            outputs[(name, index)] = layer(call[0], **call[1])
            nodes.pop(0)
            progress = True
        pending = [item for item in pending if item[2]]
        if pending and not progress:
            raise FormatError(
                f"the model config's layers {[item[1] for item in pending]} take tensors never made"
            )
    ins = [outputs[(name, int(index))] for name, index, _ in config["input_layers"]]
    outs = [outputs[(name, int(index))] for name, index, _ in config["output_layers"]]
    return Model(
        inputs=ins[0] if len(ins) == 1 else ins,
        outputs=outs[0] if len(outs) == 1 else outs,
        name=config.get("name"),
    )


def _restore_weights(model: Model, path: Path) -> None:
    """Assign each layer's weights from the object-based checkpoint: a weight's object path
    (`layer_with_weights-N/cell/kernel`) leads through the checkpoint's object graph to its key
    (which is the weight's shortest path, maybe `variables/3`)."""
    weighted = [layer for layer in model._tracked_layers() if layer._own_weights()]
    if not weighted:
        return
    from savedmodel.format.checkpoint import OBJECT_GRAPH_KEY, CheckpointReader, parse_object_graph

    reader = CheckpointReader(path / "variables" / "variables")
    graph = parse_object_graph(np.asarray(reader.get_tensor(OBJECT_GRAPH_KEY)).item())
    tracked = model._tracked_layers()
    for index, layer in enumerate(weighted):
        for attr, var in layer._weight_paths():
            names = attr.split("/")
            key = _checkpoint_key(graph, [f"layer_with_weights-{index}", *names]) or _checkpoint_key(
                graph, [f"layer-{tracked.index(layer)}", *names]
            )
            if key is None:
                raise FormatError(f"{path}: the checkpoint has no value for {layer.name}/{attr}")
            var.assign(np.asarray(reader.get_tensor(key)))


def _checkpoint_key(graph: Any, names: list[str]) -> str | None:
    node = graph.nodes[0]
    for name in names:
        child = next((c.node_id for c in node.children if c.local_name == name), None)
        if child is None:
            return None
        node = graph.nodes[child]
    return next((a.checkpoint_key for a in node.attributes if a.name == "VARIABLE_VALUE"), None)


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Any = None,
    compile: bool = True,  # noqa: A002
    **_: Any,
) -> Model:
    """Rebuild a Keras model from its SavedModel's keras_metadata.pb and restore its weights."""
    path = Path(os.fspath(filepath))
    meta_path = path / "keras_metadata.pb"
    if not meta_path.is_file():
        raise FormatError(f"{path}: no keras_metadata.pb (not a Keras SavedModel)")
    meta = saved_metadata_pb2.SavedMetadata.FromString(meta_path.read_bytes())
    root = next((n for n in meta.nodes if n.node_path == "root"), None)
    if root is None:
        raise FormatError(f"{meta_path}: no root node")
    info = json.loads(root.metadata)
    if info.get("class_name") not in ("Functional", "Sequential", "Model"):
        raise InvalidInputError(f"cannot rebuild a Keras model of class {info.get('class_name')!r}")
    model = _rebuild_functional(info["config"], info["class_name"])
    _restore_weights(model, path)
    return model


def _save_format(filepath: Any, save_format: str | None) -> str:
    """ "tf" (TF's SavedModel format, a directory) or "keras" (a Keras 3 `.keras` zip, by its
    suffix or save_format='keras'); HDF5 is refused, naming what to do instead."""
    suffix = Path(os.fspath(filepath)).suffix.lower()
    fmt = (save_format or {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}.get(suffix, "tf")).lower()
    if fmt in ("tf", "tensorflow"):
        return "tf"
    if fmt == "keras":
        return "keras"
    raise UnsupportedError(
        f"cannot save {filepath}: savedmodel does not write HDF5 (save_format={fmt!r}); save to a "
        "directory (TF's SavedModel format, save_format='tf') or to a Keras 3 '.keras' file"
    )
