"""TensorFlow Serving session bundles, up-converted to a SavedModel as TF Serving's bundle shim did.

A session bundle (TF Serving's export format before SavedModel, 2016-2017) is a
directory holding:
- `export.meta`: a MetaGraphDef. Its collections carry the serving manifest:
  `serving_signatures` (one Any holding a `tensorflow.serving.Signatures`),
  `serving_assets` (Anys holding `tensorflow.serving.AssetFile`), `serving_init_op`
  (one node name) and optionally `serving_graph` (one Any holding the GraphDef to run
  instead of the meta graph's own);
- the variables: a V1 checkpoint `export` (one file) or shards `export-NNNNN-of-NNNNN`,
  or a V2 checkpoint `export.index` + `export.data-*`;
- `assets/`, the files `serving_assets` names.

Loading (TF Serving's LoadSessionBundleFromPath): run the saver's restore op with its
filename tensor fed `<dir>/export` when `export` or `export.index` exists, else the
pattern `<dir>/export-?????-of-?????`, then the init op, with every asset tensor fed
`<dir>/assets/<filename>`.

Up-conversion (TF Serving's ConvertSignaturesToSignatureDef): a regression or
classification default signature becomes the `serving_default` SignatureDef (method
regress/classify, keys inputs/outputs or inputs/classes/scores); without a default,
the named generic signatures `inputs` and `outputs` become a `serving_default`
predict SignatureDef. Nothing else is converted (other named signatures are dropped,
a generic default signature is refused). TF Serving fills only the tensor names; we
also fill dtype and shape where the graph states them (placeholders, `T`/`dtype`
attrs), so inputs can be converted and checked.

`read_as_saved_model(dir)` returns that SavedModel proto (one MetaGraphDef tagged
`serve`, assets as `asset_file_def`, serving_init_op as the `legacy_init_op` collection;
a bundle's own `legacy_init_op`, if it has one and no serving_init_op, runs too),
so `savedmodel.load`, `show`, `run`, `scan` and the server treat a bundle like any
TF1 SavedModel; `variables_filename(dir)` is what the restore op is fed.
"""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import any_pb2
from google.protobuf import message as proto_message

from savedmodel.errors import FormatError
from savedmodel.graph.feeds import is_legacy_unknown_shape
from savedmodel.proto import (
    graph_pb2,
    meta_graph_pb2,
    saved_model_pb2,
    session_bundle_manifest_pb2,
    types_pb2,
)

META_GRAPH_FILENAME = "export.meta"
VARIABLES_FILENAME = "export"
VARIABLES_PATTERN = "export-?????-of-?????"
ASSETS_DIRECTORY = "assets"
SIGNATURES_KEY = "serving_signatures"
ASSETS_KEY = "serving_assets"
INIT_OP_KEY = "serving_init_op"
GRAPH_KEY = "serving_graph"
LEGACY_INIT_OP_KEY = "legacy_init_op"
SERVE_TAG = "serve"

DEFAULT_SIGNATURE_KEY = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

PathLike = str | os.PathLike[str]


def is_session_bundle(export_dir: PathLike) -> bool:
    """A directory with an `export.meta` and no saved_model.pb(txt)."""
    root = Path(export_dir)
    if (root / "saved_model.pb").is_file() or (root / "saved_model.pbtxt").is_file():
        return False
    return (root / META_GRAPH_FILENAME).is_file()


def variables_filename(export_dir: PathLike) -> Path:
    """What the restore op's filename tensor is fed: `export` or the shard pattern."""
    root = Path(export_dir)
    if (root / VARIABLES_FILENAME).exists() or (root / f"{VARIABLES_FILENAME}.index").exists():
        return root / VARIABLES_FILENAME
    return root / VARIABLES_PATTERN


def has_variables(export_dir: PathLike) -> bool:
    root = Path(export_dir)
    return (
        (root / VARIABLES_FILENAME).is_file()
        or (root / f"{VARIABLES_FILENAME}.index").is_file()
        or any(root.glob(VARIABLES_PATTERN))
    )


