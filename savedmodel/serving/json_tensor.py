"""TF Serving's REST JSON <-> tensors, matching tensorflow_serving/util/json_tensor.cc.

Requests:
  * predict, row format:      {"signature_name": ..., "instances": [...]}
  * predict, columnar format: {"signature_name": ..., "inputs": ... | {name: ...}}
  * classify / regress:       {"signature_name": ..., "context": {...}, "examples": [{...}, ...]}
Responses are written the way TF Serving's rapidjson PrettyWriter writes them
(4-space indent, single-line arrays inside each prediction), floats printed with
the shortest of "%.6g" / full precision that round-trips, `NaN`/`Infinity`
literals, and DT_STRING outputs whose name ends in `_bytes` as {"b64": ...}.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from savedmodel.format import dtypes
from savedmodel.format.tensor import element_bytes
from savedmodel.proto import example_pb2
from savedmodel.serving.errors import ServingError, internal, invalid_argument, unimplemented

DT = dtypes.DT
B64_KEY = "b64"
BYTES_SUFFIX = "_bytes"
MAX_DEBUG_STRING = 256
MAX_RANK = 254  # TensorFlow's TensorShape limit


def _numpy_max_dims() -> int:
    for dims in (64, 32):  # NumPy 2, NumPy 1
        try:
            np.empty((1,) * dims, dtype=np.uint8)
            return dims
        except ValueError:
            continue
    return 32


NUMPY_MAX_DIMS = _numpy_max_dims()


def check_rank(rank: int) -> None:
    """TensorFlow's limit (254 dimensions), then NumPy's (64): both are a 400, not a crash."""
    if rank > MAX_RANK:
        raise invalid_argument(
            f"JSON value nests {rank} lists deep; a tensor has at most {MAX_RANK} dimensions"
        )
    if rank > NUMPY_MAX_DIMS:
        raise invalid_argument(
            f"a tensor of {rank} dimensions is not supported: savedmodel's tensors (NumPy arrays) "
            f"have at most {NUMPY_MAX_DIMS}"
        )


class RequestFormat(enum.Enum):
    ROW = "row"
    COLUMNAR = "columnar"


# TensorFlow's C++ DataTypeString names, used in error messages.
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def dtype_string(dtype: int) -> str:
    name = dtypes.dtype_name(dtype)
    return _CPP_NAMES.get(name, name)


# ---------------------------------------------------------------------------
# JSON parsing helpers


def json_type_string(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def debug_string(value: Any) -> str:
    """A short JSON rendering of a value for error messages (truncated like TF Serving's)."""
    try:
        text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, allow_nan=True)
    except (ValueError, TypeError, RecursionError):
        text = "<unprintable>"
    return text[:MAX_DEBUG_STRING]


def _first_member_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # rapidjson's FindMember returns the first member with a name; keep the first.
    result: dict[str, Any] = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_first_member_wins)
_WHITESPACE = " \t\n\r"
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CONSTANTS = {"true": True, "false": False, "null": None, "NaN": math.nan, "Infinity": math.inf}


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _decode_error(message: str, pos: int) -> ServingError:
    return invalid_argument(f"JSON Parse error: {message} at offset: {pos}")


def _scalar_at(text: str, pos: int) -> tuple[Any, int]:
    """One string, number or literal starting at `pos` (json's own scanners, no nesting)."""
    char = text[pos] if pos < len(text) else ""
    if char == '"':
        try:
            return json.decoder.scanstring(text, pos + 1)
        except json.JSONDecodeError as exc:
            raise _decode_error(exc.msg, exc.pos) from None
    for literal, value in _CONSTANTS.items():
        if text.startswith(literal, pos):
            return value, pos + len(literal)
    if text.startswith("-Infinity", pos):
        return -math.inf, pos + 9
    match = _NUMBER.match(text, pos)
    if match is None:
        raise _decode_error("Expecting value", pos)
    integer, fraction, exponent = match.groups()
    if fraction or exponent:
        return float(integer + (fraction or "") + (exponent or "")), match.end()
    return int(integer), match.end()


