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
  limit on the number of elements an expression may create. The random
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
declares, as a TF session does with `np.asarray(value, dtype=...)`.
"""

from __future__ import annotations

import ast
import io
import math
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError, LimitExceededError, PolicyError
from savedmodel.format import dtypes
from savedmodel.proto import example_pb2

# Largest number of elements one expression (or one file array) may create.
MAX_ELEMENTS = 10**8
# Longest expression text accepted.
MAX_EXPRESSION_CHARS = 1 << 20
# Seed of the generator behind np.random.* in --input_exprs.
RANDOM_SEED = 0

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


class _Refused(Exception):
    """An expression uses something the evaluator does not allow; args[0] names it."""


_DTYPE_NAMES = (
    "float16", "float32", "float64", "half", "single", "double", "longdouble",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "intc", "uintc", "longlong", "ulonglong", "bool_", "complex64", "complex128",
    "bytes_", "str_",
)  # fmt: skip
_NUMPY_DTYPES: dict[str, type] = {name: getattr(np, name) for name in _DTYPE_NAMES if hasattr(np, name)}
_DTYPE_STRINGS = frozenset(_NUMPY_DTYPES) | {"float", "int", "bool", "complex", "bool8", "str", "bytes"}
_NUMPY_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
_BUILTIN_DTYPES: dict[str, type] = {"float": float, "int": int, "bool": bool, "complex": complex}
_ARRAY_METHODS = frozenset({"reshape", "astype"})
_ARRAY_PROPERTIES = frozenset({"T"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | complex | np.number | np.bool_) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biufc"
    )


def _as_dtype(value: Any) -> np.dtype | None:
    if value is None:
        return None
    if isinstance(value, type) and value in _NUMPY_DTYPES.values():
        return np.dtype(value)
    if value in (float, int, bool, complex, str, bytes):
        return np.dtype(value)
    if isinstance(value, str) and value in _DTYPE_STRINGS:
        return np.dtype(value)
    if isinstance(value, np.dtype) and value.kind in "biufcSU":
        return value
    raise _Refused(f"dtype {value!r}")


def _count_limit(count: float, what: str) -> None:
    if count > MAX_ELEMENTS:
        raise LimitExceededError(f"{what} would create {count:.0f} elements; the limit is {MAX_ELEMENTS}")


def _as_shape(shape: Any, what: str) -> tuple[int, ...]:
    dims = shape if isinstance(shape, tuple | list) else (shape,)
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 0:
            raise InvalidInputError(f"{what}: shape {shape!r} must be a non-negative int or a tuple of them")
    result = tuple(int(d) for d in dims)
    _count_limit(math.prod(result), what)
    return result


def _as_count(value: Any, what: str) -> int:
    return (
        _as_shape(value, what)[0]
        if not isinstance(value, tuple | list)
        else math.prod(_as_shape(value, what))
    )


def _size_arg(size: Any, what: str) -> tuple[int, ...] | None:
    return None if size is None else _as_shape(size, what)


class SeededRandomState:
    """np.random.RandomState(seed), made on first use: most expressions draw no random numbers,
    and importing numpy.random adds several ms to a cold start."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._state: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._state is None:
            self._state = np.random.RandomState(self.seed)
        return getattr(self._state, name)