def read_meta_graph(export_dir: PathLike) -> meta_graph_pb2.MetaGraphDef:
    path = Path(export_dir) / META_GRAPH_FILENAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror}") from None
    meta_graph = meta_graph_pb2.MetaGraphDef()
    try:
        meta_graph.ParseFromString(data)
    except (proto_message.DecodeError, RecursionError) as exc:
        raise FormatError(f"{path}: not a valid MetaGraphDef ({exc})") from None
    return meta_graph


def read_as_saved_model(export_dir: PathLike) -> saved_model_pb2.SavedModel:
    """The session bundle at `export_dir` as a one-MetaGraphDef SavedModel (see the module doc)."""
    root = Path(export_dir)
    source = str(root / META_GRAPH_FILENAME)
    meta_graph = read_meta_graph(root)
    serving_graph = _serving_graph(meta_graph, source)
    if serving_graph is not None:
        meta_graph.graph_def.CopyFrom(serving_graph)
    del meta_graph.meta_info_def.tags[:]
    meta_graph.meta_info_def.tags.append(SERVE_TAG)
    for key, signature_def in convert_signatures(meta_graph, source).items():
        meta_graph.signature_def[key].CopyFrom(signature_def)
    for asset in _assets(meta_graph, source):
        meta_graph.asset_file_def.add(
            filename=asset.filename
        ).tensor_info.name = asset.tensor_binding.tensor_name
    init_op = _init_op(meta_graph, source)
    if init_op is not None:  # serving_init_op is what TF Serving runs: it wins over legacy_init_op
        collection = meta_graph.collection_def[LEGACY_INIT_OP_KEY]
        collection.Clear()
        collection.node_list.value.append(init_op)
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    proto.meta_graphs.add().CopyFrom(meta_graph)
    return proto


# --------------------------------------------------------------------------- collections


def _unpack(item: any_pb2.Any, message: proto_message.Message, source: str, key: str) -> None:
    name = message.DESCRIPTOR.name
    if item.type_url.rsplit("/", 1)[-1].rsplit(".", 1)[-1] != name:
        raise FormatError(f"{source}: collection {key!r} holds a {item.type_url}, expected a {name}")
    try:
        message.ParseFromString(item.value)
    except (proto_message.DecodeError, RecursionError) as exc:
        raise FormatError(f"{source}: collection {key!r}: cannot parse its {name} ({exc})") from None


def _any_list(meta_graph: meta_graph_pb2.MetaGraphDef, key: str) -> list[any_pb2.Any]:
    collection = meta_graph.collection_def.get(key)
    return list(collection.any_list.value) if collection is not None else []


def _serving_graph(meta_graph: meta_graph_pb2.MetaGraphDef, source: str) -> graph_pb2.GraphDef | None:
    if GRAPH_KEY not in meta_graph.collection_def:
        return None
    items = _any_list(meta_graph, GRAPH_KEY)
    if len(items) != 1:
        raise FormatError(f"{source}: expected exactly one GraphDef in {GRAPH_KEY!r}, found {len(items)}")
    graph = graph_pb2.GraphDef()
    _unpack(items[0], graph, source, GRAPH_KEY)
    return graph


def _assets(
    meta_graph: meta_graph_pb2.MetaGraphDef, source: str
) -> list[session_bundle_manifest_pb2.AssetFile]:
    assets = []
    for item in _any_list(meta_graph, ASSETS_KEY):
        asset = session_bundle_manifest_pb2.AssetFile()
        _unpack(item, asset, source, ASSETS_KEY)
        assets.append(asset)
    return assets


def _init_op(meta_graph: meta_graph_pb2.MetaGraphDef, source: str) -> str | None:
    collection = meta_graph.collection_def.get(INIT_OP_KEY)
    if collection is None:
        return None
    values = list(collection.node_list.value)
    if len(values) != 1:
        raise FormatError(
            f"{source}: expected exactly one serving init op in {INIT_OP_KEY!r}, found {len(values)}"
        )
    return values[0]


def read_signatures(
    meta_graph: meta_graph_pb2.MetaGraphDef, source: str
) -> session_bundle_manifest_pb2.Signatures:
    signatures = session_bundle_manifest_pb2.Signatures()
    items = _any_list(meta_graph, SIGNATURES_KEY)
    if len(items) > 1:
        raise FormatError(f"{source}: expected one Signatures in {SIGNATURES_KEY!r}, found {len(items)}")
    if items:
        _unpack(items[0], signatures, source, SIGNATURES_KEY)
    return signatures


