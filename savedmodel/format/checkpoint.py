"""Checkpoints: TF1 name-based and TF2 object-based, both stored as TensorBundles.

`CheckpointReader` accepts a checkpoint prefix (`model.ckpt-42`), a directory
holding a `checkpoint` state file, or a SavedModel directory (whose variables
are the bundle `variables/variables`).

TF2 checkpoints store a TrackableObjectGraph under `_CHECKPOINTABLE_OBJECT_GRAPH`;
a variable's key is `<escaped object path>/.ATTRIBUTES/VARIABLE_VALUE`, where each
local name is escaped (`.` -> `..`, `/` -> `.S`) and the path is the first
breadth-first path from the root object.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import FormatError, NotFoundError
from savedmodel.format import bundle, dtypes
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.proto import trackable_object_graph_pb2

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
ATTRIBUTES_MARKER = ".ATTRIBUTES"
VARIABLE_VALUE = "VARIABLE_VALUE"
OPTIMIZER_SLOT_MARKER = ".OPTIMIZER_SLOT"
STATE_FILE = "checkpoint"

TrackableObjectGraph = trackable_object_graph_pb2.TrackableObjectGraph
PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------- name escaping


def escape_local_name(name: str) -> str:
    """Escape one object-graph local name for use in a checkpoint key."""
    return name.replace(".", "..").replace("/", ".S")


def unescape_local_name(escaped: str) -> str:
    """Inverse of `escape_local_name`."""
    out = []
    i = 0
    while i < len(escaped):
        char = escaped[i]
        if char == "." and i + 1 < len(escaped):
            following = escaped[i + 1]
            if following == ".":
                out.append(".")
                i += 2
                continue
            if following == "S":
                out.append("/")
                i += 2
                continue
        out.append(char)
        i += 1
    return "".join(out)


def object_path_to_key_prefix(path: Sequence[str]) -> str:
    """('net', 'odd.name') -> 'net/odd..name'."""
    return "/".join(escape_local_name(part) for part in path)


def checkpoint_key(path: Sequence[str], attribute: str = VARIABLE_VALUE) -> str:
    """The key of an object's attribute: 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE'."""
    return f"{object_path_to_key_prefix(path)}/{ATTRIBUTES_MARKER}/{escape_local_name(attribute)}"


def split_checkpoint_key(key: str) -> tuple[tuple[str, ...], str] | None:
    """'a/b..c/.ATTRIBUTES/VARIABLE_VALUE' -> (('a', 'b.c'), 'VARIABLE_VALUE'); None for TF1 names."""
    marker = f"/{ATTRIBUTES_MARKER}/"
    if marker not in key:
        return None
    prefix, attribute = key.rsplit(marker, 1)
    return tuple(unescape_local_name(p) for p in prefix.split("/")), unescape_local_name(attribute)


# --------------------------------------------------------------------------- object graphs


@dataclass(frozen=True)
class ObjectAttribute:
    """One serialized attribute of a node of the object graph."""

    node_id: int
    path: tuple[str, ...]  # local names from the root (unescaped)
    name: str  # e.g. VARIABLE_VALUE
    checkpoint_key: str
    full_name: str

    @property
    def path_string(self) -> str:
        return "/".join(self.path)


def parse_object_graph(data: bytes, source: str = "checkpoint") -> TrackableObjectGraph:
    graph = TrackableObjectGraph()
    try:
        graph.ParseFromString(data)
    except Exception:
        raise FormatError(f"{source}: corrupt {OBJECT_GRAPH_KEY} (not a TrackableObjectGraph)") from None
    return graph


def node_paths(graph: TrackableObjectGraph) -> dict[int, tuple[str, ...]]:
    """Each reachable node's first breadth-first path of local names from the root (node 0)."""
    if not graph.nodes:
        return {}
    paths: dict[int, tuple[str, ...]] = {0: ()}
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        for child in graph.nodes[node_id].children:
            if child.node_id not in paths and 0 <= child.node_id < len(graph.nodes):
                paths[child.node_id] = paths[node_id] + (child.local_name,)
                queue.append(child.node_id)
    _add_slot_paths(graph, paths)
    return paths


