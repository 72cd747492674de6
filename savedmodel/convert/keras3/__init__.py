"""A tf-keras (Keras 2) SavedModel -> a Keras 3 `.keras` file, without Keras.

    report = to_keras3("keras2_savedmodel", "model.keras")   # raises ConversionError (with .report)
    report = plan("keras2_savedmodel")                          # what would convert, per layer

tf-keras writes the model's config into `keras_metadata.pb` (the root node's metadata JSON,
one node per layer). Keras 3 cannot load SavedModels (it reads `.keras` zips: config.json,
metadata.json and model.weights.h5), so this rewrites the config in Keras 3's form
(savedmodel.convert.keras3.layers) and copies every variable from the checkpoint, found
through the checkpoint's object graph (savedmodel.convert.keras3.weights). Sequential and
Functional models convert, nested ones too; subclassed models (no config) and layers without
a faithful Keras 3 counterpart block the conversion and are listed by name and class.

Writing needs h5py (the optional extra `savedmodel[keras]`): Keras 3 reads weights from
model.weights.h5 (its .npz store cannot load what it writes: dicts become pickled objects).
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.convert.keras3 import layers as lay
from savedmodel.convert.keras3.order import functional_order, store_names
from savedmodel.convert.keras3.weights import (
    RANDOM_GENERATOR,
    SLOTS,
    WRAPPED,
    NoWeightMapping,
    ObjectGraph,
    Weight,
    layer_weights,
)
from savedmodel.convert.report import ConversionError, Report
from savedmodel.errors import FormatError, InvalidInputError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.proto import saved_metadata_pb2

__all__ = ["Keras3Report", "plan", "to_keras3"]

PathLike = str | os.PathLike[str]
METADATA_FILE = "keras_metadata.pb"
KERAS_VERSION = "3.15.1"  # the Keras 3 whose file layout this writes (and the tests load with)
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


@dataclass
class LayerReport:
    name: str
    class_name: str
    weights: int = 0
    problem: str | None = None


@dataclass
class Keras3Report(Report):
    """A Report with one entry per layer (nested layers as `outer/inner`)."""

    layers: list[LayerReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["layers"] = [
            {
                "name": r.name,
                "class_name": r.class_name,
                "converts": r.problem is None,
                "weights": r.weights,
                "problem": r.problem,
            }
            for r in self.layers
        ]
        return out

    def render(self) -> str:
        lines = [super().render().rstrip("\n"), "layers:"]
        for r in self.layers:
            state = f"converts ({r.weights} weights)" if r.problem is None else f"BLOCKED: {r.problem}"
            lines.append(f"  {r.name} ({r.class_name}): {state}")
        return "\n".join(lines) + "\n"


@dataclass
class _Model:
    """The converted model: Keras 3 config and where each weight goes."""

    config: dict[str, Any]
    weights: list[Weight]


def read_metadata(source: Path) -> list[tuple[str, dict[str, Any]]]:
    """(node path, metadata JSON) of every keras_metadata.pb node."""
    path = source / METADATA_FILE
    if not path.is_file():
        raise InvalidInputError(f"{source}: no {METADATA_FILE}; not a tf-keras SavedModel")
    proto = saved_metadata_pb2.SavedMetadata()
    try:
        proto.ParseFromString(path.read_bytes())
        return [(node.node_path, json.loads(node.metadata) if node.metadata else {}) for node in proto.nodes]
    except Exception as exc:  # DecodeError, JSONDecodeError
        raise FormatError(f"{path}: cannot parse: {exc}") from None


class _Converter:
    def __init__(self, graph: ObjectGraph, layer_names: dict[int, str], report: Keras3Report) -> None:
        self.graph = graph
        self.layer_names = layer_names  # checkpoint node id -> layer name
        self.report = report
        self.weights: list[Weight] = []

    def _record(self, name: str, class_name: str, problem: str | None, weights: int = 0) -> None:
        self.report.layers.append(LayerReport(name, class_name, weights, problem))

    def model(self, entry: dict[str, Any], node_id: int, store: str, prefix: str) -> dict[str, Any]:
        """A Keras 3 serialized model from a tf-keras {"class_name", "config"} entry."""
        config = lay.plain(entry.get("config") or {})
        if entry.get("class_name") == "Sequential":
            return self._sequential(config, node_id, store, prefix, entry)
        return self._functional(config, node_id, store, prefix)

    def _children_by_name(self, node_id: int) -> dict[str, int]:
        """Layer name -> checkpoint node, through the model's `layer-N`/`layer_with_weights-N` children."""
        out: dict[str, int] = {}
        for local_name, child in self.graph.children(node_id):
            name = self.layer_names.get(child)
            if local_name.startswith("layer") and name is not None:
                out.setdefault(name, child)
        return out

    def _layer(self, layer: dict[str, Any], node_id: int | None, store: str, prefix: str) -> dict[str, Any]:
        class_name = layer.get("class_name", "")
        name = _name(layer)
        label = f"{prefix}{name}"
        if class_name in _MODEL_CLASSES:
            if node_id is None:
                self._record(label, class_name, "not found in the checkpoint's object graph")
                return {}
            return self.model(layer, node_id, store, f"{label}/")
        if node_id is None and (class_name in SLOTS or class_name in WRAPPED):
            self._record(label, class_name, "its variables are not in the checkpoint's object graph")
            return {}
        try:
            out = lay.serialized_layer(layer)
            config = lay.plain(layer.get("config") or {})
            weights = (
                layer_weights(self.graph, node_id, class_name, config, store, name)
                if node_id is not None
                else []
            )
        except (lay.Untranslatable, NoWeightMapping) as exc:
            self._record(label, class_name, str(exc))
            return {}
        self.weights += weights
        if node_id is not None and self.graph.child(node_id, RANDOM_GENERATOR) is not None:
            self.report.warn(
                "the random generator state of data augmentation layers is not carried over "
                "(Keras 3 seeds its own; inference does not use it)"
            )
        self._record(label, class_name, None, len(weights))
        return out

    def _sequential(
        self, config: dict[str, Any], node_id: int, store: str, prefix: str, entry: dict[str, Any]
    ) -> dict[str, Any]:
        layers = list(config.get("layers") or [])
        if layers and layers[0].get("class_name") != "InputLayer":
            first = layers[0].get("config", {})
            shape = first.get("batch_input_shape") or entry.get("build_input_shape")
            if shape is not None:
                layers.insert(
                    0,
                    {
                        "class_name": "InputLayer",
                        "config": {
                            "batch_input_shape": lay.plain(shape),
                            "dtype": _input_dtype(first.get("dtype")),
                            "name": f"{config.get('name', 'sequential')}_input",
                        },
                    },
                )
        nodes = self._children_by_name(node_id)
        stored = store_names(
            [(_name(x), _keras3_class(x)) for x in layers if x.get("class_name") != "InputLayer"]
        )
        out_layers = [
            self._layer(
                layer, nodes.get(_name(layer)), f"{store}/layers/{stored.get(_name(layer), '')}", prefix
            )
            for layer in layers
        ]
        result = {
            "module": "keras",
            "class_name": "Sequential",
            "config": {
                "name": config.get("name"),
                "trainable": config.get("trainable", True),
                "dtype": lay.dtype_policy("float32"),
                "layers": out_layers,
            },
            "registered_name": None,
        }
        if layers and layers[0].get("class_name") == "InputLayer":
            shape = lay.plain(layers[0]["config"].get("batch_input_shape"))
            if shape is not None:
                result["config"]["build_input_shape"] = shape
                result["build_config"] = {"input_shape": shape}
        return result

    def _functional(self, config: dict[str, Any], node_id: int, store: str, prefix: str) -> dict[str, Any]:
        layers = list(config.get("layers") or [])
        shift = {_name(layer): _skipped_nodes(layer) for layer in layers}
        calls = {
            _name(layer): [_node(call, shift) for call in layer.get("inbound_nodes") or []]
            for layer in layers
        }
        inputs, outputs = config.get("input_layers") or [], config.get("output_layers") or []
        # Keras 3 itself counts a nested Functional's outputs from 1 in output_layers (not elsewhere).
        output_shift = {_name(x): shift[_name(x)] for x in layers if x.get("class_name") == "Sequential"}
        outputs = _map_refs(outputs, lambda ref: _history(ref, output_shift))
        order = functional_order(
            [{"name": n, "inbound_nodes": c} for n, c in calls.items()], _refs(inputs), _refs(outputs)
        )
        classes = {_name(layer): _keras3_class(layer) for layer in layers}
        stored = store_names([(name, classes[name]) for name in order if name in classes])
        nodes = self._children_by_name(node_id)
        out_layers = []
        for layer in layers:
            name = _name(layer)
            converted = self._layer(
                layer, nodes.get(name), f"{store}/layers/{stored.get(name, name)}", prefix
            )
            if converted:
                out_layers.append({**converted, "name": name, "inbound_nodes": calls[name]})
        return {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {
                "name": config.get("name"),
                "trainable": config.get("trainable", True),
                "layers": out_layers,
                "input_layers": inputs,
                "output_layers": outputs,
            },
            "registered_name": "Functional",
        }


