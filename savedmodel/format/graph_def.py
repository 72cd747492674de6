"""Reading a bare GraphDef file (a frozen graph): binary `.pb` or text `.pbtxt`."""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import message as proto_message
from google.protobuf import text_format

from savedmodel.errors import FormatError
from savedmodel.proto import graph_pb2, meta_graph_pb2

PathLike = str | os.PathLike
TEXT_SUFFIXES = (".pbtxt", ".pbtext", ".txt", ".prototxt")


def _parse(data: bytes, as_text: bool) -> graph_pb2.GraphDef:
    graph_def = graph_pb2.GraphDef()
    if as_text:
        text_format.Parse(data.decode("utf-8"), graph_def)
    else:
        graph_def.ParseFromString(data)
    return graph_def


_PARSE_ERRORS = (proto_message.DecodeError, text_format.ParseError, UnicodeDecodeError, RecursionError)


def parse_graph_def(data: bytes, source: str = "GraphDef", as_text: bool | None = None) -> graph_pb2.GraphDef:
    """A GraphDef from its bytes. `as_text` None tries the binary form, then the text form
    (binary parsing takes many text files for a GraphDef of unknown fields and no nodes)."""
    errors: list[str] = []
    for text in [as_text] if as_text is not None else [False, True]:
        try:
            graph_def = _parse(data, text)
        except _PARSE_ERRORS as exc:
            errors.append(f"{'text' if text else 'binary'}: {exc}")
            continue
        if graph_def.node or not data.strip():
            return graph_def
        errors.append(f"{'text' if text else 'binary'}: no nodes")
    raise FormatError(f"{source}: not a valid GraphDef ({'; '.join(errors)})")


def read_graph_def(path: PathLike) -> graph_pb2.GraphDef:
    """The GraphDef in `path`: text when the name ends in .pbtxt (or .txt), else binary,
    falling back to text. A MetaGraphDef file (`.meta`) gives its graph."""
    file = Path(path)
    if not file.exists():
        raise FormatError(f"GraphDef file does not exist: {file}")
    if file.is_dir():
        raise FormatError(f"{file} is a directory, not a GraphDef file (use --dir for a SavedModel)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {file}: {exc.strerror or exc}") from None
    as_text = True if file.suffix.lower() in TEXT_SUFFIXES else None
    try:
        return parse_graph_def(data, str(file), as_text)
    except FormatError:
        if file.name in ("saved_model.pb", "saved_model.pbtxt"):
            raise FormatError(f"{file} is a SavedModel, not a GraphDef: use --dir {file.parent}") from None
        meta = _meta_graph(data, as_text)
        if meta is None:
            raise
        return meta.graph_def


def _meta_graph(data: bytes, as_text: bool | None) -> meta_graph_pb2.MetaGraphDef | None:
    """A MetaGraphDef file (`.meta`, as tf1.train.Saver writes it) holding a graph, else None."""
    meta = meta_graph_pb2.MetaGraphDef()
    for text in [as_text] if as_text is not None else [False, True]:
        try:
            if text:
                text_format.Parse(data.decode("utf-8"), meta)
            else:
                meta.ParseFromString(data)
        except _PARSE_ERRORS:
            meta.Clear()
            continue
        if meta.graph_def.node:
            return meta
    return None
