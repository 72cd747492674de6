"""A Keras subset: `Input`, functional `Model`, `Sequential`, `Dense`, ops on Keras tensors
(TFOpLambda layers), `model.save(..., save_format='tf')`, `models.load_model`, `predict`."""

from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from savedmodel.api.tf import ops
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.function import Function, TensorSpec, function
from savedmodel.api.tf.graph import TensorShape, as_shape
from savedmodel.api.tf.module import Module
from savedmodel.api.tf.variables import Variable
from savedmodel.errors import FormatError, InvalidInputError
from savedmodel.proto import saved_metadata_pb2

_NAME_COUNTS: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


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
        self, layer: Layer, inputs: list[Any], kwargs: dict[str, Any], shape: TensorShape, dtype: Any
    ) -> None:
        self.layer = layer
        self.inbound = inputs
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
    """Base of layers: `__call__` on Keras tensors builds the model graph, on tensors computes."""

    _class_name = "Layer"
    _identifier = "_tf_keras_layer"

    def __init__(
        self, name: str | None = None, dtype: Any = "float32", trainable: bool = True, **_: Any
    ) -> None:
        super().__init__(name=name or _unique_layer_name(_snake(type(self).__name__)))
        self._dtype = as_dtype(dtype or "float32")
        self.trainable = trainable
        self.built = False

    @property
    def dtype(self) -> str:
        return self._dtype.name

    def build(self, input_shape: TensorShape) -> None:
        self.built = True

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: TensorShape, kwargs: dict[str, Any]) -> TensorShape:
        return input_shape

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, KerasTensor):
            if not self.built:
                self.build(inputs.shape)
                self.built = True
            if getattr(self, "_build_input_shape", None) is None:
                self._build_input_shape = inputs.shape
            return KerasTensor(
                self,
                [inputs],
                kwargs,
                self.compute_output_shape(inputs.shape, kwargs),
                self._output_dtype(inputs),
            )
        if not self.built:
            self.build(_shape_of(inputs))
            self.built = True
        return self.call(inputs, **kwargs)

    def _output_dtype(self, inputs: KerasTensor) -> Any:
        return self._dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    def _metadata(self) -> dict[str, Any]:
        """What tf-keras stores for a layer in keras_metadata.pb."""
        out: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "expects_training_arg": False,
            "dtype": self.dtype,
            "batch_input_shape": None,
            "stateful": False,
            "must_restore_from_config": isinstance(self, TFOpLambda),
            "preserve_input_structure_in_config": isinstance(self, TFOpLambda),
            "autocast": not isinstance(self, TFOpLambda),
            "class_name": self._class_name,
            "config": self.get_config(),
        }
        input_spec = self._input_spec()
        if input_spec is not None:
            out["input_spec"] = input_spec
        shape = getattr(self, "_build_input_shape", None)
        if shape is not None:
            out["build_input_shape"] = _shape_json(shape)
        return out

    def _input_spec(self) -> dict[str, Any] | None:
        return None

    @property
    def _object_identifier(self) -> str:
        return self._identifier

    # object graph (what tf-keras's SavedModel serialization tracks per layer)
    def _own_weights(self) -> list[Any]:
        return []

    def _saved_functions(self) -> dict[str, Any]:
        """Traced functions saved with the layer (`__call__`, `call_and_return_...`)."""
        return {}

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
        return []

    def _named_weights(self) -> list[tuple[str, Any]]:
        return []

    @property
    def weights(self) -> list[Any]:
        """In tf-keras's order (a Dense layer's kernel, then its bias; a model's layer by layer)."""
        return self._own_weights()

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, values: list[Any]) -> None:
        for var, value in zip(self.weights, values, strict=True):
            var.assign(np.asarray(value, dtype=var.dtype.as_numpy_dtype))


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
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


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


_ACTIVATIONS = {
    None: lambda x: x,
    "linear": lambda x: x,
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softmax": ops.softmax,
}