def parse_json_iteratively(text: str, pos: int = 0) -> tuple[Any, int]:
    """One JSON value starting at `pos`, parsed with an explicit stack (any nesting depth, bounded
    only by the text's length); returns (value, end). Same values as the json module with
    first-member-wins objects; used when the json module's recursion limit is reached."""
    stack: list[tuple[list | dict, str | None]] = []  # container, pending object key
    while True:
        pos = _skip(text, pos)
        char = text[pos] if pos < len(text) else ""
        if char in "[{":
            container: list | dict = [] if char == "[" else {}
            pos = _skip(text, pos + 1)
            closing = "]" if char == "[" else "}"
            if text.startswith(closing, pos):
                value, pos = container, pos + 1
            else:
                key = None
                if closing == "}":
                    key, pos = _object_key(text, pos)
                stack.append((container, key))
                continue
        else:
            value, pos = _scalar_at(text, pos)
        # attach `value` to its parent, closing every container that ends here
        while True:
            if not stack:
                return value, pos
            parent, key = stack[-1]
            if isinstance(parent, list):
                parent.append(value)
            else:
                parent.setdefault(key, value)
            pos = _skip(text, pos)
            char = text[pos] if pos < len(text) else ""
            if char == ",":
                pos += 1
                if isinstance(parent, dict):
                    key, pos = _object_key(text, _skip(text, pos))
                    stack[-1] = (parent, key)
                break
            if char == ("]" if isinstance(parent, list) else "}"):
                stack.pop()
                value, pos = parent, pos + 1
                continue
            expected = "',' or ']'" if isinstance(parent, list) else "',' or '}'"
            raise _decode_error(f"Expecting {expected} delimiter", pos)


def _object_key(text: str, pos: int) -> tuple[str, int]:
    if not text.startswith('"', pos):
        raise _decode_error("Expecting property name enclosed in double quotes", pos)
    key, pos = _scalar_at(text, pos)
    pos = _skip(text, pos)
    if not text.startswith(":", pos):
        raise _decode_error("Expecting ':' delimiter", pos)
    return key, pos + 1