def _input_dtype(dtype: Any) -> str:
    """The input dtype a layer's dtype implies (a mixed-precision policy takes float32 inputs)."""
    return dtype if isinstance(dtype, str) else "float32"


def _name(layer: dict[str, Any]) -> str:
    return str(layer.get("config", {}).get("name") or layer.get("name", ""))


def _keras3_class(layer: dict[str, Any]) -> str:
    class_name = str(layer.get("class_name", ""))
    return "Functional" if class_name in ("Model", "Functional") else class_name


def _skipped_nodes(layer: dict[str, Any]) -> int:
    """1 for a nested model built on an Input: tf-keras leaves its own first call node out of
    the config and counts the others from 1; Keras 3 counts from 0."""
    class_name = layer.get("class_name")
    if class_name in ("Functional", "Model"):
        return 1
    inner = (layer.get("config") or {}).get("layers") or [{}]
    return int(class_name == "Sequential" and inner[0].get("class_name") == "InputLayer")


def _is_leaf(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)


def _map_refs(structure: Any, fn: Any) -> Any:
    """Apply fn to each [layer, node, tensor] of a (nested list or dict) input/output structure."""
    if _is_leaf(structure):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map_refs(v, fn) for k, v in structure.items()}
    return [_map_refs(v, fn) for v in structure]