# --------------------------------------------------------------------------- signatures


def convert_signatures(
    meta_graph: meta_graph_pb2.MetaGraphDef, source: str = "session bundle"
) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs TF Serving's bundle shim derives from the `serving_signatures` manifest."""
    signatures = read_signatures(meta_graph, source)
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    if signatures.HasField("default_signature"):
        signature_def = _convert_default(signatures.default_signature, source)
    elif signatures.named_signatures:
        signature_def = _convert_named(signatures, source)
    else:
        return {}
    producer = meta_graph.graph_def.versions.producer
    for infos in (signature_def.inputs, signature_def.outputs):
        for info in infos.values():
            _describe_tensor(info, nodes, producer)
    return {DEFAULT_SIGNATURE_KEY: signature_def}


def _bind(infos: object, key: str, binding: session_bundle_manifest_pb2.TensorBinding) -> None:
    if binding.tensor_name:
        infos[key].name = binding.tensor_name  # type: ignore[index]


def _convert_default(
    signature: session_bundle_manifest_pb2.Signature, source: str
) -> meta_graph_pb2.SignatureDef:
    kind = signature.WhichOneof("type")
    signature_def = meta_graph_pb2.SignatureDef()
    if kind == "regression_signature":
        regression = signature.regression_signature
        signature_def.method_name = REGRESS_METHOD
        _bind(signature_def.inputs, "inputs", regression.input)
        _bind(signature_def.outputs, "outputs", regression.output)
    elif kind == "classification_signature":
        classification = signature.classification_signature
        signature_def.method_name = CLASSIFY_METHOD
        _bind(signature_def.inputs, "inputs", classification.input)
        _bind(signature_def.outputs, "classes", classification.classes)
        _bind(signature_def.outputs, "scores", classification.scores)
    else:
        raise FormatError(
            f"{source}: only classification and regression default signatures can be up-converted "
            f"(found {kind or 'an empty signature'})"
        )
    return signature_def


def _convert_named(
    signatures: session_bundle_manifest_pb2.Signatures, source: str
) -> meta_graph_pb2.SignatureDef:
    named = signatures.named_signatures
    if "inputs" not in named or "outputs" not in named:
        raise FormatError(
            f"{source}: named signatures can be up-converted only when both 'inputs' and 'outputs' exist"
        )
    inputs, outputs = named["inputs"], named["outputs"]
    if inputs.WhichOneof("type") != "generic_signature" or outputs.WhichOneof("type") != "generic_signature":
        raise FormatError(f"{source}: the 'inputs' and 'outputs' named signatures must be generic signatures")
    signature_def = meta_graph_pb2.SignatureDef(method_name=PREDICT_METHOD)
    for key, binding in inputs.generic_signature.map.items():
        _bind(signature_def.inputs, key, binding)
    for key, binding in outputs.generic_signature.map.items():
        _bind(signature_def.outputs, key, binding)
    return signature_def


_DTYPE_ATTRS = ("dtype", "T", "out_type", "Tout", "DstT")
_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})


def _describe_tensor(info: meta_graph_pb2.TensorInfo, nodes: dict[str, object], producer: int) -> None:
    """Fill a name-only TensorInfo's dtype and shape from what the graph states about it."""
    name, _, index = info.name.partition(":")
    node = nodes.get(name)
    info.tensor_shape.unknown_rank = True
    if node is None:
        return
    attr = node.attr  # type: ignore[attr-defined]
    output = int(index or 0) if (index or "0").isdigit() else 0
    if node.op in _PLACEHOLDERS and "shape" in attr:  # type: ignore[attr-defined]
        if not is_legacy_unknown_shape(node, producer):  # producer <= 21: `shape {}` is unknown
            info.tensor_shape.CopyFrom(attr["shape"].shape)
    elif "_output_shapes" in attr and output < len(attr["_output_shapes"].list.shape):
        info.tensor_shape.CopyFrom(attr["_output_shapes"].list.shape[output])
    if output == 0:
        for key in _DTYPE_ATTRS:
            if key in attr and attr[key].type != types_pb2.DT_INVALID:
                info.dtype = attr[key].type % 100  # a reference dtype's base type
                break
