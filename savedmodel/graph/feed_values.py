"""How a fed value (a Python scalar, nested list, NumPy array, bytes or str) becomes the array that
feeds a tensor: `convert_feed`, the one conversion every entry point uses.

TensorFlow has three entry points that take feeds, and they do not convert alike; `FeedRule`
names which one a caller mirrors (savedmodel.graph.feeds says which dtype and shape a feed is
checked against):

- `FeedRule.SESSION_RUN`: `tf.compat.v1.Session.run(fetches, feed_dict)` (savedmodel.api.tf's
  Session). NumPy's cast to the placeholder's dtype, lenient: 1.7 feeds an int32 as 1, "1.5"
  feeds a float32, a complex drops its imaginary part, [2**40] wraps into an int32. Only a bare
  Python int (or bool) that the dtype cannot hold exactly is a TypeError, and a string tensor
  takes only bytes and str.
- `FeedRule.SAVED_MODEL_CLI`: `saved_model_cli run --inputs/--input_exprs/--input_examples`
  (savedmodel's `run` and `graph run` commands). TensorFlow's tool feeds a v1 Session, so values
  are cast as above, but the command refuses what that cast would silently change: strings or
  complex values into real tensors, Python ints that overflow the dtype, ragged lists.
- `FeedRule.SIGNATURE`: calling a loaded signature or function (`loaded.signatures[key](x=...)`,
  TF2's `convert_to_tensor` with the input spec's dtype); also savedmodel's own graph session
  (runtime/session.py) and TF Serving's requests once decoded from JSON or TensorProto. Python
  values convert only where TensorFlow's would keep the value (no float into an int, no int
  into a bool; a bool into a number is 0 or 1); NumPy arrays cast within their kind or to a
  wider one. Stricter than TensorFlow on purpose where it would change a value silently: a
  Python int that overflows the dtype (TF wraps 2**40 into an int32 as 0, -1 into a uint8 as
  255) and a float array into an int spec (TF truncates) are refused.

Errors are `FeedValueError` (the value cannot become that dtype; `.detail` says why) and
`FeedShapeError` (it did, but its `.shape` does not fit); each entry point words its own
message around them, as TensorFlow's do.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError
from savedmodel.format.tensor import element_bytes

OBJECT = np.dtype(object)


class FeedRule(enum.Enum):
    """Which TensorFlow entry point's conversion a feed follows (see the module docstring)."""

    SESSION_RUN = "tf.compat.v1.Session.run"
    SAVED_MODEL_CLI = "saved_model_cli run"
    SIGNATURE = "a signature or function call"


class FeedValueError(InvalidInputError):
    """The value cannot be converted to the feed's dtype; `detail` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class FeedTypeError(FeedValueError, TypeError):
    """A FeedValueError that TensorFlow raises as a TypeError (a Python int that does not fit)."""


class FeedShapeError(InvalidInputError):
    """The converted value's `shape` is not compatible with the feed's."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__(f"cannot feed a value of shape {shape}")
        self.shape = shape


def shape_compatible(actual: tuple[int, ...], expected: Sequence[int | None] | None) -> bool:
    """Whether `actual` fits `expected` (None: any shape; a None or negative dim: any size)."""
    if expected is None or actual == expected:
        return True
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):  # a loop: this runs on every feed
        if a != e and e is not None and e >= 0:
            return False
    return True


def convert_feed(
    value: Any, dtype: np.dtype | None, rule: FeedRule, shape: Sequence[int | None] | None = None
) -> Any:
    """`value` as an array of `dtype` (object: a string tensor of bytes) by `rule`, checked
    against `shape` (None: any). `dtype` None (a fed tensor that is no placeholder): NumPy's own
    conversion. FeedValueError / FeedShapeError when it cannot feed."""
    if dtype is None:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    elif dtype.kind == "O":
        array = _string_array(value, rule)
    elif rule is FeedRule.SESSION_RUN:
        array = _session_array(value, dtype)
    elif rule is FeedRule.SIGNATURE:
        array = _signature_array(value, dtype)
    else:
        array = _cli_array(value, dtype)
    if shape is not None and not shape_compatible(array.shape, shape):
        raise FeedShapeError(array.shape)
    return array


# --------------------------------------------------------------------------- strings


