"""The one feed conversion (savedmodel.graph.feed_values) against what TensorFlow 2.21 does.

Each row holds TensorFlow's outcome at two entry points, written down from the oracle
(`test_table_matches_tensorflow` re-derives them when tools/oracle/.venv exists):
`session`: `tf.compat.v1.Session.run(y, {x: value})` with `x` a placeholder of that dtype and
shape; `signature`: `tf.saved_model.load(path).signatures[key](x=value)` for a signature of that
TensorSpec. An outcome is the array fed, or the name of the exception TensorFlow raised.

`FeedRule.SESSION_RUN` gives the session outcome; `FeedRule.SAVED_MODEL_CLI` the session outcome
too (TensorFlow's saved_model_cli feeds a v1 Session), except where it refuses on purpose;
`FeedRule.SIGNATURE` the signature outcome, except where it refuses a value TensorFlow would
change silently. Those refusals are listed below with the reason.
"""

from __future__ import annotations

import ast
import json
from typing import Any, NamedTuple

import numpy as np
import pytest

from savedmodel.errors import InvalidInputError
from savedmodel.format import dtypes
from savedmodel.graph.feed_values import (
    FeedRule,
    FeedShapeError,
    FeedTypeError,
    FeedValueError,
    convert_feed,
)
from tests.conftest import run_oracle_json

DT = dtypes.DT


class Case(NamedTuple):
    name: str
    value: str  # a Python literal
    array_dtype: str | None  # the literal as a NumPy array of this dtype; None: as it is
    dtype: int
    shape: tuple[int, ...]
    session: Any  # (numpy dtype, value) fed, or the exception's name
    signature: Any

    def fed(self) -> Any:
        value = ast.literal_eval(self.value)
        return value if self.array_dtype is None else np.array(value, self.array_dtype)


F32, I32, I64, U8, BOOL, STR = DT.DT_FLOAT, DT.DT_INT32, DT.DT_INT64, DT.DT_UINT8, DT.DT_BOOL, DT.DT_STRING

CASES = [
    Case("python list into float32", "[1, 2]", None, F32, (2,), ("float32", [1.0, 2.0]),
         ("float32", [1.0, 2.0])),
    Case("python int into float32", "3", None, F32, (), ("float32", 3.0), ("float32", 3.0)),
    Case("python float into int32", "1.5", None, I32, (), ("int32", 1), "TypeError"),
    Case("bytes into string", "b'ab'", None, STR, (), ("object", b"ab"), ("object", b"ab")),
    Case("str into string", "'ab'", None, STR, (), ("object", b"ab"), ("object", b"ab")),
    Case("str and bytes list into string", "['a', b'b']", None, STR, (2,), ("object", [b"a", b"b"]),
         ("object", [b"a", b"b"])),
    Case("numeric str into float32", "'1.5'", None, F32, (), ("float32", 1.5), "TypeError"),
    Case("python int into string", "3", None, STR, (), "TypeError", "TypeError"),
    Case("bool into float32", "True", None, F32, (), ("float32", 1.0), ("float32", 1.0)),
    Case("bool into int32", "True", None, I32, (), ("int32", 1), ("int32", 1)),
    Case("python int into bool", "1", None, BOOL, (), ("bool", True), "TypeError"),
    Case("bool array into int32", "[True]", "bool", I32, (1,), ("int32", [1]), ("int32", [1])),
    Case("python int overflowing int32", "1099511627776", None, I32, (), "TypeError", ("int32", 0)),
    Case("list of an int overflowing int32", "[1099511627776]", None, I32, (1,), ("int32", [0]),
         ("int32", [0])),
    Case("int64 array overflowing int32", "[1099511627776]", "int64", I32, (1,), ("int32", [0]),
         ("int32", [0])),
    Case("negative python int into uint8", "-1", None, U8, (), "TypeError", ("uint8", 255)),
    Case("int64 array into int32", "[7]", "int64", I32, (1,), ("int32", [7]), ("int32", [7])),
    Case("int32 array into int64", "[1]", "int32", I64, (1,), ("int64", [1]), ("int64", [1])),
    Case("int32 array into float32", "[1]", "int32", F32, (1,), ("float32", [1.0]), ("float32", [1.0])),
    Case("float64 array into float32", "[1.5]", "float64", F32, (1,), ("float32", [1.5]), ("float32", [1.5])),
    Case("float64 list into float32", "[1.5, 2.5]", None, F32, (2,), ("float32", [1.5, 2.5]),
         ("float32", [1.5, 2.5])),
    Case("float64 array into int32", "[1.5]", "float64", I32, (1,), ("int32", [1]), ("int32", [1])),
    Case("complex into float32", "1+2j", None, F32, (), ("float32", 1.0), "TypeError"),
    Case("wrong rank", "[[1.0, 2.0]]", None, F32, (2,), "ValueError", "TypeError"),
    Case("wrong size", "[1.0, 2.0, 3.0]", None, F32, (2,), "ValueError", "TypeError"),
]