class _NumpyFunctions:
    """The NumPy constructors an expression may call, with their arguments checked."""

    def __init__(self, rng: np.random.RandomState | SeededRandomState) -> None:
        self.rng = rng

    def table(self) -> dict[str, Callable[..., Any]]:
        functions: dict[str, Callable[..., Any]] = {
            "ones": self.ones, "zeros": self.zeros, "full": self.full, "empty": self.zeros,
            "arange": self.arange, "linspace": self.linspace, "eye": self.eye, "identity": self.identity,
            "array": self.array, "asarray": self.array,
            "ones_like": self.ones_like, "zeros_like": self.zeros_like, "full_like": self.full_like,
            "random.rand": self.rand, "random.randn": self.randn, "random.random": self.random,
            "random.random_sample": self.random, "random.randint": self.randint,
            "random.uniform": self.uniform, "random.normal": self.normal,
        }  # fmt: skip
        for name, scalar_type in _NUMPY_DTYPES.items():
            functions[name] = self._dtype_constructor(scalar_type)
        return functions

    @staticmethod
    def ones(shape: Any, dtype: Any = None) -> np.ndarray:
        return np.ones(_as_shape(shape, "np.ones"), dtype=_as_dtype(dtype))

    @staticmethod
    def zeros(shape: Any, dtype: Any = None) -> np.ndarray:
        return np.zeros(_as_shape(shape, "np.zeros"), dtype=_as_dtype(dtype))

    @staticmethod
    def full(shape: Any, fill_value: Any, dtype: Any = None) -> np.ndarray:
        _require_scalar(fill_value, "np.full fill_value")
        return np.full(_as_shape(shape, "np.full"), fill_value, dtype=_as_dtype(dtype))

    @staticmethod
    def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> np.ndarray:
        for value in (start, stop, step):
            if value is not None and (not _is_number(value) or np.ndim(value) != 0 or np.iscomplexobj(value)):
                raise InvalidInputError(f"np.arange: {value!r} is not a real number")
        first, last = (0, start) if stop is None else (start, stop)
        increment = 1 if step is None else step
        if increment == 0:
            raise InvalidInputError("np.arange: step must not be zero")
        count = max(0.0, math.ceil((float(last) - float(first)) / float(increment)))
        _count_limit(count, "np.arange")
        return np.arange(first, last, increment, dtype=_as_dtype(dtype))

    @staticmethod
    def linspace(
        start: Any, stop: Any, num: Any = 50, endpoint: bool = True, dtype: Any = None
    ) -> np.ndarray:
        if isinstance(num, bool) or not isinstance(num, int) or num < 0:
            raise InvalidInputError(f"np.linspace: num {num!r} must be a non-negative int")
        _count_limit(num, "np.linspace")
        return np.linspace(start, stop, num=num, endpoint=bool(endpoint), dtype=_as_dtype(dtype))

    @staticmethod
    def eye(N: Any, M: Any = None, k: Any = 0, dtype: Any = float) -> np.ndarray:  # noqa: N803 - NumPy's names
        rows = _as_count(N, "np.eye")
        cols = rows if M is None else _as_count(M, "np.eye")
        _count_limit(rows * cols, "np.eye")
        if isinstance(k, bool) or not isinstance(k, int):
            raise InvalidInputError(f"np.eye: k {k!r} must be an int")
        return np.eye(rows, cols, k=k, dtype=_as_dtype(dtype))

    @staticmethod
    def identity(n: Any, dtype: Any = None) -> np.ndarray:
        size = _as_count(n, "np.identity")
        _count_limit(size * size, "np.identity")
        return np.identity(size, dtype=_as_dtype(dtype))

    @staticmethod
    def array(value: Any, dtype: Any = None) -> np.ndarray:
        try:
            result = np.array(value, dtype=_as_dtype(dtype))
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInputError(f"np.array: {exc}") from None
        if result.dtype.hasobject:
            raise InvalidInputError(
                "np.array: the value does not form a regular array (ragged or mixed types)"
            )
        return result

    @staticmethod
    def ones_like(value: Any, dtype: Any = None) -> np.ndarray:
        return np.ones_like(_NumpyFunctions.array(value), dtype=_as_dtype(dtype))

    @staticmethod
    def zeros_like(value: Any, dtype: Any = None) -> np.ndarray:
        return np.zeros_like(_NumpyFunctions.array(value), dtype=_as_dtype(dtype))

    @staticmethod
    def full_like(value: Any, fill_value: Any, dtype: Any = None) -> np.ndarray:
        _require_scalar(fill_value, "np.full_like fill_value")
        return np.full_like(_NumpyFunctions.array(value), fill_value, dtype=_as_dtype(dtype))

    def rand(self, *dims: Any) -> Any:
        return self.rng.rand(*_as_shape(dims, "np.random.rand"))

    def randn(self, *dims: Any) -> Any:
        return self.rng.randn(*_as_shape(dims, "np.random.randn"))

    def random(self, size: Any = None) -> Any:
        return self.rng.random_sample(_size_arg(size, "np.random.random"))

    def randint(self, low: Any, high: Any = None, size: Any = None, dtype: Any = int) -> Any:
        return self.rng.randint(low, high, size=_size_arg(size, "np.random.randint"), dtype=_as_dtype(dtype))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        _require_scalar(low, "np.random.uniform low")
        _require_scalar(high, "np.random.uniform high")
        return self.rng.uniform(low, high, size=_size_arg(size, "np.random.uniform"))

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        _require_scalar(loc, "np.random.normal loc")
        _require_scalar(scale, "np.random.normal scale")
        return self.rng.normal(loc, scale, size=_size_arg(size, "np.random.normal"))

    @staticmethod
    def _dtype_constructor(scalar_type: type) -> Callable[..., Any]:
        def construct(value: Any = 0) -> Any:
            if isinstance(value, list | tuple):
                return _NumpyFunctions.array(value, dtype=scalar_type)
            if not isinstance(value, int | float | complex | str | bytes | np.generic | np.ndarray):
                raise InvalidInputError(f"np.{scalar_type.__name__}: cannot convert {value!r}")
            return scalar_type(value)

        return construct


