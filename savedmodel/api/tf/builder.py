"""TF1 SavedModel writing: `tf1.saved_model.Builder`, `simple_save`, signature_def_utils,
`MethodNameUpdater`, and the tag / signature constants."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from savedmodel.api.tf import graph as g
from savedmodel.api.tf.graph import Operation, Tensor
from savedmodel.api.tf.meta_graph import export_meta_graph
from savedmodel.errors import PolicyError
from savedmodel.format import writer
from savedmodel.format.saved_model import read_saved_model, write_saved_model_proto
from savedmodel.proto import meta_graph_pb2, saved_model_pb2, saver_pb2

# tags
SERVING = "serve"
TRAINING = "train"
EVAL = "eval"
GPU = "gpu"
TPU = "tpu"
# signature keys and method names
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"
PREDICT_METHOD_NAME = "tensorflow/serving/predict"
CLASSIFY_METHOD_NAME = "tensorflow/serving/classify"
REGRESS_METHOD_NAME = "tensorflow/serving/regress"
PREDICT_INPUTS = "inputs"
PREDICT_OUTPUTS = "outputs"
CLASSIFY_INPUTS = "inputs"
CLASSIFY_OUTPUT_CLASSES = "classes"
CLASSIFY_OUTPUT_SCORES = "scores"
REGRESS_INPUTS = "inputs"
REGRESS_OUTPUTS = "outputs"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
TRAIN_OP_SIGNATURE_KEY = "__saved_model_train_op"
MAIN_OP_KEY = "saved_model_main_op"
LEGACY_INIT_OP_KEY = "legacy_init_op"
TRAIN_OP_KEY = "saved_model_train_op"
ASSETS_KEY = "saved_model_assets"
ASSETS_DIRECTORY = "assets"
EXTRA_ASSETS_DIRECTORY = "assets.extra"
VARIABLES_DIRECTORY = "variables"
VARIABLES_FILENAME = "variables"
SAVED_MODEL_FILENAME_PB = "saved_model.pb"
SAVED_MODEL_FILENAME_PBTXT = "saved_model.pbtxt"
SAVED_MODEL_SCHEMA_VERSION = 1


# --- signature defs ------------------------------------------------------------


def build_tensor_info(tensor: Any) -> meta_graph_pb2.TensorInfo:
    """TensorInfo (name, dtype, shape) of a graph tensor."""
    if hasattr(tensor, "_as_graph_element") and not isinstance(tensor, Tensor):
        tensor = tensor._as_graph_element()
    if not isinstance(tensor, Tensor):
        raise TypeError(f"build_tensor_info needs a graph tensor, got {type(tensor).__name__}")
    return meta_graph_pb2.TensorInfo(
        name=tensor.name, dtype=tensor.dtype.as_datatype_enum, tensor_shape=tensor.shape.as_proto()
    )


def build_signature_def(
    inputs: Mapping[str, meta_graph_pb2.TensorInfo] | None = None,
    outputs: Mapping[str, meta_graph_pb2.TensorInfo] | None = None,
    method_name: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> meta_graph_pb2.SignatureDef:
    sig = meta_graph_pb2.SignatureDef()
    for key, info in (inputs or {}).items():
        sig.inputs[key].CopyFrom(info)
    for key, info in (outputs or {}).items():
        sig.outputs[key].CopyFrom(info)
    if method_name is not None:
        sig.method_name = method_name
    return sig


def predict_signature_def(
    inputs: Mapping[str, Any], outputs: Mapping[str, Any]
) -> meta_graph_pb2.SignatureDef:
    if not inputs:
        raise ValueError("Prediction inputs cannot be None or empty.")
    if not outputs:
        raise ValueError("Prediction outputs cannot be None or empty.")
    return build_signature_def(
        {k: build_tensor_info(v) for k, v in inputs.items()},
        {k: build_tensor_info(v) for k, v in outputs.items()},
        PREDICT_METHOD_NAME,
    )


def classification_signature_def(examples: Any, classes: Any, scores: Any) -> meta_graph_pb2.SignatureDef:
    if examples is None:
        raise ValueError("Classification examples cannot be None.")
    if not isinstance(examples, Tensor):
        raise ValueError("Classification examples must be a string Tensor.")
    if classes is None and scores is None:
        raise ValueError("Classification classes and scores cannot both be None.")
    examples_info = build_tensor_info(examples)
    if examples_info.dtype != 7:
        raise ValueError("Classification examples must be a string Tensor.")
    outputs = {}
    if classes is not None:
        info = build_tensor_info(classes)
        if info.dtype != 7:
            raise ValueError("Classification classes must be a string Tensor.")
        outputs[CLASSIFY_OUTPUT_CLASSES] = info
    if scores is not None:
        info = build_tensor_info(scores)
        if info.dtype != 1:
            raise ValueError("Classification scores must be a float Tensor.")
        outputs[CLASSIFY_OUTPUT_SCORES] = info
    return build_signature_def({CLASSIFY_INPUTS: examples_info}, outputs, CLASSIFY_METHOD_NAME)


def regression_signature_def(examples: Any, predictions: Any) -> meta_graph_pb2.SignatureDef:
    if examples is None:
        raise ValueError("Regression examples cannot be None.")
    if not isinstance(examples, Tensor) or examples.dtype.name != "string":
        raise ValueError("Regression examples must be a string Tensor.")
    if predictions is None:
        raise ValueError("Regression predictions cannot be None.")
    info = build_tensor_info(predictions)
    if info.dtype != 1:
        raise ValueError("Regression output must be a float Tensor.")
    return build_signature_def(
        {REGRESS_INPUTS: build_tensor_info(examples)}, {REGRESS_OUTPUTS: info}, REGRESS_METHOD_NAME
    )


def is_valid_signature(signature_def: meta_graph_pb2.SignatureDef) -> bool:
    """TF's check: a known method name with the inputs/outputs it requires."""
    if signature_def is None or not signature_def.method_name:
        return False
    method = signature_def.method_name
    if method == PREDICT_METHOD_NAME:
        return bool(signature_def.inputs) and bool(signature_def.outputs)
    if method == CLASSIFY_METHOD_NAME:
        if set(signature_def.inputs) != {CLASSIFY_INPUTS} or signature_def.inputs[CLASSIFY_INPUTS].dtype != 7:
            return False
        outputs = set(signature_def.outputs)
        if not outputs or not outputs <= {CLASSIFY_OUTPUT_CLASSES, CLASSIFY_OUTPUT_SCORES}:
            return False
        if CLASSIFY_OUTPUT_CLASSES in outputs and signature_def.outputs[CLASSIFY_OUTPUT_CLASSES].dtype != 7:
            return False
        return not (
            CLASSIFY_OUTPUT_SCORES in outputs and signature_def.outputs[CLASSIFY_OUTPUT_SCORES].dtype != 1
        )
    if method == REGRESS_METHOD_NAME:
        if set(signature_def.inputs) != {REGRESS_INPUTS} or signature_def.inputs[REGRESS_INPUTS].dtype != 7:
            return False
        return (
            set(signature_def.outputs) == {REGRESS_OUTPUTS}
            and signature_def.outputs[REGRESS_OUTPUTS].dtype == 1
        )
    return True


