"""TF Serving's own legacy test models through the REST server (savedmodel's runtime)."""

from __future__ import annotations

from pathlib import Path

from .serving_helpers import FIXTURES, copy_version, model_config, running_server

HALF_PLUS_THREE = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_three__2017_6058fd6"


def test_half_plus_three_rows_of_scalars_and_regress(tmp_path: Path) -> None:
    """`x` has no recorded shape (unknown, as in TF Serving); the regress signature's input is a
    string tf.Example placeholder although its TensorInfo records DT_FLOAT."""
    base = tmp_path / "half_plus_three"
    copy_version(HALF_PLUS_THREE, base, 123)
    with running_server([model_config("hp3", base)]) as (_, client):
        response = client.post("/v1/models/hp3:predict", json={"instances": [1.0, 2.0, 5.0]})
        assert (response.status_code, response.json()) == (200, {"predictions": [3.5, 4.0, 5.5]})
        response = client.post("/v1/models/hp3:predict", json={"inputs": {"x": [[1.0], [2.0]]}})
        assert (response.status_code, response.json()) == (200, {"outputs": [[3.5], [4.0]]})
        body = {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 2.0}, {"x": -1.0}]}
        response = client.post("/v1/models/hp3:regress", json=body)
        assert (response.status_code, response.json()) == (200, {"results": [4.0, 2.5]})


TFRUST = FIXTURES / "realworld" / "tfrust__regression_savedmodel__2021_0682aef"


def test_signatures_with_unsupported_or_refused_ops_fail_alone(tmp_path: Path) -> None:
    from savedmodel.ops import registry
    from tests.runtime.test_partial_models import partial_model

    copy_version(partial_model(tmp_path), tmp_path / "partial", 1)
    copy_version(TFRUST, tmp_path / "regression", 1)
    configs = [
        model_config("partial", tmp_path / "partial"),
        model_config("regression", tmp_path / "regression"),
    ]
    with running_server(configs) as (_, client):
        for name in ("partial", "regression"):
            (status,) = client.get(f"/v1/models/{name}").json()["model_version_status"]
            assert (status["state"], status["status"]["error_code"]) == ("AVAILABLE", "OK")
        response = client.post("/v1/models/partial:predict", json={"instances": [1.0, 2.0]})
        assert (response.status_code, response.json()) == (200, {"predictions": [2.0, 4.0]})
        response = client.post(
            "/v1/models/partial:predict", json={"signature_name": "debug", "instances": [1.0]}
        )
        assert response.status_code == 400 and "EagerPyFunc (used by py)" in response.json()["error"]
        body = {"signature_name": "summaries", "inputs": {"x": 1.0, "path": "p"}}
        response = client.post("/v1/models/partial:predict", json=body)
        assert response.status_code == 403 and "WriteFile (write)" in response.json()["error"]
        if registry.lookup("ResourceApplyGradientDescent") is None:
            body = {"signature_name": "train", "inputs": {"x": [1.0], "y": [2.0]}}
            response = client.post("/v1/models/regression:predict", json=body)
            assert response.status_code == 400
            assert "ResourceApplyGradientDescent" in response.json()["error"]
