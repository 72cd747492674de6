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