def _refs(structure: Any) -> list[list[Any]]:
    """The leaves of an input/output structure in Keras's flattening order (dict keys sorted)."""
    if _is_leaf(structure):
        return [structure]
    items = [structure[k] for k in sorted(structure)] if isinstance(structure, dict) else structure
    return [ref for item in items for ref in _refs(item)]


def _history(ref: list[Any], shift: dict[str, int]) -> list[Any]:
    return [ref[0], int(ref[1]) - shift.get(ref[0], 0), int(ref[2])]


def _node(call: Any, shift: dict[str, int]) -> dict[str, Any]:
    """One tf-keras call record [[layer, node, tensor, kwargs], ...] as Keras 3 {"args", "kwargs"}."""
    if isinstance(call, dict):  # already Keras 3 style
        return call
    if call and isinstance(call[0], str):  # TFOpLambda and the like: one flat [layer, node, tensor, kwargs]
        call = [call]
    tensors = [_tensor(_history(ref, shift)) for ref in call]
    kwargs = dict(call[0][3]) if call and len(call[0]) > 3 else {}
    kwargs = {k: _tensor(_history(v, shift)) if _is_ref(v, shift) else v for k, v in kwargs.items()}
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def _is_ref(value: Any, names: dict[str, int]) -> bool:
    """A tensor in a tf-keras call's kwargs: [layer name, node index, tensor index]."""
    return (
        isinstance(value, list)
        and len(value) == 3
        and value[0] in names
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )


def _tensor(history: list[Any]) -> dict[str, Any]:
    """A placeholder Keras tensor: Keras 3 replaces it with the output `keras_history` names
    (its shape and dtype are not used), so none are inferred here."""
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None], "dtype": "float32", "keras_history": history},
    }


def _layer_names(metadata: list[tuple[str, dict[str, Any]]], graph: ObjectGraph) -> dict[int, str]:
    """Checkpoint node id -> layer name, for every layer keras_metadata.pb describes."""
    out: dict[int, str] = {}
    for path, meta in metadata:
        parts = path.split(".")
        if parts[0] != "root" or "name" not in meta:
            continue
        node = graph.walk(0, "/".join(parts[1:]))
        if node is not None:
            out.setdefault(node, meta["name"])
    return out