def _parse_first_document(text: str) -> Any:
    start = _skip(text, 0)
    try:
        return _DECODER.raw_decode(text, start)[0]
    except json.JSONDecodeError as exc:
        raise _decode_error(exc.msg, exc.pos) from None
    except RecursionError:
        return parse_json_iteratively(text, start)[0]


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body; it must start with one JSON object (NaN/Infinity literals allowed).

    As TF Serving's rapidjson (kParseIterativeFlag | kParseStopWhenDoneFlag): nesting depth is
    not limited (only the body size is), and whatever follows the first complete document is
    ignored, bytes that are not UTF-8 included."""
    if not body or not body.strip():
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = body[: exc.start].decode("utf-8")
        try:
            doc = _parse_first_document(text)
        except ServingError:
            raise invalid_argument(
                f"JSON Parse error: Invalid encoding in string. at offset: {exc.start}"
            ) from None
    else:
        doc = _parse_first_document(text)
    if not isinstance(doc, dict):
        raise invalid_argument(f"JSON Value: {debug_string(doc)} Is not object")
    return doc


def signature_name_of(doc: Mapping[str, Any]) -> str:
    """The optional "signature_name" ("" when absent)."""
    if "signature_name" not in doc:
        return ""
    value = doc["signature_name"]
    if not isinstance(value, str):
        raise invalid_argument(
            f"JSON Value: {debug_string(doc)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return value


def is_base64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(B64_KEY), str)


def decode_base64_object(value: Any) -> bytes:
    if not is_base64_object(value):
        raise invalid_argument(f"JSON Value: {debug_string(value)} not formatted correctly for base64 data")
    text = value[B64_KEY]
    try:
        # absl::Base64Unescape accepts both padded and unpadded input and the web-safe alphabet.
        cleaned = text.replace("-", "+").replace("_", "/").strip()
        cleaned += "=" * (-len(cleaned) % 4)
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


# ---------------------------------------------------------------------------
# JSON values -> numpy tensors

_INT_RANGES = {
    DT.DT_INT32: (-(2**31), 2**31 - 1),
    DT.DT_INT16: (-(2**31), 2**31 - 1),  # TF Serving checks IsInt() then narrows
    DT.DT_INT8: (-(2**31), 2**31 - 1),
    DT.DT_UINT8: (-(2**31), 2**31 - 1),
    DT.DT_INT64: (-(2**63), 2**63 - 1),
    DT.DT_UINT32: (0, 2**32 - 1),
    DT.DT_UINT64: (0, 2**64 - 1),
}
_SUPPORTED_INPUT = frozenset({DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_STRING, DT.DT_BOOL, *list(_INT_RANGES)})


def _type_error(value: Any, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {debug_string(value)} Type: {json_type_string(value)} "
        f"is not of expected type: {dtype_string(dtype)}"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _convert_scalar(value: Any, dtype: int) -> Any:
    """One JSON leaf -> a Python value for `dtype` (TF Serving's AddValueToTensor)."""
    if dtype in (DT.DT_FLOAT, DT.DT_DOUBLE):
        if not _is_number(value):
            raise _type_error(value, dtype)
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise _type_error(value, dtype)
        return value
    if dtype == DT.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", "surrogatepass")
    if dtype == DT.DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    raise unimplemented(f"Conversion of JSON Value: {debug_string(value)} to type: {dtype_string(dtype)}")


def dense_shape(value: Any) -> list[int]:
    """Shape implied by the first element at each nesting level (GetDenseTensorShape)."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: int, out: list[Any]) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {debug_string(value)} found at incorrect level: {level + 1} "
                f"in the JSON DOM. Expected at level: {rank}"
            )
        if isinstance(value, dict):
            if dtype != DT.DT_STRING:
                raise _type_error(value, dtype)
            out.append(decode_base64_object(value))
        else:
            out.append(_convert_scalar(value, dtype))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _to_array(values: list[Any], shape: list[int], dtype: int) -> np.ndarray:
    if dtype == DT.DT_STRING:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    np_dtype = dtypes.as_numpy_dtype(dtype)
    if dtype in (DT.DT_INT16, DT.DT_INT8, DT.DT_UINT8):
        # TensorFlow narrows int_val with a C cast.
        return np.array(values, dtype=np.int64).astype(np_dtype).reshape(shape)
    if not values:
        return np.zeros(shape, dtype=np_dtype)
    if np_dtype.kind == "f":
        with np.errstate(over="ignore"):
            return np.array(values, dtype=np.float64).astype(np_dtype).reshape(shape)
    return np.array(values, dtype=np_dtype).reshape(shape)


def json_to_tensor(value: Any, dtype: int) -> tuple[np.ndarray, int]:
    """A nested JSON list (or scalar) -> (array, number of leaf values)."""
    if dtype not in _SUPPORTED_INPUT:
        # Mirror TF Serving: the first leaf reports the unsupported conversion.
        leaf = value
        while isinstance(leaf, list) and leaf:
            leaf = leaf[0]
        if not isinstance(leaf, list):
            raise unimplemented(
                f"Conversion of JSON Value: {debug_string(leaf)} to type: {dtype_string(dtype)}"
            )
    shape = dense_shape(value)
    check_rank(len(shape))
    values: list[Any] = []
    _fill(value, 0, shape, dtype, values)
    return _to_array(values, shape, dtype), len(values)


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _status_string(error: ServingError) -> str:
    return f"{error.code}: {error.message}"


def _instances_to_tensors(instances: list[Any], input_dtypes: Mapping[str, int]) -> dict[str, np.ndarray]:
    first = instances[0]
    if not isinstance(first, dict) and len(input_dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple "
            "input tensors required as per tensorinfo_map"
        )

    def is_element_object(value: Any) -> bool:
        return isinstance(value, dict) and not is_base64_object(value)

    elements_are_objects = is_element_object(first)
    input_names = sorted(input_dtypes)
    per_input: dict[str, list[np.ndarray]] = {}
    sizes: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}

    def add_item(item: Any, name: str) -> None:
        if name not in input_dtypes:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        array, size = json_to_tensor(item, input_dtypes[name])
        if name not in sizes:
            sizes[name] = size
            shapes[name] = array.shape
        elif sizes[name] != size:
            raise invalid_argument(f"Expecting tensor size: {sizes[name]} but got: {size}")
        elif shapes[name] != array.shape:
            raise invalid_argument(f"Expecting shape {_dims(shapes[name])} but got: {_dims(array.shape)}")
        per_input.setdefault(name, []).append(array)

    for index, element in enumerate(instances):
        if elements_are_objects:
            if not is_element_object(element):
                raise invalid_argument(f"Expecting object but got list at item {index} of input list")
            for name, item in element.items():
                try:
                    add_item(item, name)
                except ServingError as exc:
                    raise ServingError(
                        exc.code,
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: {_status_string(exc)}",
                    ) from None
            if set(element) != set(input_names):
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{debug_string(element)} keys must be equal to: {','.join(input_names)}"
                )
        else:
            if is_element_object(element):
                raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
            try:
                add_item(element, input_names[0])
            except ServingError as exc:
                raise ServingError(
                    exc.code,
                    f"Failed to process element: {index} of 'instances' list. Error: {_status_string(exc)}",
                ) from None
    for name in per_input:
        check_rank(len(shapes[name]) + 1)
    return {name: _stack(arrays, shapes[name], input_dtypes[name]) for name, arrays in per_input.items()}


def _stack(arrays: list[np.ndarray], item_shape: tuple[int, ...], dtype: int) -> np.ndarray:
    if dtype == DT.DT_STRING:
        out = np.empty((len(arrays), *item_shape), dtype=object)
        for i, array in enumerate(arrays):
            out[i] = array.item() if array.ndim == 0 else array
        return out
    return np.stack(arrays) if arrays else np.zeros((0, *item_shape), dtype=dtypes.as_numpy_dtype(dtype))


def _inputs_to_tensors(value: Any, input_dtypes: Mapping[str, int]) -> dict[str, np.ndarray]:
    if not isinstance(value, dict) or is_base64_object(value):
        if len(input_dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple "
                "input tensors required as per tensorinfo_map"
            )
        name = next(iter(input_dtypes))
        return {name: json_to_tensor(value, input_dtypes[name])[0]}
    tensors = {}
    for name in sorted(input_dtypes):
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = json_to_tensor(value[name], input_dtypes[name])[0]
    return tensors


def predict_request_tensors(
    doc: Mapping[str, Any], input_dtypes: Mapping[str, int], signature_name: str
) -> tuple[dict[str, np.ndarray], RequestFormat]:
    """Tensors of a parsed :predict body, keyed by the signature's input names."""
    if not input_dtypes:
        raise invalid_argument(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    has_instances = "instances" in doc
    has_inputs = "inputs" in doc
    if has_instances and has_inputs:
        raise invalid_argument(
            f"JSON Value: {debug_string(doc)} Not formatted correctly expecting only one of "
            "'inputs' or 'instances' keys to exist "
        )
    if has_instances:
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise invalid_argument(
                f"JSON Value: {debug_string(doc)} Expecting 'instances' to be an list/array"
            )
        if not instances:
            raise invalid_argument(f"JSON Value: {debug_string(doc)} No values in 'instances' array")
        return _instances_to_tensors(instances, input_dtypes), RequestFormat.ROW
    if has_inputs:
        return _inputs_to_tensors(doc["inputs"], input_dtypes), RequestFormat.COLUMNAR
    raise invalid_argument("Missing 'inputs' or 'instances' key")


# ---------------------------------------------------------------------------
# tf.Example JSON (classify / regress)


def _add_to_feature(value: Any, name: str, feature: example_pb2.Feature) -> None:
    kind = feature.WhichOneof("kind")

    def incompatible() -> ServingError:
        names = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64", None: "UNKNOWN"}
        return invalid_argument(f"Unexpected element type in feature: {name} expecting type: {names[kind]}")

    def check(wanted: str) -> None:
        if kind not in (None, wanted):
            raise incompatible()

    if value is None or isinstance(value, list) or (isinstance(value, dict) and not is_base64_object(value)):
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {json_type_string(value)}"
        )
    if isinstance(value, bool):
        check("int64_list")
        feature.int64_list.value.append(1 if value else 0)
    elif isinstance(value, dict):
        check("bytes_list")
        feature.bytes_list.value.append(decode_base64_object(value))
    elif isinstance(value, str):
        check("bytes_list")
        feature.bytes_list.value.append(value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, float) or (isinstance(value, int) and not -(2**63) <= value < 2**64):
        check("float_list")
        feature.float_list.value.append(_to_float32(float(value)))
    else:
        check("int64_list")
        if value >= 2**63:
            raise invalid_argument(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(value)


def _to_float32(value: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def example_from_json(value: Any) -> example_pb2.Example:
    if not isinstance(value, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {json_type_string(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = example_pb2.Feature()
        for item in content if isinstance(content, list) else [content]:
            _add_to_feature(item, name, feature)
        example.features.feature[name].CopyFrom(feature)
    return example


def serialized_examples(doc: Mapping[str, Any], method: str = "classify") -> list[bytes]:
    """Serialized tf.Examples of a :classify/:regress body; "context" features are
    prepended to each example's bytes, as TF Serving does (proto merge: example wins)."""
    context = b""
    if "context" in doc:
        context = example_from_json(doc["context"]).SerializeToString(deterministic=True)
    if "examples" not in doc:
        raise invalid_argument(
            f"JSON Value: {debug_string(doc)} When method is {method}, key 'examples' "
            "is expected and was not found"
        )
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise invalid_argument(
            f"JSON Value: {debug_string(doc)} Expecting 'examples' value to be an list/array"
        )
    if not examples:
        raise invalid_argument(f"JSON Value: {debug_string(doc)} 'examples' value is an empty array")
    return [context + example_from_json(item).SerializeToString(deterministic=True) for item in examples]


# ---------------------------------------------------------------------------
# Writing JSON the way rapidjson's PrettyWriter does

_ESCAPES = {i: f"\\u{i:04X}" for i in range(0x20)}
_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})


def json_string(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def bytes_string(data: bytes) -> str:
    """A DT_STRING value as a JSON string; invalid UTF-8 bytes pass through raw (as TF Serving)."""
    return json_string(data.decode("utf-8", "surrogateescape"))


class PrettyWriter:
    """The subset of rapidjson::PrettyWriter TF Serving uses (4-space indent)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.levels: list[list] = []  # [in_array, value_count]
        self.single_line_arrays = False

    def _indent(self) -> None:
        self.parts.append(" " * (4 * len(self.levels)))

    def _prefix(self) -> None:
        if not self.levels:
            return
        level = self.levels[-1]
        if level[0]:
            if level[1] > 0:
                self.parts.append(", " if self.single_line_arrays else ",")
            if not self.single_line_arrays:
                self.parts.append("\n")
                self._indent()
        else:
            if level[1] > 0:
                self.parts.append(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self.parts.append("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def raw(self, text: str) -> None:
        self._prefix()
        self.parts.append(text)

    def key(self, name: str) -> None:
        self.raw(json_string(name))

    def start_object(self) -> None:
        self._prefix()
        self.parts.append("{")
        self.levels.append([False, 0])

    def end_object(self) -> None:
        empty = self.levels.pop()[1] == 0
        if not empty:
            self.parts.append("\n")
            self._indent()
        self.parts.append("}")

    def start_array(self) -> None:
        self._prefix()
        self.parts.append("[")
        self.levels.append([True, 0])

    def end_array(self) -> None:
        empty = self.levels.pop()[1] == 0
        if not empty and not self.single_line_arrays:
            self.parts.append("\n")
            self._indent()
        self.parts.append("]")

    def getvalue(self) -> bytes:
        return "".join(self.parts).encode("utf-8", "surrogateescape")


def _round_trips_float32(text: str, value: float) -> bool:
    return _to_float32(float(text)) == value


def format_decimal(value: float, is_float32: bool) -> str:
    """TF Serving's WriteDecimal: "%.6g" unless that loses the value, then full precision;
    '.0' appended to whole numbers."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:.6g}"
    if is_float32:
        if not _round_trips_float32(text, value):
            text = f"{value:.9g}"
    elif float(text) != value:
        text = f"{value:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _value_formatter(dtype: int, name: str):  # noqa: ANN202 - returns a small closure
    if dtype == DT.DT_FLOAT:
        return lambda v: format_decimal(v, True)
    if dtype == DT.DT_DOUBLE:
        return lambda v: format_decimal(v, False)
    if dtype in (DT.DT_INT32, DT.DT_INT16, DT.DT_INT8, DT.DT_UINT8, DT.DT_INT64, DT.DT_UINT32, DT.DT_UINT64):
        return str
    if dtype == DT.DT_BOOL:
        return lambda v: "true" if v else "false"
    if dtype == DT.DT_STRING:
        if name.endswith(BYTES_SUFFIX):
            return lambda v: '{"b64": "' + base64.b64encode(element_bytes(v)).decode("ascii") + '"}'
        return lambda v: bytes_string(element_bytes(v))
    return None


def _tensor_dtype(array: np.ndarray) -> int:
    try:
        return dtypes.from_numpy(array.dtype)
    except Exception:  # noqa: BLE001 - any unknown dtype is simply not writable
        return DT.DT_INVALID


class _TensorWriter:
    """Writes one tensor's values (optionally starting below the batch dimension)."""

    def __init__(self, name: str, array: np.ndarray) -> None:
        self.name = name
        self.array = np.asarray(array)
        self.dtype = _tensor_dtype(self.array)
        self.values = self.array.ravel().tolist()
        self.offset = 0
        self.format = _value_formatter(self.dtype, name)

    def _single(self, writer: PrettyWriter) -> None:
        if self.format is None:
            raise invalid_argument(f"Failed to write JSON value for tensor type: {dtype_string(self.dtype)}")
        writer.raw(self.format(self.values[self.offset]))
        self.offset += 1

    def write(self, writer: PrettyWriter, dim: int) -> None:
        shape = self.array.shape
        if dim > len(shape) - 1:
            self._single(writer)
            return
        writer.start_array()
        for _ in range(shape[dim]):
            if dim == len(shape) - 1:
                self._single(writer)
            else:
                self.write(writer, dim + 1)
        writer.end_array()


def predict_response_json(outputs: Mapping[str, np.ndarray], fmt: RequestFormat) -> bytes:
    """The :predict response body: {"predictions": ...} (row) or {"outputs": ...} (columnar)."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    tensors = [_TensorWriter(name, outputs[name]) for name in sorted(outputs)]
    writer = PrettyWriter()
    writer.start_object()
    many = len(tensors) > 1
    if fmt is RequestFormat.ROW:
        batch = -1
        for tensor in tensors:
            if tensor.array.ndim == 0:
                raise invalid_argument(f"Tensor name: {tensor.name} has no shape information ")
            size = tensor.array.shape[0]
            if batch >= 0 and size != batch:
                raise invalid_argument(
                    f"Tensor name: {tensor.name} has inconsistent batch size: {size} expecting: {batch}"
                )
            batch = size
        writer.key("predictions")
        writer.start_array()
        for _ in range(batch):
            if many:
                writer.start_object()
            writer.single_line_arrays = True
            for tensor in tensors:
                if many:
                    writer.key(tensor.name)
                tensor.write(writer, 1)
            writer.single_line_arrays = False
            if many:
                writer.end_object()
        writer.end_array()
    else:
        writer.key("outputs")
        if many:
            writer.start_object()
        for tensor in tensors:
            if many:
                writer.key(tensor.name)
            tensor.write(writer, 0)
        if many:
            writer.end_object()
    writer.end_object()
    return writer.getvalue()


def classify_response_json(results: list[list[tuple[bytes, float]]]) -> bytes:
    """{"results": [[[label, score], ...], ...]} as TF Serving writes a ClassificationResult."""
    if not results:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    writer = PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.start_array()
    for classes in results:
        writer.single_line_arrays = True
        writer.start_array()
        for label, score in classes:
            writer.start_array()
            writer.raw(bytes_string(label))
            writer.raw(format_decimal(score, True))
            writer.end_array()
        writer.end_array()
        writer.single_line_arrays = False
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


def regress_response_json(values: list[float]) -> bytes:
    """{"results": [v, ...]} as TF Serving writes a RegressionResult."""
    if not values:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    writer = PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.single_line_arrays = True
    writer.start_array()
    for value in values:
        writer.raw(format_decimal(value, True))
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


def error_json(message: str) -> bytes:
    writer = PrettyWriter()
    writer.start_object()
    writer.key("error")
    writer.raw(json_string(message))
    writer.end_object()
    return writer.getvalue()


# ---------------------------------------------------------------------------
# Classification / regression results from model outputs (TF Serving's classifier.cc / regressor.cc)


def _shape_debug(array: np.ndarray) -> str:
    return "[" + ",".join(str(d) for d in array.shape) + "]"


def classification_results(
    outputs: Mapping[str, np.ndarray], num_examples: int
) -> list[list[tuple[bytes, float]]]:
    classes = outputs.get("classes")
    scores = outputs.get("scores")
    for name, tensor, wanted in (("classes", classes, DT.DT_STRING), ("scores", scores, DT.DT_FLOAT)):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise invalid_argument(
                f"Expected Tensor shape: [batch_size num_classes] but got {_shape_debug(tensor)}"
            )
        if _tensor_dtype(tensor) != wanted:
            raise invalid_argument(
                f"Expected {name} Tensor of {dtypes.enum_name(wanted)}. "
                f"Got: {dtypes.enum_name(_tensor_dtype(tensor))}"
            )
        if tensor.shape[0] != num_examples:
            raise invalid_argument(
                f"Expected {name} output batch size of {num_examples}. Got: {tensor.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid_argument(
            "Tensors class and score should match in dim_size(1). "
            f"Got {classes.shape[1]} vs. {scores.shape[1]}"
        )
    reference = classes if classes is not None else scores
    num_classes = 0 if reference is None else reference.shape[1]
    results = []
    for i in range(num_examples):
        row = []
        for c in range(num_classes):
            label = element_bytes(classes[i, c]) if classes is not None else b""
            score = float(scores[i, c]) if scores is not None else 0.0
            row.append((label, score))
        results.append(row)
    return results


def regression_results(outputs: Mapping[str, np.ndarray], num_examples: int) -> list[float]:
    tensor = outputs.get("outputs")
    if tensor is None:
        raise internal("Could not find output tensor 'outputs'")
    if not (tensor.ndim == 1 or (tensor.ndim == 2 and tensor.shape[1] == 1)):
        raise invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            + _shape_debug(tensor)
        )
    if tensor.shape[0] != num_examples:
        raise invalid_argument(
            f"Input batch size did not match output batch size: {num_examples} vs. {tensor.shape[0]}"
        )
    if _tensor_dtype(tensor) != DT.DT_FLOAT:
        raise invalid_argument(
            f"Expected output Tensor of DT_FLOAT.  Got: {dtypes.enum_name(_tensor_dtype(tensor))}"
        )
    return [float(v) for v in tensor.ravel().tolist()]