def _add_slot_paths(graph: TrackableObjectGraph, paths: dict[int, tuple[str, ...]]) -> None:
    """Slot variables (optimizer state) hang off the optimizer, named after their variable."""
    for optimizer_id, node in enumerate(graph.nodes):
        for slot in node.slot_variables:
            if slot.slot_variable_node_id in paths:
                continue
            variable_path = paths.get(slot.original_variable_node_id)
            optimizer_path = paths.get(optimizer_id)
            if variable_path is None or optimizer_path is None:
                continue
            paths[slot.slot_variable_node_id] = (
                variable_path + (OPTIMIZER_SLOT_MARKER,) + optimizer_path + (slot.slot_name,)
            )


def object_graph_attributes(graph: TrackableObjectGraph) -> list[ObjectAttribute]:
    """Every serialized attribute of the graph, with its object path."""
    paths = node_paths(graph)
    out = []
    for node_id, node in enumerate(graph.nodes):
        path = paths.get(node_id)
        if path is None:
            continue
        for attribute in node.attributes:
            out.append(
                ObjectAttribute(node_id, path, attribute.name, attribute.checkpoint_key, attribute.full_name)
            )
    return out


def variables_of_object_graph(graph: TrackableObjectGraph) -> dict[str, str]:
    """Object path ('layer_with_weights-0/kernel') -> checkpoint key, for every variable.

    The path joins the unescaped local names with '/', so a local name holding
    '/' makes it ambiguous; use `object_graph_attributes` for the exact tuples.
    """
    return {
        attribute.path_string: attribute.checkpoint_key
        for attribute in object_graph_attributes(graph)
        if attribute.name == VARIABLE_VALUE
    }


def build_object_graph(paths: Iterable[Sequence[str] | str]) -> tuple[TrackableObjectGraph, dict[str, str]]:
    """An object graph holding a variable at each path, as tf.train.Checkpoint would save it.

    Paths are tuples of local names or '/'-separated strings. Returns the graph
    and a map path string -> checkpoint key.
    """
    graph = TrackableObjectGraph()
    root = graph.nodes.add()
    root.has_checkpoint_values.value = True
    children: dict[tuple[int, str], int] = {}
    keys: dict[str, str] = {}
    for raw in paths:
        path = tuple(raw.split("/")) if isinstance(raw, str) else tuple(raw)
        if not path or any(not part for part in path):
            raise FormatError(f"bad object path {raw!r}")
        node_id = 0
        for part in path:
            found = children.get((node_id, part))
            if found is None:
                found = len(graph.nodes)
                node = graph.nodes.add()
                node.has_checkpoint_values.value = True
                graph.nodes[node_id].children.add(node_id=found, local_name=part)
                children[(node_id, part)] = found
            node_id = found
        node = graph.nodes[node_id]
        if node.attributes:
            raise FormatError(f"object path {'/'.join(path)!r} given twice")
        key = checkpoint_key(path)
        node.attributes.add(name=VARIABLE_VALUE, full_name=path[-1], checkpoint_key=key)
        keys["/".join(path)] = key
    return graph, keys


# --------------------------------------------------------------------------- state file


_STATE_LINE = re.compile(r'^\s*(\w+)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _c_unescape(text: str) -> str:
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte != 0x5C or i + 1 >= len(raw):
            out.append(byte)
            i += 1
            continue
        nxt = chr(raw[i + 1])
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt].encode()
            i += 2
        elif nxt in "01234567":
            digits = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4]).group(0)  # type: ignore[union-attr]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        elif nxt == "x":
            digits = re.match(rb"[0-9a-fA-F]{1,2}", raw[i + 2 : i + 4])
            if digits is None:
                out += b"\\x"
                i += 2
            else:
                out.append(int(digits.group(0), 16))
                i += 2 + len(digits.group(0))
        else:
            out.append(raw[i + 1])
            i += 2
    return out.decode("utf-8", errors="surrogateescape")


