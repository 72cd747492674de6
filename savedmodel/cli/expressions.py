"""The safe expression evaluator behind `--input_exprs`: Python literals, arithmetic on numbers and a
fixed set of NumPy constructors, evaluated by walking the parsed expression. Nothing is `eval`'d.

`evaluate_expression("np.ones((2, 3), np.float32) * 2")` accepts literals (numbers, strings,
bytes, lists, tuples, dicts, sets, True/False/None), unary and binary arithmetic with a bound
on the size of powers, `np.ones/zeros/full/empty/arange/linspace/eye/identity/array/asarray`
and their `_like` forms, dtype constructors (`np.float32(1.5)`), `np.random.rand/randn/random/
randint/uniform/normal` (one generator seeded per command line, so runs are reproducible),
`.reshape`, `.astype` and `.T`. Any other name, attribute or call is refused with
InvalidInputError, and no expression may create more than MAX_ELEMENTS elements.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError, LimitExceededError

# Largest number of elements one expression (or one file array) may create.
MAX_ELEMENTS = 10**8
# Longest expression text accepted.
MAX_EXPRESSION_CHARS = 1 << 20
# Seed of the generator behind np.random.* in --input_exprs.
RANDOM_SEED = 0


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