# Values the rule refuses although TensorFlow's entry point converts them, and why.
REFUSED_ON_PURPOSE = {
    FeedRule.SAVED_MODEL_CLI: {
        "numeric str into float32": "a string typed for a number is a mistake on a command line",
        "complex into float32": "the imaginary part would be dropped",
        "list of an int overflowing int32": "the value would wrap",
    },
    FeedRule.SIGNATURE: {
        "python int overflowing int32": "the value would wrap",
        "list of an int overflowing int32": "the value would wrap",
        "negative python int into uint8": "the value would wrap",
        "float64 array into int32": "the fraction would be dropped",
    },
}
TF_OUTCOME = {
    FeedRule.SESSION_RUN: "session",
    FeedRule.SAVED_MODEL_CLI: "session",
    FeedRule.SIGNATURE: "signature",
}


def _convert(case: Case, rule: FeedRule) -> np.ndarray:
    return convert_feed(case.fed(), dtypes.as_numpy_dtype(case.dtype), rule, case.shape)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # TensorFlow's Session warns too
@pytest.mark.parametrize("rule", list(FeedRule), ids=lambda r: r.name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_rule_does_what_its_tensorflow_entry_point_does(case: Case, rule: FeedRule) -> None:
    expected = getattr(case, TF_OUTCOME[rule])
    if case.name in REFUSED_ON_PURPOSE.get(rule, {}):
        assert not isinstance(expected, str), "listed as refused on purpose, but TensorFlow refuses too"
        with pytest.raises(FeedValueError):
            _convert(case, rule)
    elif isinstance(expected, str):
        with pytest.raises(InvalidInputError) as info:
            _convert(case, rule)
        if rule is FeedRule.SESSION_RUN:  # the Session raises TensorFlow's exception types
            assert isinstance(info.value, TypeError if expected == "TypeError" else ValueError)
    else:
        array = _convert(case, rule)
        dtype, value = expected
        assert np.asarray(array).dtype == np.dtype(dtype)
        assert np.asarray(array).tolist() == value


def test_errors_say_what_went_wrong() -> None:
    with pytest.raises(FeedShapeError) as shape_error:
        convert_feed([[1.0, 2.0]], np.dtype(np.float32), FeedRule.SIGNATURE, (2,))
    assert shape_error.value.shape == (1, 2)
    with pytest.raises(FeedTypeError, match="Type of feed value 1099511627776"):
        convert_feed(2**40, np.dtype(np.int32), FeedRule.SESSION_RUN)
    with pytest.raises(FeedValueError) as value_error:
        convert_feed(1.5, np.dtype(np.int32), FeedRule.SIGNATURE)
    assert value_error.value.detail == "expected dtype int32, got a floating-point value"


def test_unknown_dims_and_unknown_shapes_take_any_size() -> None:
    for shape in (None, (None, 2), (-1, 2)):
        array = convert_feed(np.ones((5, 2)), np.dtype(np.float32), FeedRule.SIGNATURE, shape)
        assert array.shape == (5, 2) and array.dtype == np.float32


_ORACLE = r"""
import ast, json, sys, tempfile
import numpy as np
import tensorflow as tf

cases = json.loads(sys.argv[1])

def fed(case):
    value = ast.literal_eval(case["value"])
    return value if case["array_dtype"] is None else np.array(value, case["array_dtype"])

def outcome(call):
    try:
        array = np.asarray(call())
    except Exception as exc:
        return type(exc).__name__
    if array.dtype.kind in "SO":
        array = array.astype(object)
    return [str(array.dtype), repr(array.tolist())]

specs = {}
for case in cases:
    specs.setdefault((case["dtype"], tuple(case["shape"])), f"s{len(specs)}")
module = tf.Module()
signatures = {}
for (dtype, shape), key in specs.items():
    spec = tf.TensorSpec(shape, tf.dtypes.as_dtype(dtype), name="x")
    function = tf.function(lambda x: {"y": tf.identity(x)}, input_signature=[spec])
    signatures[key] = function.get_concrete_function()
path = tempfile.mkdtemp()
tf.saved_model.save(module, path, signatures=signatures)
loaded = tf.saved_model.load(path)

out = {}
for case in cases:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.dtypes.as_dtype(case["dtype"]), case["shape"])
        y = tf.identity(x)
    with tf.compat.v1.Session(graph=graph) as session:
        session_outcome = outcome(lambda: session.run(y, {x: fed(case)}))
    signature = loaded.signatures[specs[(case["dtype"], tuple(case["shape"]))]]
    signature_outcome = outcome(lambda: signature(x=fed(case))["y"])
    out[case["name"]] = {"session": session_outcome, "signature": signature_outcome}
print(json.dumps(out))
"""


def _as_oracle_outcome(outcome: Any) -> Any:
    if isinstance(outcome, str):
        return outcome
    dtype, value = outcome
    return [dtype, repr(value)]


@pytest.mark.oracle
def test_table_matches_tensorflow(oracle_python: Any) -> None:
    cases = [{**case._asdict(), "shape": list(case.shape)} for case in CASES]
    for case in cases:
        del case["session"], case["signature"]
    tensorflow = run_oracle_json(_ORACLE, json.dumps(cases))
    for case in CASES:
        seen = tensorflow[case.name]
        assert seen["session"] == _as_oracle_outcome(case.session), case.name
        assert seen["signature"] == _as_oracle_outcome(case.signature), case.name
