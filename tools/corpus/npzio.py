"""Tensor dicts <-> .npz files, without pickle and without TensorFlow.

NumPy can only store strings as object arrays (pickled) or fixed-width `S`
arrays (which drop trailing NUL bytes, fatal for encoded images). String
tensors are therefore stored as three plain arrays: the concatenated bytes
(uint8), each element's length (int64, carrying the tensor's shape). bfloat16
(an ml_dtypes type NumPy cannot name in a file) is stored as its uint16 bits.
Both the oracle venv and the TF-free tests use this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import ml_dtypes
import numpy as np

STRING_DATA = ".__strdata__"
STRING_LENGTHS = ".__strlens__"
BFLOAT16 = ".__bfloat16__"


def _encode_strings(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    items = [bytes(v) if not isinstance(v, str) else v.encode("utf-8") for v in value.ravel()]
    lengths = np.array([len(b) for b in items], dtype=np.int64).reshape(value.shape)
    data = np.frombuffer(b"".join(items), dtype=np.uint8).copy()
    return data, lengths


def _decode_strings(data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    raw = data.tobytes()
    out = np.empty(lengths.size, dtype=object)
    start = 0
    for i, n in enumerate(lengths.ravel().tolist()):
        out[i] = raw[start : start + n]
        start += n
    return out.reshape(lengths.shape)


def to_arrays(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The plain arrays that represent `tensors` in a .npz file."""
    arrays: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        value = np.asarray(value)
        if value.dtype == object or value.dtype.kind in "SU":
            arrays[key + STRING_DATA], arrays[key + STRING_LENGTHS] = _encode_strings(value)
        elif value.dtype == ml_dtypes.bfloat16:
            arrays[key + BFLOAT16] = value.view(np.uint16)
        else:
            arrays[key] = value
    return arrays


def from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of `to_arrays`."""
    tensors: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if key.endswith(STRING_LENGTHS):
            continue
        if key.endswith(STRING_DATA):
            base = key[: -len(STRING_DATA)]
            tensors[base] = _decode_strings(value, arrays[base + STRING_LENGTHS])
        elif key.endswith(BFLOAT16):
            tensors[key[: -len(BFLOAT16)]] = value.view(ml_dtypes.bfloat16)
        else:
            tensors[key] = value
    return tensors


def save(path: Path, tensors: Mapping[str, np.ndarray]) -> None:
    np.savez_compressed(path, **to_arrays(tensors))


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return from_arrays({k: data[k] for k in data.files})


def split_by_signature(tensors: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """{"sig/name": array} -> {sig: {name: array}} (signature keys never contain '/')."""
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        signature, _, name = key.partition("/")
        grouped.setdefault(signature, {})[name] = value
    return grouped
