"""Turn `savedmodel run`'s `--inputs`, `--input_exprs` and `--input_examples` into a feed dict.

The three flags have the meaning TensorFlow's `saved_model_cli run` gives them:

* `--inputs 'k=file.npy;k2=file.npz[name];k3=file.pkl[name]'`: files read with
  NumPy. Pickle files (and .npy/.npz files holding Python objects) are refused
  unless `allow_pickle` is set, because unpickling runs code.
* `--input_exprs 'k=expr;k2=expr'`: TensorFlow 2.21 passes each expression to
  `ast.literal_eval` (older releases used `eval` with NumPy in scope). We never
  evaluate user text: `evaluate_expression` walks the parsed expression and
  accepts Python literals plus a fixed set of NumPy constructors (`np.ones`,
  `np.zeros`, `np.full`, `np.arange`, `np.linspace`, `np.eye`, `np.array`,
  `np.random.rand`, dtype constructors such as `np.float32(1.5)`, ...), with a
  limit on the number of elements an expression may create (savedmodel/cli/expressions.py). The random
  constructors draw from one generator seeded with 0 per command line (TF's
  `eval` was unseeded), so runs are reproducible.
* `--input_examples 'k=[{"feature": [1.0, 2.0], "s": ["a"]}]'`: a list of
  dicts (literals only) turned into serialized `tf.train.Example` protos; each
  feature's kind follows its first value as in TF (float -> float_list, str or
  bytes -> bytes_list, int -> int64_list). The feed is a 1-D string array.

When a key appears in several flags, `--input_examples` overrides
`--input_exprs`, which overrides `--inputs` (TF's order; each override is
reported through the `warn` callback, as TF logs a warning).

`coerce_feed` then converts a fed value to the dtype and shape the signature
declares, by saved_model_cli's rule (`FeedRule.SAVED_MODEL_CLI` in savedmodel/graph/feed_values.py).
"""

from __future__ import annotations

import ast
import io
import math
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.cli.expressions import MAX_ELEMENTS, RANDOM_SEED, SeededRandomState, evaluate_expression
from savedmodel.errors import InvalidInputError, LimitExceededError, PolicyError
from savedmodel.format import dtypes
from savedmodel.graph.feed_values import FeedRule, FeedShapeError, FeedValueError, convert_feed
from savedmodel.proto import example_pb2

Warn = Callable[[str], None]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def _no_warn(message: str) -> None:
    del message


# --------------------------------------------------------------------------- --inputs


def parse_inputs_arg(text: str) -> dict[str, tuple[str, str | None]]:
    """'k=f.npz[v];k2=f.npy' -> {'k': ('f.npz', 'v'), 'k2': ('f.npy', None)}."""
    parsed: dict[str, tuple[str, str | None]] = {}
    for item in filter(None, text.split(";")):
        match = re.fullmatch(r"([^=]+)=([^\[\]]+)\[([^\[\]]+)\]", item) or re.fullmatch(
            r"([^=]+)=([^\[\]]+)", item
        )
        if not match:
            raise InvalidInputError(
                f'--inputs "{item}" format is incorrect; use "<input_key>=<filename>" or '
                f'"<input_key>=<filename>[<variable_name>]", separated by ";"'
            )
        variable = match.group(3) if match.lastindex == 3 else None
        parsed[match.group(1).strip()] = (match.group(2).strip(), variable)
    return parsed


def _check_header(shape: tuple[int, ...], dtype: np.dtype, what: str, allow_pickle: bool) -> None:
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise LimitExceededError(
            f"{what} holds {count} elements (shape {shape}); the limit is {MAX_ELEMENTS}"
        )
    if dtype.hasobject and not allow_pickle:
        raise PolicyError(
            f"{what} holds Python objects, which are stored pickled; pass --allow_pickle to load it"
        )