class Dense(Layer):
    _class_name = "Dense"

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
        self.activation = activation if callable(activation) else _ACTIVATIONS.get(activation, None)
        self._activation_name = activation if isinstance(activation, str) or activation is None else "custom"
        if self.activation is None:
            raise InvalidInputError(f"unsupported activation {activation!r}")
        self.use_bias = use_bias
        self._kernel_initializer = kernel_initializer
        self._seed = seed

    def build(self, input_shape: TensorShape) -> None:
        dims = input_shape.dims or (None,)
        fan_in = dims[-1]
        if fan_in is None:
            raise InvalidInputError(f"Dense layer {self.name}: the last input dimension must be known")
        rng = np.random.default_rng(self._seed)
        limit = np.sqrt(6.0 / (fan_in + self.units))
        kernel = rng.uniform(-limit, limit, size=(fan_in, self.units)).astype(self._dtype.as_numpy_dtype)
        if isinstance(self._kernel_initializer, str) and self._kernel_initializer in ("zeros", "ones"):
            kernel = getattr(np, self._kernel_initializer)(
                (fan_in, self.units), dtype=self._dtype.as_numpy_dtype
            )
        self.kernel = Variable(kernel, name=f"{self.name}/kernel")
        if self.use_bias:
            self.bias = Variable(
                np.zeros(self.units, dtype=self._dtype.as_numpy_dtype), name=f"{self.name}/bias"
            )
        self.built = True

    def _own_weights(self) -> list[Any]:
        return [v for _, v in self._named_weights()]

    def _named_weights(self) -> list[tuple[str, Any]]:
        out = [("kernel", self.kernel)] if hasattr(self, "kernel") else []
        if self.use_bias and hasattr(self, "bias"):
            out.append(("bias", self.bias))
        return out

    def _input_spec(self) -> dict[str, Any] | None:
        shape = getattr(self, "_build_input_shape", None)
        if shape is None or not shape.dims:
            return None
        return {
            "class_name": "InputSpec",
            "config": {
                "dtype": None,
                "shape": None,
                "ndim": None,
                "max_ndim": None,
                "min_ndim": 2,
                "axes": {"-1": shape.dims[-1]},
            },
        }

    def _saved_functions(self) -> dict[str, Any]:
        shape = getattr(self, "_build_input_shape", None)
        if shape is None:
            return {}
        return _call_functions(self, TensorSpec(shape, self._dtype, "inputs"), expects_training=False)

    def call(self, inputs: Any, **_: Any) -> Any:
        x = ops.matmul(inputs, self.kernel)
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
            "activation": self._activation_name or "linear",
            "use_bias": self.use_bias,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": self._seed}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }


def Input(
    shape: Any = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = None,  # noqa: N802
    **_: Any,
) -> KerasTensor:
    dims = [shape] if isinstance(shape, int) else list(shape or [])
    layer = InputLayer([batch_size, *dims], dtype=dtype or "float32", name=name)
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
        self._layers = [t.layer for t in self._nodes]
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
        values: dict[int, Any] = {}
        given = inputs if isinstance(inputs, list | tuple) else [inputs]
        for tensor, value in zip(self._inputs, given, strict=True):
            value = ops.convert_to_tensor(value)
            if value.dtype != tensor.dtype:
                value = ops.cast(value, tensor.dtype)
            values[id(tensor)] = value
        for node in self._nodes:
            if id(node) in values:
                continue
            args = [values[id(p)] for p in node.inbound]
            kwargs = {k: values[id(v)] if isinstance(v, KerasTensor) else v for k, v in node.kwargs.items()}
            values[id(node)] = node.layer.call(*args, **kwargs)
        return _map(self._outputs, lambda t: values[id(t)])

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
        layers = []
        for node in self._nodes:
            inbound = []
            if node.inbound:
                kwargs = {
                    k: [v.layer.name, 0, 0] if isinstance(v, KerasTensor) else v
                    for k, v in node.kwargs.items()
                }
                if isinstance(node.layer, TFOpLambda):
                    kwargs.setdefault("name", None)
                    inbound = [[node.inbound[0].layer.name, 0, 0, kwargs]]
                else:  # one call node, its list of inbound tensors
                    inbound = [[[node.inbound[0].layer.name, 0, 0, kwargs]]]
            layers.append(
                {
                    "class_name": node.layer._class_name,
                    "config": node.layer.get_config(),
                    "name": node.layer.name,
                    "inbound_nodes": inbound,
                }
            )
        return {
            "name": self.name,
            "trainable": True,
            "layers": layers,
            "input_layers": [[t.layer.name, 0, 0] for t in self._inputs],
            "output_layers": [[t.layer.name, 0, 0] for t in _flat(self._outputs)],
        }

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
        seen: set[int] = set()
        config = self.get_config()
        inbound = {entry["name"]: entry.get("inbound_nodes") for entry in config["layers"] if "name" in entry}
        for index, (local_name, layer) in enumerate(self._layer_children()):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            node_id = (node_ids or {}).get(id(layer), index + 1)
            node = meta.nodes.add(
                node_id=node_id, node_path=f"root.{local_name}", identifier=layer._identifier
            )
            node.version.producer, node.version.min_consumer = 2, 1
            layer_meta = layer._metadata()
            if inbound.get(layer.name):
                layer_meta = _insert_after(layer_meta, "config", "inbound_nodes", inbound[layer.name])
            node.metadata = json.dumps(layer_meta)
        return meta.SerializeToString(deterministic=True)

    def _tracked_layers(self) -> list[Layer]:
        """The layers in the object graph (a Sequential model does not track its InputLayer)."""
        return list(self.layers)

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

        fmt = save_format or ("h5" if str(filepath).endswith((".h5", ".keras")) else "tf")
        if fmt != "tf":
            raise InvalidInputError(f"save_format={fmt!r} is not supported; use save_format='tf'")
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        save(self, filepath, signatures=signatures)


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

    def add(self, layer: Any) -> None:
        self._pending.append(layer)
        if self._inputs:
            self._build_from(self._inputs[0])

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
    if class_name == "Dense":
        activation = config.get("activation", "linear")
        return Dense(
            config["units"],
            activation=activation,
            use_bias=config.get("use_bias", True),
            name=config.get("name"),
            dtype=config.get("dtype", "float32"),
        )
    raise InvalidInputError(f"cannot rebuild a Keras layer of class {class_name!r}")


