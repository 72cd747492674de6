"""`fingerprint.pb` (FingerprintDef): reading it, and computing it as TensorFlow 2.21 does.

TensorFlow (fingerprint producer 4 in 2.21) fills the fields from the first
MetaGraphDef of `saved_model.pb` and the variables index:

* saved_model_checksum: Fingerprint64 of the SavedModel's deterministic C++
  serialization, re-made from the parsed proto. It differs from the file's
  bytes (written by Python's upb serializer) only in the order of map entries:
  C++ sorts keys properly (integers ascending, a string before its
  extensions), upb does not (integers descending, 'identity_1' before 'identity').
* graph_def_program_hash: Fingerprint64 of the GraphDef after "simple delete":
  for (Stateful)PartitionedCall nodes, strip the numeric UID suffix of the `f`
  function name and empty the `config_proto` string; clear the value of string
  Const nodes; then clear the library and versions -- which C++ leaves present
  but empty, so they still serialize as empty submessages.
* signature_def_hash: over the signatures sorted by key, FingerprintCat64 of the
  running hash with Fingerprint64(key), then with Fingerprint64(serialized def).
* saved_object_graph_hash: over the concrete functions sorted by their UID
  suffix, the same chaining with the name minus its UID and the serialized
  SavedConcreteFunction (0 when there are none).
* checkpoint_hash: Fingerprint64 of `variables/variables.index` (0 if absent).

Fingerprint64 is FarmHash's Fingerprint64 (savedmodel.format.farmhash, backed by
the `pyfarmhash` package).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from savedmodel.errors import FormatError
from savedmodel.format import saved_model as saved_model_io
from savedmodel.format.farmhash import fingerprint64
from savedmodel.format.sstable import decode_varint
from savedmodel.proto import (
    attr_value_pb2,
    fingerprint_pb2,
    graph_pb2,
    meta_graph_pb2,
    saved_model_pb2,
    types_pb2,
)

FINGERPRINT_PRODUCER = 4
_U64 = (1 << 64) - 1
_CAT_MUL = 0xC6A4A7935BD1E995
_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
_ZIGZAG_TYPES = frozenset({FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64})
_SIGNED_TYPES = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64})

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------- hashes


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def fingerprint_cat64(first: int, second: int) -> int:
    """Combine two fingerprints (tensorflow::FingerprintCat64)."""
    result = first ^ _CAT_MUL
    result ^= (_shift_mix((second * _CAT_MUL) & _U64) * _CAT_MUL) & _U64
    result = (result * _CAT_MUL) & _U64
    result = (_shift_mix(result) * _CAT_MUL) & _U64
    return _shift_mix(result)


# --------------------------------------------------------------------------- C++-order serialization


def _skip_field(buf: bytearray, pos: int, end: int) -> tuple[int, int, int, int]:
    """Parse the record at `pos`: (field number, wire type, payload start, record end)."""
    key, pos = decode_varint(buf, pos, end)
    number, wire = key >> 3, key & 7
    payload = pos
    if wire == 0:
        _, pos = decode_varint(buf, pos, end)
    elif wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    elif wire == 2:
        length, payload = decode_varint(buf, pos, end)
        pos = payload + length
    else:
        raise FormatError(f"unsupported protobuf wire type {wire}")
    if pos > end:
        raise FormatError("truncated protobuf message")
    return number, wire, payload, pos


def _map_key(buf: bytearray, start: int, end: int, key_field: FieldDescriptor) -> tuple:
    """Sort key of the map entry serialized in buf[start:end], in C++'s order for the key's type."""
    pos = start
    while pos < end:
        number, wire, payload, pos = _skip_field(buf, pos, end)
        if number != 1:
            continue
        if wire == 2:
            return (bytes(buf[payload:pos]),)
        if wire == 0:
            value = decode_varint(buf, payload, pos)[0]
            if key_field.type in _ZIGZAG_TYPES:
                value = (value >> 1) ^ -(value & 1)
            elif key_field.type in _SIGNED_TYPES and value >= 1 << 63:
                value -= 1 << 64
            return (value,)
        signed = key_field.type in (FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64)
        return (int.from_bytes(buf[payload:pos], "little", signed=signed),)
    return (b"",) if key_field.type == FieldDescriptor.TYPE_STRING else (0,)


_HAS_MAPS: dict[str, bool] = {}


def _has_maps(descriptor: Descriptor) -> bool:
    """Whether messages of this type can hold a map field, directly or nested (TensorProto cannot,
    so a tensor's bytes are never walked)."""
    name = descriptor.full_name
    if name not in _HAS_MAPS:
        _HAS_MAPS[name] = False  # a recursive type is decided by its other fields
        _HAS_MAPS[name] = any(
            f.message_type is not None
            and (f.message_type.GetOptions().map_entry or _has_maps(f.message_type))
            for f in descriptor.fields
        )
    return _HAS_MAPS[name]


def _sort_runs(buf: bytearray, start: int, end: int, descriptor: Descriptor) -> None:
    """Put, in place, every map's entries in buf[start:end] (a serialized `descriptor`) in C++'s
    key order. Reordering keeps every length, so nothing moves but the entries of a map."""
    run: list[tuple[tuple, int, int]] = []
    run_field = -1
    pos = start
    while pos < end:
        record = pos
        number, wire, payload, pos = _skip_field(buf, pos, end)
        if run and number != run_field:
            _sort_run(buf, run)
            run = []
        field = descriptor.fields_by_number.get(number)
        if field is None or field.message_type is None or wire != 2:
            continue
        entry = field.message_type
        if _has_maps(entry):
            _sort_runs(buf, payload, pos, entry)
        if entry.GetOptions().map_entry:
            run.append((_map_key(buf, payload, pos, entry.fields_by_number[1]), record, pos))
            run_field = number
    if run:
        _sort_run(buf, run)


def _sort_run(buf: bytearray, run: list[tuple[tuple, int, int]]) -> None:
    ordered = sorted(run, key=lambda item: item[0])
    if ordered == run:
        return
    first = run[0][1]
    records = [bytes(buf[a:b]) for _, a, b in ordered]
    pos = first
    for record in records:
        buf[pos : pos + len(record)] = record
        pos += len(record)


def serialize_like_cpp(saved_model: saved_model_pb2.SavedModel) -> bytes:
    """The SavedModel as TensorFlow's C++ deterministic serialization writes it: the same bytes
    as a deterministic serialization but with every map's entries in C++'s key order."""
    buf = bytearray(saved_model.SerializeToString(deterministic=True))
    _sort_runs(buf, 0, len(buf), saved_model.DESCRIPTOR)
    return bytes(buf)


# --------------------------------------------------------------------------- the five hashes


def _suffix_uid(name: str) -> int | None:
    """The number after the last '_' (TF's GetSuffixUID), or None."""
    last = name.rsplit("_", 1)[-1]
    return int(last) if last.isascii() and last.isdigit() else None


def _strip_uid(name: str, uid: int) -> str:
    suffix = str(uid)
    return name[: -len(suffix)] if name.endswith(suffix) else name


def regularized_graph_def(graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """TensorFlow's SimpleDelete regularization (see the module docstring). The library is
    not copied (it is cleared), nor are the values of string constants."""
    graph = graph_pb2.GraphDef()
    for field, value in graph_def.ListFields():
        if field.name in ("library", "versions", "node"):
            continue
        if field.message_type is not None and field.label != field.LABEL_REPEATED:
            getattr(graph, field.name).CopyFrom(value)
        elif field.label == field.LABEL_REPEATED:
            getattr(graph, field.name).extend(value)
        else:
            setattr(graph, field.name, value)
    for source in graph_def.node:
        string_const = (
            source.op == "Const"
            and "dtype" in source.attr
            and source.attr["dtype"].type == types_pb2.DT_STRING
        )
        node = graph.node.add()
        if string_const:  # copy all but the value, which is cleared
            node.name, node.op, node.device = source.name, source.op, source.device
            node.input.extend(source.input)
            for key, attr in source.attr.items():
                node.attr[key].CopyFrom(attr_value_pb2.AttrValue() if key == "value" else attr)
            if source.HasField("experimental_debug_info"):
                node.experimental_debug_info.CopyFrom(source.experimental_debug_info)
            if source.HasField("experimental_type"):
                node.experimental_type.CopyFrom(source.experimental_type)
            continue
        node.CopyFrom(source)
        if node.op in _CALL_OPS:
            if "f" in node.attr:
                name = node.attr["f"].func.name
                uid = _suffix_uid(name)
                if uid is not None:
                    node.attr["f"].func.name = _strip_uid(name, uid)
            if "config_proto" in node.attr:
                node.attr["config_proto"].s = b""
    graph.library.SetInParent()
    graph.versions.SetInParent()
    return graph


def graph_def_program_hash(graph_def: graph_pb2.GraphDef) -> int:
    return fingerprint64(regularized_graph_def(graph_def).SerializeToString(deterministic=True))


def signature_def_hash(meta_graph: meta_graph_pb2.MetaGraphDef) -> int:
    result = 0
    for key in sorted(meta_graph.signature_def, key=lambda k: k.encode("utf-8")):
        result = fingerprint_cat64(result, fingerprint64(key.encode("utf-8")))
        serialized = meta_graph.signature_def[key].SerializeToString(deterministic=True)
        result = fingerprint_cat64(result, fingerprint64(serialized))
    return result


def saved_object_graph_hash(meta_graph: meta_graph_pb2.MetaGraphDef) -> int:
    functions = meta_graph.object_graph_def.concrete_functions
    by_uid: dict[int, str] = {}
    for name in functions:
        uid = _suffix_uid(name)
        if uid is None:
            raise FormatError(f"concrete function name {name!r} does not end in a numeric UID")
        by_uid.setdefault(uid, name)  # TF keeps the first name seen for a UID
    result = 0
    for uid in sorted(by_uid):
        name = by_uid[uid]
        result = fingerprint_cat64(result, fingerprint64(_strip_uid(name, uid).encode("utf-8")))
        result = fingerprint_cat64(
            result, fingerprint64(functions[name].SerializeToString(deterministic=True))
        )
    return result


def checkpoint_hash(export_dir: PathLike) -> int:
    index = Path(export_dir) / saved_model_io.VARIABLES_DIR / f"{saved_model_io.VARIABLES_PREFIX}.index"
    try:
        return fingerprint64(index.read_bytes())
    except OSError:
        return 0


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Fingerprint:
    saved_model_checksum: int
    graph_def_program_hash: int
    signature_def_hash: int
    saved_object_graph_hash: int
    checkpoint_hash: int
    version: int = FINGERPRINT_PRODUCER
    uuid: str = ""

    def singleprint(self) -> str:
        """TF's singleprint: the four regularized hashes joined by '/'."""
        return (
            f"{self.graph_def_program_hash}/{self.signature_def_hash}/"
            f"{self.saved_object_graph_hash}/{self.checkpoint_hash}"
        )

    def to_proto(self) -> fingerprint_pb2.FingerprintDef:
        proto = fingerprint_pb2.FingerprintDef(
            saved_model_checksum=self.saved_model_checksum,
            graph_def_program_hash=self.graph_def_program_hash,
            signature_def_hash=self.signature_def_hash,
            saved_object_graph_hash=self.saved_object_graph_hash,
            checkpoint_hash=self.checkpoint_hash,
            uuid=self.uuid,
        )
        proto.version.producer = self.version
        return proto

    @classmethod
    def from_proto(cls, proto: fingerprint_pb2.FingerprintDef) -> Fingerprint:
        return cls(
            proto.saved_model_checksum,
            proto.graph_def_program_hash,
            proto.signature_def_hash,
            proto.saved_object_graph_hash,
            proto.checkpoint_hash,
            proto.version.producer,
            proto.uuid,
        )


def read_fingerprint(export_dir: PathLike) -> Fingerprint:
    """The FingerprintDef stored in `<export_dir>/fingerprint.pb`."""
    path = Path(export_dir) / saved_model_io.FINGERPRINT_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"no fingerprint file {path}") from None
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror}") from None
    proto = fingerprint_pb2.FingerprintDef()
    try:
        proto.ParseFromString(data)
    except Exception:
        raise FormatError(f"{path}: not a valid FingerprintDef") from None
    return Fingerprint.from_proto(proto)