def _read_npy(stream: io.BufferedIOBase | Any, what: str, allow_pickle: bool) -> np.ndarray:
    """One .npy array, its header checked (size, pickled objects) before the data is read."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{what} is not a readable .npy array ({exc})") from None
    _check_header(tuple(shape), dtype, what, allow_pickle)
    stream.seek(0)
    try:
        return np.lib.format.read_array(stream, allow_pickle=allow_pickle)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{what} is not a readable .npy array ({exc})") from None


class _NpzArchive:
    """The arrays of an .npz file, each read (and checked) on demand."""

    def __init__(self, path: Path, allow_pickle: bool) -> None:
        self.path = path
        self.allow_pickle = allow_pickle
        try:
            with zipfile.ZipFile(path) as archive:
                self._members = {
                    (name[:-4] if name.endswith(".npy") else name): name for name in archive.namelist()
                }
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInputError(f"input file {path} is not a readable .npz archive ({exc})") from None

    @property
    def files(self) -> list[str]:
        return list(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def __getitem__(self, name: str) -> np.ndarray:
        what = f"array {name!r} of {self.path}"
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(self._members[name]) as member:
                data = member.read(_max_npy_bytes())
                if member.read(1):
                    raise LimitExceededError(f"{what} is larger than {_max_npy_bytes()} bytes")
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise InvalidInputError(f"cannot read {what} ({exc})") from None
        return _read_npy(io.BytesIO(data), what, self.allow_pickle)


def _max_npy_bytes() -> int:
    return MAX_ELEMENTS * 16 + (1 << 20)


def _load_file(path: Path, allow_pickle: bool) -> Any:
    """np.load's format detection (npz, npy, else pickle), with pickle refused by default."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
            if magic.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
                return _NpzArchive(path, allow_pickle)
            if magic == _NPY_MAGIC:
                handle.seek(0)
                return _read_npy(handle, f"input file {path}", allow_pickle)
    except FileNotFoundError:
        raise InvalidInputError(f"input file {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"input file {path} is a directory") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read input file {path}: {exc.strerror or exc}") from None
    if not allow_pickle:
        raise PolicyError(
            f"input file {path} is neither .npy nor .npz; loading it as a pickle could run code, "
            "pass --allow_pickle to allow it"
        )
    try:
        return np.load(path, allow_pickle=True)
    except Exception as exc:  # noqa: BLE001 - unpickling can raise anything
        raise InvalidInputError(
            f"cannot load input file {path} as a pickle: {type(exc).__name__}: {exc}"
        ) from None


def load_input_files(
    specs: Mapping[str, tuple[str, str | None]], allow_pickle: bool = False, warn: Warn = _no_warn
) -> dict[str, Any]:
    """Read each `--inputs` entry as TF does (see the module docstring)."""
    feeds: dict[str, Any] = {}
    for key, (filename, variable) in specs.items():
        data = _load_file(Path(filename), allow_pickle)
        if variable:
            if isinstance(data, np.ndarray):
                warn(f'Input file {filename} contains a single ndarray. Name key "{variable}" ignored.')
                feeds[key] = data
            elif isinstance(data, _NpzArchive | dict) and variable in data:
                feeds[key] = data[variable]
            else:
                raise InvalidInputError(
                    f'Input file {filename} does not contain variable with name "{variable}".'
                )
        elif isinstance(data, _NpzArchive):
            if len(data.files) != 1:
                raise InvalidInputError(
                    f"Input file {filename} contains more than one ndarrays ({', '.join(data.files)}). "
                    "Please specify the name of ndarray to use."
                )
            feeds[key] = data[data.files[0]]
        else:
            feeds[key] = data
    return feeds


# --------------------------------------------------------------------------- --input_exprs


def _split_assignments(text: str, flag: str) -> list[tuple[str, str]]:
    """'k=v;k2=v2' -> [(k, v), (k2, v2)]; the value may itself contain '='."""
    pairs = []
    for item in filter(None, text.split(";")):
        if "=" not in item:
            if not item.strip():
                continue
            raise InvalidInputError(f'{flag} "{item}" format is incorrect; use "<input_key>=<expression>"')
        key, value = item.split("=", 1)
        if not key.strip():
            raise InvalidInputError(f'{flag} "{item}" has an empty input key')
        pairs.append((key.strip(), value))
    return pairs


def parse_input_exprs(text: str, seed: int = RANDOM_SEED) -> dict[str, Any]:
    """--input_exprs 'k=expr;k2=expr' -> {k: value}. np.random.* share one generator seeded `seed`."""
    rng = SeededRandomState(seed)
    return {
        key: evaluate_expression(expr, key, rng) for key, expr in _split_assignments(text, "--input_exprs")
    }


# --------------------------------------------------------------------------- --input_examples


def _literal(text: str, label: str) -> Any:
    try:
        return ast.literal_eval(text.strip(" \t"))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise InvalidInputError(
            f"{label}: {text!r} is not a valid Python literal ({type(exc).__name__})"
        ) from None


