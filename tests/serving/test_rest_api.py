"""The REST API over real HTTP (uvicorn on 127.0.0.1, free port), with TF Serving's documented
requests and TensorFlow-computed goldens.

`loader` runs every golden test twice: with a fake model (NumPy math on the fixture's real
SignatureDefs; tests the HTTP layer alone) and with savedmodel's runtime on the real
SavedModels (skipped while `savedmodel.load` does not exist).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from savedmodel.serving.config import VersionPolicy
from savedmodel.serving.model import load_servable

from .serving_helpers import (
    EXAMPLES_N,
    GOLDENS,
    HALF_PLUS_N,
    copy_version,
    fake_loader,
    model_config,
    running_server,
)


def runtime_loader_or_skip():
    import savedmodel

    if not hasattr(savedmodel, "load"):
        pytest.skip("savedmodel.load (the runtime) is not available yet")
    return load_servable


@pytest.fixture(scope="module", params=["fake", "runtime"])
def served(request, tmp_path_factory):
    loader = fake_loader() if request.param == "fake" else runtime_loader_or_skip()
    root = tmp_path_factory.mktemp(f"models-{request.param}")
    for source in (HALF_PLUS_N, EXAMPLES_N):
        copy_version(source / "1", root / source.name, 1)
        copy_version(source / "2", root / source.name, 2)
    configs = [
        model_config(
            "half_plus_n", root / "half_plus_n", VersionPolicy("all"), {"stable": 1, "canary": 2, "ghost": 9}
        ),
        model_config("latest_only", root / "half_plus_n"),
        model_config("examples", root / "examples_n", VersionPolicy("all")),
    ]
    with running_server(configs, loader=loader, max_body_bytes=64 * 1024) as (server, client):
        yield server, client


def skip_unless_loaded(client, name: str) -> None:
    """The runtime may lack a kernel a fixture needs (the load then fails as UNIMPLEMENTED)."""
    for version in client.get(f"/v1/models/{name}").json()["model_version_status"]:
        if version["state"] != "AVAILABLE":
            if version["status"]["error_code"] == "UNIMPLEMENTED":
                pytest.skip(f"the runtime cannot load {name}: {version['status']['error_message']}")
            pytest.fail(f"{name} version {version['version']} failed to load: {version['status']}")


def post(client, path: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    response = client.post(path, content=data)
    assert response.headers["content-type"].startswith("application/json")
    return response.status_code, json.loads(response.text)


def approx(value):
    return pytest.approx(value, rel=1e-6)


# -- status and metadata ---------------------------------------------------


def test_status_of_latest_only_model(served):
    _, client = served
    response = client.get("/v1/models/latest_only")
    assert response.status_code == 200
    assert response.json() == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }


def test_status_all_versions_newest_first_and_by_version_and_label(served):
    _, client = served
    versions = client.get("/v1/models/half_plus_n").json()["model_version_status"]
    assert [(v["version"], v["state"]) for v in versions] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
    assert client.get("/v1/models/half_plus_n/versions/1").json()["model_version_status"][0]["version"] == "1"
    assert (
        client.get("/v1/models/half_plus_n/labels/canary").json()["model_version_status"][0]["version"] == "2"
    )


def test_metadata_renders_signature_defs_like_tf_serving(served):
    _, client = served
    response = client.get("/v1/models/half_plus_n/versions/1/metadata")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["model_spec"] == {"name": "half_plus_n", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"serving_default", "multi"}
    assert signatures["serving_default"] == {
        "inputs": {
            "x": {
                "name": "x:0",
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
            }
        },
        "outputs": {
            "y": {
                "name": "y:0",
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
            }
        },
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }
    assert signatures["multi"]["outputs"]["s_bytes"]["dtype"] == "DT_STRING"
    assert client.get("/v1/models/latest_only/metadata").json()["model_spec"]["version"] == "2"
    skip_unless_loaded(client, "examples")
    signatures = client.get("/v1/models/examples/metadata").json()["metadata"]["signature_def"][
        "signature_def"
    ]
    assert signatures["regress_x_to_y"]["method_name"] == "tensorflow/serving/regress"
    assert signatures["classify_x_to_y"]["inputs"]["inputs"] == {
        "name": "tf_example:0",
        "dtype": "DT_STRING",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
    }


# -- predict / classify / regress against TensorFlow goldens ----------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_predict_row_and_columnar(served, version: str):
    _, client = served
    golden = GOLDENS[version]["predict"]
    status, body = post(client, f"/v1/models/half_plus_n/versions/{version}:predict", golden["body"])
    assert status == 200 and body == {"predictions": approx(golden["predictions"])}
    columnar = {"signature_name": "serving_default", "inputs": golden["body"]["instances"]}
    status, body = post(client, f"/v1/models/half_plus_n/versions/{version}:predict", columnar)
    assert status == 200 and body == {"outputs": approx(golden["predictions"])}


def test_predict_exact_response_text(served):
    _, client = served
    response = client.post(
        "/v1/models/half_plus_n/versions/1:predict", content='{"instances": [1.0, 2.0, 5.0]}'
    )
    assert response.text == '{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}'


def test_predict_routes_by_label_and_latest(served):
    _, client = served
    _, by_label = post(client, "/v1/models/half_plus_n/labels/stable:predict", {"instances": [1.0]})
    _, latest = post(client, "/v1/models/half_plus_n:predict", {"instances": [1.0]})
    assert by_label == {"predictions": [2.5]}
    assert latest == {"predictions": [3.5]}


def test_predict_multiple_named_inputs_and_bytes_outputs(served):
    _, client = served
    golden = GOLDENS["1"]["multi"]
    status, body = post(client, "/v1/models/half_plus_n/versions/1:predict", golden["body"])
    assert status == 200
    outputs = body["outputs"]
    assert outputs["sum"] == approx(golden["outputs"]["sum"])
    assert outputs["doubled"] == golden["outputs"]["doubled"]
    # DT_STRING outputs whose key ends in "_bytes" come back base64-encoded.
    assert outputs["s_bytes"] == [
        {"b64": base64.b64encode(s.encode()).decode()} for s in golden["outputs"]["s_bytes"]
    ]
    # Row format with objects and a base64 input value.
    instances = [
        {"a": golden["body"]["inputs"]["a"][0], "s": {"b64": base64.b64encode(b"hello").decode()}},
        {"a": golden["body"]["inputs"]["a"][1], "s": "world"},
    ]
    status, body = post(
        client,
        "/v1/models/half_plus_n/versions/1:predict",
        {"signature_name": "multi", "instances": instances},
    )
    assert status == 200
    assert body["predictions"][0] == {
        "doubled": golden["outputs"]["doubled"][0],
        "s_bytes": {"b64": "aGVsbG8="},
        "sum": approx(golden["outputs"]["sum"][0]),
    }


@pytest.mark.parametrize("case", ["classify_x_to_y", "classify_labels", "regress_x_to_y", "regress_x_plus_k"])
@pytest.mark.parametrize("version", ["1", "2"])
def test_classify_and_regress(served, case: str, version: str):
    _, client = served
    golden = GOLDENS[version][case]
    verb = "classify" if case.startswith("classify") else "regress"
    skip_unless_loaded(client, "examples")
    status, body = post(client, f"/v1/models/examples/versions/{version}:{verb}", golden["body"])
    assert status == 200, body
    assert list(body) == ["results"]
    if verb == "regress":
        assert body["results"] == approx(golden["results"])
    else:
        assert len(body["results"]) == len(golden["results"])
        for got, want in zip(body["results"], golden["results"], strict=True):
            assert [label for label, _ in got] == [label for label, _ in want]
            assert [score for _, score in got] == approx([score for _, score in want])


# -- errors -------------------------------------------------------------------

BAD_REQUESTS = [
    # (method, path, body, status, message fragment)
    ("POST", "/v1/models/half_plus_n:predict", "{not json", 400, "JSON Parse error"),
    ("POST", "/v1/models/half_plus_n:predict", "", 400, "The document is empty"),
    ("POST", "/v1/models/half_plus_n:predict", "[1, 2]", 400, "Is not object"),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"instances": ["x", "y"]}',
        400,
        "not of expected type: float",
    ),
    ("POST", "/v1/models/half_plus_n:predict", '{"instances": [[1.0], 2.0]}', 400, "Expecting shape"),
    ("POST", "/v1/models/half_plus_n:predict", '{"inputs": [[1.0, 2.0], [3.0]]}', 400, "unexpected size"),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"signature_name": "nope", "instances": [1.0]}',
        400,
        'Serving signature name: "nope" not found in signature def',
    ),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"signature_name": "multi", "instances": [{"a": [1.0, 2.0]}]}',
        400,
        "keys must be equal to: a,s",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"signature_name": "multi", "inputs": {"a": [[1.0, 2.0]], "s": [1]}}',
        400,
        "not of expected type: string",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"instances": ' + "[" * 30000 + "]" * 30000 + "}",
        400,
        "at most 254 dimensions",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"inputs": ' + "[" * 300 + "1" + "]" * 300 + "}",
        400,
        "at most 254 dimensions",
    ),
    (
        "POST",
        "/v1/models/nope:predict",
        '{"instances": [1.0]}',
        404,
        "Servable not found for request: Latest(nope)",
    ),
    (
        "POST",
        "/v1/models/half_plus_n/versions/7:predict",
        '{"instances": [1.0]}',
        404,
        "Servable not found for request: Specific(half_plus_n, 7)",
    ),
    (
        "POST",
        "/v1/models/half_plus_n/labels/unknown:predict",
        '{"instances": [1.0]}',
        400,
        "Unrecognized servable version label: unknown",
    ),
    (
        "POST",
        "/v1/models/half_plus_n/labels/ghost:predict",
        '{"instances": [1.0]}',
        404,
        "Servable not found for request: Specific(half_plus_n, 9)",
    ),
    ("GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("GET", "/v1/models/half_plus_n/versions/7", None, 404, "Could not find version 7 of model half_plus_n"),
    ("GET", "/v1/models/nope/metadata", None, 404, "Servable not found"),
    ("GET", "/v1/models", None, 400, "Missing model name in request."),
    ("GET", "/v1/models/debug/model_name", None, 400, "Malformed request"),
    ("POST", "/v1/models/half_plus_n:explode", "{}", 400, "Malformed request"),
    ("POST", "/v1/models/half_plus_n/versions/HELLO:regress", "{}", 400, "Malformed request"),
    (
        "POST",
        "/v1/models/half_plus_n/versions/99999999999999999999:regress",
        "{}",
        400,
        "Failed to convert version",
    ),
    ("PUT", "/v1/models/half_plus_n", "{}", 400, "Malformed request: PUT"),
    (
        "POST",
        "/v1/models/half_plus_n:classify",
        '{"examples": [{"x": 1.0}]}',
        400,
        "No classification inputs found in SignatureDef",  # method_name unchecked, as TF Serving's default
    ),
    (
        "POST",
        "/v1/models/half_plus_n:regress",
        '{"signature_name": "multi", "examples": [{"x": 1.0}]}',
        400,
        "Expected one input Tensor.",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:regress",
        '{"signature_name": "missing", "examples": [{"x": 1.0}]}',
        400,
        "No signature was found with the name: missing",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:classify",
        '{"signature_name": "classify_x_to_y", "examples": []}',
        400,
        "'examples' value is an empty array",
    ),
    (
        "POST",
        "/v1/models/half_plus_n:predict",
        '{"instances": [' + "1.0, " * 20000 + "1.0]}",
        413,
        "larger than the limit",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_json_errors(served, method, path, body, status, message):
    _, client = served
    response = client.request(method, path, content=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert list(error) == ["error"]
    assert message in error["error"]


def test_burst_of_bad_requests_then_good_one(served):
    _, client = served
    for method, path, body, _, _ in BAD_REQUESTS * 3:
        assert client.request(method, path, content=body).status_code >= 400
    assert client.get("/v1/models/half_plus_n/versions/1").status_code == 200
    status, body = post(client, "/v1/models/half_plus_n/versions/1:predict", {"instances": [1.0]})
    assert status == 200 and body == {"predictions": [2.5]}


def test_unknown_path_is_404_json(served):
    _, client = served
    response = client.get("/statuspage")
    assert response.status_code == 404 and "error" in response.json()


def test_health_and_metrics(served):
    _, client = served
    health = client.get("/healthz").json()
    assert health["models"]["half_plus_n"] == [1, 2] and health["models"]["latest_only"] == [2]
    assert client.get("/healthz").status_code == (200 if health["models"]["examples"] else 503)
    post(client, "/v1/models/half_plus_n/versions/1:predict", {"instances": [1.0]})
    post(client, "/v1/models/nope:predict", {"instances": [1.0]})
    text = client.get("/monitoring/prometheus/metrics").text
    assert "# TYPE :tensorflow:serving:request_count counter" in text
    assert ':tensorflow:serving:request_count{entrypoint="REST",model_name="half_plus_n",status="OK"}' in text
    assert ':tensorflow:serving:request_count{entrypoint="REST",model_name="nope",status="NOT_FOUND"}' in text
    assert (
        ':tensorflow:serving:request_latency_bucket{API="predict",entrypoint="REST",model_name="half_plus_n",le="+Inf"}'
        in text
    )
    assert ':tensorflow:cc:saved_model:load_attempt_count{model_path="' in text


def test_no_models_health_is_503(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with running_server([model_config("m", empty)], loader=fake_loader()) as (_, client):
        assert client.get("/healthz").status_code == 503
        assert client.get("/v1/models/m").status_code == 404