def _require_scalar(value: Any, what: str) -> None:
    if not (_is_number(value) or isinstance(value, str | bytes)) or np.ndim(value) != 0:
        raise InvalidInputError(f"{what} must be a number, got {value!r}")


_BINARY_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
# Largest integer power result (in bits) `**` may build: 9**9**9 would take hours.
_MAX_POWER_BITS = 4096
_UNARY_OPS: dict[type, Callable[[Any], Any]] = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a}

_CONSTRUCT_NAMES: dict[type, str] = {
    ast.Lambda: "lambda", ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Subscript: "subscript", ast.JoinedStr: "f-string", ast.IfExp: "conditional expression",
    ast.BoolOp: "boolean operator", ast.Compare: "comparison", ast.NamedExpr: "assignment expression",
    ast.Starred: "starred argument", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slice",
}  # fmt: skip


class _Evaluator:
    """Evaluates a parsed expression: literals, a few NumPy constructors, + - * / on numbers."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = functions

    def evaluate(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.evaluate(node.body)
        if isinstance(node, ast.Constant):
            if node.value is Ellipsis:
                raise _Refused("'...'")
            return node.value
        if isinstance(node, ast.List):
            return [self.evaluate(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.evaluate(item) for item in node.elts)
        if isinstance(node, ast.Set):
            return {self._hashable(self.evaluate(item)) for item in node.elts}
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise _Refused("'**' in a dict")
            return {
                self._hashable(self.evaluate(k)): self.evaluate(v)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            return self._attribute_value(node)
        if isinstance(node, ast.Name):
            if node.id in _BUILTIN_DTYPES:
                return _BUILTIN_DTYPES[node.id]
            raise _Refused(f"name {node.id!r}")
        raise _Refused(_CONSTRUCT_NAMES.get(type(node), type(node).__name__))

    @staticmethod
    def _hashable(value: Any) -> Any:
        try:
            hash(value)
        except TypeError:
            raise _Refused(f"unhashable key {value!r}") from None
        return value

    def _unary(self, node: ast.UnaryOp) -> Any:
        operator = _UNARY_OPS.get(type(node.op))
        if operator is None:
            raise _Refused(f"operator {type(node.op).__name__}")
        operand = self.evaluate(node.operand)
        if not _is_number(operand) or isinstance(operand, bool):
            raise _Refused(f"unary {type(node.op).__name__} on {type(operand).__name__}")
        return operator(operand)

    def _binary(self, node: ast.BinOp) -> Any:
        operator = _BINARY_OPS.get(type(node.op))
        if operator is None:
            raise _Refused(f"operator {type(node.op).__name__}")
        left, right = self.evaluate(node.left), self.evaluate(node.right)
        for operand in (left, right):
            if not _is_number(operand) or isinstance(operand, bool):
                raise _Refused(f"{type(node.op).__name__} on {type(operand).__name__}")
        if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
            try:
                shape = np.broadcast_shapes(np.shape(left), np.shape(right))
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from None
            _count_limit(math.prod(shape), "arithmetic")
        if isinstance(node.op, ast.Pow):
            self._check_power(left, right)
        with np.errstate(all="ignore"):
            try:
                return operator(left, right)
            except ZeroDivisionError:
                raise InvalidInputError("division by zero") from None
            except OverflowError as exc:  # e.g. a huge Python int times a float
                raise InvalidInputError(f"numeric overflow in {type(node.op).__name__}: {exc}") from None

    @staticmethod
    def _check_power(base: Any, exponent: Any) -> None:
        """Python ints grow without bound; NumPy and float powers overflow to inf quickly."""
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
            if max(base.bit_length(), 1) * exponent > _MAX_POWER_BITS:
                raise LimitExceededError(f"{base}**{exponent} is too large")

    def _dotted_name(self, node: ast.AST) -> str | None:
        """'np.random.rand' for a chain of attributes on the name np/numpy, else None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in ("np", "numpy"):
            return ".".join(reversed(parts))
        return None

    def _attribute_value(self, node: ast.Attribute) -> Any:
        dotted = self._dotted_name(node)
        if dotted is not None:
            if dotted in _NUMPY_DTYPES:
                return _NUMPY_DTYPES[dotted]
            if dotted in _NUMPY_CONSTANTS:
                return _NUMPY_CONSTANTS[dotted]
            raise _Refused(f"attribute 'np.{dotted}'")
        if node.attr in _ARRAY_PROPERTIES:
            return self._array_operand(node).T
        raise _Refused(f"attribute {node.attr!r}")

    def _array_operand(self, node: ast.Attribute) -> np.ndarray:
        value = self.evaluate(node.value)
        if not isinstance(value, np.ndarray | np.generic):
            raise _Refused(f"attribute {node.attr!r} of {type(value).__name__}")
        return np.asarray(value)

    def _call(self, node: ast.Call) -> Any:
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise _Refused("'*' or '**' arguments")
        target = node.func
        if isinstance(target, ast.Attribute):
            dotted = self._dotted_name(target)
            if dotted is not None:
                function = self.functions.get(dotted)
                if function is None:
                    raise _Refused(f"call to 'np.{dotted}'")
                return self._invoke(function, f"np.{dotted}", node)
            if target.attr in _ARRAY_METHODS:
                array = self._array_operand(target)
                return self._invoke(self._method(array, target.attr), f".{target.attr}", node)
            raise _Refused(f"call to attribute {target.attr!r}")
        if isinstance(target, ast.Name):
            if target.id == "set" and not node.args and not node.keywords:
                return set()
            raise _Refused(f"call to {target.id!r}")
        raise _Refused("call of a computed value")

    @staticmethod
    def _method(array: np.ndarray, name: str) -> Callable[..., Any]:
        if name == "reshape":

            def reshape(*shape: Any) -> np.ndarray:
                dims = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
                if any(isinstance(d, bool) or not isinstance(d, int | np.integer) for d in dims):
                    raise InvalidInputError(f".reshape: shape {shape!r} must be ints")
                return array.reshape(tuple(int(d) for d in dims))

            return reshape

        def astype(dtype: Any) -> np.ndarray:
            return array.astype(_as_dtype(dtype))

        return astype

    def _invoke(self, function: Callable[..., Any], name: str, node: ast.Call) -> Any:
        args = [self.evaluate(arg) for arg in node.args]
        kwargs = {keyword.arg: self.evaluate(keyword.value) for keyword in node.keywords}
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = function(*args, **kwargs)
        except (InvalidInputError, _Refused, LimitExceededError):
            raise
        except TypeError as exc:
            raise InvalidInputError(f"{name}: bad arguments ({exc})") from None
        except (ValueError, OverflowError, MemoryError) as exc:
            raise InvalidInputError(f"{name}: {exc}") from None
        if np.size(result) > MAX_ELEMENTS:
            raise LimitExceededError(f"{name} created more than {MAX_ELEMENTS} elements")
        return result


