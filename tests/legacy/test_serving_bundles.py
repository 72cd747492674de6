"""The REST server serves TF Serving session bundles (version dirs holding export.meta + export*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from savedmodel.serving.model import load_servable  # noqa: E402
from tests.serving.serving_helpers import copy_version, model_config, running_server  # noqa: E402

from .helpers import REALWORLD, goldens  # noqa: E402

PREDICT = "tfserving__half_plus_two__2016_27a9c35"
REGRESS = "tfserving__session_bundle_testdata_half_plus_two__2019_1bdd349"


def test_predict_and_regress_on_session_bundles(tmp_path: Path) -> None:
    copy_version(REALWORLD / PREDICT, tmp_path / "hp2", 123)
    copy_version(REALWORLD / REGRESS, tmp_path / "hp2_examples", 123)
    configs = [model_config("hp2", tmp_path / "hp2"), model_config("ex", tmp_path / "hp2_examples")]
    with running_server(configs, loader=load_servable) as (_, client):
        status = client.get("/v1/models/hp2").json()["model_version_status"]
        assert [(s["version"], s["state"]) for s in status] == [("123", "AVAILABLE")]
        response = client.post("/v1/models/hp2:predict", content=json.dumps({"instances": [1.0, 2.0, 5.0]}))
        assert response.status_code == 200, response.text
        want = goldens()["session_bundles"][PREDICT]["results"]["y"]["value"]
        assert response.json() == {"predictions": want}
        body = {"examples": [{"x": 1.0}, {"x": 2.0}, {"x": 5.0}]}
        response = client.post("/v1/models/ex:regress", content=json.dumps(body))
        assert response.status_code == 200, response.text
        want = goldens()["session_bundles"][REGRESS]["results"]["outputs"]["value"]
        assert response.json() == {"results": [row[0] for row in want]}