def _validate_signature_def_map(signature_def_map: Mapping[str, Any]) -> None:
    for key, sig in signature_def_map.items():
        if not isinstance(sig, meta_graph_pb2.SignatureDef):
            raise TypeError(f"signature_def_map[{key!r}] is not a SignatureDef")
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            if not info.name and not info.HasField("coo_sparse") and not info.HasField("composite_tensor"):
                raise AssertionError(
                    f"All TensorInfo protos used in the SignatureDefs must have the name and dtype "
                    f"fields set. Found in signature {key!r}"
                )
    for reserved in (INIT_OP_SIGNATURE_KEY, TRAIN_OP_SIGNATURE_KEY):
        if reserved in signature_def_map:
            raise KeyError(
                f'SignatureDef map key "{reserved}" is reserved for initialization. Please use a '
                f"different key."
            )


# --- the builder ---------------------------------------------------------------


class Builder:
    """`tf1.saved_model.Builder`: collects MetaGraphDefs and variables, writes on `save()`.

    Everything goes to a temporary sibling directory that replaces `export_dir`
    in one rename when `save()` runs; an existing non-empty `export_dir` is refused
    up front, as TensorFlow refuses it.
    """

    def __init__(self, export_dir: str | os.PathLike[str]) -> None:
        self._export_dir = Path(os.fspath(export_dir))
        writer.refuse_existing(self._export_dir)
        self._proto = saved_model_pb2.SavedModel(saved_model_schema_version=SAVED_MODEL_SCHEMA_VERSION)
        self._has_saved_variables = False
        self._tmp = Path(
            tempfile.mkdtemp(
                prefix=f".{self._export_dir.name}.tmp-",
                dir=self._export_dir.parent if self._export_dir.parent.exists() else None,
            )
        )
        self._assets: dict[str, str] = {}

    def __del__(self) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

    def _saver(self, graph: g.Graph, saver: Any) -> Any:
        from savedmodel.api.tf.saver import Saver

        if saver is not None:
            return saver
        return Saver(sharded=True, write_version=saver_pb2.SaverDef.V2, allow_empty=True)

    def _meta_graph(
        self,
        tags: list[str],
        signature_def_map: Mapping[str, Any] | None,
        saver: Any,
        assets_list: Any,
        clear_devices: bool,
        init_op: Any,
        train_op: Any,
        strip_default_attrs: bool,
    ) -> meta_graph_pb2.MetaGraphDef:
        graph = g.require_graph("tf.compat.v1.saved_model.Builder")
        signature_def_map = dict(signature_def_map or {})
        _validate_signature_def_map(signature_def_map)
        if init_op is not None:
            op = init_op.op if isinstance(init_op, Tensor) else init_op
            graph.get_collection_ref(MAIN_OP_KEY)[:] = [op]
        if train_op is not None:
            op = train_op.op if isinstance(train_op, Tensor) else train_op
            op = getattr(op, "_assign_source", op)
            graph.get_collection_ref(TRAIN_OP_KEY)[:] = [op]
        if assets_list:
            self._add_assets(graph, assets_list)
        saver_def = saver.saver_def if saver is not None else None
        meta = export_meta_graph(
            graph,
            saver_def,
            clear_devices=clear_devices,
            strip_default_attrs=strip_default_attrs,
            tags=list(tags),
        )
        for key in sorted(signature_def_map):
            meta.signature_def[key].CopyFrom(signature_def_map[key])
        return meta

    def _add_assets(self, graph: g.Graph, assets_list: Any) -> None:
        from savedmodel.format import tensor as tensor_format

        for item in assets_list:
            op = item.op if isinstance(item, Tensor) else item
            if not isinstance(op, Operation) or op.type != "Const":
                continue
            path = tensor_format.to_numpy(op.attrs["value"].tensor).item()
            path = path.decode() if isinstance(path, bytes) else str(path)
            self._assets[os.path.basename(path)] = path

    def add_meta_graph_and_variables(
        self,
        sess: Any,
        tags: list[str],
        signature_def_map: Mapping[str, Any] | None = None,
        assets_collection: Any = None,
        legacy_init_op: Any = None,
        clear_devices: bool = False,
        main_op: Any = None,
        strip_default_attrs: bool = False,
        saver: Any = None,
        init_op: Any = None,
        train_op: Any = None,
        assets_list: Any = None,
    ) -> None:
        if self._has_saved_variables:
            raise AssertionError(
                "Graph state including variables and assets has already been saved. Please invoke "
                "`add_meta_graph()` instead."
            )
        graph = g.require_graph("tf.compat.v1.saved_model.Builder")
        saver = self._saver(graph, saver)
        if saver.saver_def is not None:
            variables_dir = self._tmp / VARIABLES_DIRECTORY
            variables_dir.mkdir(exist_ok=True)
            saver.save(
                sess, str(variables_dir / VARIABLES_FILENAME), write_meta_graph=False, write_state=False
            )
        main = main_op if main_op is not None else (init_op if init_op is not None else legacy_init_op)
        meta = self._meta_graph(
            list(tags),
            signature_def_map,
            saver,
            assets_list or assets_collection,
            clear_devices,
            main,
            train_op,
            strip_default_attrs,
        )
        self._proto.meta_graphs.add().CopyFrom(meta)
        self._has_saved_variables = True

    def add_meta_graph(
        self,
        tags: list[str],
        signature_def_map: Mapping[str, Any] | None = None,
        assets_collection: Any = None,
        legacy_init_op: Any = None,
        clear_devices: bool = False,
        main_op: Any = None,
        strip_default_attrs: bool = False,
        saver: Any = None,
        init_op: Any = None,
        train_op: Any = None,
        assets_list: Any = None,
    ) -> None:
        if not self._has_saved_variables:
            raise AssertionError(
                "Graph state including variables and assets has not been saved yet. Please invoke "
                "`add_meta_graph_and_variables()` first."
            )
        graph = g.require_graph("tf.compat.v1.saved_model.Builder")
        saver = self._saver(graph, saver)
        main = main_op if main_op is not None else (init_op if init_op is not None else legacy_init_op)
        meta = self._meta_graph(
            list(tags),
            signature_def_map,
            saver,
            assets_list or assets_collection,
            clear_devices,
            main,
            train_op,
            strip_default_attrs,
        )
        self._proto.meta_graphs.add().CopyFrom(meta)

    def save(self, as_text: bool = False) -> bytes:
        """Write saved_model.pb(txt) and move the whole directory into place; returns its path."""
        writer.refuse_existing(self._export_dir)
        if self._assets:
            (self._tmp / ASSETS_DIRECTORY).mkdir(exist_ok=True)
            for name, source in self._assets.items():
                shutil.copyfile(source, self._tmp / ASSETS_DIRECTORY / name)
        path = write_saved_model_proto(self._proto, self._tmp, as_text)
        self._export_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._export_dir.exists():
            self._export_dir.rmdir()  # empty (checked above)
        self._tmp.rename(self._export_dir)
        return os.fsencode(str(self._export_dir / path.name))