def _set_feature(feature: example_pb2.Feature, name: str, values: list[Any], label: str) -> None:
    if not values:
        raise InvalidInputError(
            f"{label}: feature {name!r} has an empty value list (its type cannot be inferred)"
        )
    first = values[0]
    try:
        if isinstance(first, float):
            feature.float_list.value.extend(values)
        elif isinstance(first, str):
            feature.bytes_list.value.extend(v.encode("utf-8") for v in values)
        elif isinstance(first, bytes):
            feature.bytes_list.value.extend(values)
        elif isinstance(first, int) and not isinstance(first, bool):
            feature.int64_list.value.extend(values)
        else:
            raise InvalidInputError(
                f"{label}: feature {name!r}: values of type {type(first).__name__} ({first!r}) "
                "are not supported; "
                "use floats, ints (booleans as 0/1), str or bytes"
            )
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(
            f"{label}: feature {name!r}: all values must have the type of the first "
            f"({type(first).__name__}): {exc}"
        ) from None


def make_example(features: Mapping[str, Any], label: str = "--input_examples") -> bytes:
    """A serialized tf.train.Example from {feature name: list of values}."""
    example = example_pb2.Example()
    for name, values in features.items():
        if not isinstance(name, str):
            raise InvalidInputError(f"{label}: feature name {name!r} must be a string")
        if not isinstance(values, list):
            raise InvalidInputError(
                f'{label}: feature value must be a list, but {name}: "{values!r}" is {type(values).__name__}'
            )
        _set_feature(example.features.feature[name], name, values, label)
    return example.SerializeToString(deterministic=True)


def parse_input_examples(text: str) -> dict[str, np.ndarray]:
    """--input_examples 'k=[{...}, {...}]' -> {k: 1-D object array of serialized Examples}."""
    feeds: dict[str, np.ndarray] = {}
    for key, literal in _split_assignments(text, "--input_examples"):
        label = f"--input_examples key {key!r}"
        examples = _literal(literal, label)
        if not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples):
            raise InvalidInputError(
                f"{label}: tf.Example input must be a list of dictionaries, got {examples!r}"
            )
        serialized = [make_example(example, label) for example in examples]
        feeds[key] = np.empty(len(serialized), dtype=object)
        feeds[key][:] = serialized
    return feeds


# --------------------------------------------------------------------------- all three


def build_feed_dict(
    inputs: str = "",
    input_exprs: str = "",
    input_examples: str = "",
    allow_pickle: bool = False,
    warn: Warn = _no_warn,
) -> dict[str, Any]:
    """The feed dict of the three flags, with TF's precedence (examples > exprs > files)."""
    feeds = load_input_files(parse_inputs_arg(inputs or ""), allow_pickle, warn)
    for key, value in parse_input_exprs(input_exprs or "").items():
        if key in feeds:
            warn(
                f"input_key {key} has been specified with both --inputs and --input_exprs options. "
                "Value in --input_exprs will be used."
            )
        feeds[key] = value
    for key, value in parse_input_examples(input_examples or "").items():
        if key in feeds:
            warn(
                f"input_key {key} has been specified in multiple options. "
                "Value in --input_examples will be used."
            )
        feeds[key] = value
    return feeds


# --------------------------------------------------------------------------- dtype and shape


def format_shape(shape: tuple[int, ...] | None) -> str:
    """TF's TensorShape text: (None, 2), (), <unknown>."""
    if shape is None:
        return "<unknown>"
    dims = ", ".join("None" if d < 0 else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def coerce_feed(
    key: str, value: Any, dtype: int, shape: tuple[int, ...] | None, tensor_name: str = ""
) -> np.ndarray:
    """`value` as an array of the input's dtype, by saved_model_cli's rule
    (savedmodel.graph.feed_values); InvalidInputError naming the spec if it cannot be."""
    spec = f"{dtypes.dtype_name(dtype)} {format_shape(shape)}"
    where = f"input {key!r}" + (f" ({tensor_name})" if tensor_name else "")
    try:
        return convert_feed(value, dtypes.as_numpy_dtype(dtype), FeedRule.SAVED_MODEL_CLI, shape)
    except FeedShapeError as exc:
        raise InvalidInputError(
            f"{where} expects {spec}; cannot feed a value of shape {format_shape(exc.shape)}"
        ) from None
    except FeedValueError as exc:
        raise InvalidInputError(
            f"{where} expects {spec}; cannot convert the given value: {exc.detail}"
        ) from None