def _rebuild_functional(config: dict[str, Any], class_name: str) -> Model:
    layers: dict[str, Layer] = {}
    outputs: dict[str, KerasTensor] = {}
    for entry in config["layers"]:
        layer = _layer_from_config(entry["class_name"], entry["config"])
        name = entry.get("name") or layer.name
        layers[name] = layer
        if isinstance(layer, InputLayer):
            outputs[name] = KerasTensor(layer, [], {}, layer.batch_input_shape, layer._dtype)
            continue
        inbound = entry.get("inbound_nodes") or []
        if not inbound and class_name == "Sequential":
            if not outputs:
                raise InvalidInputError("a Sequential model without an InputLayer cannot be rebuilt")
            previous = list(outputs.values())[-1]
            outputs[name] = layer(previous)
            continue
        first = inbound[0]
        if isinstance(first[0], list):
            first = first[0]
        source, _, _, kwargs = (first + [{}])[:4]
        kwargs = {
            k: outputs[v[0]] if isinstance(v, list) and v and v[0] in outputs else v
            for k, v in (kwargs or {}).items()
            if k != "name"
        }
        outputs[name] = layer(outputs[source], **kwargs)
    if class_name == "Sequential" and "input_layers" not in config:
        names = list(outputs)
        return Model(inputs=outputs[names[0]], outputs=outputs[names[-1]], name=config.get("name"))
    ins = [outputs[name] for name, _, _ in config["input_layers"]]
    outs = [outputs[name] for name, _, _ in config["output_layers"]]
    return Model(
        inputs=ins[0] if len(ins) == 1 else ins,
        outputs=outs[0] if len(outs) == 1 else outs,
        name=config.get("name"),
    )


def _restore_weights(model: Model, path: Path) -> None:
    """Assign each layer's weights from the object-based checkpoint (`layer_with_weights-N/kernel/...`)."""
    weighted = [layer for layer in model._tracked_layers() if layer._own_weights()]
    if not weighted:
        return
    from savedmodel.format.checkpoint import CheckpointReader

    reader = CheckpointReader(path / "variables" / "variables")
    tracked = model._tracked_layers()
    for index, layer in enumerate(weighted):
        for attr, var in layer._named_weights():
            key = f"layer_with_weights-{index}/{attr}/.ATTRIBUTES/VARIABLE_VALUE"
            if not reader.has_tensor(key):
                key = f"layer-{tracked.index(layer)}/{attr}/.ATTRIBUTES/VARIABLE_VALUE"
            var.assign(np.asarray(reader.get_tensor(key)))


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


def clear_session() -> None:
    """`tf.keras.backend.clear_session`: default layer names start again (`dense`, `input_1`...)."""
    _NAME_COUNTS.clear()


backend = SimpleNamespace(clear_session=clear_session)
layers = SimpleNamespace(Dense=Dense, InputLayer=InputLayer, Layer=Layer)
models = SimpleNamespace(
    load_model=load_model,
    Model=Model,
    Sequential=Sequential,
    save_model=lambda model, filepath, **kw: model.save(filepath, **kw),
)
_ = (Function, EagerTensor)