def evaluate_expression(
    text: str, key: str = "", rng: np.random.RandomState | SeededRandomState | None = None
) -> Any:
    """The value of one `--input_exprs` expression, without `eval` (see the module docstring)."""
    label = f"--input_exprs key {key!r}" if key else "--input_exprs"
    if len(text) > MAX_EXPRESSION_CHARS:
        raise LimitExceededError(f"{label}: expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(" \t"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise InvalidInputError(f"{label}: {text!r} is not a valid expression ({detail})") from None
    functions = _NumpyFunctions(rng if rng is not None else SeededRandomState(RANDOM_SEED)).table()
    try:
        return _Evaluator(functions).evaluate(tree)
    except _Refused as exc:
        raise InvalidInputError(
            f"{label}: {exc.args[0]} is not allowed in {text!r} (allowed: Python literals, arithmetic on "
            "numbers and NumPy constructors such as np.ones, np.arange, np.array, np.random.rand)"
        ) from None
    except (InvalidInputError, LimitExceededError) as exc:
        raise type(exc)(f"{label}: {exc}") from None
    except RecursionError:
        raise InvalidInputError(f"{label}: expression nested too deeply") from None


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


def shape_compatible(actual: tuple[int, ...], expected: tuple[int, ...] | None) -> bool:
    if expected is None:
        return True
    return len(actual) == len(expected) and all(
        e < 0 or a == e for a, e in zip(actual, expected, strict=True)
    )


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, np.ndarray):
        yield from value.ravel().tolist() if value.dtype.hasobject else [value]
    else:
        yield value