def read_checkpoint_state(directory: PathLike, filename: str = STATE_FILE) -> dict[str, Any]:
    """Parse a `checkpoint` state file into model_checkpoint_path and all_model_checkpoint_paths."""
    path = Path(directory) / filename
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise FormatError(f"cannot read checkpoint state file {path}: {exc.strerror}") from None
    state: dict[str, Any] = {"model_checkpoint_path": None, "all_model_checkpoint_paths": []}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _STATE_LINE.match(line)
        if match is None:
            continue  # timestamps and fields we do not use
        field, value = match.group(1), _c_unescape(match.group(2))
        if field == "model_checkpoint_path":
            state["model_checkpoint_path"] = value
        elif field == "all_model_checkpoint_paths":
            state["all_model_checkpoint_paths"].append(value)
    if not state["model_checkpoint_path"]:
        raise FormatError(f"{path}: no model_checkpoint_path")
    return state


def _c_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_checkpoint_state(
    directory: PathLike,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Sequence[str] | None = None,
    filename: str = STATE_FILE,
) -> Path:
    """Write the `checkpoint` state file (paths relative to the directory are recommended)."""
    paths = list(all_model_checkpoint_paths or [model_checkpoint_path])
    lines = [f'model_checkpoint_path: "{_c_escape(model_checkpoint_path)}"']
    lines += [f'all_model_checkpoint_paths: "{_c_escape(p)}"' for p in paths]
    return atomic_write_bytes(
        Path(directory) / filename, ("\n".join(lines) + "\n").encode(), overwrite=True
    )


def latest_checkpoint(directory: PathLike, filename: str = STATE_FILE) -> Path:
    """The prefix named by a directory's `checkpoint` file (relative paths resolved against it)."""
    directory = Path(directory)
    named = Path(read_checkpoint_state(directory, filename)["model_checkpoint_path"])
    prefix = named if named.is_absolute() else directory / named
    if not bundle.index_path(prefix).is_file() and named.is_absolute():
        moved = directory / named.name  # the directory was moved since it was written
        if bundle.index_path(moved).is_file():
            return moved
    return prefix


# --------------------------------------------------------------------------- reader


