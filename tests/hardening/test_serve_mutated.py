"""`savedmodel serve` on the mutated TF-made models of the malformed suite.

One server serves every mutation case of test_malformed as its own model (the real loader:
savedmodel's runtime): a Predict request with zeros answers the typed error (HTTP 429
RESOURCE_EXHAUSTED naming the limit) or, for the `-ok` cases, 200. With the iteration limit
lifted, the REST timeout stops the endless call in its worker thread too: the single worker
is free again for the next request.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from savedmodel.format.dtypes import DT
from savedmodel.proto import meta_graph_pb2
from savedmodel.serving.model import read_signature_defs
from tests.serving.serving_helpers import model_config, running_server
from tests.watchdog import no_hang

from .test_malformed import _mutation_cases

CASES = _mutation_cases()
TIMEOUT_S = 60


def _json_zeros(info: meta_graph_pb2.TensorInfo) -> object:
    dims = [1 if d.size < 0 else d.size for d in info.tensor_shape.dim]
    value: object = "" if info.dtype == DT.DT_STRING else 0
    for d in reversed(dims):
        value = [value] * d
    return value


def _serve_cases(tmp: Path) -> list[tuple[str, Path, bool]]:
    """(model name, version directory, expect success) per case; each model's version 1."""
    out = []
    for k, case in enumerate(CASES):
        built = case.build(tmp / f"build{k}")
        name = f"m{k}"
        version = tmp / "models" / name / "1"
        version.parent.mkdir(parents=True)
        shutil.copytree(built, version)
        out.append((name, version, case.expect is None))
    return out


def _signature_key(case_name: str) -> str:
    return "ref_loop" if "ref-loop" in case_name else "serving_default"


def test_serve_answers_every_mutation_with_its_error(tmp_path: Path) -> None:
    served = _serve_cases(tmp_path)
    configs = [model_config(name, version.parent) for name, version, _ in served]
    with no_hang(TIMEOUT_S), running_server(configs, num_threads=2) as (_, client):
        for (name, version, ok), case in zip(served, CASES, strict=True):
            body = _predict_body_for(version, _signature_key(case.name))
            response = client.post(f"/v1/models/{name}:predict", json=body)
            if ok:
                assert response.status_code == 200, (case.name, response.text)
                continue
            assert response.status_code == 429, (case.name, response.text)
            error = response.json()["error"]
            assert "max_while_iterations" in error or "max_function_depth" in error, (case.name, error)


def _predict_body_for(version: Path, key: str) -> dict:
    signature = read_signature_defs(version)[key]
    body: dict = {"inputs": {k: _json_zeros(info) for k, info in signature.inputs.items()}}
    if key != "serving_default":
        body["signature_name"] = key
    return body


def test_rest_timeout_frees_the_worker(tmp_path: Path) -> None:
    """Iteration limit lifted: the REST timeout answers 504 and stops the call in its thread."""
    endless = next(c for c in CASES if c.name == "tf1-while:loopcond-always-true")
    fine = next(c for c in CASES if c.name == "tf1-half-plus-three:20-nested-calls-ok")
    base = tmp_path / "models"
    for name, case in (("endless", endless), ("fine", fine)):
        shutil.copytree(case.build(tmp_path / name), base / name / "1")
    configs = [model_config(name, base / name) for name in ("endless", "fine")]
    options = {"num_threads": 1, "timeout_in_ms": 1000, "max_while_iterations": 10**9}
    with no_hang(TIMEOUT_S), running_server(configs, **options) as (_, client):
        start = time.monotonic()
        body = _predict_body_for(base / "endless" / "1", "serving_default")
        response = client.post("/v1/models/endless:predict", json=body)
        assert response.status_code == 504, response.text
        body = _predict_body_for(base / "fine" / "1", "serving_default")
        response = client.post("/v1/models/fine:predict", json=body)
        assert response.status_code == 200, response.text
        # The endless call stopped at its deadline (1 s), not after a billion iterations.
        assert time.monotonic() - start < 20