def compute_fingerprint(
    export_dir: PathLike, saved_model: saved_model_pb2.SavedModel | None = None, uuid: str | None = None
) -> Fingerprint:
    """The fingerprint TensorFlow 2.21 would write for a SavedModel directory.

    `saved_model` defaults to the directory's saved_model.pb; `uuid` defaults to
    a fresh random 128-bit number in decimal, as TF writes it.
    """
    proto = saved_model if saved_model is not None else saved_model_io.read_saved_model(export_dir)
    if not proto.meta_graphs:
        raise FormatError(f"{export_dir}: the SavedModel holds no MetaGraphDef")
    meta_graph = proto.meta_graphs[0]
    return Fingerprint(
        saved_model_checksum=fingerprint64(serialize_like_cpp(proto)),
        graph_def_program_hash=graph_def_program_hash(meta_graph.graph_def),
        signature_def_hash=signature_def_hash(meta_graph),
        saved_object_graph_hash=saved_object_graph_hash(meta_graph),
        checkpoint_hash=checkpoint_hash(export_dir),
        uuid=uuid if uuid is not None else str(int.from_bytes(secrets.token_bytes(16), "big")),
    )


def write_fingerprint(export_dir: PathLike, fingerprint: Fingerprint | None = None) -> Path:
    """Compute (unless given) and write `<export_dir>/fingerprint.pb`; returns its path."""
    from savedmodel.format.atomic import atomic_write_bytes

    fingerprint = fingerprint or compute_fingerprint(export_dir)
    path = Path(export_dir) / saved_model_io.FINGERPRINT_NAME
    return atomic_write_bytes(
        path, fingerprint.to_proto().SerializeToString(deterministic=True), overwrite=True
    )
