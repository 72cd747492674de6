"""Exporting a model's variables to a NumPy .npz file.

Names are TensorFlow's: a TF1 checkpoint's keys are the variable names already
(`dense/kernel`); in a TF2 (object-based) checkpoint each key is replaced by the name of
the variable the SavedModel records for that object (`dense/kernel`), made unique with
`_1`, `_2`... where two share one, or its object path when it has none. `names="keys"`
keeps the raw checkpoint keys.

`.npz` has no bfloat16 (nor the other ml_dtypes types): such arrays are stored as their
bits (uint8/uint16) and every entry's true dtype is recorded in `__dtypes__` (a JSON
string); `load_npz` gives the arrays back with their dtypes. Strings are stored as
NumPy bytes arrays.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import FormatError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import dtypes
from savedmodel.format.atomic import atomic_write_bytes

DTYPES_KEY = "__dtypes__"
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
PathLike = str | os.PathLike[str]


def _saved_variable_names(source: Path) -> dict[int, str]:
    """Object-graph node id -> the variable name the SavedModel records (TF2 models)."""
    from savedmodel.format import saved_model as sm

    if not source.is_dir():
        return {}
    try:
        proto = sm.read_saved_model(source)
    except FormatError:
        return {}
    out: dict[int, str] = {}
    for meta in proto.meta_graphs:
        for node_id, node in enumerate(meta.object_graph_def.nodes):
            if node.WhichOneof("kind") == "variable" and node.variable.name:
                out.setdefault(node_id, node.variable.name)
    return out


def variable_names(source: PathLike, reader: ckpt.CheckpointReader) -> dict[str, str]:
    """Checkpoint key -> the name to export it under (see the module docstring)."""
    keys = [k for k in reader.bundle.keys() if k != ckpt.OBJECT_GRAPH_KEY]
    graph = reader.object_graph()
    if graph is None:
        return {k: k for k in keys}
    recorded = _saved_variable_names(Path(source))
    by_key: dict[str, str] = {}
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name == ckpt.VARIABLE_VALUE:
                name = recorded.get(node_id) or attribute.full_name
                by_key[attribute.checkpoint_key] = name.split(":")[0] if name else ""
    out: dict[str, str] = {}
    used: set[str] = set()
    for key in sorted(keys):
        base = by_key.get(key) or (key[: -len(_VALUE_SUFFIX)] if key.endswith(_VALUE_SUFFIX) else key)
        name, i = base, 0
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        out[key] = name
    return out


def _storable(value: np.ndarray) -> np.ndarray:
    """An array np.savez can store without pickling: ml_dtypes types as their bits, strings as bytes."""
    if value.dtype == object:
        return np.array([bytes(v) for v in value.reshape(-1)], dtype=np.bytes_).reshape(value.shape)
    if value.dtype.kind == "V" or type(value.dtype).__module__.startswith("ml_dtypes"):
        return value.view(
            np.dtype(f"u{value.dtype.itemsize}") if value.dtype.itemsize in (1, 2, 4, 8) else "u1"
        )
    return value


def export_weights(
    source: PathLike, output: PathLike, names: str = "tf", overwrite: bool = False
) -> list[dict[str, Any]]:
    """Write every variable of `source` (SavedModel directory or checkpoint prefix) to the
    .npz file `output` (atomically). Returns [{"name", "key", "dtype", "shape"}]."""
    from savedmodel.inspect import variables_prefix

    prefix = variables_prefix(source)
    arrays: dict[str, np.ndarray] = {}
    recorded: dict[str, str] = {}
    written: list[dict[str, Any]] = []
    if prefix is not None:
        with ckpt.CheckpointReader(prefix) as reader:
            mapping = variable_names(source, reader) if names == "tf" else None
            for key in sorted(k for k in reader.bundle.keys() if k != ckpt.OBJECT_GRAPH_KEY):
                value = np.asarray(reader.get_tensor(key))
                name = mapping[key] if mapping is not None else key
                dtype = dtypes.dtype_name(reader.bundle.dtype(key))
                arrays[name] = _storable(value)
                recorded[name] = dtype
                written.append({"name": name, "key": key, "dtype": dtype, "shape": list(value.shape)})
    if DTYPES_KEY in arrays:
        raise FormatError(f"a variable is named {DTYPES_KEY!r}, which the .npz format here reserves")
    arrays[DTYPES_KEY] = np.array(json.dumps(recorded, sort_keys=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(output, buffer.getvalue(), overwrite=overwrite)
    return written


def load_npz(path: PathLike) -> dict[str, np.ndarray]:
    """Read an .npz written by `export_weights`, each array with its recorded dtype."""
    with np.load(path, allow_pickle=False) as data:
        recorded = json.loads(str(data[DTYPES_KEY])) if DTYPES_KEY in data else {}
        out = {}
        for name in data.files:
            if name == DTYPES_KEY:
                continue
            value = data[name]
            dtype = recorded.get(name)
            if dtype == "string":
                value = np.array([bytes(v) for v in value.reshape(-1)], dtype=object).reshape(value.shape)
            elif dtype is not None and value.dtype != dtypes.as_numpy_dtype(dtypes.from_name(dtype)):
                value = value.view(dtypes.as_numpy_dtype(dtypes.from_name(dtype)))
            out[name] = value
        return out
