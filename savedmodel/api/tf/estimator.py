"""An Estimator subset: `Estimator(model_fn, model_dir)`, `train(input_fn, steps)`,
`EstimatorSpec` with export outputs, serving input receivers, `export_saved_model`."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from savedmodel.api.tf import builder as b
from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops, variables
from savedmodel.api.tf.data import Dataset
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.graph import Tensor
from savedmodel.api.tf.saver import Saver, latest_checkpoint
from savedmodel.api.tf.session import Session
from savedmodel.errors import InvalidInputError


class ModeKeys:
    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


@dataclass
class EstimatorSpec:
    mode: str
    predictions: Any = None
    loss: Any = None
    train_op: Any = None
    eval_metric_ops: Any = None
    export_outputs: Mapping[str, Any] | None = None
    training_chief_hooks: Any = None
    training_hooks: Any = None
    scaffold: Any = None
    evaluation_hooks: Any = None
    prediction_hooks: Any = None


# --- export outputs ------------------------------------------------------------------------


class ExportOutput:
    def as_signature_def(self, receiver_tensors: Any) -> Any:
        raise NotImplementedError


class PredictOutput(ExportOutput):
    def __init__(self, outputs: Any) -> None:
        if not isinstance(outputs, dict):
            outputs = {"output": outputs}
        for key, value in outputs.items():
            if not isinstance(key, str):
                raise ValueError(f"Prediction output key must be a string; got {key!r}.")
            if not isinstance(value, Tensor):
                raise ValueError(f"Prediction output value must be a Tensor; got {value!r}.")
        self.outputs = dict(outputs)

    def as_signature_def(self, receiver_tensors: Any) -> Any:
        inputs = receiver_tensors if isinstance(receiver_tensors, dict) else {"input": receiver_tensors}
        return b.predict_signature_def(inputs, self.outputs)


def _single_receiver(receiver_tensors: Any, what: str) -> Tensor:
    if isinstance(receiver_tensors, dict):
        if len(receiver_tensors) != 1:
            raise ValueError(
                f"{what} signatures require exactly one receiver tensor (serialized tf.Examples)."
            )
        receiver_tensors = next(iter(receiver_tensors.values()))
    return receiver_tensors


class ClassificationOutput(ExportOutput):
    def __init__(self, scores: Any = None, classes: Any = None) -> None:
        if scores is None and classes is None:
            raise ValueError(
                "Cannot create a ClassificationOutput with empty arguments. At least one of `scores` "
                "and `classes` must be defined."
            )
        self.scores, self.classes = scores, classes

    def as_signature_def(self, receiver_tensors: Any) -> Any:
        return b.classification_signature_def(
            _single_receiver(receiver_tensors, "Classification"), self.classes, self.scores
        )


class RegressionOutput(ExportOutput):
    def __init__(self, value: Any) -> None:
        if not isinstance(value, Tensor) or not value.dtype.is_floating:
            raise ValueError(f"Regression output value must be a float32 Tensor; got {value!r}")
        self.value = value

    def as_signature_def(self, receiver_tensors: Any) -> Any:
        return b.regression_signature_def(_single_receiver(receiver_tensors, "Regression"), self.value)


# --- serving input receivers -------------------------------------------------------------------


@dataclass
class ServingInputReceiver:
    features: Any
    receiver_tensors: Any
    receiver_tensors_alternatives: Any = None


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, Any], default_batch_size: int | None = None
) -> Callable[[], ServingInputReceiver]:
    """Placeholders shaped like `features` with a leading batch dimension."""
    specs = {k: (v.dtype, list(v.shape.dims or ())) for k, v in features.items()}

    def receiver_fn() -> ServingInputReceiver:
        receivers = {}
        for key, (dtype, shape) in specs.items():
            receivers[key] = ops.placeholder(dtype, [default_batch_size] + shape[1:], name=None)
        return ServingInputReceiver(dict(receivers), dict(receivers))

    return receiver_fn


class FixedLenFeature:
    def __init__(self, shape: Any, dtype: Any, default_value: Any = None) -> None:
        self.shape, self.dtype, self.default_value = list(shape), dtype, default_value


def build_parsing_serving_input_receiver_fn(
    feature_spec: Mapping[str, Any], default_batch_size: int | None = None
) -> Callable[[], ServingInputReceiver]:
    """A string placeholder `input_example_tensor` parsed with ParseExampleV2 into dense features."""

    def receiver_fn() -> ServingInputReceiver:
        graph = g.require_graph("build_parsing_serving_input_receiver_fn")
        serialized = ops.placeholder("string", [default_batch_size], name="input_example_tensor")
        keys = sorted(feature_spec)
        with graph.name_scope("ParseExample") as scope:
            names = ops.constant(np.array([], dtype=object), dtype="string", name="Const")
            sparse_keys = ops.constant(np.array([], dtype=object), dtype="string", name="sparse_keys")
            dense_keys = ops.constant(
                np.array([k.encode() for k in keys], dtype=object), dtype="string", name="dense_keys"
            )
            ragged_keys = ops.constant(np.array([], dtype=object), dtype="string", name="ragged_keys")
            defaults = []
            for key in keys:
                spec = feature_spec[key]
                value = spec.default_value
                defaults.append(
                    ops.constant(
                        np.zeros(0) if value is None else np.asarray(value), dtype=spec.dtype, name="Const"
                    )
                )
            dense_types = [as_dtype(feature_spec[k].dtype) for k in keys]
            attrs = {
                "Tdense": g.attr_types(dense_types),
                "num_sparse": g.attr_int(0),
                "sparse_types": g.attr_types([]),
                "ragged_value_types": g.attr_types([]),
                "ragged_split_types": g.attr_types([]),
                "dense_shapes": _shape_list([feature_spec[k].shape for k in keys]),
            }
            shapes = [[default_batch_size, *feature_spec[k].shape] for k in keys]
            op = graph.create_op(
                "ParseExampleV2",
                [serialized, names, sparse_keys, dense_keys, ragged_keys, *defaults],
                attrs,
                dense_types,
                shapes,
                name=scope,
            )
        features = {k: op.outputs[i] for i, k in enumerate(keys)}
        return ServingInputReceiver(features, {"examples": serialized})

    return receiver_fn


def _shape_list(shapes: list[list[int]]) -> Any:
    from savedmodel.proto import attr_value_pb2

    value = attr_value_pb2.AttrValue()
    value.list.SetInParent()
    for shape in shapes:
        value.list.shape.add().CopyFrom(g.as_shape(shape).as_proto())
    return value


# --- the estimator -------------------------------------------------------------------------------


def _as_graph_features(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_graph_features(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_as_graph_features(v) for v in value)
    if isinstance(value, EagerTensor):
        return ops.constant(value._value, dtype=value.dtype)
    return ops.convert_to_tensor(value)


@dataclass
class RunConfig:
    model_dir: str | None = None
    save_checkpoints_steps: int | None = None
    keep_checkpoint_max: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


class Estimator:
    """Trains a `model_fn` on an input function and exports it as a TF1 SavedModel."""

    def __init__(
        self,
        model_fn: Callable[..., EstimatorSpec],
        model_dir: str | None = None,
        config: RunConfig | None = None,
        params: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        self._model_fn = model_fn
        self.model_dir = model_dir or (
            config.model_dir if config and config.model_dir else tempfile.mkdtemp()
        )
        self.config = config or RunConfig(model_dir=self.model_dir)
        self.params = dict(params or {})

    def _call_model_fn(self, features: Any, labels: Any, mode: str) -> EstimatorSpec:
        import inspect

        params = inspect.signature(self._model_fn).parameters
        kwargs: dict[str, Any] = {}
        if "mode" in params:
            kwargs["mode"] = mode
        if "params" in params:
            kwargs["params"] = self.params
        if "config" in params:
            kwargs["config"] = self.config
        if "labels" in params:
            kwargs["labels"] = labels
        spec = self._model_fn(features, **kwargs)
        if not isinstance(spec, EstimatorSpec):
            raise InvalidInputError("model_fn must return an EstimatorSpec")
        return spec

    def _input(self, input_fn: Callable[[], Any]) -> tuple[Any, Any]:
        result = input_fn()
        if isinstance(result, Dataset):
            result = result.element
        if isinstance(result, tuple) and len(result) == 2:
            return _as_graph_features(result[0]), _as_graph_features(result[1])
        return _as_graph_features(result), None

    def latest_checkpoint(self) -> str | None:
        return latest_checkpoint(self.model_dir)

    def train(
        self,
        input_fn: Callable[[], Any],
        hooks: Any = None,
        steps: int | None = None,
        max_steps: int | None = None,
        saving_listeners: Any = None,
    ) -> Estimator:
        if steps is None and max_steps is None:
            raise InvalidInputError("Estimator.train needs steps or max_steps (datasets here repeat forever)")
        Path(self.model_dir).mkdir(parents=True, exist_ok=True)
        graph = g.Graph()
        with graph.as_default():
            step = _get_or_create_global_step(graph)
            features, labels = self._input(input_fn)
            spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
            if spec.train_op is None:
                raise InvalidInputError("EstimatorSpec for training needs a train_op")
            saver = Saver(sharded=True, max_to_keep=self.config.keep_checkpoint_max)
            with Session(graph=graph) as sess:
                checkpoint = self.latest_checkpoint()
                if checkpoint:
                    saver.restore(sess, checkpoint)
                else:
                    sess.run(variables.global_variables_initializer())
                current = int(np.asarray(sess.run(step._as_graph_element())))
                target = max_steps if max_steps is not None else current + int(steps or 0)
                while current < target:
                    sess.run(spec.train_op)
                    current = int(np.asarray(sess.run(step._as_graph_element())))
                saver.save(sess, os.path.join(self.model_dir, "model.ckpt"), global_step=current)
        return self

    def export_saved_model(
        self,
        export_dir_base: str,
        serving_input_receiver_fn: Callable[[], Any],
        assets_extra: Any = None,
        as_text: bool = False,
        checkpoint_path: str | None = None,
        experimental_mode: str = ModeKeys.PREDICT,
    ) -> bytes:
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            raise ValueError(f"Couldn't find trained model at {self.model_dir}.")
        graph = g.Graph()
        with graph.as_default():
            _get_or_create_global_step(graph)
            receiver = serving_input_receiver_fn()
            spec = self._call_model_fn(receiver.features, None, experimental_mode)
            export_outputs = spec.export_outputs or {
                b.DEFAULT_SERVING_SIGNATURE_DEF_KEY: PredictOutput(spec.predictions)
            }
            signature_def_map = {
                key: out.as_signature_def(receiver.receiver_tensors) for key, out in export_outputs.items()
            }
            local_init = variables.variables_initializer([], name="init")
            tables = ops.no_op(name="init_all_tables")
            local_init_2 = variables.variables_initializer([], name="init")
            for op in (local_init, tables, local_init_2):
                op.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
            main_op = ops.group(local_init, local_init_2, tables)
            with Session(graph=graph) as sess:
                saver = Saver(sharded=True, allow_empty=True)
                saver.restore(sess, checkpoint_path)
                export_dir = _timestamped_dir(export_dir_base)
                temp_dir = Path(export_dir_base) / f"temp-{Path(export_dir).name}"
                builder = b.Builder(str(temp_dir))
                builder.add_meta_graph_and_variables(
                    sess,
                    [b.SERVING],
                    signature_def_map=signature_def_map,
                    main_op=main_op,
                    strip_default_attrs=True,
                    saver=saver,
                    train_op=spec.train_op,
                )
                builder.save(as_text)
        if assets_extra:
            extra = temp_dir / b.EXTRA_ASSETS_DIRECTORY
            for dest, source in assets_extra.items():
                (extra / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, extra / dest)
        os.replace(temp_dir, export_dir)
        return os.fsencode(export_dir)

    export_savedmodel = export_saved_model


def _timestamped_dir(base: str) -> str:
    Path(base).mkdir(parents=True, exist_ok=True)
    stamp = int(time.time())
    while (Path(base) / str(stamp)).exists():
        stamp += 1
    return str(Path(base) / str(stamp))


def _get_or_create_global_step(graph: g.Graph) -> Any:
    found = graph.get_collection(variables.GLOBAL_STEP)
    if found:
        return found[0]
    return variables.GraphVariable(
        graph,
        lambda: ops.constant(np.array(0, dtype=np.int64), name="zeros"),
        trainable=False,
        name="global_step",
        collections=[variables.GLOBAL_VARIABLES, variables.GLOBAL_STEP],
        aggregation=variables.ONLY_FIRST_REPLICA,
    )


export = SimpleNamespace(
    PredictOutput=PredictOutput,
    ClassificationOutput=ClassificationOutput,
    RegressionOutput=RegressionOutput,
    ServingInputReceiver=ServingInputReceiver,
    build_raw_serving_input_receiver_fn=build_raw_serving_input_receiver_fn,
    build_parsing_serving_input_receiver_fn=build_parsing_serving_input_receiver_fn,
)