def resolve_checkpoint_prefix(path: PathLike) -> Path:
    """Bundle prefix for a checkpoint prefix, a checkpoint directory or a SavedModel directory."""
    path = Path(path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            variables = path / "variables"
            if not variables.is_dir():
                raise FormatError(f"SavedModel {path} has no variables directory")
            prefix = variables / "variables"
            if not bundle.index_path(prefix).is_file():
                raise FormatError(f"SavedModel {path} has no variables/variables.index")
            return prefix
        if (path / STATE_FILE).is_file():
            return latest_checkpoint(path)
        from savedmodel.format import session_bundle

        if session_bundle.is_session_bundle(path) and session_bundle.has_variables(path):
            return session_bundle.variables_filename(path)
        if (path / "variables" / "variables.index").is_file():
            return path / "variables" / "variables"
        raise FormatError(f"{path} is a directory with neither a checkpoint state file nor a SavedModel")
    if bundle.index_path(path).is_file():
        return path
    from savedmodel.format import checkpoint_v1

    if checkpoint_v1.is_v1_checkpoint(path):  # a V1 file, or a pattern of V1 shards
        return path
    if path.is_file():
        raise FormatError(
            f"{path} is not a checkpoint prefix (nor a V1 checkpoint file); "
            "pass the prefix without .index/.data suffixes"
        )
    raise FormatError(f"checkpoint not found: {path} (no {bundle.index_path(path).name})")


class CheckpointReader:
    """Read a checkpoint's tensors (like tf.train.load_checkpoint)."""

    def __init__(self, path: PathLike) -> None:
        from savedmodel.format import checkpoint_v1

        self.prefix = resolve_checkpoint_prefix(path)
        self._bundle: Any = (
            bundle.BundleReader(self.prefix)
            if bundle.index_path(self.prefix).is_file()
            else checkpoint_v1.V1CheckpointReader(self.prefix)  # same read-side methods
        )
        self._object_graph: TrackableObjectGraph | None = None

    @property
    def bundle(self) -> Any:
        """The BundleReader, or a V1CheckpointReader for V1 checkpoints."""
        return self._bundle

    def list_variables(self) -> list[tuple[str, list[int]]]:
        """(name, shape) for every tensor, sorted by name, as tf.train.list_variables returns."""
        return [(name, list(self._bundle.shape(name))) for name in sorted(self._bundle.keys())]

    def variable_to_shape_map(self) -> dict[str, list[int]]:
        return dict(self.list_variables())

    def variable_to_dtype_map(self) -> dict[str, int]:
        """Name -> DataType enum value."""
        return {name: self._bundle.dtype(name) for name in self._bundle.keys()}

    def has_tensor(self, name: str) -> bool:
        return self._bundle.has_tensor(name)

    def get_tensor(self, name: str) -> np.ndarray:
        if not self.has_tensor(name):
            raise NotFoundError(f"{self.prefix}: no variable named {name!r} in the checkpoint")
        return self._bundle.read(name)

    def dtype_name(self, name: str) -> str:
        return dtypes.dtype_name(self._bundle.dtype(name))

    @property
    def is_object_based(self) -> bool:
        return self._bundle.has_tensor(OBJECT_GRAPH_KEY)

    def object_graph(self) -> TrackableObjectGraph | None:
        """The TF2 object graph, or None for a TF1 (name-based) checkpoint."""
        if self._object_graph is None and self.is_object_based:
            value = self._bundle.read(OBJECT_GRAPH_KEY)
            if value.dtype != object or value.shape != ():
                raise FormatError(f"{self.prefix}: {OBJECT_GRAPH_KEY} is not a string scalar")
            self._object_graph = parse_object_graph(value[()], str(self.prefix))
        return self._object_graph

    def variables_of_object_graph(self) -> dict[str, str]:
        graph = self.object_graph()
        return variables_of_object_graph(graph) if graph is not None else {}

    def get_object_variable(self, path: str) -> np.ndarray:
        """A TF2 variable by object path ('layer_with_weights-0/kernel')."""
        keys = self.variables_of_object_graph()
        if path not in keys:
            raise NotFoundError(f"{self.prefix}: no variable at object path {path!r}")
        return self.get_tensor(keys[path])

    def close(self) -> None:
        self._bundle.close()

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_checkpoint(path: PathLike) -> CheckpointReader:
    return CheckpointReader(path)


def list_variables(path: PathLike) -> list[tuple[str, list[int]]]:
    with CheckpointReader(path) as reader:
        return reader.list_variables()


# --------------------------------------------------------------------------- writer


def write_checkpoint(
    prefix: PathLike,
    tensors: Mapping[str, Any],
    object_graph: TrackableObjectGraph | bytes | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a checkpoint bundle of `tensors` (checkpoint key -> array).

    With `object_graph`, it is stored under `_CHECKPOINTABLE_OBJECT_GRAPH` (a TF2
    checkpoint); its checkpoint keys must all be present in `tensors`.
    Returns the prefix.
    """
    items: list[tuple[str, Any]] = list(tensors.items())
    if OBJECT_GRAPH_KEY in tensors and object_graph is not None:
        raise FormatError(f"{OBJECT_GRAPH_KEY} given both as a tensor and as object_graph")
    if object_graph is not None:
        graph = object_graph
        if isinstance(graph, bytes):
            graph = parse_object_graph(graph)
        missing = [
            a.checkpoint_key
            for node in graph.nodes
            for a in node.attributes
            if a.checkpoint_key not in tensors
        ]
        if missing:
            raise FormatError(f"object graph names checkpoint keys with no tensor: {', '.join(missing[:5])}")
        boxed = np.empty((), dtype=object)
        boxed[()] = graph.SerializeToString(deterministic=True)
        items.append((OBJECT_GRAPH_KEY, boxed))
    bundle.write_bundle(prefix, sorted(items, key=lambda kv: kv[0].encode("utf-8")), overwrite=overwrite)
    return Path(prefix)


def write_object_checkpoint(prefix: PathLike, variables: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Write a TF2 checkpoint holding a variable at each object path ('dense/kernel' -> array)."""
    graph, keys = build_object_graph(variables)
    tensors = {keys[path]: value for path, value in variables.items()}
    return write_checkpoint(prefix, tensors, graph, overwrite=overwrite)
