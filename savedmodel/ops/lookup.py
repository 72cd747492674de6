"""Lookup tables: HashTableV2, MutableHashTableV2 and the ops that fill and query them.

Text-file initializers read files only inside the model directory (assets),
unless the policy allows file access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, PolicyError
from savedmodel.format import dtypes
from savedmodel.ops._resources import ResourceHandle
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory


class LookupTable(ResourceHandle):
    kind = "table"

    def __init__(
        self, container: str, name: str, key_dtype: np.dtype, value_dtype: np.dtype, mutable: bool
    ) -> None:
        super().__init__(container, name)
        self.key_dtype = key_dtype
        self.value_dtype = value_dtype
        self.mutable = mutable
        self.initialized = mutable
        self.data: dict[Any, Any] = {}
        self.value_shape: tuple[int, ...] = ()

    def insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys)
        values = np.asarray(values)
        if keys.shape != values.shape[: keys.ndim]:
            raise ExecutionError(
                f"table {self.name!r}: keys of shape {list(keys.shape)} do not match values of "
                f"shape {list(values.shape)}"
            )
        self.value_shape = values.shape[keys.ndim :]
        flat_keys = keys.reshape(-1).tolist()
        if self.value_shape:
            rows: Any = list(values.reshape((keys.size, *self.value_shape)))
        else:
            # .tolist() gives Python scalars for numbers and the bytes themselves for strings
            rows = values.reshape(-1).tolist()
        if keys.dtype == object:
            _check_string_keys(self.name, flat_keys)
        self.data.update(zip(flat_keys, rows, strict=True))

    def find(self, keys: np.ndarray, default: np.ndarray) -> np.ndarray:
        if not self.initialized:
            raise ExecutionError(f"Table not initialized: {self.name}")
        keys = np.asarray(keys)
        default = np.asarray(default)
        data = self.data
        flat_keys = keys.reshape(-1).tolist()
        if keys.dtype == object:
            _check_string_keys(self.name, flat_keys)
        if not self.value_shape:
            fallback = default.reshape(()).item() if default.size == 1 else None
            flat = [data.get(k, fallback) for k in flat_keys]
            out = np.empty(len(flat), dtype=self.value_dtype)
            out[:] = flat
            return out.reshape(keys.shape)
        rows = [data.get(k, default) for k in flat_keys]
        return np.asarray(rows, dtype=self.value_dtype).reshape((*keys.shape, *self.value_shape))


def _check_string_keys(table: str, keys: list[Any]) -> None:
    """String keys must be plain bytes/str; anything else (a nested array) is a typed error."""
    for key in keys:
        if not isinstance(key, bytes | str):
            raise ExecutionError(
                f"table {table!r}: string keys must be bytes, got an element of type {type(key).__name__}"
            )


def _table(handle: Any, op: str) -> LookupTable:
    if not isinstance(handle, LookupTable):
        raise ExecutionError(f"{op} expects a lookup table handle, got {type(handle).__name__}")
    return handle


def _table_factory(mutable: bool) -> Any:
    def prepare(node: NodeSpec) -> Any:
        container = (node.attrs.get("container", b"") or b"").decode()
        shared = (node.attrs.get("shared_name", b"") or b"").decode()
        name = shared or node.name
        key_dtype = dtypes.as_numpy_dtype(node.attrs.dtype_enum("key_dtype"))
        value_dtype = dtypes.as_numpy_dtype(node.attrs.dtype_enum("value_dtype"))
        key = (container, "table:" + name)

        def run(ctx: Any) -> LookupTable:
            return ctx.resources.get_or_create(
                key, lambda: LookupTable(container, name, key_dtype, value_dtype, mutable)
            )

        return run

    return prepare


kernel_factory("HashTableV2", family="lookup", doc="an immutable hash table")(_table_factory(False))
kernel_factory("MutableHashTableV2", family="lookup", side_effects=True, doc="a mutable hash table")(
    _table_factory(True)
)


@kernel("InitializeTableV2", "LookupTableImportV2", family="lookup", side_effects=True, doc="fills a table")
def _initialize(ctx: Any, handle: Any, keys: Any, values: Any) -> None:
    table = _table(handle, "InitializeTableV2")
    if table.initialized and not table.mutable:
        return  # TF initializes a table once; later runs are no-ops
    if table.mutable:
        table.data.clear()
    table.insert(keys, values)
    table.initialized = True


@kernel("LookupTableInsertV2", family="lookup", side_effects=True, doc="inserts into a mutable table")
def _insert(ctx: Any, handle: Any, keys: Any, values: Any) -> None:
    _table(handle, "LookupTableInsertV2").insert(keys, values)


@kernel("LookupTableRemoveV2", family="lookup", side_effects=True, doc="removes keys from a mutable table")
def _remove(ctx: Any, handle: Any, keys: Any) -> None:
    table = _table(handle, "LookupTableRemoveV2")
    for key in np.asarray(keys).reshape(-1).tolist():
        table.data.pop(key, None)


@kernel("LookupTableFindV2", family="lookup", doc="values for keys, default for missing keys")
def _find(ctx: Any, handle: Any, keys: Any, default: Any) -> np.ndarray:
    return _table(handle, "LookupTableFindV2").find(keys, default)


@kernel("LookupTableSizeV2", family="lookup", doc="number of entries")
def _size(ctx: Any, handle: Any) -> np.ndarray:
    return np.asarray(len(_table(handle, "LookupTableSizeV2").data), dtype=np.int64)


@kernel("LookupTableExportV2", family="lookup", doc="all keys and values")
def _export(ctx: Any, handle: Any) -> list[np.ndarray]:
    table = _table(handle, "LookupTableExportV2")
    keys = np.empty(len(table.data), dtype=table.key_dtype)
    keys[:] = list(table.data)
    values = np.asarray(list(table.data.values()), dtype=table.value_dtype).reshape(
        (len(table.data), *table.value_shape)
    )
    return [keys, values]


def _read_text(ctx: Any, filename: str) -> str:
    runtime = ctx.runtime
    path = Path(filename)
    if not runtime.policy.allow_file_access:
        root = runtime.model_dir
        resolved = path.resolve()
        if root is None or (resolved != root and root not in resolved.parents):
            raise PolicyError(
                f"table initializer file {filename!r} is outside the model directory "
                "(pass allow_file_access=True to allow it)"
            )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExecutionError(f"cannot read table initializer file {filename!r}: {exc.strerror}") from None


@kernel_factory(
    "InitializeTableFromTextFileV2",
    family="lookup",
    side_effects=True,
    doc="fills a table from a text file (key/value column, -2 whole line, -1 line number)",
)
def _from_text_file(node: NodeSpec) -> Any:
    key_index = int(node.attrs.get("key_index", -2))
    value_index = int(node.attrs.get("value_index", -1))
    vocab_size = int(node.attrs.get("vocab_size", -1))
    delimiter = (node.attrs.get("delimiter", b"\t") or b"\t").decode()
    offset = int(node.attrs.get("offset", 0) or 0)

    def column(line: str, number: int, index: int, dtype: np.dtype) -> Any:
        if index == -1:
            return number
        text = line if index == -2 else line.split(delimiter)[index]
        if dtype == np.dtype(object):
            return text.encode("utf-8")
        return dtype.type(text).item()

    def run(ctx: Any, handle: Any, filename: Any) -> None:
        table = _table(handle, "InitializeTableFromTextFileV2")
        if table.initialized and not table.mutable:
            return
        name = np.asarray(filename).reshape(()).item()
        text = _read_text(ctx, name.decode() if isinstance(name, bytes) else str(name))
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if vocab_size >= 0:
            if len(lines) < vocab_size:
                raise ExecutionError(
                    f"Invalid vocab_size in {name!r}: expected {vocab_size}, got {len(lines)}"
                )
            lines = lines[:vocab_size]
        keys, values = [], []
        for number, line in enumerate(lines):
            line = line.rstrip("\r")
            try:
                keys.append(column(line, number + offset, key_index, table.key_dtype))
                values.append(column(line, number + offset, value_index, table.value_dtype))
            except (IndexError, ValueError) as exc:
                raise ExecutionError(f"{name!r} line {number + 1}: {exc}") from None
        key_array = np.empty(len(keys), dtype=table.key_dtype)
        key_array[:] = keys
        value_array = np.empty(len(values), dtype=table.value_dtype)
        value_array[:] = values
        table.insert(key_array, value_array)
        table.initialized = True

    return run