def _string_array(value: Any, rule: FeedRule) -> np.ndarray:
    """bytes as they are, str encoded as UTF-8; any other element is refused."""
    if rule is FeedRule.SESSION_RUN and isinstance(value, int):
        raise _python_int_error(value, OBJECT)
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if rule is FeedRule.SAVED_MODEL_CLI and array.dtype.kind not in "OSU":
            raise FeedValueError(f"an array of {array.dtype}")
    else:
        try:
            array = np.asarray(value, dtype=object)
        except ValueError as exc:  # ragged nesting
            raise FeedValueError(str(exc)) from None
    if array.dtype == OBJECT and all(type(v) is bytes for v in array.reshape(-1)):
        return array
    result = np.empty(array.shape, dtype=object)
    try:
        for index, item in np.ndenumerate(array):
            result[index] = element_bytes(item)
    except TypeError as exc:
        if rule is FeedRule.SIGNATURE:
            raise FeedValueError("expected strings (bytes or str)") from None
        raise (FeedValueError if rule is FeedRule.SAVED_MODEL_CLI else FeedTypeError)(str(exc)) from None
    return result


# --------------------------------------------------------------------------- tf.compat.v1.Session.run


def _python_int_error(value: int, dtype: np.dtype) -> FeedTypeError:
    kind = "<class 'object'>" if dtype == OBJECT else f"<class 'numpy.{dtype.name}'>"
    return FeedTypeError(
        f"Type of feed value {value} with type {type(value)} is not compatible with Tensor type "
        f"{kind}. Try explicitly setting the type of the feed tensor to a larger type (e.g. int64)."
    )


def _session_array(value: Any, dtype: np.dtype) -> np.ndarray:
    """NumPy's cast (a copy); a bare Python int must survive the round trip through `dtype`."""
    if isinstance(value, int):
        try:
            fits = dtype.type(value) == value
        except (OverflowError, ValueError, TypeError):
            fits = False
        if not fits:
            raise _python_int_error(value, dtype)
    try:
        if isinstance(value, np.ndarray):
            return value.astype(dtype)
        return np.asarray(value).astype(dtype, copy=False)  # a fresh array already: no second copy
    except TypeError as exc:
        raise FeedTypeError(str(exc)) from None
    except (ValueError, OverflowError) as exc:
        raise FeedValueError(str(exc)) from None


# --------------------------------------------------------------------------- saved_model_cli run


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, np.ndarray):
        yield from value.ravel().tolist() if value.dtype.hasobject else [value]
    else:
        yield value


def _cli_array(value: Any, dtype: np.dtype) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            return _cli_numeric(value, dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FeedValueError(str(exc)) from None


def _cli_numeric(value: Any, dtype: np.dtype) -> np.ndarray:
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.kind in "OSUV":
            raise TypeError(f"an array of {array.dtype}")
        if array.dtype.kind == "c" and dtype.kind != "c":
            raise TypeError("complex values")
        return array.astype(dtype)
    for item in _flatten(value):
        if not isinstance(item, int | float | complex | np.number | np.bool_ | np.ndarray):
            raise TypeError(f"{type(item).__name__} value {item!r}")
        if isinstance(item, complex) and dtype.kind != "c":
            raise TypeError("complex values")
    array = np.asarray(value, dtype=dtype)
    if isinstance(value, int) and not isinstance(value, bool) and array.item() != value:
        raise OverflowError(f"{value} does not fit")
    return array


# --------------------------------------------------------------------------- signature calls


def _signature_array(value: Any, dtype: np.dtype) -> np.ndarray:
    if isinstance(value, np.ndarray):
        if value.dtype == dtype:
            return value
        if value.dtype == OBJECT or not np.can_cast(value.dtype, dtype, casting="same_kind"):
            raise FeedValueError(f"expected dtype {dtype}, got {value.dtype}")
        return value.astype(dtype)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise FeedValueError(f"cannot convert the value to a {dtype} tensor ({exc})") from None
    if array.dtype == OBJECT or array.dtype.kind in "SU":
        raise FeedValueError(f"expected dtype {dtype}, got a non-numeric value")
    if dtype.kind == "b" and array.dtype.kind != "b":
        raise FeedValueError(f"expected dtype {dtype}, got a {array.dtype} value")
    if array.dtype.kind == "f" and dtype.kind in "iub":
        raise FeedValueError(f"expected dtype {dtype}, got a floating-point value")
    if array.dtype.kind == "c" and dtype.kind != "c":
        raise FeedValueError(f"expected dtype {dtype}, got a complex value")
    converted = array.astype(dtype)
    if dtype.kind in "iu" and array.dtype.kind in "iu" and not np.array_equal(converted, array):
        raise FeedValueError(f"value out of range for dtype {dtype}")
    return converted