def _as_bytes(item: Any) -> bytes:
    if isinstance(item, bytes | np.bytes_):
        return bytes(item)
    if isinstance(item, str | np.str_):
        return str(item).encode("utf-8")
    raise TypeError(type(item).__name__)


def _string_array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "OSU":
            raise TypeError(f"an array of {array.dtype}")
    else:
        array = np.array(value, dtype=object)
    result = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        result[index] = _as_bytes(item)
    return result


def _numeric_array(value: Any, np_dtype: np.dtype) -> np.ndarray:
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.kind in "OSUV":
            raise TypeError(f"an array of {array.dtype}")
        if array.dtype.kind == "c" and np_dtype.kind != "c":
            raise TypeError("complex values")
        return array.astype(np_dtype)
    for item in _flatten(value):
        if not isinstance(item, int | float | complex | np.number | np.bool_ | np.ndarray):
            raise TypeError(f"{type(item).__name__} value {item!r}")
        if isinstance(item, complex) and np_dtype.kind != "c":
            raise TypeError("complex values")
    array = np.asarray(value, dtype=np_dtype)
    if isinstance(value, int) and not isinstance(value, bool) and array.item() != value:
        raise OverflowError(f"{value} does not fit")
    return array


def coerce_feed(
    key: str, value: Any, dtype: int, shape: tuple[int, ...] | None, tensor_name: str = ""
) -> np.ndarray:
    """`value` as an array of the input's dtype; InvalidInputError naming the spec if it cannot be."""
    spec = f"{dtypes.dtype_name(dtype)} {format_shape(shape)}"
    where = f"input {key!r}" + (f" ({tensor_name})" if tensor_name else "")
    try:
        if dtypes.is_string(dtype):
            array = _string_array(value)
        else:
            with np.errstate(all="ignore"):
                array = _numeric_array(value, dtypes.as_numpy_dtype(dtype))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{where} expects {spec}; cannot convert the given value: {exc}") from None
    if not shape_compatible(array.shape, shape):
        raise InvalidInputError(
            f"{where} expects {spec}; cannot feed a value of shape {format_shape(array.shape)}"
        )
    return array
