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

`import_weights` goes the other way: a copy of the model (or a checkpoint) whose variables
hold the values of an .npz or .safetensors file keyed by the same names; each name, dtype
and shape is checked, and only the variables bundle (and fingerprint.pb, which hashes its
index) differs from the source.
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
    # np.ascontiguousarray would make a scalar 1-d
    arrays = {name: (dtype, np.require(value, requirements="C")) for name, _, dtype, value in weights}
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


# ------------------------------------------------------------------------------ import


def _safetensors_arrays(path: PathLike) -> dict[str, np.ndarray]:
    try:
        import safetensors
    except ImportError:
        raise InvalidInputError(
            "reading .safetensors needs the safetensors package: pip install 'savedmodel[safetensors]'"
        ) from None
    by_code = {code: name for name, code in SAFETENSORS_DTYPES.items()}
    try:
        entries = safetensors.deserialize(Path(path).read_bytes())
    except Exception as exc:  # noqa: BLE001 - the library's own error types vary by release
        raise FormatError(f"{path}: not a safetensors file ({exc})") from None
    out = {}
    for name, entry in entries:
        if entry["dtype"] not in by_code:
            raise FormatError(f"{path}: {name!r} has dtype {entry['dtype']}, which TensorFlow has not")
        dtype = dtypes.as_numpy_dtype(dtypes.from_name(by_code[entry["dtype"]]))
        out[name] = np.frombuffer(bytes(entry["data"]), dtype=dtype).reshape(entry["shape"])
    return out


def read_weights_file(path: PathLike) -> dict[str, np.ndarray]:
    """Name -> array of an .npz (as `export_weights` writes it) or a .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        return _safetensors_arrays(path)
    try:
        return load_npz(path)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not an .npz file ({exc})") from None


def _dtype_name(value: np.ndarray) -> str:
    if value.dtype == object or value.dtype.kind in "SU":
        return "string"
    return dtypes.dtype_name(dtypes.from_numpy(value.dtype))


def _checked(name: str, value: np.ndarray, dtype: str, shape: tuple[int, ...]) -> str | None:
    """Why `value` cannot replace a variable of `dtype` and `shape`, or None."""
    got = _dtype_name(value)
    if got != dtype:
        hint = " (bfloat16 stored as its bits? write it with export_weights)" if dtype == "bfloat16" else ""
        return f"{name}: dtype {got}, the variable's is {dtype}{hint}"
    if tuple(value.shape) != tuple(shape):
        return f"{name}: shape {list(value.shape)}, the variable's is {list(shape)}"
    return None


def import_weights(
    source: PathLike,
    weights: PathLike | dict[str, np.ndarray],
    output_dir: PathLike | None = None,
    checkpoint: PathLike | None = None,
    names: str = "tf",
    overwrite: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """Write a copy of `source` (a SavedModel directory, or a checkpoint prefix) whose variables
    hold `weights` (an .npz/.safetensors file, or name -> array), named as `export_weights`
    names them (`names`). Give `output_dir` (a SavedModel directory: every file but the
    variables bundle and fingerprint.pb copied byte for byte) or `checkpoint` (a prefix: the
    bundle alone). A name the model lacks, or a dtype or shape that differs, is an error;
    variables the weights lack keep their values (an error with `strict`).
    Returns {"replaced": [names], "kept": [names]}."""
    from savedmodel.format import bundle
    from savedmodel.inspect import variables_prefix

    if (output_dir is None) == (checkpoint is None):
        raise InvalidInputError("give exactly one of output_dir (a SavedModel) and checkpoint (a prefix)")
    prefix = variables_prefix(source)
    if prefix is None:
        raise InvalidInputError(f"{source}: no variables to import into")
    incoming = weights if isinstance(weights, dict) else read_weights_file(weights)
    with ckpt.CheckpointReader(prefix) as reader:
        if len(reader.bundle.entries(include_slices=True)) != len(reader.bundle.entries()):
            raise InvalidInputError(f"{source}: partitioned (sliced) checkpoints are not supported")
        mapping = variable_names(source, reader) if names == "tf" else None
        keys = sorted(k for k in reader.bundle.keys() if k != ckpt.OBJECT_GRAPH_KEY)
        by_name = {(mapping[k] if mapping is not None else k): k for k in keys}
        extra = sorted(set(incoming) - set(by_name))
        if extra:
            raise InvalidInputError(
                f"not variables of {source}: " + ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
            )
        problems = []
        for name, value in sorted(incoming.items()):
            key = by_name[name]
            problem = _checked(name, np.asarray(value), reader.dtype_name(key), reader.bundle.shape(key))
            if problem is not None:
                problems.append(problem)
        if problems:
            raise InvalidInputError("weights do not fit: " + "; ".join(problems[:3]))
        kept = sorted(set(by_name) - set(incoming))
        if strict and kept:
            raise InvalidInputError(
                "the weights lack " + ", ".join(kept[:5]) + (" ..." if len(kept) > 5 else "")
            )
        items = []
        name_of = {k: n for n, k in by_name.items()}
        for key in reader.bundle.keys():  # the object graph too, as it was
            name = name_of.get(key)
            value = incoming[name] if name in incoming else reader.bundle.read(key)
            items.append((key, reader.bundle.dtype(key), value))

        def write(target: PathLike) -> None:
            with bundle.BundleWriter(target, overwrite=overwrite) as writer:
                for key, dtype, value in items:
                    writer.add(key, value, dtype=dtype)

        if checkpoint is not None:
            write(checkpoint)
        else:
            _write_model_copy(Path(source), Path(output_dir), write, overwrite)
    return {"replaced": sorted(incoming), "kept": kept}


def _write_model_copy(source: Path, output: Path, write_bundle: Any, overwrite: bool) -> None:
    """Copy the SavedModel at `source` to `output` with a new variables bundle."""
    import shutil

    from savedmodel.errors import PolicyError
    from savedmodel.format import fingerprint
    from savedmodel.format import saved_model as sm
    from savedmodel.format.atomic import atomic_directory

    if not source.is_dir():
        raise InvalidInputError(f"{source} is a checkpoint, not a SavedModel: write a checkpoint instead")
    if output.resolve() == source.resolve():
        raise PolicyError(f"{output}: the output directory is the source directory")
    with atomic_directory(output, overwrite=overwrite) as tmp:
        for item in sorted(source.iterdir()):
            if item.name in (sm.VARIABLES_DIR, sm.FINGERPRINT_NAME):
                continue
            if item.is_symlink():
                raise PolicyError(f"{item}: symbolic links are not copied")
            if item.is_dir():
                shutil.copytree(item, tmp / item.name)
            else:
                shutil.copyfile(item, tmp / item.name)
        (tmp / sm.VARIABLES_DIR).mkdir()
        write_bundle(tmp / sm.VARIABLES_DIR / sm.VARIABLES_PREFIX)
        if (source / sm.FINGERPRINT_NAME).is_file():
            data = fingerprint.compute_fingerprint(tmp).to_proto().SerializeToString(deterministic=True)
            (tmp / sm.FINGERPRINT_NAME).write_bytes(data)
