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

`fmt="safetensors"` writes a .safetensors file instead, through the `safetensors` package
(the optional extra `savedmodel[safetensors]`): bfloat16 and float8 are native there; it has
no string dtype, so string variables are refused.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import FormatError, InvalidInputError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import dtypes
from savedmodel.format.atomic import atomic_write_bytes

DTYPES_KEY = "__dtypes__"
FORMATS = ("npz", "safetensors")
# TensorFlow dtype name -> safetensors dtype
SAFETENSORS_DTYPES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "uint32": "U32",
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "uint64": "U64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}
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


def read_weights(source: PathLike, names: str = "tf") -> list[tuple[str, str, str, np.ndarray]]:
    """(name, checkpoint key, TF dtype name, value) of every variable of `source` (a
    SavedModel directory or checkpoint prefix), sorted by key."""
    from savedmodel.inspect import variables_prefix

    prefix = variables_prefix(source)
    if prefix is None:
        return []
    out = []
    with ckpt.CheckpointReader(prefix) as reader:
        mapping = variable_names(source, reader) if names == "tf" else None
        for key in sorted(k for k in reader.bundle.keys() if k != ckpt.OBJECT_GRAPH_KEY):
            value = np.asarray(reader.get_tensor(key))
            name = mapping[key] if mapping is not None else key
            out.append((name, key, dtypes.dtype_name(reader.bundle.dtype(key)), value))
    return out


def export_weights(
    source: PathLike, output: PathLike, names: str = "tf", overwrite: bool = False, fmt: str = "npz"
) -> list[dict[str, Any]]:
    """Write every variable of `source` (SavedModel directory or checkpoint prefix) to
    `output` (atomically) as .npz or .safetensors (`fmt`). Returns [{"name", "key", "dtype", "shape"}]."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown weights format {fmt!r} (choose from {', '.join(FORMATS)})")
    weights = read_weights(source, names)
    data = _safetensors_bytes(weights) if fmt == "safetensors" else _npz_bytes(weights)
    atomic_write_bytes(output, data, overwrite=overwrite)
    return [{"name": n, "key": k, "dtype": d, "shape": list(v.shape)} for n, k, d, v in weights]


def _npz_bytes(weights: list[tuple[str, str, str, np.ndarray]]) -> bytes:
    arrays = {name: _storable(value) for name, _, _, value in weights}
    if DTYPES_KEY in arrays:
        raise FormatError(f"a variable is named {DTYPES_KEY!r}, which the .npz format here reserves")
    arrays[DTYPES_KEY] = np.array(json.dumps({name: dtype for name, _, dtype, _ in weights}, sort_keys=True))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _safetensors_bytes(weights: list[tuple[str, str, str, np.ndarray]]) -> bytes:
    try:
        import safetensors
    except ImportError:
        raise InvalidInputError(
            "--format safetensors needs the safetensors package: pip install 'savedmodel[safetensors]'"
        ) from None
    unsupported = [f"{name} ({dtype})" for name, _, dtype, _ in weights if dtype not in SAFETENSORS_DTYPES]
    if unsupported:
        raise InvalidInputError(
            "safetensors has no dtype for " + ", ".join(unsupported[:5]) + "; use --format npz"
        )
    arrays = {name: (dtype, np.ascontiguousarray(value)) for name, _, dtype, value in weights}
    spec = getattr(safetensors, "TensorSpec", None)
    if spec is not None:  # safetensors >= 0.7: NumPy dtype names, pointers into live arrays
        tensors = {
            name: spec(dtype=dtype, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
            for name, (dtype, a) in arrays.items()
        }
        return bytes(safetensors.serialize(tensors, {"format": "np"}))
    tensors = {  # older releases: the file format's dtype codes and the bytes
        name: {"dtype": SAFETENSORS_DTYPES[dtype], "shape": list(a.shape), "data": a.tobytes()}
        for name, (dtype, a) in arrays.items()
    }
    return bytes(safetensors.serialize(tensors, {"format": "np"}))


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