def _convert(source: Path, report: Keras3Report) -> _Model | None:
    metadata = read_metadata(source)
    root = next((meta for path, meta in metadata if path == "root"), None)
    if root is None:
        raise FormatError(f"{source / METADATA_FILE}: no root node")
    class_name = root.get("class_name", "?")
    config = root.get("config")
    if class_name not in _MODEL_CLASSES or not isinstance(config, dict) or "layers" not in config:
        report.block(
            f"model {root.get('name', '?')} ({class_name}): a subclassed model; Keras 3 cannot "
            "rebuild it from a config (only Sequential and Functional models convert)"
        )
        return None
    prefix = source / "variables" / "variables"
    with ckpt.CheckpointReader(prefix) as reader:
        object_graph = reader.object_graph()
    if object_graph is None:
        raise FormatError(f"{prefix}: the checkpoint has no object graph")
    graph = ObjectGraph(object_graph)
    converter = _Converter(graph, _layer_names(metadata, graph), report)
    entry = {
        "class_name": "Sequential" if class_name == "Sequential" else "Functional",
        "config": config,
        "build_input_shape": root.get("build_input_shape"),
    }
    keras3_config = converter.model(entry, 0, "", "")
    keras3_config["compile_config"] = None
    blocked = [r for r in report.layers if r.problem]
    if blocked:
        report.block(
            "layers that cannot convert: "
            + "; ".join(f"{r.name} ({r.class_name}: {r.problem})" for r in blocked)
        )
    report.variables = [w.source for w in converter.weights]
    return _Model(keras3_config, converter.weights)


def _h5_bytes(weights: list[Weight], reader: ckpt.CheckpointReader) -> bytes:
    try:
        import h5py
    except ImportError:
        raise InvalidInputError("writing a .keras file needs h5py: pip install 'savedmodel[keras]'") from None
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for weight in weights:
            group_path = f"{weight.store_path.strip('/')}/vars"
            group = h5.require_group(group_path)
            group.attrs["name"] = weight.store_path.rsplit("/", 1)[-1]
            value = np.asarray(reader.get_tensor(weight.checkpoint_key))
            if value.dtype.name == "bfloat16":
                dataset = group.create_dataset(str(weight.index), data=value.view(np.uint16))
                dataset.attrs["dtype"] = "bfloat16"
            else:
                group.create_dataset(str(weight.index), data=value)
    return buffer.getvalue()


def _archive(model: _Model, source: Path) -> bytes:
    with ckpt.CheckpointReader(source / "variables" / "variables") as reader:
        weights = _h5_bytes(model.weights, reader)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "metadata.json",
            json.dumps({"keras_version": KERAS_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}),
        )
        archive.writestr("config.json", json.dumps(model.config))
        archive.writestr("model.weights.h5", weights)
    return buffer.getvalue()


def plan(src_dir: PathLike, output: PathLike | None = None) -> Keras3Report:
    """What converting `src_dir` would do, per layer; writes nothing."""
    source = Path(src_dir)
    report = Keras3Report(source=str(source), output=str(output) if output else None, kind="keras3")
    _convert(source, report)
    return report


def to_keras3(src_dir: PathLike, dst_file: PathLike, *, overwrite: bool = False) -> Keras3Report:
    """Write `dst_file` (a Keras 3 .keras zip) from the tf-keras SavedModel `src_dir`.

    Raises ConversionError, whose report lists every blocking layer by name and class, when
    any layer cannot convert; nothing is written then."""
    source = Path(src_dir)
    if Path(dst_file).exists() and not overwrite:
        raise InvalidInputError(f"{dst_file} exists (pass overwrite=True / --overwrite to replace it)")
    report = Keras3Report(source=str(source), output=str(dst_file), kind="keras3")
    model = _convert(source, report)
    if model is None or not report.ok:
        raise ConversionError(report)
    atomic_write_bytes(dst_file, _archive(model, source), overwrite=overwrite)
    report.written = True
    report.changes.append(f"{len(report.layers)} layers, {len(model.weights)} weights -> {dst_file}")
    return report