SavedModelBuilder = Builder


def simple_save(
    session: Any,
    export_dir: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    legacy_init_op: Any = None,
) -> None:
    signature_def_map = {DEFAULT_SERVING_SIGNATURE_DEF_KEY: predict_signature_def(inputs, outputs)}
    builder = Builder(export_dir)
    graph = g.require_graph("tf.compat.v1.saved_model.simple_save")
    builder.add_meta_graph_and_variables(
        session,
        tags=[SERVING],
        signature_def_map=signature_def_map,
        assets_collection=graph.get_collection("asset_filepaths"),
        main_op=legacy_init_op,
        clear_devices=True,
    )
    builder.save()


class MethodNameUpdater:
    """Rewrites the method_name of signatures in an existing SavedModel."""

    def __init__(self, export_dir: str | os.PathLike[str]) -> None:
        self._export_dir = Path(os.fspath(export_dir))
        self._proto = read_saved_model(self._export_dir)

    def replace_method_name(self, signature_key: str, method_name: str, tags: Any = None) -> None:
        if not signature_key:
            raise ValueError("`signature_key` must be defined.")
        if not method_name:
            raise ValueError("`method_name` must be defined.")
        wanted = None if tags is None else frozenset([tags] if isinstance(tags, str) else tags)
        found = False
        for meta in self._proto.meta_graphs:
            if wanted is not None and frozenset(meta.meta_info_def.tags) != wanted:
                continue
            if signature_key not in meta.signature_def:
                if wanted is not None:
                    raise ValueError(
                        f"MetaGraphDef associated with tags {sorted(wanted)} does not have a signature_def "
                        f"with key: '{signature_key}'. This means either you specified the wrong "
                        f"signature key or forgot to put the signature_def with the corresponding key "
                        f"in your SavedModel."
                    )
                continue
            meta.signature_def[signature_key].method_name = method_name
            found = True
        if wanted is not None and not found:
            raise ValueError(
                f"MetaGraphDef associated with tags {sorted(wanted)} could not be found in SavedModel."
            )

    def save(self, new_export_dir: str | os.PathLike[str] | None = None) -> None:
        target = Path(os.fspath(new_export_dir)) if new_export_dir is not None else self._export_dir
        if target.exists() and not target.is_dir():
            raise PolicyError(f"{target} exists and is not a directory")
        target.mkdir(parents=True, exist_ok=True)
        pbtxt = (self._export_dir / SAVED_MODEL_FILENAME_PBTXT).is_file() and not (
            self._export_dir / SAVED_MODEL_FILENAME_PB
        ).is_file()
        from savedmodel.format.atomic import atomic_write_bytes
        from savedmodel.format.saved_model import serialize_saved_model

        name = SAVED_MODEL_FILENAME_PBTXT if pbtxt else SAVED_MODEL_FILENAME_PB
        atomic_write_bytes(target / name, serialize_saved_model(self._proto, pbtxt), overwrite=True)


def contains_saved_model(export_dir: str | os.PathLike[str]) -> bool:
    root = Path(os.fspath(export_dir))
    return (root / SAVED_MODEL_FILENAME_PB).is_file() or (root / SAVED_MODEL_FILENAME_PBTXT).is_file()
