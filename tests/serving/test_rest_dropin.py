"""REST behaviour TF Serving clients rely on, on TF Serving's own half_plus_two with savedmodel's
runtime: feeds of any shape, JSON nested to any depth, bytes after the first JSON document,
one access-log line per request.

Ported from tensorflow_serving/model_servers/http_rest_api_handler_test.cc (Predict: sends
[[1.0, 2.0], [3.0, 4.0]] to `x: [-1, 1]` and expects [[2.5, 3.0], [3.5, 4.0]]) and
util/json_tensor_test.cc (documents that parse with rapidjson's iterative, stop-when-done flags).
"""

from __future__ import annotations

import json
import logging

import pytest

from savedmodel.serving import json_tensor
from savedmodel.serving.errors import ServingError

from .serving_helpers import copy_half_plus_two, model_config, running_server


@pytest.fixture(scope="module")
def rest(tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    copy_half_plus_two(root / "half_plus_two")
    with running_server([model_config("half_plus_two", root / "half_plus_two")]) as (server, client):
        yield client


def post(client, body: bytes | str) -> tuple[int, dict]:
    response = client.post("/v1/models/half_plus_two:predict", content=body)
    return response.status_code, json.loads(response.text)


def test_feed_shape_need_not_match_the_signature(rest):
    status, body = post(rest, '{"instances": [[1.0, 2.0], [3.0, 4.0]]}')
    assert status == 200 and body == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    status, body = post(rest, '{"instances": [1.0, 2.0]}')
    assert status == 200 and body == {"predictions": [2.5, 3.0]}
    status, body = post(rest, '{"signature_name": "serving_default", "inputs": [3.0, 4.0]}')
    assert status == 200 and body == {"outputs": [3.5, 4.0]}


def test_bytes_after_the_first_document_are_ignored(rest):
    status, body = post(rest, b'{"instances": [1.0]} trailing {"not": json} \xff\xfe')
    assert status == 200 and body == {"predictions": [2.5]}
    status, body = post(rest, b'  \n{"instances": [2.0]}{"instances": [9.0]}')
    assert status == 200 and body == {"predictions": [3.0]}


def test_deep_nesting_is_bounded_by_body_size_not_depth(rest):
    depth = 100_000  # far beyond Python's recursion limit
    status, body = post(rest, '{"instances": ' + "[" * depth + "1.0" + "]" * depth + "}")
    assert status == 400 and "at most 254 dimensions" in body["error"]
    status, body = post(rest, '{"instances": [1.0], "extra": ' + '{"a": ' * depth + "1" + "}" * depth + "}")
    assert status == 200 and body == {"predictions": [2.5]}
    status, body = post(rest, '{"instances": ' + "[" * 30 + "1.0" + "]" * 30 + "}")
    assert status == 200 and json.dumps(body) == '{"predictions": ' + "[" * 30 + "2.5" + "]" * 30 + "}"
    status, body = post(rest, '{"instances": ' + "[" * 100 + "1.0" + "]" * 100 + "}")
    assert status == 400 and "at most 64" in body["error"]  # NumPy's limit, under TensorFlow's 254
    status, body = post(rest, '{"instances": ' + "[" * depth + "}")
    assert status == 400 and body["error"].startswith("JSON Parse error")


def test_iterative_parser_agrees_with_the_json_module():
    for text in (
        '{"a": [1, 2.5, -3e2, "x\\u00e9\\n", true, false, null, NaN, -Infinity, Infinity], "b": {}, "c": []}',
        '{"k": 1, "k": 2, "nested": [[], [{}], [[0]]]}',
        '  {"s": "\\"q\\""}  ',
    ):
        value, _ = json_tensor.parse_json_iteratively(text, len(text) - len(text.lstrip()))
        reference = json.loads(text, object_pairs_hook=json_tensor._first_member_wins)
        assert json.dumps(value) == json.dumps(reference)
    for bad in ('{"a": [1, 2}', '{"a" 1}', "{1: 2}", '{"a": tru}', '{"a": "unterminated'):
        with pytest.raises(ServingError, match="JSON Parse error"):
            json_tensor.parse_json_iteratively(bad)


def test_invalid_utf8_inside_the_document_is_still_an_error(rest):
    status, body = post(rest, b'{"instances": ["\xff"]}')
    assert status == 400 and "Invalid encoding" in body["error"]


def test_one_access_log_line_per_request(rest, caplog):
    with caplog.at_level(logging.INFO, logger="savedmodel.serving.access"):
        post(rest, '{"instances": [1.0]}')
        rest.get("/v1/models/nope")
    lines = [r.getMessage() for r in caplog.records if r.name == "savedmodel.serving.access"]
    assert len(lines) == 2
    assert '"POST /v1/models/half_plus_two:predict" 200' in lines[0] and lines[0].endswith(" ms")
    assert '"GET /v1/models/nope" 404' in lines[1]
