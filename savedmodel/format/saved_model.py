"""Reading and writing `saved_model.pb` / `saved_model.pbtxt` and choosing a MetaGraphDef."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import message as proto_message
from google.protobuf import text_format

from savedmodel.errors import FormatError, NotFoundError
from savedmodel.format.atomic import atomic_directory
from savedmodel.proto import meta_graph_pb2, saved_model_pb2

PB_NAME = "saved_model.pb"
PBTXT_NAME = "saved_model.pbtxt"
VARIABLES_DIR = "variables"
VARIABLES_PREFIX = "variables"
ASSETS_DIR = "assets"
EXTRA_ASSETS_DIR = "assets.extra"
FINGERPRINT_NAME = "fingerprint.pb"
KERAS_METADATA_NAME = "keras_metadata.pb"

PathLike = str | os.PathLike[str]


def saved_model_file(export_dir: PathLike) -> Path:
    """Path of the saved_model.pb (preferred) or saved_model.pbtxt in a directory."""
    root = Path(export_dir)
    if not root.is_dir():
        raise FormatError(f"SavedModel directory does not exist: {root}")
    for name in (PB_NAME, PBTXT_NAME):
        if (root / name).is_file():
            return root / name
    raise FormatError(f"no {PB_NAME} or {PBTXT_NAME} in {root}")


def parse_saved_model(
    data: bytes, source: str = "<bytes>", as_text: bool = False
) -> saved_model_pb2.SavedModel:
    proto = saved_model_pb2.SavedModel()
    try:
        if as_text:
            text_format.Parse(data.decode("utf-8"), proto, allow_unknown_extension=True)
        else:
            proto.ParseFromString(data)
    except (proto_message.DecodeError, text_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
        raise FormatError(f"{source}: not a valid SavedModel proto ({exc})") from None
    if not as_text and data and not proto.meta_graphs:
        raise FormatError(f"{source}: not a valid SavedModel proto (no MetaGraphDef found)")
    return proto


def read_saved_model(export_dir: PathLike) -> saved_model_pb2.SavedModel:
    """Parse the SavedModel proto of an export directory.

    A TF Serving session bundle (`export.meta`, no saved_model.pb) is read up-converted
    to a SavedModel (see savedmodel.format.session_bundle).
    """
    from savedmodel.format import session_bundle

    if session_bundle.is_session_bundle(export_dir):
        return session_bundle.read_as_saved_model(export_dir)
    path = saved_model_file(export_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror}") from None
    proto = parse_saved_model(data, str(path), as_text=path.name == PBTXT_NAME)
    if not proto.meta_graphs:
        raise FormatError(f"{path}: the SavedModel holds no MetaGraphDef")
    return proto


def parse_tag_set(tag_set: str | Iterable[str] | None) -> frozenset[str]:
    """'serve,gpu' or ['serve', 'gpu'] -> frozenset; None -> {'serve'}."""
    if tag_set is None:
        return frozenset({"serve"})
    if isinstance(tag_set, str):
        return frozenset(t.strip() for t in tag_set.split(",") if t.strip())
    return frozenset(tag_set)


def tag_sets(saved_model: saved_model_pb2.SavedModel) -> list[list[str]]:
    return [list(mg.meta_info_def.tags) for mg in saved_model.meta_graphs]


def find_meta_graph(
    saved_model: saved_model_pb2.SavedModel, tags: str | Iterable[str] | None, source: str = "SavedModel"
) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef whose tag set equals `tags` (as sets).

    With `tags=None`, a SavedModel with a single MetaGraphDef yields it, else the
    one tagged exactly {'serve'}.
    """
    if tags is None and len(saved_model.meta_graphs) == 1:
        return saved_model.meta_graphs[0]
    wanted = parse_tag_set(tags)
    for meta_graph in saved_model.meta_graphs:
        if frozenset(meta_graph.meta_info_def.tags) == wanted:
            return meta_graph
    available = "; ".join(",".join(sorted(t)) or "<no tags>" for t in tag_sets(saved_model))
    raise NotFoundError(
        f"{source}: no MetaGraphDef with tag set {','.join(sorted(wanted))!r} "
        f"(available tag sets: {available})"
    )


def serialize_saved_model(proto: saved_model_pb2.SavedModel, as_text: bool = False) -> bytes:
    if as_text:
        return text_format.MessageToString(proto).encode("utf-8")
    return proto.SerializeToString(deterministic=True)


def write_saved_model_proto(
    proto: saved_model_pb2.SavedModel, export_dir: PathLike, as_text: bool = False
) -> Path:
    """Write saved_model.pb(txt) into an existing (possibly temporary) directory."""
    path = Path(export_dir) / (PBTXT_NAME if as_text else PB_NAME)
    path.write_bytes(serialize_saved_model(proto, as_text))
    return path


def write_saved_model(
    proto: saved_model_pb2.SavedModel, export_dir: PathLike, as_text: bool = False, overwrite: bool = False
) -> Path:
    """Write a SavedModel holding only the proto, atomically (see `atomic_directory`)."""
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        write_saved_model_proto(proto, tmp, as_text)
    return Path(export_dir)
