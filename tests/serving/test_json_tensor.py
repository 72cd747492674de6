"""JSON <-> tensor conversion, checked against TF Serving's json_tensor_test.cc cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from savedmodel.format.dtypes import DT
from savedmodel.proto import example_pb2
from savedmodel.serving import json_tensor as jt
from savedmodel.serving.errors import ServingError


def parse(body: str, dtypes: dict[str, int]):
    doc = jt.parse_json_object(body.encode())
    return jt.predict_request_tensors(doc, dtypes, jt.signature_name_of(doc))


def error_of(body: str, dtypes: dict[str, int]) -> ServingError:
    with pytest.raises(ServingError) as info:
        parse(body, dtypes)
    return info.value


def test_single_unnamed_tensor_row_format():
    tensors, fmt = parse('{"instances": [[1,2],[3,4],[5,6]]}', {"default": DT.DT_INT32})
    assert fmt is jt.RequestFormat.ROW
    np.testing.assert_array_equal(tensors["default"], np.array([[1, 2], [3, 4], [5, 6]], np.int32))
    assert tensors["default"].dtype == np.int32


def test_mixed_int_and_float_for_float_tensor():
    tensors, _ = parse('{"instances": [1, 2.0, 3, 4.5]}', {"default": DT.DT_FLOAT})
    np.testing.assert_array_equal(tensors["default"], np.array([1, 2, 3, 4.5], np.float32))


def test_float_overflow_becomes_inf_and_underflow_zero():
    tensors, _ = parse('{"instances": [3.5e38, 1e-50]}', {"default": DT.DT_FLOAT})
    assert np.isinf(tensors["default"][0]) and tensors["default"][1] == 0


def test_base64_scalars_and_lists():
    tensors, _ = parse('{"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]}', {"default": DT.DT_STRING})
    assert tensors["default"].tolist() == [b"hello", b"world"]
    tensors, _ = parse(
        '{"instances": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}', {"default": DT.DT_STRING}
    )
    assert tensors["default"].shape == (2, 1)


def test_multiple_named_tensors_row_format():
    dtypes = {"int_tensor": DT.DT_INT32, "str_tensor": DT.DT_STRING, "float_tensor": DT.DT_FLOAT}
    body = """{"instances": [
        {"int_tensor": [[1,2],[3,4]], "str_tensor": ["foo", "bar"], "float_tensor": 1.0},
        {"int_tensor": [[5,6],[7,8]], "str_tensor": ["baz", "bat"], "float_tensor": 2.0}]}"""
    tensors, _ = parse(body, dtypes)
    assert tensors["int_tensor"].shape == (2, 2, 2)
    assert tensors["str_tensor"].tolist() == [[b"foo", b"bar"], [b"baz", b"bat"]]
    np.testing.assert_array_equal(tensors["float_tensor"], np.array([1.0, 2.0], np.float32))


def test_columnar_single_and_named():
    tensors, fmt = parse('{"inputs": [[1,2],[3,4]]}', {"int_tensor": DT.DT_INT32})
    assert fmt is jt.RequestFormat.COLUMNAR and tensors["int_tensor"].shape == (2, 2)
    tensors, _ = parse('{"inputs": 7}', {"int_tensor": DT.DT_INT32})
    assert tensors["int_tensor"].shape == () and tensors["int_tensor"] == 7
    body = '{"inputs": {"i": [1, 2], "s": "x", "bin": {"b64": "aGk="}}}'
    tensors, _ = parse(body, {"i": DT.DT_INT32, "s": DT.DT_STRING, "bin": DT.DT_STRING})
    assert tensors["s"].shape == () and tensors["bin"].item() == b"hi"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "document is empty"),
        ("instances = [1, 2]", "JSON Parse error"),
        ("[1, 2]", "Is not object"),
        ('{"signature_name": 5, "instances": [[1,2]]}', "must be a string value"),
        ('{"instances": [[1,2]], "inputs": [[1,2]]}', "Not formatted correctly"),
        ('{"instances": [[1,2],[3,4],[5,6,7]]}', "Expecting tensor size"),
        ('{"instances": [[1,2],[3,4],[[5,6]]]}', "Expecting shape"),
        ('{"instances": [1, [1]]}', "Expecting shape"),
        ('{"instances": [[1,2],["a", "b"]]}', "not of expected type"),
        ('{"instances": []}', "No values in 'instances' array"),
        ('{"instances": 3}', "Expecting 'instances' to be an list/array"),
        ('{"foo": 3}', "Missing 'inputs' or 'instances' key"),
        ('{"inputs": [[1, 2], [3]]}', "Encountered list at unexpected size"),
        ('{"inputs": [1.5]}', "is not of expected type: int32"),
        ('{"inputs": [3000000000]}', "is not of expected type: int32"),
    ],
)
def test_single_tensor_errors(body: str, message: str):
    error = error_of(body, {"default": DT.DT_INT32})
    assert error.code == "INVALID_ARGUMENT" and error.http_status == 400
    assert message in error.message


def test_named_tensor_errors():
    dtypes = {"a": DT.DT_INT32, "b": DT.DT_FLOAT}
    assert "expecting list of objects" in error_of('{"instances": [1, 2]}', dtypes).message
    assert "keys must be equal to: a,b" in error_of('{"instances": [{"a": 1}]}', dtypes).message
    assert (
        "does not have named input: c"
        in error_of('{"instances": [{"a": 1, "b": 1.0, "c": 2}]}', dtypes).message
    )
    assert "Missing named input: b in 'inputs' object." in error_of('{"inputs": {"a": 1}}', dtypes).message
    assert "expecting an object" in error_of('{"inputs": [1, 2]}', dtypes).message


def test_unsupported_input_dtype_is_unimplemented():
    error = error_of('{"instances": [1.0]}', {"h": DT.DT_HALF})
    assert error.code == "UNIMPLEMENTED" and error.http_status == 501
    assert "to type: half" in error.message


def test_bad_base64_is_rejected():
    assert "base64" in error_of('{"instances": [{"b64": "!!!"}]}', {"s": DT.DT_STRING}).message


def test_row_response_matches_tf_serving_text():
    body = jt.predict_response_json({"y": np.array([2.5, 3.0, 4.5], np.float32)}, jt.RequestFormat.ROW)
    assert body == b'{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}'
    body = jt.predict_response_json({"y": np.array([3.5, 4.0], np.float32)}, jt.RequestFormat.COLUMNAR)
    assert body == b'{\n    "outputs": [\n        3.5,\n        4.0\n    ]\n}'


def test_multiple_named_outputs_row_and_columnar():
    outputs = {
        "int_tensor": np.arange(1, 13, dtype=np.int32).reshape(2, 3, 2) % 10,
        "str_tensor": np.array([[b"foo", b"bar"], [b"baz", b"bat"]], dtype=object),
        "float_tensor": np.array([[1.0], [2.0]], np.float32),
        "double_scalar_tensor": np.array([8.0, 9.0], np.float64),
        "str_tensor_bytes": np.array([[b"hello", b"world"], [b"tf", b"serving"]], dtype=object),
    }
    row = json.loads(jt.predict_response_json(outputs, jt.RequestFormat.ROW))
    assert row == {
        "predictions": [
            {
                "double_scalar_tensor": 8.0,
                "float_tensor": [1.0],
                "int_tensor": [[1, 2], [3, 4], [5, 6]],
                "str_tensor": ["foo", "bar"],
                "str_tensor_bytes": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
            },
            {
                "double_scalar_tensor": 9.0,
                "float_tensor": [2.0],
                "int_tensor": [[7, 8], [9, 0], [1, 2]],
                "str_tensor": ["baz", "bat"],
                "str_tensor_bytes": [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
            },
        ]
    }
    columnar = json.loads(jt.predict_response_json(outputs, jt.RequestFormat.COLUMNAR))
    assert columnar["outputs"]["int_tensor"] == [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]
    assert columnar["outputs"]["str_tensor_bytes"][1] == [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}]


def test_row_response_errors_and_zero_batch():
    with pytest.raises(ServingError, match="inconsistent batch size"):
        jt.predict_response_json(
            {"a": np.zeros((2, 3), np.int32), "b": np.zeros((1, 3), np.int32)}, jt.RequestFormat.ROW
        )
    with pytest.raises(ServingError, match="no shape information"):
        jt.predict_response_json({"a": np.array(1, np.int32)}, jt.RequestFormat.ROW)
    assert json.loads(jt.predict_response_json({"a": np.zeros((0, 2), np.int32)}, jt.RequestFormat.ROW)) == {
        "predictions": []
    }
    with pytest.raises(ServingError, match="tensor type: half"):
        jt.predict_response_json({"a": np.zeros(2, np.float16)}, jt.RequestFormat.ROW)


@pytest.mark.parametrize(
    ("value", "is_float32", "text"),
    [
        (np.float32(0.2), True, "0.2"),  # not 0.200000003
        (np.float32(9000000), True, "9e+06"),
        (np.float32(3.0), True, "3.0"),
        (np.float32(123456789), True, "123456792.0"),
        (np.float32(1 / 3), True, "0.333333343"),
        (1 / 3, False, "0.33333333333333331"),
        (0.1, False, "0.1"),
        (float("nan"), True, "NaN"),
        (float("-inf"), True, "-Infinity"),
        (-0.0, True, "-0.0"),
    ],
)
def test_decimal_formatting(value, is_float32: bool, text: str):
    assert jt.format_decimal(float(value), is_float32) == text


def test_classify_and_regress_results_json():
    body = jt.classify_response_json([[(b"", 12.0)]])
    assert json.loads(body) == {"results": [[["", 12.0]]]}
    body = jt.regress_response_json([0.2, float("inf"), 1.0, float("-inf"), float("nan")])
    assert body == b'{\n    "results": [0.2, Infinity, 1.0, -Infinity, NaN]\n}'


def test_examples_with_context_prefix_context_bytes():
    doc = {
        "context": {"ctx": "c", "k": 1},
        "examples": [{"x": [1.0, 2.0], "b": {"b64": "aGk="}, "flag": True, "k": 5}, {}],
    }
    serialized = jt.serialized_examples(doc)
    merged = example_pb2.Example()
    merged.ParseFromString(serialized[0])
    features = merged.features.feature
    assert list(features["x"].float_list.value) == [1.0, 2.0]
    assert features["b"].bytes_list.value == [b"hi"]
    assert features["flag"].int64_list.value == [1]
    assert features["ctx"].bytes_list.value == [b"c"]
    assert features["k"].int64_list.value == [5]  # the example's feature wins over the context's
    only_context = example_pb2.Example()
    only_context.ParseFromString(serialized[1])
    assert only_context.features.feature["k"].int64_list.value == [1]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"examples": []}, "'examples' value is an empty array"),
        ({"context": {}}, "key 'examples' is expected"),
        ({"examples": 3}, "Expecting 'examples' value to be an list/array"),
        ({"examples": [1]}, "Example must be JSON object but got JSON Number"),
        ({"examples": [{"x": [1, "a"]}]}, "Unexpected element type in feature: x expecting type: int64"),
        ({"examples": [{"x": None}]}, "unexpected JSON type: Null"),
        ({"examples": [{"x": [[1]]}]}, "unexpected JSON type: Array"),
        ({"examples": [{"x": 2**63}]}, "has uint64_t element"),
    ],
)
def test_example_errors(doc, message: str):
    with pytest.raises(ServingError) as info:
        jt.serialized_examples(doc)
    assert message in info.value.message and info.value.http_status == 400


def test_error_json():
    assert jt.error_json('Bad key: "key"') == b'{\n    "error": "Bad key: \\"key\\""\n}'
