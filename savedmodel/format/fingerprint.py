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

import copy
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from savedmodel.errors import FormatError
from savedmodel.format import saved_model as saved_model_io
from savedmodel.format.farmhash import fingerprint64
from savedmodel.format.sstable import decode_varint, encode_varint
from savedmodel.proto import fingerprint_pb2, graph_pb2, meta_graph_pb2, saved_model_pb2, types_pb2

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


def _fields(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """Split a serialized message into (field number, wire type, raw record, payload)."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = decode_varint(data, pos)
        number, wire = key >> 3, key & 7
        payload = b""
        if wire == 0:
            _, pos = decode_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = decode_varint(data, pos)
            payload = data[pos : pos + length]
            pos += length
        else:
            raise FormatError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise FormatError("truncated protobuf message")
        out.append((number, wire, data[start:pos], payload))
    return out


def _map_key(entry: bytes, key_field: FieldDescriptor) -> tuple:
    """Sort key of a serialized map entry, in C++'s order for the key's type."""
    for number, wire, raw, payload in _fields(entry):
        if number != 1:
            continue
        if wire == 2:
            return (payload,)
        if wire == 0:
            value = decode_varint(raw, 1)[0]
            if key_field.type in _ZIGZAG_TYPES:
                value = (value >> 1) ^ -(value & 1)
            elif key_field.type in _SIGNED_TYPES and value >= 1 << 63:
                value -= 1 << 64
            return (value,)
        signed = key_field.type in (FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64)
        return (int.from_bytes(raw[1:], "little", signed=signed),)
    return (b"",) if key_field.type == FieldDescriptor.TYPE_STRING else (0,)


def _canonical(data: bytes, descriptor: Descriptor) -> bytes:
    """Re-emit a deterministic serialization with every map's entries in C++'s key order."""
    out = bytearray()
    run: list[tuple[tuple, bytes]] = []
    run_field = -1

    def flush() -> None:
        out.extend(b"".join(record for _, record in sorted(run, key=lambda item: item[0])))
        run.clear()

    for number, wire, raw, payload in _fields(data):
        if run and number != run_field:
            flush()
        field = descriptor.fields_by_number.get(number)
        if field is None or field.message_type is None or wire != 2:
            out += raw
            continue
        inner = _canonical(payload, field.message_type)
        record = encode_varint((number << 3) | 2) + encode_varint(len(inner)) + inner
        if field.message_type.GetOptions().map_entry:
            run.append((_map_key(inner, field.message_type.fields_by_number[1]), record))
            run_field = number
        else:
            out += record
    if run:
        flush()
    return bytes(out)


def serialize_like_cpp(saved_model: saved_model_pb2.SavedModel) -> bytes:
    """The SavedModel as TensorFlow's C++ deterministic serialization writes it."""
    return _canonical(saved_model.SerializeToString(deterministic=True), saved_model.DESCRIPTOR)


# --------------------------------------------------------------------------- the five hashes


def _suffix_uid(name: str) -> int | None:
    """The number after the last '_' (TF's GetSuffixUID), or None."""
    last = name.rsplit("_", 1)[-1]
    return int(last) if last.isascii() and last.isdigit() else None


def _strip_uid(name: str, uid: int) -> str:
    suffix = str(uid)
    return name[: -len(suffix)] if name.endswith(suffix) else name


def regularized_graph_def(graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """TensorFlow's SimpleDelete regularization (see the module docstring)."""
    graph = copy.deepcopy(graph_def)
    for node in graph.node:
        if node.op in _CALL_OPS:
            if "f" in node.attr:
                name = node.attr["f"].func.name
                uid = _suffix_uid(name)
                if uid is not None:
                    node.attr["f"].func.name = _strip_uid(name, uid)
            if "config_proto" in node.attr:
                node.attr["config_proto"].s = b""
        if node.op == "Const" and "dtype" in node.attr and node.attr["dtype"].type == types_pb2.DT_STRING:
            node.attr["value"].Clear()
    graph.library.Clear()
    graph.library.SetInParent()
    graph.versions.Clear()
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
